"""Framing on a data connection: a header naming the flow, then its bytes."""

import struct

MAGIC = b"LLMF"
_HEADER = struct.Struct("!4sQH")   # magic, payload bytes, flow-id length
MAX_FLOW_ID = 1024
HEADER_MAX = _HEADER.size + MAX_FLOW_ID


def encode_header(flow_id, size):
    name = flow_id.encode()
    if len(name) > MAX_FLOW_ID:
        raise ValueError(f"flow id over {MAX_FLOW_ID} bytes: {flow_id[:40]!r}...")
    return _HEADER.pack(MAGIC, size, len(name)) + name


def parse_header(data):
    """(flow_id, payload size, header length) from the start of ``data``,
    or None while the header is incomplete; ConnectionError if it is not one."""
    if len(data) < _HEADER.size:
        return None
    magic, size, name_len = _HEADER.unpack_from(data)
    if magic != MAGIC or name_len > MAX_FLOW_ID:
        raise ConnectionError("not a flow connection")
    end = _HEADER.size + name_len
    if len(data) < end:
        return None
    return bytes(data[_HEADER.size:end]).decode(errors="replace"), size, end

"""Framing on a data connection: a header naming the flow, then its bytes."""

import struct

MAGIC = b"LLMF"
_HEADER = struct.Struct("!4sQH")   # magic, payload bytes, flow-id length


def encode_header(flow_id, size):
    name = flow_id.encode()
    return _HEADER.pack(MAGIC, size, len(name)) + name


def read_exact(sock, count):
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("connection closed inside a header")
        data += chunk
    return bytes(data)


def read_header(sock):
    """(flow_id, payload size) from the start of a data connection."""
    magic, size, name_len = _HEADER.unpack(read_exact(sock, _HEADER.size))
    if magic != MAGIC:
        raise ConnectionError("not a flow connection")
    return read_exact(sock, name_len).decode(), size

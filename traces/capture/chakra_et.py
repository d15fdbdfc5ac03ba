"""MLCommons Chakra execution traces (ET): read and write.

One file per rank (``<prefix>.<rank>.et``, optionally gzipped): a stream of
varint-length-prefixed protobuf messages, a ``GlobalMetadata`` first, then
``Node``s.  Field numbers follow ``schema/protobuf/et_def.proto`` of
github.com/mlcommons/chakra (package ``ChakraProtoMsg``):

* ``GlobalMetadata``: version = 1 (string), attr = 2 (AttributeProto);
* ``Node``: id = 1, name = 2, type = 3 (NodeType), ctrl_deps = 4,
  data_deps = 5, start_time_micros = 6, duration_micros = 7, inputs = 8
  (IOInfo), outputs = 9 (ignored), attr = 10;
* ``IOInfo``: values = 1, shapes = 2, types = 3, each a string (PyTorch's
  text of the op's arguments, e.g. ``[[[45, 46, 0, 64, 4, 'cpu']], ...]``);
* ``AttributeProto``: name = 1, doc_string = 2, then one value field:
  double 3, float 5, int32 7, int64 9, uint32 11, uint64 13, sint32 15,
  sint64 17, fixed32 19, fixed64 21, sfixed32 23, sfixed64 25, bool 27,
  string 29, bytes 31; the even numbers 4..32 are lists of the type below
  them (a message whose field 1 repeats the value).
"""

import gzip
import struct
from dataclasses import dataclass, field

from traces.capture import protobuf_wire as pw

NODE_TYPES = {0: "INVALID", 1: "METADATA", 2: "MEM_LOAD", 3: "MEM_STORE", 4: "COMP",
              5: "COMM_SEND", 6: "COMM_RECV", 7: "COMM_COLL", 8: "STORAGE", 9: "BATCH",
              10: "CHECKPOINT"}
COMP, COMM_SEND, COMM_RECV, COMM_COLL = 4, 5, 6, 7
COLLECTIVE_TYPES = {0: "all_reduce", 1: "reduce", 2: "all_gather", 3: "gather", 4: "scatter",
                    5: "broadcast", 6: "all_to_all", 7: "reduce_scatter",
                    8: "reduce_scatter_block", 9: "barrier"}


@dataclass
class ChakraNode:
    id: int
    name: str = ""
    type: int = 0
    ctrl_deps: list = field(default_factory=list)
    data_deps: list = field(default_factory=list)
    start_time_micros: int = 0
    duration_micros: int = 0
    attrs: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)    # IOInfo: {"values", "shapes", "types"}


IO_FIELDS = {1: "values", 2: "shapes", 3: "types"}


@dataclass
class GlobalMetadata:
    version: str = ""
    attrs: dict = field(default_factory=dict)


# -- attribute values --------------------------------------------------------
_SCALAR_DECODERS = {
    3: lambda v: struct.unpack("<d", v.to_bytes(8, "little"))[0],
    5: lambda v: struct.unpack("<f", v.to_bytes(4, "little"))[0],
    7: pw.signed32, 9: pw.signed64, 11: lambda v: v & 0xFFFFFFFF, 13: lambda v: v,
    15: pw.zigzag_decode, 17: pw.zigzag_decode, 19: lambda v: v, 21: lambda v: v,
    23: pw.signed32, 25: pw.signed64, 27: bool,
    29: lambda v: bytes(v).decode("utf-8", "replace"), 31: bytes,
}


def _decode_value(number, wire_type, value):
    if number in _SCALAR_DECODERS:
        return _SCALAR_DECODERS[number](value)
    if number % 2 == 0 and 4 <= number <= 32:        # a list of type number - 1
        decode = _SCALAR_DECODERS[number - 1]
        items = []
        for _, item_wire, item in pw.iter_fields(value):
            if item_wire == pw.LEN and number - 1 not in (29, 31):
                items += [decode(x) for x in _unpack(number - 1, item)]   # packed
            else:
                items.append(decode(item))
        return items
    return None


def _unpack(number, packed):
    """Items of a packed repeated scalar (fixed-width or varint)."""
    width = {3: 8, 21: 8, 25: 8, 5: 4, 19: 4, 23: 4}.get(number)
    if width is None:
        return pw.repeated_varints(pw.LEN, packed)
    return [int.from_bytes(packed[i:i + width], "little") for i in range(0, len(packed), width)]


def decode_attr(data):
    name, value = "", None
    for number, wire_type, raw in pw.iter_fields(data):
        if number == 1:
            name = bytes(raw).decode("utf-8", "replace")
        elif number >= 3:
            value = _decode_value(number, wire_type, raw)
    return name, value


def encode_attr(name, value):
    body = pw.field_string(1, name)
    if isinstance(value, bool):
        return body + pw.field_varint(27, value)
    if isinstance(value, int):
        return body + pw.field_varint(9, value)
    if isinstance(value, float):
        return body + pw.field_double(3, value)
    if isinstance(value, str):
        return body + pw.field_string(29, value)
    if isinstance(value, bytes):
        return body + pw.field_bytes(31, value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return body + pw.field_bytes(30, b"".join(pw.field_string(1, v) for v in value))
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return body + pw.field_bytes(10, pw.field_packed_varints(1, value))
    raise TypeError(f"attribute {name!r}: cannot encode {type(value).__name__}")


# -- messages ----------------------------------------------------------------
def decode_node(data):
    node = ChakraNode(id=0)
    for number, wire_type, value in pw.iter_fields(data):
        if number == 1:
            node.id = value
        elif number == 2:
            node.name = bytes(value).decode("utf-8", "replace")
        elif number == 3:
            node.type = value
        elif number == 4:
            node.ctrl_deps += pw.repeated_varints(wire_type, value)
        elif number == 5:
            node.data_deps += pw.repeated_varints(wire_type, value)
        elif number == 6:
            node.start_time_micros = value
        elif number == 7:
            node.duration_micros = value
        elif number == 8:
            node.inputs = {IO_FIELDS[n]: bytes(v).decode("utf-8", "replace")
                           for n, _, v in pw.iter_fields(value) if n in IO_FIELDS}
        elif number == 10:
            name, attr = decode_attr(value)
            node.attrs[name] = attr
    return node


def encode_node(node):
    parts = [pw.field_varint(1, node.id)]
    if node.name:
        parts.append(pw.field_string(2, node.name))
    parts.append(pw.field_varint(3, node.type))
    if node.ctrl_deps:
        parts.append(pw.field_packed_varints(4, node.ctrl_deps))
    if node.data_deps:
        parts.append(pw.field_packed_varints(5, node.data_deps))
    if node.start_time_micros:
        parts.append(pw.field_varint(6, node.start_time_micros))
    if node.duration_micros:
        parts.append(pw.field_varint(7, node.duration_micros))
    if node.inputs:
        number = {name: n for n, name in IO_FIELDS.items()}
        parts.append(pw.field_bytes(8, b"".join(pw.field_string(number[k], v)
                                                for k, v in node.inputs.items())))
    parts += [pw.field_bytes(10, encode_attr(k, v)) for k, v in node.attrs.items()]
    return b"".join(parts)


def decode_metadata(data):
    meta = GlobalMetadata()
    for number, _, value in pw.iter_fields(data):
        if number == 1:
            meta.version = bytes(value).decode("utf-8", "replace")
        elif number == 2:
            name, attr = decode_attr(value)
            meta.attrs[name] = attr
    return meta


def encode_metadata(meta):
    parts = [pw.field_string(1, meta.version)] if meta.version else []
    parts += [pw.field_bytes(2, encode_attr(k, v)) for k, v in meta.attrs.items()]
    return b"".join(parts)


# -- files -------------------------------------------------------------------
def read_et(path):
    """``(GlobalMetadata, [ChakraNode])``; raises WireError with the byte offset."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    messages = pw.read_delimited(data)
    meta, nodes = None, []
    for offset, message in messages:
        try:
            if meta is None:
                meta = decode_metadata(message)
            else:
                nodes.append(decode_node(message))
        except pw.WireError as err:
            raise pw.WireError(f"message at byte {offset}: {err}") from None
    return meta or GlobalMetadata(), nodes


def write_et(path, meta, nodes, compress=None):
    """Write one rank's ET file (gzipped when ``compress`` or the name ends .gz)."""
    data = pw.delimited(encode_metadata(meta))
    data += b"".join(pw.delimited(encode_node(n)) for n in nodes)
    if compress or (compress is None and str(path).endswith(".gz")):
        data = gzip.compress(data, mtime=0)
    with open(path, "wb") as handle:
        handle.write(data)

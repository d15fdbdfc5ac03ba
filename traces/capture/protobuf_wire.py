"""The protobuf wire format, just what Chakra execution traces need.

A message is a sequence of fields, each a varint key ``field_number << 3 |
wire_type`` then a value: varint (0), 64-bit little-endian (1),
length-delimited bytes (2) or 32-bit little-endian (5).  Chakra files are
streams of messages, each prefixed by its length as a varint.  Written from
the public encoding specification (protobuf.dev/programming-guides/encoding);
no generated code.
"""

import struct

VARINT, I64, LEN, I32 = 0, 1, 2, 5
_MASK64 = (1 << 64) - 1


class WireError(ValueError):
    """Bytes that are not a valid protobuf encoding."""


def encode_varint(value):
    value &= _MASK64                      # negative int64: two's complement, 10 bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data, pos):
    """``(value, new_pos)`` of the varint at ``data[pos:]``."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise WireError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes")


def signed64(value):
    return value - (1 << 64) if value >= 1 << 63 else value


def signed32(value):
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def zigzag_decode(value):
    return (value >> 1) ^ -(value & 1)


def zigzag_encode(value):
    return (value << 1) ^ (value >> 63)


def key(number, wire_type):
    return encode_varint(number << 3 | wire_type)


def field_varint(number, value):
    return key(number, VARINT) + encode_varint(int(value))


def field_bytes(number, data):
    return key(number, LEN) + encode_varint(len(data)) + data


def field_string(number, text):
    return field_bytes(number, text.encode("utf-8"))


def field_double(number, value):
    return key(number, I64) + struct.pack("<d", value)


def field_packed_varints(number, values):
    return field_bytes(number, b"".join(encode_varint(int(v)) for v in values))


def iter_fields(data):
    """Yield ``(field_number, wire_type, value)``; ints for numbers, bytes for LEN."""
    pos = 0
    while pos < len(data):
        tag, pos = decode_varint(data, pos)
        number, wire_type = tag >> 3, tag & 7
        if number == 0:
            raise WireError("field number 0")
        if wire_type == VARINT:
            value, pos = decode_varint(data, pos)
        elif wire_type == I64:
            value, pos = _fixed(data, pos, 8), pos + 8
        elif wire_type == I32:
            value, pos = _fixed(data, pos, 4), pos + 4
        elif wire_type == LEN:
            length, pos = decode_varint(data, pos)
            if pos + length > len(data):
                raise WireError(f"field {number}: length {length} runs past the message end")
            value, pos = data[pos:pos + length], pos + length
        else:
            raise WireError(f"field {number}: unsupported wire type {wire_type}")
        yield number, wire_type, value


def _fixed(data, pos, size):
    if pos + size > len(data):
        raise WireError("truncated fixed-width field")
    return int.from_bytes(data[pos:pos + size], "little")


def repeated_varints(wire_type, value):
    """Items of a repeated integer field, packed (LEN) or not (VARINT)."""
    if wire_type == VARINT:
        return [value]
    if wire_type != LEN:
        raise WireError("repeated integer field with a fixed-width encoding")
    items, pos = [], 0
    while pos < len(value):
        item, pos = decode_varint(value, pos)
        items.append(item)
    return items


def read_delimited(data):
    """Yield ``(offset, message_bytes)`` of a varint-length-prefixed stream."""
    pos = 0
    while pos < len(data):
        start = pos
        length, pos = decode_varint(data, pos)
        if pos + length > len(data):
            raise WireError(f"message at byte {start}: length {length} runs past the end "
                            "of the file")
        yield start, data[pos:pos + length]
        pos += length


def delimited(message):
    return encode_varint(len(message)) + message

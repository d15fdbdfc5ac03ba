"""Packets of classic pcap and pcapng captures: (time, 5-tuple, payload bytes).

Written from the format specifications (tcpdump.org pcap-savefile(5), IETF
draft-ietf-opsawg-pcapng): classic files in either byte order with
microsecond or nanosecond stamps; pcapng sections, interface descriptions
(link type, ``if_tsresol``) and enhanced packet blocks.  Link types:
Ethernet (with 802.1Q/QinQ tags), Linux cooked v1/v2, raw IP, BSD loopback.
Payload sizes come from the IP/UDP length fields, so captures truncated by a
snap length still count every byte.  Only TCP and UDP over IPv4/IPv6 count.
"""

import ipaddress
import struct
from dataclasses import dataclass

from common.errors import UserError

# Link-layer header types (tcpdump.org/linktypes.html).
NULL, ETHERNET, RAW_ALT, RAW, LINUX_SLL, RAW_IPV4, RAW_IPV6, LINUX_SLL2 = (
    0, 1, 12, 101, 113, 228, 229, 276)
_IPV4, _IPV6, _VLAN = 0x0800, 0x86DD, (0x8100, 0x88A8, 0x9100)
_TCP, _UDP = 6, 17
_IPV6_EXTENSIONS = (0, 43, 60)
_PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4",     # microseconds, LE / BE
                b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")     # nanoseconds, LE / BE


@dataclass(frozen=True)
class Packet:
    time_s: float
    protocol: str            # "tcp" or "udp"
    src: str
    sport: int
    dst: str
    dport: int
    payload: int             # transport payload bytes


def read_packets(path):
    """``(packets, skipped)``: TCP/UDP packets in file order, and a count of others."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise UserError(path, "no such file") from None
    except OSError as err:
        raise UserError(path, f"cannot read: {err.strerror or err}") from None
    if len(data) < 4:
        raise UserError(path, "not a pcap or pcapng file (too short)")
    magic = data[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        frames = _pcapng_frames(data, path)
    elif magic in _PCAP_MAGICS:
        frames = _pcap_frames(data, path)
    else:
        raise UserError(path, "not a pcap or pcapng file (unknown magic number)")
    packets, skipped = [], 0
    for time_s, link, frame in frames:
        packet = _decode(time_s, link, frame)
        if packet is None:
            skipped += 1
        else:
            packets.append(packet)
    return packets, skipped


def _pcap_frames(data, path):
    order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nanos = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    if len(data) < 24:
        raise UserError(path, "truncated pcap header")
    link = struct.unpack(order + "I", data[20:24])[0] & 0xFFFF
    scale = 1e-9 if nanos else 1e-6
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(order + "IIII", data[pos:pos + 16])
        pos += 16
        if pos + caplen > len(data):
            return                           # capture cut short mid-packet
        yield sec + frac * scale, link, data[pos:pos + caplen]
        pos += caplen


def _pcapng_frames(data, path):
    pos, order, interfaces = 0, "<", []
    while pos + 12 <= len(data):
        if data[pos:pos + 4] == b"\x0a\x0d\x0d\x0a":      # section header: byte order
            magic = data[pos + 8:pos + 12]
            order = "<" if magic == b"\x4d\x3c\x2b\x1a" else ">"
            if magic not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                raise UserError(f"{path}: byte {pos}", "bad pcapng byte-order magic")
            interfaces = []
        block_type, length = struct.unpack(order + "II", data[pos:pos + 8])
        if length < 12 or length % 4 or pos + length > len(data):
            if pos + length > len(data):
                return                       # capture cut short mid-block
            raise UserError(f"{path}: byte {pos}", f"bad pcapng block length {length}")
        body = data[pos + 8:pos + length - 4]
        if block_type == 1:                  # interface description
            link = struct.unpack(order + "H", body[:2])[0]
            interfaces.append((link, _tsresol(body[8:], order)))
        elif block_type == 6:                # enhanced packet
            iface, high, low, caplen, _ = struct.unpack(order + "IIIII", body[:20])
            if iface >= len(interfaces):
                raise UserError(f"{path}: byte {pos}", f"packet on undeclared interface {iface}")
            link, resolution = interfaces[iface]
            yield ((high << 32) | low) * resolution, link, body[20:20 + caplen]
        pos += length


def _tsresol(options, order):
    """Seconds per timestamp unit from the ``if_tsresol`` option (default 1 us)."""
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack(order + "HH", options[pos:pos + 4])
        if code == 0:
            break
        if code == 9 and length >= 1:
            value = options[pos + 4]
            return 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0 ** -value
        pos += 4 + length + (-length % 4)
    return 1e-6


def _decode(time_s, link, frame):
    try:
        if link == ETHERNET:
            ethertype, pos = struct.unpack("!H", frame[12:14])[0], 14
            while ethertype in _VLAN:
                ethertype, pos = struct.unpack("!H", frame[pos + 2:pos + 4])[0], pos + 4
        elif link == LINUX_SLL:
            ethertype, pos = struct.unpack("!H", frame[14:16])[0], 16
        elif link == LINUX_SLL2:
            ethertype, pos = struct.unpack("!H", frame[0:2])[0], 20
        elif link == NULL:
            family = int.from_bytes(frame[:4], "little") if frame[:2] != b"\x00\x00" \
                else int.from_bytes(frame[:4], "big")
            ethertype, pos = (_IPV4 if family == 2 else _IPV6), 4
        elif link in (RAW, RAW_ALT, RAW_IPV4, RAW_IPV6):
            ethertype, pos = (_IPV4 if frame[0] >> 4 == 4 else _IPV6), 0
        else:
            return None
        if ethertype == _IPV4:
            return _ipv4(time_s, frame[pos:])
        if ethertype == _IPV6:
            return _ipv6(time_s, frame[pos:])
    except (struct.error, IndexError):
        pass                                 # truncated headers: not a usable packet
    return None


def _ipv4(time_s, ip):
    header = (ip[0] & 0x0F) * 4
    total, fragment, proto = struct.unpack("!H", ip[2:4])[0], struct.unpack("!H", ip[6:8])[0], ip[9]
    if fragment & 0x1FFF:                    # later fragments carry no transport header
        return None
    src, dst = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20]))
    return _transport(time_s, proto, src, dst, ip[header:], total - header)


def _ipv6(time_s, ip):
    length, proto = struct.unpack("!H", ip[4:6])[0], ip[6]
    src, dst = str(ipaddress.IPv6Address(ip[8:24])), str(ipaddress.IPv6Address(ip[24:40]))
    pos = 40
    while proto in _IPV6_EXTENSIONS or proto == 44:
        size = 8 if proto == 44 else (ip[pos + 1] + 1) * 8
        proto = ip[pos]
        pos += size
        length -= size
    return _transport(time_s, proto, src, dst, ip[pos:], length)


def _transport(time_s, proto, src, dst, segment, length):
    if proto == _TCP:
        sport, dport = struct.unpack("!HH", segment[:4])
        header = (segment[12] >> 4) * 4
        return Packet(time_s, "tcp", src, sport, dst, dport, max(0, length - header))
    if proto == _UDP:
        sport, dport, udp_length = struct.unpack("!HHH", segment[:6])
        return Packet(time_s, "udp", src, sport, dst, dport, max(0, udp_length - 8))
    return None

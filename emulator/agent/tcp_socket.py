"""Kernel TCP socket details the agent needs: marking, pacing, counters."""

import fcntl
import socket
import struct

SO_MAX_PACING_RATE = getattr(socket, "SO_MAX_PACING_RATE", 47)
SIOCOUTQ = 0x5411           # bytes in the send queue not yet acknowledged
SIOCOUTQNSD = 0x894B        # bytes in the send queue not yet sent
TCP_INFO_LEN = 232
_TOTAL_RETRANS = 100        # offsets in struct tcp_info (linux/tcp.h)
_BYTES_ACKED = 120
UNPACED = 0xFFFFFFFFFFFFFFFF


def set_tos(sock, tos):
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)


def set_pacing(sock, bits_per_second):
    """Cap the socket's pacing rate (None: unpaced)."""
    value = UNPACED if bits_per_second is None else max(1, int(bits_per_second / 8))
    sock.setsockopt(socket.SOL_SOCKET, SO_MAX_PACING_RATE, struct.pack("Q", value))


def unacked_bytes(sock):
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), SIOCOUTQ, b"\0" * 4))[0]


def unsent_bytes(sock):
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), SIOCOUTQNSD, b"\0" * 4))[0]


def tcp_counters(sock):
    """(total retransmitted segments, bytes acknowledged) from TCP_INFO."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_LEN)
    retrans = struct.unpack_from("I", info, _TOTAL_RETRANS)[0] if len(info) >= 104 else 0
    acked = struct.unpack_from("Q", info, _BYTES_ACKED)[0] if len(info) >= 128 else None
    return retrans, acked

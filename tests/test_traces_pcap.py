"""pcap / pcapng captures -> flows (captures written here, byte by byte)."""

import ipaddress
import struct

import pytest

import traces
from common.errors import UserError
from tests.test_traces_support import run_cli
from traces.capture.host_maps import NameHostMap
from traces.capture.pcap_import import import_pcap
from traces.capture.pcap_reader import read_packets


def ipv4(src, dst, proto, transport):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(transport), 1, 0, 64, proto, 0,
                         ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    return header + transport


def ipv6(src, dst, proto, transport):
    return (struct.pack("!IHBB", 6 << 28, len(transport), proto, 64)
            + ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed + transport)


def tcp(sport, dport, payload):
    return struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 5 << 4, 0x18, 65535, 0, 0) + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def ethernet(ip_packet, vlan=False, ethertype=0x0800):
    head = b"\x02" * 6 + b"\x04" * 6
    if vlan:
        head += struct.pack("!HH", 0x8100, 42)
    return head + struct.pack("!H", ethertype) + ip_packet


def classic_pcap(path, packets, snaplen=65535):
    """Little-endian microsecond pcap; ``packets`` = [(time_s, frame)]."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1)
    for time_s, frame in packets:
        captured = frame[:snaplen]
        usec = round(time_s * 1e6)
        out += struct.pack("<IIII", usec // 10**6, usec % 10**6, len(captured), len(frame)) + captured
    path.write_bytes(out)
    return path


def block(block_type, body):
    body += b"\x00" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def pcapng(path, packets, link=1):
    """pcapng with nanosecond stamps (if_tsresol = 9)."""
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    options = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)
    out += block(1, struct.pack("<HHI", link, 0, 262144) + options)
    for time_s, frame in packets:
        stamp = round(time_s * 1e9)
        out += block(6, struct.pack("<IIIII", 0, stamp >> 32, stamp & 0xFFFFFFFF, len(frame), len(frame))
                     + frame)
    path.write_bytes(out)
    return path


A, B, C = "10.0.0.1", "10.0.0.2", "10.0.0.3"


def sample_packets():
    data = b"x" * 1000
    return [
        (10.000, ethernet(ipv4(A, B, 6, tcp(5000, 80, data)))),
        (10.001, ethernet(ipv4(B, A, 6, tcp(80, 5000, b"")))),       # pure ACK: no flow
        (10.002, ethernet(ipv4(A, B, 6, tcp(5000, 80, data[:500])))),
        (10.250, ethernet(ipv4(C, B, 17, udp(9000, 9001, data[:300])), vlan=True)),
        (10.300, ethernet(b"\x00" * 28, ethertype=0x0806)),          # ARP: not IP
    ]


def test_classic_pcap_flows(tmp_path):
    path = classic_pcap(tmp_path / "c.pcap", sample_packets(), snaplen=100)   # truncated frames
    packets, skipped = read_packets(path)
    assert skipped == 1 and len(packets) == 4
    assert packets[0].payload == 1000                             # from the IP length, not caplen
    trace, notes = import_pcap(path, NameHostMap())
    trace.validate()
    flows = trace.flows()
    assert [(f.src, f.dst, f.bytes, f.protocol) for f in flows] == \
        [("h1", "h2", 1500, "tcp"), ("h3", "h2", 300, "udp")]
    start = trace.node_map()[flows[1].deps[0]]
    assert start.duration_us == pytest.approx(250000)            # captured start time kept
    assert flows[0].deps == []
    # captured duration, first packet to last payload packet (10.000 to 10.002 s)
    assert flows[0].recorded_fct_us == pytest.approx(2000) and flows[1].recorded_fct_us == 0
    assert notes["flows below the minimum size (e.g. pure ACK directions)"] == 1


def test_pcapng_nanoseconds_ipv6_and_host_map(tmp_path, capsys):
    packets = sample_packets()[:3] + [
        (10.5, ethernet(ipv6("fd00::1", "fd00::2", 17, udp(1, 2, b"y" * 64)), ethertype=0x86DD))]
    path = pcapng(tmp_path / "c.pcapng", packets)
    out = tmp_path / "c.jsonl"
    code, stdout, err = run_cli(capsys, "trace", "import", "pcap", path, "--out", out,
                                "--host-map", "10.0.0.1=h4,10.0.0.2=h7,fd00::1=h1,fd00::2=h2")
    assert code == 0, err
    trace = traces.load_trace(out)
    assert [(f.src, f.dst, f.bytes) for f in trace.flows()] == [("h4", "h7", 1500), ("h1", "h2", 64)]
    assert trace.node_map()[trace.flows()[1].deps[0]].duration_us == pytest.approx(500000)


def test_unmapped_addresses_are_skipped(tmp_path):
    path = classic_pcap(tmp_path / "c.pcap", sample_packets())
    trace, notes = import_pcap(path, NameHostMap("10.0.0.1=h1,10.0.0.2=h2", strict=True))
    assert [f.bytes for f in trace.flows()] == [1500]
    assert notes["flows with an address missing from --host-map"] == 1


def test_idle_gap_splits_a_connection(tmp_path):
    packets = [(0.0, ethernet(ipv4(A, B, 6, tcp(1, 2, b"a" * 10)))),
               (0.5, ethernet(ipv4(A, B, 6, tcp(1, 2, b"b" * 20))))]
    path = classic_pcap(tmp_path / "c.pcap", packets)
    assert [f.bytes for f in import_pcap(path, NameHostMap())[0].flows()] == [30]
    assert [f.bytes for f in import_pcap(path, NameHostMap(), idle_gap_s=0.1)[0].flows()] == [10, 20]


def test_not_a_capture(tmp_path, capsys):
    path = tmp_path / "x.pcap"
    path.write_bytes(b"hello world, not a capture")
    code, _, err = run_cli(capsys, "trace", "import", "pcap", path, "--out", tmp_path / "o.jsonl")
    assert code == 2
    assert err.strip() == f"error: {path}: not a pcap or pcapng file (unknown magic number)"
    with pytest.raises(UserError, match="no TCP or UDP packets"):
        import_pcap(classic_pcap(tmp_path / "arp.pcap", sample_packets()[4:]), NameHostMap())


def test_a_tcpdump_capture_of_real_tcp(tmp_path):
    """tests/fixtures/pcap/two_hosts.pcap (its README says how it was made):
    four transfers over a 1 Gbit/s veth, each a flow of its exact size whose
    captured duration no faster than the link allows."""
    from pathlib import Path
    path = Path(__file__).parent / "fixtures" / "pcap" / "two_hosts.pcap"
    trace, notes = import_pcap(str(path), NameHostMap("10.99.0.1=h1,10.99.0.2=h2", strict=True))
    trace.validate()
    flows = trace.flows()
    assert sorted((f.src, f.dst, f.bytes) for f in flows) == [
        ("h1", "h2", 1000000), ("h1", "h2", 2000000), ("h1", "h2", 4000000),
        ("h2", "h1", 1000000)]
    for flow in flows:
        assert flow.bytes * 8 / (flow.recorded_fct_us * 1e-6) <= 1.0e9   # the tbf's rate
    assert notes["flows below the minimum size (e.g. pure ACK directions)"] == 4

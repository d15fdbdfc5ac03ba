"""pcap/pcapng captures -> flow nodes.

Packets are grouped by direction-sensitive 5-tuple (protocol, source
address and port, destination address and port); each group with payload
becomes a flow of its payload bytes, starting at its first packet.  With
``idle_gap_s`` a 5-tuple idle for longer than that starts a new flow (a
persistent connection carrying several messages).  Addresses map to hosts
via ``host_map``; flows with an unmapped end are skipped and counted.

The capture is one request, ``capture``, arriving at the first packet: a
flow starting ``t`` after it waits for a compute node of length ``t`` on its
source host (a timer, so the replay keeps the captured start times).  Each
flow records its captured duration, first packet to last payload packet
(``recorded_fct_us``), for the replay-against-capture comparison.
"""

import os
from collections import defaultdict

from common.errors import UserError
from traces.capture.pcap_reader import read_packets
from traces.dag_builder import DagBuilder
from traces.model import Request
from traces.trace import Trace


def import_pcap(path, host_map, idle_gap_s=None, min_bytes=1, request_id="capture"):
    """Returns ``(Trace, notes)``; ``host_map(address) -> host or None``."""
    packets, skipped = read_packets(path)
    notes = defaultdict(int)
    notes["packets that are not TCP/UDP over IP"] = skipped
    if not packets:
        raise UserError(path, "no TCP or UDP packets in the capture")
    origin = min(p.time_s for p in packets)
    flows, open_flows = [], {}
    for packet in sorted(packets, key=lambda p: p.time_s):
        key = (packet.protocol, packet.src, packet.sport, packet.dst, packet.dport)
        current = open_flows.get(key)
        idle = idle_gap_s is not None and current and packet.time_s - current["last"] > idle_gap_s
        if current is None or idle:
            current = {"key": key, "start": packet.time_s, "last": packet.time_s, "bytes": 0}
            open_flows[key] = current
            flows.append(current)
        if packet.payload:
            current["last"] = packet.time_s
        current["bytes"] += packet.payload
    builder = DagBuilder()
    made = []
    for flow in flows:
        protocol, src, _, dst, _ = flow["key"]
        if flow["bytes"] < min_bytes:
            notes["flows below the minimum size (e.g. pure ACK directions)"] += 1
            continue
        src_host, dst_host = host_map(src), host_map(dst)
        if src_host is None or dst_host is None:
            notes["flows with an address missing from --host-map"] += 1
            continue
        if src_host == dst_host:
            notes["flows between addresses of one host"] += 1
            continue
        index = len(made)
        offset_us = (flow["start"] - origin) * 1e6
        deps = []
        if offset_us > 0:
            deps = [builder.compute(f"f{index}.start", request_id, src_host, offset_us,
                                    label="wait for the captured start time")]
        label = f"{protocol} {src}:{flow['key'][2]} > {dst}:{flow['key'][4]}"
        made.append(builder.flow(f"f{index}", request_id, src_host, dst_host, flow["bytes"],
                                 "other", deps, protocol=protocol, label=label,
                                 recorded_fct_us=(flow["last"] - flow["start"]) * 1e6))
    if not made:
        raise UserError(path, "no flows left after mapping addresses to hosts")
    first_host = builder.nodes[-1].src
    terminal = builder.compute(f"{request_id}.end", request_id, first_host, 0.0, made, label="end")
    request = Request(id=request_id, arrival_us=0.0, input_tokens=0, output_tokens=0,
                      terminal=terminal)
    trace = Trace(requests=[request], nodes=builder.nodes,
                  source=f"trace import pcap {os.path.basename(path)}")
    return trace, {k: v for k, v in notes.items() if v}

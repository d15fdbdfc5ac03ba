"""Small hand-built traces for the integration tests (real units)."""

from traces.model import ComputeNode, FlowNode, Request
from traces.trace import Trace

MB = 1_000_000


def contention_trace(collective_mb=25, p2d_mb=10, p2d_slo_us=4000.0):
    """An RLI-0 all-to-all flow and a loose-deadline P2D flow sharing one bottleneck.

    Request ``a``: h1 starts executing layer 0 (a 10 us compute node reports the
    progress) and then needs ``collective_mb`` from h1 to h3 for that same layer:
    Relative Layer Index 0, the GPU waits for it now.  Request ``b``: a P2D KV
    transfer h2 -> h3 of ``p2d_mb`` with a TTFT SLO of ``p2d_slo_us``.  Both
    cross tor1 -> h3 at 100 Gbit/s: alone, 25 MB take 2 ms and 10 MB 0.8 ms.
    """
    requests = [
        Request("a", 0.0, 1024, 1, ttft_slo_us=50_000.0, prefill_hosts=["h1"], decode_host="h3",
                terminal="a.a2a"),
        Request("b", 0.0, 1024, 1, ttft_slo_us=p2d_slo_us, prefill_hosts=["h2"], decode_host="h3",
                terminal="b.p2d"),
    ]
    nodes = [
        ComputeNode("a.attn0", "a", "h1", 10.0, layer=0, label="attention"),
        FlowNode("a.a2a", "a", "h1", "h3", collective_mb * MB, "collective", deps=["a.attn0"],
                 layer=0, label="all-to-all dispatch"),
        FlowNode("b.p2d", "b", "h2", "h3", p2d_mb * MB, "p2d", layer=0, label="P2D KV transfer"),
    ]
    return Trace(requests=requests, nodes=nodes, source="tests/scenarios.py")


def infeasible_p2d_trace():
    """A P2D flow that cannot meet its deadline even at line rate (MLU > 1 at once)."""
    requests = [Request("c", 0.0, 1024, 1, ttft_slo_us=500.0, prefill_hosts=["h1"],
                        decode_host="h4", terminal="c.p2d")]
    nodes = [FlowNode("c.p2d", "c", "h1", "h4", 20 * MB, "p2d", layer=0, label="P2D KV transfer")]
    return Trace(requests=requests, nodes=nodes, source="tests/scenarios.py")


def udp_trace():
    """Two UDP flows: one alone, one into a host that also receives a TCP flow."""
    requests = [Request("u", 0.0, 1024, 1, ttft_slo_us=50_000.0, prefill_hosts=["h1"],
                        decode_host="h4", terminal="u.end")]
    nodes = [
        FlowNode("u.alone", "u", "h1", "h2", 5 * MB, "other", protocol="udp"),
        FlowNode("u.shared", "u", "h3", "h4", 5 * MB, "other", protocol="udp"),
        FlowNode("u.tcp", "u", "h5", "h4", 5 * MB, "other"),
        ComputeNode("u.end", "u", "h4", 1.0, deps=["u.alone", "u.shared", "u.tcp"]),
    ]
    return Trace(requests=requests, nodes=nodes, source="tests/scenarios.py")

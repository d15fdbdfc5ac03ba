"""Small hand-built traces for the integration tests (real units)."""

from traces.model import ComputeNode, FlowNode, Request
from traces.scenarios import MB, contention_trace  # noqa: F401 - re-exported for the tests
from traces.trace import Trace


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

"""Small hand-built traces: two requests contending for one port.

Used by the examples and the tests; a reader can check every number by hand.
"""

from traces.model import ComputeNode, FlowNode, Request
from traces.trace import Trace

MB = 10**6


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


def demotion_trace(long_mb=10, late_mb=2, late_arrival_us=100.0):
    """Two flows into h3 for size-based demotion (PIAS): ``long`` h1 -> h3 of
    ``long_mb`` at time 0, ``late`` h2 -> h3 of ``late_mb`` at
    ``late_arrival_us``.  With thresholds at 1 MB and 3 MB and 100 Gbit/s
    links (12.5 MB per ms): ``long`` crosses 1 MB at 80 us; ``late`` takes
    the port in Q0 until it crosses 1 MB at 180 us; the two share Q1 until
    ``late`` ends at 340 us; ``long`` crosses 3 MB at 400 us and ends at
    960 us (``tests/test_fluid_simulator.py`` works the same timeline at a
    tenth of the rate).
    """
    requests = [
        Request("long", 0.0, 1024, 1, ttft_slo_us=50_000.0, prefill_hosts=["h1"],
                decode_host="h3", terminal="long.p2d"),
        Request("late", late_arrival_us, 1024, 1, ttft_slo_us=50_000.0, prefill_hosts=["h2"],
                decode_host="h3", terminal="late.p2d"),
    ]
    nodes = [
        FlowNode("long.p2d", "long", "h1", "h3", long_mb * MB, "p2d", layer=0),
        FlowNode("late.p2d", "late", "h2", "h3", late_mb * MB, "p2d", layer=0),
    ]
    return Trace(requests=requests, nodes=nodes, source="tests/scenarios.py")

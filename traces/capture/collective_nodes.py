"""Turning rank-level transfers into DAG nodes between hosts.

Ranks on the same host exchange data without the network: their transfers
become a local-delay compute node (``DagBuilder.transfer``).  Transfers
between the same two hosts are merged into one flow, which starts when every
contributing source rank is ready.
"""

from collections import defaultdict

from traces.model import Request
from traces.trace import Trace


def add_transfers(builder, prefix, request_id, transfers, host_of, ready_of,
                  stage="collective", layer=None, label=None, recorded_cct_us=None):
    """Add nodes for ``[(src_rank, dst_rank, bytes)]``; returns the new node ids.

    ``host_of(rank)`` names a rank's host, ``ready_of(rank)`` lists the ids a
    transfer from that rank waits for.  ``recorded_cct_us``: the captured
    duration of the collective, put on each of its flows.  A transfer may
    carry a fourth item, its own captured duration: a merged flow keeps the
    longest.
    """
    merged = defaultdict(lambda: [0, [], None])
    for src, dst, nbytes, *took in transfers:
        entry = merged[(host_of(src), host_of(dst))]
        entry[0] += nbytes
        entry[1] += ready_of(src)
        if took and took[0]:
            entry[2] = max(entry[2] or 0.0, took[0])
    made = []
    for (src, dst), (nbytes, deps, took) in merged.items():
        tag = f"@{src}" if src == dst else f".{src}>{dst}"
        for node_id in builder.transfer(f"{prefix}{tag}", request_id, src, dst, nbytes, stage,
                                        deps, layer, label=label, recorded_fct_us=took,
                                        recorded_cct_us=recorded_cct_us):
            if node_id not in deps:
                made.append(node_id)
    return made


MAX_EXACT = 2 ** 53       # the trace format's largest byte count (exact in a double)
MAX_US = 1e12             # and its longest duration (11.6 days)


def is_count(value):
    """A whole number from 0 to 2^53: a rank, a tag, a size, exact in the trace format."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_EXACT


def single_request_trace(builder, request_id, host, source=""):
    """A captured job as one request arriving at 0 (no SLO), whose terminal on
    ``host`` waits for every node nothing else waits for."""
    needed = {d for node in builder.nodes for d in node.deps}
    sinks = [node.id for node in builder.nodes if node.id not in needed]
    terminal = builder.compute(f"{request_id}.end", request_id, host, 0.0, sinks, label="end")
    request = Request(id=request_id, arrival_us=0.0, input_tokens=0, output_tokens=0,
                      terminal=terminal)
    return Trace(requests=[request], nodes=builder.nodes, source=source)

"""Collectives expanded into point-to-point transfers by algorithm.

``expand_collective(kind, ranks, size)`` returns ``[(src, dst, bytes)]``
over the ranks in ring order; one transfer per ring edge carries the whole
algorithm's traffic on that edge (a captured collective is replayed as its
per-edge load, not step by step).  ``size`` is the collective's buffer:

* all_reduce (ring): each edge ``2 (N-1)/N x size``;
* all_gather / reduce_scatter (ring): ``size`` is the full (gathered /
  unreduced) buffer, each edge ``(N-1)/N x size``;
* all_to_all: ``size`` is one rank's send buffer, ``size / N`` to each peer;
* broadcast / reduce (ring pipeline from / to the root): ``N-1`` edges of
  ``size``;
* gather / scatter: ``size / N`` between the root and each other rank;
* barrier: nothing.
"""

from common.errors import UserError

KINDS = ("all_reduce", "reduce", "all_gather", "gather", "scatter", "broadcast",
         "all_to_all", "reduce_scatter", "reduce_scatter_block", "barrier")


def expand_collective(kind, ranks, size, root=None):
    ranks = list(ranks)
    n = len(ranks)
    if kind not in KINDS:
        raise UserError("collective", f"unknown collective {kind!r}")
    if n < 2 or size <= 0 or kind == "barrier":
        return []
    ring = [(ranks[i], ranks[(i + 1) % n]) for i in range(n)]
    root = ranks[0] if root is None or root not in ranks else root
    if kind == "all_reduce":
        return [(a, b, round(2 * (n - 1) * size / n)) for a, b in ring]
    if kind in ("all_gather", "reduce_scatter", "reduce_scatter_block"):
        return [(a, b, round((n - 1) * size / n)) for a, b in ring]
    if kind == "all_to_all":
        share = round(size / n)
        return [(a, b, share) for a in ranks for b in ranks if a != b]
    start = ranks.index(root)
    chain = ranks[start:] + ranks[:start]            # root first
    if kind == "broadcast":
        return [(chain[i], chain[i + 1], size) for i in range(n - 1)]
    if kind == "reduce":
        chain = chain[1:] + chain[:1]                # ... ending at the root
        return [(chain[i], chain[i + 1], size) for i in range(n - 1)]
    share = round(size / n)
    if kind == "gather":
        return [(r, root, share) for r in ranks if r != root]
    return [(root, r, share) for r in ranks if r != root]          # scatter

"""PyTorch ``c10d::`` operations in Chakra ETs, read from their arguments.

Chakra's PyTorch converter makes communication nodes only from GPU kernels
(``ncclKernel*`` / ``ncclDevKernel*``, which carry ``comm_type`` and
``comm_size``).  A trace recorded without a GPU (the gloo backend) or
without Kineto has none: its collectives are the CPU-side ``c10d::`` ops
(type COMP, or COMM_COLL without ``comm_type``), each with a ``gloo:*``
child that ran the transfer.  What the transfer was is in the op's
arguments, the node's ``inputs`` (IOInfo): ``values`` is PyTorch's text of
the argument list, a tensor written ``[id, storage id, offset, elements,
element size, device]``, e.g. for ``c10d::allreduce_(Tensor[] tensors,
ProcessGroup, ReduceOp, Tensor? sparse_indices, bool async_op, int
timeout)``::

    [[[45, 46, 0, 64, 4, 'cpu']], '<Object>', '<Object>', '<None>', False, -1]

The process group is an opaque ``'<Object>'``; the trace's groups are listed
only in the ``## process_group:init ##`` METADATA node (``pg_name``,
``ranks`` (empty: every rank), ``group_size``).  So c10d collectives are
matched across ranks by operation and size (the k-th all-reduce of 256 bytes
on each rank is one collective), and named after the group whose ranks are
the participants.

``size`` follows :mod:`collectives`: the full buffer for all-gather and
reduce-scatter, one rank's send buffer for all-to-all.  Gather and scatter
are matched on the chunk every rank holds (only the root holds the whole
list) and expanded with ``chunk x ranks``.  Roots (broadcast, reduce,
gather, scatter) are ranks *in the op's group*: the importer maps them
through the matched participants.  A send/recv's peer is also group-local;
the op does not say its group, so it is read as a global rank (exact for the
default group).
"""

import ast
import json
from dataclasses import dataclass
from typing import Optional

from traces.capture.collective_nodes import MAX_EXACT, is_count

PG_INIT = "## process_group:init ##"


@dataclass
class C10dOp:
    kind: str                        # a collectives.KINDS name, or "send" / "recv"
    size: int                        # bytes (see the module docstring)
    root: Optional[int] = None       # broadcast, reduce, gather, scatter: a group rank
    peer: Optional[int] = None       # send: destination, recv: source
    tag: int = 0
    per_rank: bool = False           # size is one rank's chunk (gather, scatter)


# op name -> (kind, index of the argument whose bytes are the size, index of
# root/peer), from the ops' schemas, e.g. ``reduce_(Tensor[] tensors,
# ProcessGroup, ReduceOp, int root_rank, int root_tensor, bool async_op, int
# timeout)``, ``gather_(Tensor[][] output_tensors, Tensor[] input_tensors,
# ProcessGroup, int root_rank, ...)``.
_OPS = {
    "c10d::allreduce_": ("all_reduce", 0, None),
    "c10d::allreduce_coalesced_": ("all_reduce", 0, None),
    "c10d::allgather_": ("all_gather", 0, None),
    "c10d::_allgather_base_": ("all_gather", 0, None),
    "c10d::allgather_into_tensor_coalesced_": ("all_gather", 0, None),
    "c10d::reduce_scatter_": ("reduce_scatter", 1, None),
    "c10d::_reduce_scatter_base_": ("reduce_scatter", 1, None),
    "c10d::reduce_scatter_tensor_coalesced_": ("reduce_scatter", 1, None),
    "c10d::alltoall_base_": ("all_to_all", 1, None),
    "c10d::alltoall_": ("all_to_all", 1, None),
    "c10d::broadcast_": ("broadcast", 0, 2),
    "c10d::reduce_": ("reduce", 0, 3),
    "c10d::gather_": ("gather", 1, 3),          # the chunk each rank sends
    "c10d::scatter_": ("scatter", 0, 3),        # the chunk each rank receives
    "c10d::barrier": ("barrier", None, None),
    "c10d::send": ("send", 0, 2),
    "c10d::recv_": ("recv", 0, 2),
}


def is_c10d(node):
    return node.name.startswith("c10d::")


def c10d_op(node):
    """The C10dOp of a ``c10d::`` node; None for ops we do not know (or whose
    arguments the trace does not carry)."""
    spec = _OPS.get(node.name)
    values = _literal(node.inputs.get("values", ""))
    if spec is None or not isinstance(values, list):
        return None
    kind, sized, where = spec
    size = 0 if sized is None else tensor_bytes(values[sized]) if sized < len(values) else None
    at = values[where] if where is not None and where < len(values) else None
    at = at if is_count(at) else None
    if size is None or (where is not None and at is None):
        return None                  # an argument missing, or not what the schema says
    if kind in ("send", "recv"):
        tag = values[3] if len(values) > 3 and is_count(values[3]) else 0
        return C10dOp(kind, size, peer=at, tag=tag)
    return C10dOp(kind, size, root=at, per_rank=kind in ("gather", "scatter"))


def tensor_bytes(value):
    """Bytes of a tensor ``[id, storage, offset, elements, element size, device]``
    or of nested lists of them (0 for other values); None when a tensor's size
    is beyond the trace format's limit."""
    if isinstance(value, list) and len(value) == 6 and isinstance(value[5], str):
        if not all(is_count(v) for v in value[:5]):
            return None              # a tensor whose numbers are impossible
        size = value[3] * value[4]
        return size if size <= MAX_EXACT else None
    if isinstance(value, list):
        sizes = [tensor_bytes(v) for v in value]
        total = None if None in sizes else sum(sizes)
        return total if total is not None and total <= MAX_EXACT else None
    return 0


def _literal(text):
    try:
        return ast.literal_eval(text) if text else None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def process_groups(nodes):
    """``{pg_name: ranks}`` from the PG_INIT metadata node (a group listed with
    no ranks is every rank: ``range(group_size)``); malformed entries are
    skipped."""
    groups = {}
    for node in nodes:
        if node.name != PG_INIT:
            continue
        values = _literal(node.inputs.get("values", ""))
        text = values[0] if isinstance(values, list) and values else None
        try:
            listed = json.loads(text) if isinstance(text, str) else []
        except (json.JSONDecodeError, RecursionError):
            listed = []
        for group in listed if isinstance(listed, list) else []:
            if not isinstance(group, dict) or "pg_name" not in group:
                continue
            ranks, size = group.get("ranks"), group.get("group_size")
            if not ranks and is_count(size) and 0 < size <= 1 << 20:
                ranks = range(size)
            if isinstance(ranks, (list, range)) and ranks and all(is_count(r) for r in ranks):
                groups[str(group["pg_name"])] = sorted(ranks)
    return groups

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
reduce-scatter, one rank's send buffer for all-to-all.
"""

import ast
import json
from dataclasses import dataclass
from typing import Optional

PG_INIT = "## process_group:init ##"


@dataclass
class C10dOp:
    kind: str                        # a collectives.KINDS name, or "send" / "recv"
    size: int                        # bytes (see the module docstring)
    root: Optional[int] = None       # broadcast, reduce, gather, scatter
    peer: Optional[int] = None       # send: destination, recv: source
    tag: int = 0


# op name -> (kind, index of the argument whose bytes are the size, index of root/peer)
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
    "c10d::reduce_": ("reduce", 0, 2),
    "c10d::gather_": ("gather", None, 3),       # the root holds the full buffer
    "c10d::scatter_": ("scatter", None, 3),
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
    if sized is None:            # gather / scatter / barrier: the biggest argument
        size = max((tensor_bytes(v) for v in values), default=0)
    else:
        size = tensor_bytes(values[sized]) if sized < len(values) else 0
    at = values[where] if where is not None and where < len(values) else None
    at = at if isinstance(at, int) and not isinstance(at, bool) else None
    if kind in ("send", "recv"):
        tag = values[3] if len(values) > 3 and isinstance(values[3], int) else 0
        return C10dOp(kind, size, peer=at, tag=tag) if at is not None else None
    return C10dOp(kind, size, root=at)


def tensor_bytes(value):
    """Bytes of a tensor ``[id, storage, offset, elements, element size, device]``
    or of nested lists of them; 0 for anything else."""
    if _is_tensor(value):
        return value[3] * value[4]
    if isinstance(value, list):
        return sum(tensor_bytes(v) for v in value)
    return 0


def _is_tensor(value):
    return (isinstance(value, list) and len(value) == 6 and isinstance(value[5], str)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value[:5]))


def _literal(text):
    try:
        return ast.literal_eval(text) if text else None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def process_groups(nodes):
    """``{pg_name: ranks}`` from the PG_INIT metadata node (a group listed with
    no ranks is every rank: ``range(group_size)``)."""
    groups = {}
    for node in nodes:
        if node.name != PG_INIT:
            continue
        values = _literal(node.inputs.get("values", ""))
        text = values[0] if isinstance(values, list) and values else None
        try:
            listed = json.loads(text) if isinstance(text, str) else []
        except json.JSONDecodeError:
            listed = []
        for group in listed if isinstance(listed, list) else []:
            if not isinstance(group, dict) or "pg_name" not in group:
                continue
            ranks, size = group.get("ranks"), group.get("group_size")
            if not ranks and isinstance(size, int) and size > 0:
                ranks = range(size)
            if ranks:
                groups[str(group["pg_name"])] = sorted(ranks)
    return groups

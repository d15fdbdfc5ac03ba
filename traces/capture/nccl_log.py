"""NCCL ``NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=COLL`` logs -> communication DAG.

Each rank logs every collective it enters::

    host:615:18953 [2] NCCL INFO AllReduce: opCount 139d sendbuff 0x... recvbuff 0x...
        count 7382228 datatype 7 op 0 root 0 comm 0x... [nranks=128] stream 0x...

(``host:pid:tid [cuda device]``, opCount in hex).  Bytes are ``count`` x the
datatype's size; AllGather and ReduceScatter log the per-rank count, so their
buffer is ``count x nranks`` elements.  Lines of one collective are grouped by
communicator and opCount.  A communicator is its ``commId`` when the log has
the ``comm 0x.. rank R nranks N ... commId 0x.. - Init COMPLETE`` lines (the
same on every rank), else the ``comm`` pointer; when the pointers differ per
process (the usual case) and groups come out short of ``nranks``, short groups
with the same operation, opCount, count, datatype and nranks are merged.
Ranks are ordered by their init-line rank, else by (host, pid, device).
Each rank runs its collectives in log order; a collective's flows wait for
the previous collective of every participant.  Send/Recv (p2p) lines need
the init lines to know the sender's rank; Recv lines add nothing.
"""

import os
import re
from collections import defaultdict

from common.errors import UserError
from traces.capture.collective_nodes import add_transfers, single_request_trace
from traces.capture.collectives import expand_collective
from traces.dag_builder import DEFAULT_INTRA_HOST_BPS, DagBuilder

DATATYPE_BYTES = {0: 1, 1: 1, 2: 4, 3: 4, 4: 8, 5: 8, 6: 2, 7: 4, 8: 8, 9: 2, 10: 1, 11: 1}
OPERATIONS = {"AllReduce": "all_reduce", "AllGather": "all_gather",
              "ReduceScatter": "reduce_scatter", "Broadcast": "broadcast", "Reduce": "reduce",
              "AllToAll": "all_to_all", "Send": "send", "Recv": "recv"}
_PREFIX = r"(?P<host>[\w.\-]+):(?P<pid>\d+):(?P<tid>\d+) \[(?P<dev>\d+)\] NCCL INFO "
_OP_START = re.compile(_PREFIX + r"(?P<op>[A-Za-z]+): opCount ")
_OP = re.compile(_PREFIX + r"(?P<op>[A-Za-z]+): opCount (?P<opcount>[0-9a-fA-F]+) "
                 r"sendbuff \S+ recvbuff \S+ count (?P<count>\d+) datatype (?P<dtype>\d+) "
                 r"op (?P<redop>\d+) root (?P<root>-?\d+) comm (?P<comm>0x[0-9a-fA-F]+|\(nil\)) "
                 r"\[nranks=(?P<nranks>\d+)\]")
_INIT = re.compile(_PREFIX + r"comm (?P<comm>0x[0-9a-fA-F]+) rank (?P<rank>\d+) "
                   r"n[Rr]anks (?P<nranks>\d+)(?:.*?commId (?P<commid>0x[0-9a-fA-F]+))?")


def parse_nccl_log(paths):
    """``(ops, ranks)``: collective lines in order, and
    (host, pid, comm) -> (commId or None, rank, device) from the init lines."""
    ops, ranks = [], {}
    for path in paths:
        try:
            handle = open(path, encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise UserError(path, "no such file") from None
        except OSError as err:
            raise UserError(path, f"cannot read: {err.strerror or err}") from None
        with handle:
            for number, line in enumerate(handle, start=1):
                where = f"{path}:{number}"
                if "NCCL INFO" not in line:
                    continue
                init = _INIT.search(line)
                if init:
                    key = (init["host"], init["pid"], init["comm"])
                    ranks[key] = (init["commid"] or None, int(init["rank"]), int(init["dev"]))
                    continue
                if not _OP_START.search(line):
                    continue
                match = _OP.search(line)
                if not match:
                    raise UserError(where, "malformed NCCL collective line (expected opCount, "
                                           "sendbuff, recvbuff, count, datatype, op, root, comm, "
                                           "[nranks=N])")
                if match["op"] not in OPERATIONS:
                    raise UserError(where, f"unknown NCCL operation {match['op']!r}")
                dtype = int(match["dtype"])
                if dtype not in DATATYPE_BYTES:
                    raise UserError(where, f"unknown NCCL datatype {dtype}")
                ops.append({"where": where, "host": match["host"], "pid": match["pid"],
                            "dev": int(match["dev"]), "op": OPERATIONS[match["op"]],
                            "opcount": int(match["opcount"], 16), "count": int(match["count"]),
                            "dtype": dtype, "root": int(match["root"]), "comm": match["comm"],
                            "nranks": int(match["nranks"])})
    return ops, ranks


def import_nccl_log(paths, host_map, intra_host_bps=DEFAULT_INTRA_HOST_BPS, protocol="tcp",
                    request_id="job"):
    """Returns ``(Trace, notes)``; ``host_map(hostname) -> emulated host``."""
    ops, ranks = parse_nccl_log(paths)
    if not ops:
        raise UserError(paths[0], "no NCCL collective lines (run with NCCL_DEBUG=INFO "
                                  "NCCL_DEBUG_SUBSYS=COLL)")
    notes = defaultdict(int)
    groups = _group(ops, ranks, notes)
    builder = DagBuilder(intra_host_bps, lambda stage: protocol)
    last_done = {}                           # participant -> done node of its last collective
    for k, members in enumerate(groups):
        first = members[0]
        who = [_participant(m) for m in members]
        host = {p: host_map(m["host"]) for p, m in zip(who, members)}
        ready = lambda p: [last_done[p]] if p in last_done else []
        if first["op"] == "send":
            transfers = _p2p(members, ranks, who, notes)
        else:
            size = first["count"] * DATATYPE_BYTES[first["dtype"]]
            if first["op"] in ("all_gather", "reduce_scatter"):
                size *= first["nranks"]
            root = who[first["root"]] if 0 <= first["root"] < len(who) else None
            transfers = expand_collective(first["op"], who, size, root)
            if len(members) < first["nranks"]:
                notes["collectives with ranks missing from the log"] += 1
        made = add_transfers(builder, f"c{k}.{first['op']}", request_id, transfers,
                             lambda p: host.get(p) or host_map(p[0]), ready,
                             stage="other" if first["op"] == "send" else "collective",
                             label=f"{first['op']} opCount {first['opcount']:x}")
        waits = made or [d for p in who for d in ready(p)]
        done = builder.compute(f"c{k}.done", request_id, host[who[0]], 0.0, waits,
                               label=f"end of {first['op']}")
        for p in who:
            last_done[p] = done
    trace = single_request_trace(builder, request_id, builder.nodes[0].hosts()[0],
                                 "trace import nccl " + " ".join(os.path.basename(p) for p in paths))
    return trace, {k: v for k, v in notes.items() if v}


def _participant(op):
    return (op["host"], op["pid"], op["dev"])


def _group(ops, ranks, notes):
    """Lists of op lines, one per collective, in log order, ranks ordered."""
    groups = defaultdict(list)
    for op in ops:
        if op["op"] == "recv":
            continue                         # the matching Send carries the bytes
        known = ranks.get((op["host"], op["pid"], op["comm"]))
        comm = known[0] if known and known[0] else op["comm"]
        key = (comm, op["op"], op["opcount"])
        if op["op"] == "send":               # p2p opCounts are per rank
            key += _participant(op)
        groups[key].append(op)
    short = defaultdict(list)
    for key, members in list(groups.items()):
        first = members[0]
        if first["op"] != "send" and len(members) < first["nranks"]:
            signature = (first["op"], first["opcount"], first["count"], first["dtype"],
                         first["nranks"])
            short[signature].append(groups.pop(key))
    for signature, parts in short.items():
        groups[("merged",) + signature] = [op for part in parts for op in part]
        if len(parts) > 1:
            notes["collectives matched across processes by size"] += 1

    def rank_of(op):
        known = ranks.get((op["host"], op["pid"], op["comm"]))
        return (0, known[1]) if known else (1, op["host"], int(op["pid"]), op["dev"])

    ordered = [sorted(members, key=rank_of) for members in groups.values()]
    position = {id(op): i for i, op in enumerate(ops)}
    return sorted(ordered, key=lambda members: min(position[id(op)] for op in members))


def _p2p(members, ranks, who, notes):
    """The transfer of a Send line: to the rank named by its ``root`` field."""
    transfers = []
    for op, participant in zip(members, who):
        known = ranks.get((op["host"], op["pid"], op["comm"]))
        peer = None
        if known:
            peer = next(((host, pid, dev) for (host, pid, _), (comm_id, rank, dev) in ranks.items()
                         if comm_id == known[0] and rank == op["root"]), None)
        if peer is None:
            notes["sends skipped (peer unknown: no init lines)"] += 1
            continue
        transfers.append((participant, peer, op["count"] * DATATYPE_BYTES[op["dtype"]]))
    return transfers

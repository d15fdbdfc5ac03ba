"""NCCL example profiler plugin traces (NCCL 2.23+) -> communication DAG.

With NCCL's example profiler plugin and ``NCCL_PROFILE_EVENT_MASK`` including Coll
(2), P2p (4) and, for real byte counts, ProxyOp (8), each process writes
Chrome-trace JSON: ``[``, one ``{"name", "cat", "ph": "b"|"e", "id", "pid", "ts",
"args"}`` per line, ``{}]``.  Nesting is only by position (an "e" closes the latest
open "b"): that is how a ProxyOp finds its COLL/P2P.  ``ts`` is microseconds on
the writing process's own clock, so only durations compare across files.

* A collective is the COLL events of one communicator (``CommHash``), operation
  and ``SeqNum`` (counted per operation), one per rank; without a SeqNum, the
  n-th such operation of each rank.  Its flows are its ranks' send-side ProxyOps
  (``ProgressSend``; API v1 ``Send``) to their ``Peer``: ``transSize`` bytes,
  summed per rank pair over channels, timed from the first ``ScheduleSend``
  begin to the last end.  Without any ProxyOp (mask without bit 8) the buffer,
  ``Count`` x datatype size (x ranks for AllGather / ReduceScatter, whose Count
  is per rank), is expanded by algorithm.
* A P2P ``Send`` is one flow Rank -> Peer (ProxyOp bytes, else Count x size) timed
  by its span; a ``Recv`` adds nothing (the data dependency is not modelled).
* A span ends at the latest end inside it: with KernelCh events on, API v5+
  plugins leave a COLL's end at its enqueue time (NVIDIA/nccl #1961), and v1
  ends self P2Ps at 0.
* Ranks: the communicator with the most ranks is the rank space of ``host_of``.
  A rank of another communicator is the rank its process (``pid``) has in that
  one; when no such process is captured it stays as it is (noted).
* Each rank runs its operations one after the other in order of their begin:
  the next waits for the previous one's end, then for the idle gap the capture
  shows (the first one: since its file's first event), a compute node, so the
  replay keeps the captured start times.  A collective starts when all its
  ranks are ready.  Operations that overlapped in the capture are serialized.

NCCL 2.28-2.29.2 leave ``datatype`` / ``Stream`` values unquoted (invalid JSON);
they are quoted before parsing.  Errors name the file and the event's position
in the array (the plugin writes event n on line n + 1).
"""

import gzip
import json
import math
import os
import re
import zlib
from collections import defaultdict, deque

from common.errors import UserError
from traces.capture.collective_nodes import add_transfers, is_count, single_request_trace
from traces.capture.collectives import KINDS, expand_collective
from traces.capture.nccl_log import DATATYPE_BYTES as _ENUM_BYTES
from traces.dag_builder import DEFAULT_INTRA_HOST_BPS, DagBuilder

# v2+ print NCCL's names, v1 the enum value; ncclDatatypeToString has no ncclUint8 case.
DATATYPE_BYTES = {"ncclInt8": 1, "ncclUint8": 1, "ncclInt32": 4, "ncclUint32": 4, "ncclInt64": 8,
                  "ncclUint64": 8, "ncclFloat16": 2, "ncclFloat32": 4, "ncclFloat64": 8,
                  "ncclBfloat16": 2, "ncclFloat8e4m3": 1, "ncclFloat8e5m2": 1, "Unknown": 1,
                  **_ENUM_BYTES}
OPERATIONS = {"AllReduce": "all_reduce", "AllGather": "all_gather", "ReduceScatter": "reduce_scatter",
              "Broadcast": "broadcast", "Reduce": "reduce", "AlltoAll": "all_to_all",
              "AllToAll": "all_to_all", "Gather": "gather", "Scatter": "scatter"}
PROXY_OPS = ("Send", "Recv", "ScheduleSend", "ScheduleRecv", "ProgressSend", "ProgressRecv")
SUFFIXES = (".json", ".txt", ".json.gz", ".txt.gz")
_UNQUOTED = re.compile(r'("(?:datatype|Stream)": )(?!")([^,}]*[^,}\s])')


def import_nccl_profiler(inputs, host_of, intra_host_bps=DEFAULT_INTRA_HOST_BPS, protocol="tcp",
                         request_id="job"):
    """Returns ``(Trace, notes)``; ``host_of(rank) -> emulated host``."""
    notes = defaultdict(int)
    ops = [op for path in _trace_files(inputs) for op in _read_ops(path, notes)]
    if not ops:
        raise UserError(inputs[0], "no COLL or P2P events (set NCCL_PROFILE_EVENT_MASK to "
                                   "include Coll (2), P2p (4) and ProxyOp (8))")
    groups, ranks = _group(ops, notes)
    builder = DagBuilder(intra_host_bps, lambda stage: protocol)
    last = {}                                   # rank -> (done node of its last op, its end ts)

    def build(k, group):
        first, prefix, ready = group[0], f"c{k}.{group[0]['kind']}", []
        for op in group:
            done, end = last.get(op["who"], (None, op["origin"]))
            deps = [done] if done else []
            if op["begin"] > end:               # idle in the capture: keep the start time
                deps = [builder.compute(f"{prefix}.idle{op['who']}", request_id, host_of(op["who"]),
                                        op["begin"] - end, deps, label="captured idle time")]
            ready += deps
        if first["cat"] == "P2P":
            transfers, stage, cct = _send(first, notes), "other", None
        else:
            transfers, stage = _collective(group, len(ranks[first["comm"]]), notes), "collective"
            cct = max(op["end"] - op["begin"] for op in group) or None
        made = add_transfers(builder, prefix, request_id, transfers, host_of, lambda rank: ready,
                             stage, label=first["label"], recorded_cct_us=cct)
        done = builder.compute(f"{prefix}.done", request_id, host_of(first["who"]), 0.0,
                               made or ready, label=f"end of {first['label']}")
        for op in group:
            last[op["who"]] = (done, op["end"])

    if not groups:
        raise UserError(inputs[0], "only Recv events: no collective or Send to replay (give "
                                   "the senders' files too)")
    _schedule(groups, build, notes)
    names = " ".join(os.path.basename(os.path.normpath(str(p))) for p in inputs)
    trace = single_request_trace(builder, request_id, builder.nodes[0].hosts()[0],
                                 "trace import nccl-profiler " + names)
    return trace, {k: v for k, v in notes.items() if v}


def _trace_files(inputs):
    paths = []
    for item in map(str, inputs):
        if not os.path.isdir(item):
            paths.append(item)
            continue
        found = sorted(os.path.join(item, name) for name in os.listdir(item) if name.endswith(SUFFIXES))
        if not found:
            raise UserError(item, "no .json, .txt or .json.gz files in this directory")
        paths += found
    return list({os.path.realpath(p): p for p in paths}.values())     # a file given twice: once


def _load(path, notes):
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        if data[:2] == b"\x1f\x8b":             # gzip, whatever the name
            data = gzip.decompress(data)
    except FileNotFoundError:
        raise UserError(path, "no such file or directory") from None
    except (OSError, EOFError, zlib.error) as err:
        raise UserError(path, f"cannot read: {getattr(err, 'strerror', None) or err}") from None
    text = data.decode("utf-8", errors="replace")
    try:
        events = json.loads(text)
    except json.JSONDecodeError as err:
        repaired = _UNQUOTED.sub(r'\1"\2"', text)
        try:
            events = json.loads(repaired)
        except json.JSONDecodeError:
            hint = " (also after quoting the values NCCL 2.28-2.29.2 leave unquoted)" * (repaired != text)
            raise UserError(path, f"not valid JSON, line {err.lineno}: {err.msg}{hint}") from None
        notes["files with unquoted values repaired (NCCL 2.28-2.29.2)"] += 1
    if not isinstance(events, list):
        raise UserError(path, "not a JSON array of events (NCCL example profiler output)")
    return events[:-1] if events and events[-1] == {} else events


def _read_ops(path, notes):
    """The COLL and P2P spans of one file, each with its send-side ProxyOps."""
    events, ops, stack = _load(path, notes), [], []
    stamps = [e.get("ts") for e in events if isinstance(e, dict)]
    origin = min((ts for ts in stamps if _number(ts) and ts > 0), default=0.0)  # first event
    for index, event in enumerate(events, start=1):
        where = f"{path}: event {index}"
        if not isinstance(event, dict) or event.get("ph") not in ("b", "e") \
                or _number(event.get("ts")) is None \
                or not all(isinstance(event.get(key), str) for key in ("name", "cat")):
            raise UserError(where, "not a trace event (expected name, cat, ph b/e and ts)")
        name, cat, ts = event["name"], event["cat"], float(event["ts"])
        if event["ph"] == "e":
            if not stack or (stack[-1]["name"], stack[-1]["cat"]) != (name, cat):
                opened = f"{stack[-1]['name']!r} of event {stack[-1]['index']}" if stack else "nothing"
                raise UserError(where, f"unbalanced b/e: end of {name!r} closes {opened}")
            frame = stack.pop()
            end = max(ts, frame["latest"])      # children may end later (see above)
            if stack:
                stack[-1]["latest"] = max(stack[-1]["latest"], end)
            if "op" in frame:
                frame["op"]["end"] = end
            if "send" in frame:
                frame["send"]["end"] = end
            continue
        args = event["args"] if isinstance(event.get("args"), dict) else {}
        frame = {"name": name, "cat": cat, "index": index, "latest": ts, "args": args}
        owner = next((f["op"] for f in reversed(stack) if "op" in f), None)
        if cat in ("COLL", "P2P"):
            if event.get("pid") is not None and not is_count(event["pid"]):
                raise UserError(where, f"pid must be a process id, got {event['pid']!r}")
            frame["op"] = _op(path, where, name, cat, args, ts, origin, event.get("pid"), stack)
            ops.append(frame["op"])
        elif cat == "PROXY" and name in PROXY_OPS and owner is None:
            notes["proxy operations outside any COLL/P2P (ignored)"] += 1      # PXN-detached
        elif cat == "PROXY" and name in PROXY_OPS:
            owner["proxied"] = True
            _proxy_op(where, name, args, ts, owner, frame)
        elif cat.startswith("CE_"):
            notes["copy-engine events (ignored)"] += 1
        stack.append(frame)
    if stack:
        raise UserError(f"{path}: event {stack[-1]['index']}",
                        f"unbalanced b/e: {stack[-1]['name']!r} is never ended")
    return ops


def _op(path, where, name, cat, args, ts, origin, pid, stack):
    required = ("CommHash", "Rank", "Count") + ("Peer",) * (cat == "P2P") + ("SeqNum",) * ("SeqNum" in args)
    # CommHash is a 64-bit hash; the rest are counts
    bad = next((key for key in required if not (is_count(args.get(key)) or key == "CommHash" and
                                                type(args.get(key)) is int and args[key] >= 0)),
               None if "Datatype" in args else "Datatype")
    if bad:
        raise UserError(where, f"{cat} {name!r} without a valid {bad}")
    if type(args["Datatype"]) not in (int, str) or args["Datatype"] not in DATATYPE_BYTES:
        raise UserError(where, f"unknown NCCL datatype {args['Datatype']!r}")
    if not is_count(args["Count"] * DATATYPE_BYTES[args["Datatype"]]):
        raise UserError(where, f"{cat} {name!r}: Count x datatype size is beyond 2^53 bytes")
    base = name.removeprefix("nccl")            # v1 names are "ncclAllReduce", "ncclSend"
    kind = base.lower() if cat == "P2P" else OPERATIONS.get(base, base.lower())
    api = stack[-1]["args"] if stack and stack[-1]["cat"] == "COLL_API" else {}     # v5+: root
    return {"where": where, "file": path, "pid": pid, "cat": cat, "kind": kind,
            "comm": args["CommHash"], "rank": args["Rank"], "peer": args.get("Peer"),
            "seq": args.get("SeqNum"), "root": api.get("root"),
            # how NCCL ran it, kept in the label: RING / SIMPLE (v1: Ring / Simple)
            "how": "/".join(str(args[k]) for k in ("Algorithm", "Protocol") if k in args),
            "bytes": args["Count"] * DATATYPE_BYTES[args["Datatype"]],
            "begin": ts, "end": ts, "origin": origin, "sends": [], "scheduled": {}}


def _proxy_op(where, name, args, ts, owner, frame):
    """A send-side ProxyOp: v4+ print it as ScheduleSend (op created) then ProgressSend
    spans, v1 as one Send span; its end comes with the "e" of the last one."""
    if name not in ("ScheduleSend", "ProgressSend", "Send"):
        return
    peer, nbytes = args.get("Peer"), args.get("transSize")
    if not is_count(peer) or not is_count(nbytes):
        raise UserError(where, f"proxy operation {name!r} without a valid Peer or transSize")
    key = (args.get("Channel"), peer)
    if name == "ScheduleSend":
        owner["scheduled"][key] = ts
        return
    frame["send"] = {"peer": peer, "bytes": nbytes, "start": owner["scheduled"].pop(key, ts)}
    owner["sends"].append(frame["send"])


def _group(ops, notes):
    """(collectives and sends as lists of ops, comm -> ranks seen); sets each op's
    ``who`` (and ``dst``, ``root``, its sends' ``dst``) in the largest communicator."""
    ranks = defaultdict(set)
    for op in ops:
        ranks[op["comm"]].update([op["rank"]] + [s["peer"] for s in op["sends"]]
                                 + ([op["peer"]] if op["cat"] == "P2P" else []))
    main = max(sorted(ranks), key=lambda comm: len(ranks[comm]))
    of_pid = defaultdict(set)
    for op in ops:
        if op["comm"] == main:
            of_pid[op["pid"]].add(op["rank"])
    mapped = {(op["comm"], op["rank"]): min(of_pid[op["pid"]]) for op in ops
              if len(of_pid.get(op["pid"], ())) == 1}           # an ambiguous pid maps nothing
    unmapped = set()

    def to_main(comm, rank):
        if comm != main and (comm, rank) not in mapped:
            unmapped.add((comm, rank))
        return rank if comm == main else mapped.get((comm, rank), rank)

    width = 8 if len({f"{comm:016x}"[:8] for comm in ranks}) == len(ranks) else 16
    groups, counters = {}, defaultdict(int)
    for op in sorted(ops, key=lambda op: (op["file"], op["begin"])):
        comm, short = op["comm"], f"{op['comm']:016x}"[:width]
        if op["cat"] == "P2P" and op["kind"] != "send":
            if op["kind"] != "recv":            # the matching Send carries a Recv's bytes
                notes[f"P2P {op['kind']} events (ignored)"] += 1
            continue
        op["who"] = to_main(comm, op["rank"])
        for send in op["sends"]:
            send["dst"] = to_main(comm, send["peer"])
        op["root"] = None if op["root"] is None else to_main(comm, op["root"])
        n = counters[(comm, op["kind"], op["rank"], op["peer"])]
        counters[(comm, op["kind"], op["rank"], op["peer"])] += 1
        if op["cat"] == "P2P":
            op["dst"] = to_main(comm, op["peer"])
            op["label"] = f"send comm {short} {op['rank']}>{op['peer']} #{n}"
            groups[op["where"]] = [op]
            continue
        seq = n if op["seq"] is None else op["seq"]
        op["label"] = f"{op['kind']} comm {short} seq {seq}" + (f" {op['how']}" * bool(op["how"]))
        members = groups.setdefault((comm, op["kind"], seq), [])
        if any(m["rank"] == op["rank"] for m in members):
            notes["duplicate COLL events (same rank and sequence number) ignored"] += 1
        else:
            members.append(op)
    notes["collectives with ranks missing from the capture"] += sum(
        g[0]["cat"] == "COLL" and len(g) < len(ranks[g[0]["comm"]]) for g in groups.values())
    notes["ranks of smaller communicators used as they are (no process to map them)"] = len(unmapped)
    return list(groups.values()), ranks


def _schedule(groups, build, notes):
    """``build(k, group)`` for every group, each rank's in its order of begin, a
    collective once it is next for all of its ranks."""
    queues = defaultdict(list)
    for group in groups:
        for op in group:
            op["group"] = group
            queues[op["who"]].append(op)
    queues = {who: deque(sorted(ops, key=lambda op: op["begin"])) for who, ops in queues.items()}

    def take(group):
        for op in group:                        # by identity: ops are dicts
            queue = queues[op["who"]]
            del queue[next(i for i, other in enumerate(queue) if other is op)]
        build(len(built), group)
        built.append(group)

    built = []
    while any(queues.values()):
        before = len(built)
        for queue in queues.values():
            while queue and all(queues[op["who"]] and queues[op["who"]][0] is op
                                for op in queue[0]["group"]):
                take(queue[0]["group"])
        if len(built) == before:                # ranks disagree on the order: earliest first
            take(min((q[0] for q in queues.values() if q),
                     key=lambda op: op["begin"] - op["origin"])["group"])
            notes["operations taken out of their rank's order (ranks disagree)"] += 1


def _collective(group, nranks, notes):
    """``[(src, dst, bytes, recorded_fct_us)]`` of one collective."""
    if any(op.get("proxied") for op in group):
        pairs = defaultdict(list)
        for op in group:
            for send in op["sends"]:
                pairs[(op["who"], send["dst"])].append(send)
        return [(src, dst, sum(s["bytes"] for s in sends),
                 _took(min(s["start"] for s in sends), max(s["end"] for s in sends)))
                for (src, dst), sends in pairs.items()]
    first = group[0]
    if first["kind"] not in KINDS:
        notes[f"{first['kind']} collectives without proxy operations (skipped)"] += 1
        return []
    notes["collectives without proxy operations (expanded by algorithm)"] += 1
    per_rank = first["kind"] in ("all_gather", "reduce_scatter")
    size = first["bytes"] * (max(nranks, len(group)) if per_rank else 1)
    ranks = sorted(op["who"] for op in group)
    return [t + (None,) for t in expand_collective(first["kind"], ranks, size, first["root"])]


def _send(op, notes):
    nbytes = sum(send["bytes"] for send in op["sends"])
    if not op["sends"]:
        nbytes = op["bytes"]
        if op["peer"] != op["rank"]:            # a send to itself never has ProxyOps
            notes["sends without proxy operations (bytes from Count)"] += 1
    return [(op["who"], op["dst"], nbytes, _took(op["begin"], op["end"]))]


def _took(start, end):
    """A captured duration; None where the plugin left a timestamp at 0."""
    return end - start if start > 0 and end > start else None


def _number(value):
    """A finite timestamp (JSON lets NaN and Infinity through), else None."""
    return value if type(value) in (int, float) and math.isfinite(value) else None

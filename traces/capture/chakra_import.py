"""Chakra execution traces -> communication DAG.

* COMP nodes become compute nodes on their rank's host with their
  ``duration_micros``; other non-communication nodes become zero-length
  compute nodes so dependencies through them hold.
* COMM_SEND / COMM_RECV (keyed on the node type: some real files put the
  node type into ``comm_type`` for point-to-point nodes) are paired by
  (source, destination, ``comm_tag``) in file order: the send becomes a flow
  of ``comm_size`` bytes, the receive a zero-length node that waits for it.
* COMM_COLL nodes with the same ``pg_name`` are matched across ranks by
  order (the k-th collective of a process group on each rank is one
  collective) and expanded by :mod:`collectives` over the participating
  ranks; each rank's node then waits for all the collective's transfers.

Dependencies are ``data_deps`` and ``ctrl_deps``; those naming nodes absent
from the file are dropped and counted.  The whole trace is one request,
``job``, whose terminal node waits for every node.
"""

import glob
import math
import os
import re
from collections import defaultdict

from common.errors import UserError
from traces.capture import chakra_et as et
from traces.capture.chakra_c10d import c10d_op, is_c10d, process_groups
from traces.capture.collective_nodes import MAX_US, add_transfers, is_count, single_request_trace
from traces.capture.collectives import expand_collective
from traces.capture.protobuf_wire import WireError
from traces.dag_builder import DEFAULT_INTRA_HOST_BPS, DagBuilder

_RANK = re.compile(r"\.(\d+)\.et(?:\.gz)?$")


def find_et_files(inputs):
    """``{rank: path}`` from files, a directory, or a ``prefix`` of ``prefix.<rank>.et``."""
    paths = []
    for item in inputs:
        if os.path.isdir(item):
            paths += sorted(glob.glob(os.path.join(item, "*.et"))
                            + glob.glob(os.path.join(item, "*.et.gz")))
        elif os.path.isfile(item):
            paths.append(item)
        else:
            prefix = glob.escape(item)
            found = sorted(glob.glob(prefix + ".*.et") + glob.glob(prefix + ".*.et.gz"))
            if not found:
                raise UserError(item, "no such file, directory or prefix of "
                                      "<prefix>.<rank>.et files")
            paths += found
    if not paths:
        raise UserError(inputs[0] if inputs else "chakra", "no Chakra ET files (*.et, *.et.gz)")
    ranks = {}
    for path in paths:
        match = _RANK.search(os.path.basename(path))
        rank = int(match.group(1)) if match else (0 if len(paths) == 1 else None)
        if rank is None:
            raise UserError(path, "cannot tell the rank (name files <prefix>.<rank>.et)")
        if rank in ranks:
            raise UserError(path, f"rank {rank} given twice (also {ranks[rank]})")
        ranks[rank] = path
    return ranks


def _attr_int(node, name, path, required=True):
    value = node.attrs.get(name)
    where = f"{path}: node {node.id}"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        if required or value is not None:
            raise UserError(where, f"{et.NODE_TYPES.get(node.type, node.type)} node without "
                                   f"integer attribute '{name}'")
        return None
    if not is_count(value):
        raise UserError(where, f"attribute '{name}' must be from 0 to 2^53, got {value}")
    return value


def import_chakra(inputs, host_of, intra_host_bps=DEFAULT_INTRA_HOST_BPS, protocol="tcp",
                  request_id="job"):
    """Returns ``(Trace, notes)``; ``host_of(rank)`` maps ranks to hosts."""
    files = find_et_files(inputs)
    ranks = {}
    for rank, path in sorted(files.items()):
        try:
            ranks[rank] = et.read_et(path)[1]
        except WireError as err:
            raise UserError(path, f"malformed Chakra ET: {err}") from None
        except (OSError, EOFError) as err:          # unreadable, or a broken gzip stream
            raise UserError(path, f"cannot read: {getattr(err, 'strerror', None) or err}") from None
    cap = _Capture(ranks, files, host_of, request_id,
                   DagBuilder(intra_host_bps, lambda stage: protocol))
    cap.classify()
    cap.pair_point_to_point()
    cap.expand_collectives()
    cap.finish_waiting_nodes()
    trace = single_request_trace(cap.builder, request_id, host_of(min(ranks)) if ranks else "h1",
                                 "trace import chakra " + " ".join(os.path.basename(p)
                                                                   for p in files.values()))
    return trace, {k: v for k, v in cap.notes.items() if v}


_RUNNER_PREFIXES = ("gloo:", "nccl:", "ucc:", "mpi:")     # the backend's op under a c10d op


class _Capture:
    """One import: rank files in, DAG nodes out (see the module docstring)."""

    def __init__(self, ranks, files, host_of, request_id, builder):
        self.ranks, self.files, self.host_of = ranks, files, host_of
        self.request_id, self.builder = request_id, builder
        self.notes = defaultdict(int)
        # Captures with GPU communication kernels (comm_type) carry the
        # transfers there; their CPU-side c10d ops only order the work.
        self.gpu_comm = any(_has_comm_type(n) for nodes in ranks.values() for n in nodes)
        self.groups = {}                     # pg_name -> its global ranks
        for nodes in ranks.values():
            self.groups.update(process_groups(nodes))
        self.deps = {}                       # (rank, node id) -> translated deps
        for rank, nodes in ranks.items():
            present = {n.id for n in nodes}
            for node in nodes:
                wanted = list(dict.fromkeys(node.data_deps + node.ctrl_deps))
                kept = [f"r{rank}.n{d}" for d in wanted if d in present]
                self.notes["dropped dependencies on absent nodes"] += len(wanted) - len(kept)
                self.deps[(rank, node.id)] = kept
        self.sends, self.recvs = defaultdict(list), defaultdict(list)
        self.colls = defaultdict(list)       # (group key, rank) -> [(nid, node, size, code)]
        self.waits = defaultdict(list)       # waiting node -> flows it waits for
        self.waiting = []                    # (nid, rank, node): zero-length, wait for flows
        self.ran = {}                        # (rank, c10d node id) -> its backend op's time
        self.c10d = {}                       # (rank, c10d node id) -> C10dOp or None

    def _compute(self, rank, node, took=0.0):
        nid = f"r{rank}.n{node.id}"
        if took > MAX_US:
            raise UserError(f"{self.files[rank]}: node {node.id}",
                            f"duration_micros {took} is beyond the trace format's 1e12 us")
        self.builder.compute(nid, self.request_id, self.host_of(rank), took,
                             self.deps[(rank, node.id)], label=node.name or None)

    def classify(self):
        for rank, nodes in self.ranks.items():
            expanded = set()
            if not self.gpu_comm:
                for node in filter(is_c10d, nodes):
                    self.c10d[(rank, node.id)] = op = c10d_op(node)
                    if op:
                        expanded.add(node.id)
            parent = None            # the c10d op a backend op (gloo:...) runs for
            for node in sorted(nodes, key=lambda n: n.id):
                if is_c10d(node):    # one we do not expand owns its backend op's time
                    parent = node.id if node.id in expanded else None
                # Ids follow the ops' start order, and the backend's op starts
                # right after its c10d op (its deps do not always name it).
                if node.name.startswith(_RUNNER_PREFIXES) and parent is not None:
                    # the transfer itself: its time is the flows', not compute
                    self.ran[(rank, parent)] = max(self.ran.get((rank, parent), 0),
                                                   node.duration_micros)
                    self._compute(rank, node)
                else:
                    self._classify(rank, node)

    def _classify(self, rank, node):
        nid, path = f"r{rank}.n{node.id}", self.files[rank]
        if node.type in (et.COMM_SEND, et.COMM_RECV) and not is_c10d(node):
            sending = node.type == et.COMM_SEND
            peer = _attr_int(node, "comm_dst" if sending else "comm_src", path, required=False)
            if peer is None:
                self.notes["point-to-point nodes without comm_src/comm_dst (kept as ordering "
                           "nodes)"] += 1
                return self._compute(rank, node)
            tag = _attr_int(node, "comm_tag", path, required=False) or 0
            if sending:
                size = _attr_int(node, "comm_size", path)
                self.sends[(rank, peer, tag)].append((nid, node, size))
            else:
                self.recvs[(peer, rank, tag)].append((nid, node))
        elif node.type == et.COMM_COLL and _has_comm_type(node):
            code = _attr_int(node, "comm_type", path)
            if code not in et.COLLECTIVE_TYPES:
                raise UserError(f"{path}: node {node.id}", f"unknown comm_type {code}")
            size = _attr_int(node, "comm_size", path)
            pg = node.attrs.get("pg_name", "")
            if not isinstance(pg, (str, int)) or isinstance(pg, bool):
                raise UserError(f"{path}: node {node.id}", "attribute 'pg_name' must be a "
                                                           "string or an integer")
            self.colls[(str(pg), rank)].append((nid, node, size, code))
        elif is_c10d(node) and not self.gpu_comm:
            op = self.c10d.get((rank, node.id))
            if op is None:
                self.notes["c10d ops without known arguments (kept as ordering nodes)"] += 1
                self._compute(rank, node)
            elif op.kind == "send":
                self.sends[(rank, op.peer, op.tag)].append((nid, node, op.size))
            elif op.kind == "recv":
                self.recvs[(op.peer, rank, op.tag)].append((nid, node))
            else:
                self.colls[(("c10d", op.kind, op.size), rank)].append((nid, node, op.size, op))
        elif node.type in (et.COMM_COLL, et.COMM_SEND, et.COMM_RECV):
            # CPU-side ops beside GPU kernels: the kernels carry the transfer
            self.notes["CPU-side communication ops (kept as ordering nodes)"] += 1
            self._compute(rank, node)
        else:
            self._compute(rank, node, node.duration_micros if node.type == et.COMP else 0)

    def pair_point_to_point(self):
        for (src, dst, tag), items in self.sends.items():
            matched = self.recvs.get((src, dst, tag), [])
            self.notes["sends without a matching receive"] += max(0, len(items) - len(matched))
            for k, (nid, node, size) in enumerate(items):
                mine = self.deps[(src, node.id)]
                took = self._recorded(self.ran.get((src, node.id)) or node.duration_micros)
                made = self.builder.transfer(nid, self.request_id, self.host_of(src),
                                             self.host_of(dst), size, "other", mine,
                                             label=node.name or None,
                                             recorded_fct_us=took if self.gpu_comm or
                                             (src, node.id) in self.ran else None)
                if made == mine:                       # nothing to send: keep the id
                    self.builder.compute(nid, self.request_id, self.host_of(src), 0.0, made,
                                         label=node.name or None)
                if k < len(matched):
                    self.waits[matched[k][0]].append(nid)
        for key, items in self.recvs.items():
            self.notes["receives without a matching send"] += max(
                0, len(items) - len(self.sends.get(key, [])))
            self.waiting += [(nid, key[1], node) for nid, node in items]

    def expand_collectives(self):
        members_of = defaultdict(dict)       # (group key, k) -> rank -> item
        for (group, rank), items in self.colls.items():
            for k, item in enumerate(items):
                members_of[(group, k)][rank] = item
                self.waiting.append((item[0], rank, item[1]))
        for index, ((group, k), members) in enumerate(members_of.items()):
            ordered = sorted(members)
            first = members[ordered[0]]
            size = max(item[2] for item in members.values())
            if isinstance(group, tuple):                # matched by c10d operation and size
                kind, op = group[1], first[3]
                root = self._global_root(op.root, ordered, kind)
                size *= len(ordered) if op.per_rank else 1
                name = self._group_named(ordered)
                took = [self.ran.get((r, members[r][1].id), 0) for r in ordered]
            else:
                kind, root = et.COLLECTIVE_TYPES[first[3]], None
                name = self._group_named(ordered, group) if group else "world"
                took = [members[r][1].duration_micros for r in ordered]
            transfers = expand_collective(kind, ordered, size, root)
            if len(ordered) < 2 and kind != "barrier":
                self.notes[f"not expanded: {kind} {name} #{index} (only rank {ordered[0]} has "
                           f"it)"] += 1
            made = add_transfers(self.builder, f"coll{index}.{name}.{kind}", self.request_id,
                                 transfers, self.host_of,
                                 lambda rank: self.deps[(rank, members[rank][1].id)],
                                 label=f"{kind} {name} #{index}",
                                 recorded_cct_us=self._recorded(max(took)))
            for item in members.values():
                self.waits[item[0]] += made

    def _recorded(self, took):
        if took > MAX_US:
            self.notes["recorded durations beyond 1e12 us (ignored)"] += 1
            return None
        return took or None

    def _splits(self, ranks):
        present = [sorted(set(m) & set(self.ranks)) for m in self.groups.values()]
        return _disjoint_cover(ranks, [g for g in present if g])

    def _global_root(self, root, ranks, kind):
        """A root given as a rank of the op's group: the group's ranks are the
        participants, in order (as ``new_group`` numbers them)."""
        if root is None:
            return None
        if root < len(ranks):
            return ranks[root]
        self.notes[f"{kind} roots outside their group (the lowest rank taken)"] += 1
        return None

    def _group_named(self, ranks, expected=None):
        """The process groups whose ranks with a trace file are exactly
        ``ranks`` (several when groups share their ranks: c10d ops do not say
        which; ``expected`` when the node named its group), else the ranks."""
        names = []
        for name, members in self.groups.items():
            present = sorted(set(members) & set(self.ranks))
            if present != ranks or expected not in (None, name):
                continue
            names.append(f"pg{name}")
            missing = sorted(set(members) - set(self.ranks))
            if missing:
                self.notes[f"collectives of process group {name} expanded over ranks "
                           f"{_ranges(present)} only (ranks {_ranges(missing)} have no trace "
                           f"file)"] += 1
        if expected is None and names and self._splits(ranks):
            self.notes["c10d collectives whose ranks form one group and also several "
                       "smaller ones (taken as one collective)"] += 1
        if names or expected:
            return "+".join(names) or expected
        return "ranks" + _ranges(ranks)

    def finish_waiting_nodes(self):
        for nid, rank, node in self.waiting:
            self.builder.compute(nid, self.request_id, self.host_of(rank), 0.0,
                                 self.deps[(rank, node.id)] + self.waits[nid],
                                 label=node.name or None)


def _disjoint_cover(ranks, groups):
    """Whether ``ranks`` is the union of two or more disjoint ``groups``."""
    smaller = [set(g) for g in groups if set(g) < set(ranks)]
    covered = set()
    for group in smaller:
        if not group & covered:
            covered |= group
    return covered == set(ranks) and len(smaller) > 1


def _ranges(ranks):
    """[0, 1, 2, 5] -> '0-2,5'."""
    parts, ranks = [], sorted(ranks)
    for rank in ranks:
        if parts and rank == parts[-1][1] + 1:
            parts[-1][1] = rank
        else:
            parts.append([rank, rank])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in parts)


def _has_comm_type(node):
    value = node.attrs.get("comm_type")
    return node.type == et.COMM_COLL and isinstance(value, int) and not isinstance(value, bool)


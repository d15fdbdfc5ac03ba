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
import os
import re
from collections import defaultdict

from common.errors import UserError
from traces.capture import chakra_et as et
from traces.capture.collective_nodes import add_transfers
from traces.capture.collectives import expand_collective
from traces.capture.protobuf_wire import WireError
from traces.dag_builder import DEFAULT_INTRA_HOST_BPS, DagBuilder
from traces.model import Request
from traces.trace import Trace

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
    if value is None or isinstance(value, (list, str, bytes)):
        if required:
            raise UserError(f"{path}: node {node.id}", f"{et.NODE_TYPES.get(node.type, node.type)} "
                                                       f"node without integer attribute '{name}'")
        return None
    if int(value) < 0:
        raise UserError(f"{path}: node {node.id}", f"attribute '{name}' is negative ({value})")
    return int(value)


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
    builder = DagBuilder(intra_host_bps, lambda stage: protocol)
    notes = defaultdict(int)
    deps = {}                                # our node id -> its translated deps
    for rank, nodes in ranks.items():
        present = {n.id for n in nodes}
        for node in nodes:
            wanted = list(dict.fromkeys(node.data_deps + node.ctrl_deps))
            kept = [f"r{rank}.n{d}" for d in wanted if d in present]
            notes["dropped dependencies on absent nodes"] += len(wanted) - len(kept)
            deps[(rank, node.id)] = kept
    sends, recvs, colls = defaultdict(list), defaultdict(list), defaultdict(list)
    for rank, nodes in ranks.items():
        path = files[rank]
        for node in nodes:
            nid, mine = f"r{rank}.n{node.id}", deps[(rank, node.id)]
            if node.type == et.COMM_SEND:
                dst = _attr_int(node, "comm_dst", path)
                sends[(rank, dst, node.attrs.get("comm_tag", 0))].append((nid, node, path))
            elif node.type == et.COMM_RECV:
                src = _attr_int(node, "comm_src", path)
                recvs[(src, rank, node.attrs.get("comm_tag", 0))].append((nid, node))
            elif node.type == et.COMM_COLL:
                colls[(node.attrs.get("pg_name", ""), rank)].append((nid, node, path))
            else:
                took = node.duration_micros if node.type == et.COMP else 0
                builder.compute(nid, request_id, host_of(rank), took, mine, label=node.name or None)
    waits = defaultdict(list)                # receive / collective node -> flows it waits for
    for (src, dst, tag), items in sends.items():
        matched = recvs.get((src, dst, tag), [])
        notes["sends without a matching receive"] += max(0, len(items) - len(matched))
        for k, (nid, node, path) in enumerate(items):
            size = _attr_int(node, "comm_size", path)
            made = builder.transfer(nid, request_id, host_of(src), host_of(dst), size, "other",
                                    deps[(src, node.id)], label=node.name or None)
            if made == deps[(src, node.id)]:          # nothing to send: keep the id
                builder.compute(nid, request_id, host_of(src), 0.0, made, label=node.name or None)
            if k < len(matched):
                waits[matched[k][0]].append(nid)
    for key, items in recvs.items():
        notes["receives without a matching send"] += max(0, len(items) - len(sends.get(key, [])))
    _expand_collectives(builder, colls, deps, host_of, request_id, waits, notes)
    for (src, dst, tag), items in recvs.items():
        for nid, node in items:
            builder.compute(nid, request_id, host_of(dst), 0.0, deps[(dst, node.id)] + waits[nid],
                            label=node.name or None)
    for (pg, rank), items in colls.items():
        for nid, node, _ in items:
            builder.compute(nid, request_id, host_of(rank), 0.0,
                            deps[(rank, node.id)] + waits[nid], label=node.name or None)
    trace = _single_request_trace(builder, request_id, host_of(min(ranks)) if ranks else "h1")
    trace.source = "trace import chakra " + " ".join(os.path.basename(p) for p in files.values())
    return trace, {k: v for k, v in notes.items() if v}


def _expand_collectives(builder, colls, deps, host_of, request_id, waits, notes):
    groups = defaultdict(dict)               # (pg, k) -> rank -> (nid, node, path)
    for (pg, rank), items in colls.items():
        for k, item in enumerate(items):
            groups[(pg, k)][rank] = item
    for (pg, k), members in groups.items():
        ordered = sorted(members)
        first_nid, first, path = members[ordered[0]]
        code = _attr_int(first, "comm_type", path)
        if code not in et.COLLECTIVE_TYPES:
            raise UserError(f"{path}: node {first.id}", f"unknown comm_type {code}")
        size = max(_attr_int(node, "comm_size", p) for _, node, p in members.values())
        transfers = expand_collective(et.COLLECTIVE_TYPES[code], ordered, size)
        if len(ordered) < 2:
            notes["collectives seen on one rank only"] += 1
        made = add_transfers(builder, f"coll.{pg or 'world'}.{k}", request_id, transfers, host_of,
                             lambda rank: deps[(rank, members[rank][1].id)],
                             label=et.COLLECTIVE_TYPES[code])
        for nid, _, _ in members.values():
            waits[nid] += made


def _single_request_trace(builder, request_id, host):
    """Wrap captured nodes as one request whose terminal waits for every sink."""
    needed = {d for node in builder.nodes for d in node.deps}
    sinks = [node.id for node in builder.nodes if node.id not in needed]
    terminal = builder.compute(f"{request_id}.end", request_id, host, 0.0, sinks, label="end")
    request = Request(id=request_id, arrival_us=0.0, input_tokens=0, output_tokens=0,
                      terminal=terminal)
    return Trace(requests=[request], nodes=builder.nodes)

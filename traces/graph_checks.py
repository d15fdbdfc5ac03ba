"""Whole-trace checks: ids, references, the DAG, and host names.

Field-level checks (types, ranges, enums) come from the JSON Schema; what a
single record cannot show is checked here: duplicate ids, references to
missing requests, batches or nodes, batches a version-1 file cannot have,
dependency cycles, terminal nodes, flows from a host to itself and hosts
unknown to the topology.  The first problem found
raises a UserError naming the file and line of the offending record.
"""

import heapq

import pyarrow as pa

from common.errors import UserError
from traces.column_checks import first_problem, records_table
from traces.model import FlowNode, to_record
from traces.schema_check import check_record


def check_trace(trace, hosts=None):
    if not trace.fields_checked:
        _check_fields(trace)
    request_index = _unique_ids(trace.requests, trace.where_request, "request")
    batch_index = _check_batches(trace, request_index)
    node_index = _unique_ids(trace.nodes, trace.where_node, "node")
    _check_nodes(trace, request_index, batch_index, node_index)
    _check_acyclic(trace, node_index)
    _check_terminals(trace, node_index)
    if hosts is not None:
        _check_hosts(trace, set(hosts))


def _check_fields(trace):
    """Field checks for a trace built in memory: column-wise, then jsonschema to explain."""
    records = trace.records()
    try:
        problem = first_problem(records_table(records))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        problem = (None, "a field holds a value of the wrong type")
    if problem is None:
        return
    # The JSON Schema has the last word and the clearest message.
    for i, record in enumerate(records):
        check_record(to_record(record), trace.where_record(i))
    row, message = problem
    raise UserError(trace.where_record(row), message)


def _unique_ids(items, where, what):
    index = {}
    for i, item in enumerate(items):
        if item.id in index:
            raise UserError(where(i), f"duplicate {what} id {item.id!r} "
                                      f"(first at {where(index[item.id])})")
        index[item.id] = i
    return index


def _check_batches(trace, request_index):
    """Batch ids unique and apart from request ids (the data planes schedule
    both by id), known requests, and none in a version-1 file."""
    index = {}
    for i, batch in enumerate(trace.batches):
        where = trace.where_batch(i)
        if trace.version == 1:
            raise UserError(where, "a batch record needs format version 2 (the header says 1)")
        if batch.id in request_index:
            raise UserError(where, f"batch id {batch.id!r} is also a request id")
        if batch.id in index:
            raise UserError(where, f"duplicate batch id {batch.id!r} "
                                   f"(first at {trace.where_batch(index[batch.id])})")
        unknown = [r for r in batch.requests if r not in request_index]
        if unknown:
            raise UserError(where, f"batch {batch.id!r} names unknown request {unknown[0]!r}")
        if batch.tokens is not None and len(batch.tokens) != len(batch.requests):
            raise UserError(where, f"batch {batch.id!r} has {len(batch.tokens)} token counts "
                                   f"for {len(batch.requests)} requests")
        index[batch.id] = i
    return index


def _check_nodes(trace, request_index, batch_index, node_index):
    members = [set(b.requests) for b in trace.batches]
    for i, node in enumerate(trace.nodes):
        if node.request_id not in request_index:
            raise UserError(trace.where_node(i),
                            f"node {node.id!r} belongs to unknown request {node.request_id!r}")
        if node.batch is not None:
            if trace.version == 1:
                raise UserError(trace.where_node(i), "field 'batch' needs format version 2 "
                                                     "(the header says 1)")
            if node.batch not in batch_index:
                raise UserError(trace.where_node(i),
                                f"node {node.id!r} serves unknown batch {node.batch!r}")
            if node.request_id not in members[batch_index[node.batch]]:
                raise UserError(trace.where_node(i),
                                f"node {node.id!r}: request {node.request_id!r} is not in its "
                                f"batch {node.batch!r}")
        for dep in node.deps:
            if dep not in node_index:
                raise UserError(trace.where_node(i),
                                f"node {node.id!r} depends on missing node {dep!r}")
        if isinstance(node, FlowNode) and node.src == node.dst:
            raise UserError(trace.where_node(i),
                            f"flow {node.id!r} goes from {node.src!r} to itself "
                            "(model intra-host traffic as a compute node)")


def topological_order(nodes, node_index):
    """Indices of ``nodes`` with every node after its dependencies, and the rest.

    Returns ``(order, leftover)``; ``leftover`` is non-empty iff there is a
    cycle.  Kahn's algorithm, iterative so huge traces do not hit recursion
    limits.
    """
    order = _kahn(nodes, node_index)
    placed = set(order)
    leftover = [i for i in range(len(nodes)) if i not in placed]
    return order, leftover


def stable_topological_order(nodes):
    """Indices of an acyclic ``nodes`` list, dependencies first, otherwise in list order."""
    return _kahn(nodes, {node.id: i for i, node in enumerate(nodes)})


def _kahn(nodes, node_index):
    """Kahn's algorithm, iterative (huge traces), taking the lowest ready index
    first so the order keeps the list order wherever dependencies allow.
    Nodes on or behind a cycle are left out."""
    waiting = [len(node.deps) for node in nodes]
    children = [[] for _ in nodes]
    for i, node in enumerate(nodes):
        for dep in node.deps:
            children[node_index[dep]].append(i)
    ready = [i for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for child in children[i]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, child)
    return order


def _check_acyclic(trace, node_index):
    order, leftover = topological_order(trace.nodes, node_index)
    if not leftover:
        return
    cycle = _find_cycle(trace.nodes, node_index, set(leftover))
    first = min(cycle)
    start = cycle.index(first)
    cycle = cycle[start:] + cycle[:start] + [first]
    path = " -> ".join(repr(trace.nodes[i].id) for i in cycle)
    raise UserError(trace.where_node(first),
                    f"dependency cycle: {path} (each node waits for the one before it)")


def _find_cycle(nodes, node_index, stuck):
    # Every stuck node has a stuck dependency; walking dependencies from any
    # stuck node therefore revisits one, and the loop between is a cycle.
    seen = {}
    i = min(stuck)
    walk = []
    while i not in seen:
        seen[i] = len(walk)
        walk.append(i)
        i = next(node_index[d] for d in nodes[i].deps if node_index[d] in stuck)
    # walk follows dependencies (node -> its dep); report in execution order.
    return list(reversed(walk[seen[i]:]))


def _check_terminals(trace, node_index):
    has_nodes = {node.request_id for node in trace.nodes}
    for i, req in enumerate(trace.requests):
        if req.terminal is None:
            if req.id in has_nodes:
                raise UserError(trace.where_request(i),
                                f"request {req.id!r} has nodes but no terminal node")
            continue
        if req.terminal not in node_index:
            raise UserError(trace.where_request(i),
                            f"request {req.id!r}: terminal node {req.terminal!r} is missing")
        owner = trace.nodes[node_index[req.terminal]].request_id
        if owner != req.id:
            raise UserError(trace.where_request(i),
                            f"request {req.id!r}: terminal node {req.terminal!r} "
                            f"belongs to request {owner!r}")


def _check_hosts(trace, hosts):
    known = ", ".join(sorted(hosts, key=_natural)) or "none"

    def check(name, where, what):
        if name is not None and name not in hosts:
            raise UserError(where, f"unknown host {name!r} in {what} (topology hosts: {known})")

    for i, req in enumerate(trace.requests):
        for host in req.prefill_hosts or ():
            check(host, trace.where_request(i), "prefill_hosts")
        check(req.decode_host, trace.where_request(i), "decode_host")
    for i, batch in enumerate(trace.batches):
        for host in batch.prefill_hosts or ():
            check(host, trace.where_batch(i), "prefill_hosts")
    for i, node in enumerate(trace.nodes):
        if isinstance(node, FlowNode):
            check(node.src, trace.where_node(i), "src")
            check(node.dst, trace.where_node(i), "dst")
        else:
            check(node.host, trace.where_node(i), "host")


def _natural(name):
    head = name.rstrip("0123456789")
    tail = name[len(head):]
    return head, int(tail) if tail else -1

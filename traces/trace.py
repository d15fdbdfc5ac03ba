"""The in-memory trace: header, requests, batches and DAG nodes, with pandas views."""

from dataclasses import dataclass, field

import pandas as pd

from traces.model import FORMAT_NAME, RECORD_FIELDS, ComputeNode, FlowNode, to_record


@dataclass
class Trace:
    """Requests plus the communication DAG of their nodes.

    ``batches`` (format version 2) group requests a prefill instance computes
    together; a node naming a batch serves all of its requests.
    ``request_where`` / ``batch_where`` / ``node_where`` hold, for each
    request / batch / node in order, where it came from ("file:line"), so that
    errors found later name it.  ``version`` is the version of the file read
    (None for a trace built in memory).
    """

    requests: list = field(default_factory=list)
    nodes: list = field(default_factory=list)
    source: str = ""                      # how the trace was made
    nic_bps: dict = field(default_factory=dict)   # host (or "default") -> bit/s
    meta: dict = field(default_factory=dict)
    path: str = ""                        # file it was read from, if any
    batches: list = field(default_factory=list)
    version: int | None = None
    request_where: list = field(default_factory=list, repr=False)
    batch_where: list = field(default_factory=list, repr=False)
    node_where: list = field(default_factory=list, repr=False)
    fields_checked: bool = field(default=False, repr=False)

    # -- lookups --------------------------------------------------------------
    def add(self, record, where):
        """Append a request, batch or node read from ``where`` ("file:line")."""
        if record.kind == "request":
            self.requests.append(record)
            self.request_where.append(where)
        elif record.kind == "batch":
            self.batches.append(record)
            self.batch_where.append(where)
        else:
            self.nodes.append(record)
            self.node_where.append(where)

    def flows(self):
        return [n for n in self.nodes if isinstance(n, FlowNode)]

    def computes(self):
        return [n for n in self.nodes if isinstance(n, ComputeNode)]

    def node_map(self):
        return {n.id: n for n in self.nodes}

    def request_map(self):
        return {r.id: r for r in self.requests}

    def unit_deadlines_us(self):
        """Deadline (us) of every scheduling unit, for the flows the data
        planes register: a request's own; a batch's, the earliest among its
        requests (a batch is late when its most urgent request is).  Units
        without a deadline are left out."""
        deadlines = {r.id: r.deadline_us for r in self.requests if r.deadline_us is not None}
        for batch in self.batches:
            known = [deadlines[r] for r in batch.requests if r in deadlines]
            if known:
                deadlines[batch.id] = min(known)
        return deadlines

    def unit_arrivals_us(self):
        """Arrival (us) of every scheduling unit: a batch's is its last
        request's (it cannot start before all of them are there)."""
        arrivals = {r.id: r.arrival_us for r in self.requests}
        for batch in self.batches:
            arrivals[batch.id] = max(arrivals[r] for r in batch.requests)
        return arrivals

    def nodes_of(self):
        """Request id -> its nodes, in trace order."""
        grouped = {r.id: [] for r in self.requests}
        for node in self.nodes:
            grouped.setdefault(node.request_id, []).append(node)
        return grouped

    def ordered_nodes(self):
        """Nodes with each one after its dependencies (the trace must be acyclic)."""
        from traces.graph_checks import stable_topological_order
        return [self.nodes[i] for i in stable_topological_order(self.nodes)]

    def hosts(self):
        """Every host the trace mentions."""
        names = set()
        for node in self.nodes:
            names.update(node.hosts())
        for req in self.requests:
            names.update(req.prefill_hosts or ())
            if req.decode_host:
                names.add(req.decode_host)
        return names

    def where_request(self, index):
        if index < len(self.request_where):
            return self.request_where[index]
        return f"{self.path or '<trace>'}: request {self.requests[index].id}"

    def where_batch(self, index):
        if index < len(self.batch_where):
            return self.batch_where[index]
        return f"{self.path or '<trace>'}: batch {self.batches[index].id}"

    def records(self):
        """Every record in file order: requests, batches, then nodes."""
        return [*self.requests, *self.batches, *self.nodes]

    def where_record(self, index):
        """Where the ``index``-th record of :meth:`records` came from."""
        for items, where in ((self.requests, self.where_request),
                             (self.batches, self.where_batch)):
            if index < len(items):
                return where(index)
            index -= len(items)
        return self.where_node(index)

    def format_version(self):
        """1, or 2 if the trace has batches (what a writer puts in the header)."""
        return 2 if self.batches or any(n.batch for n in self.nodes) else 1

    def where_node(self, index):
        if index < len(self.node_where):
            return self.node_where[index]
        return f"{self.path or '<trace>'}: node {self.nodes[index].id}"

    def nic_rate(self, host, default=100e9):
        return self.nic_bps.get(host, self.nic_bps.get("default", default))

    def header(self):
        header = {"kind": "header", "format": FORMAT_NAME, "version": self.format_version()}
        if self.source:
            header["source"] = self.source
        if self.nic_bps:
            header["nic_bps"] = dict(self.nic_bps)
        if self.meta:
            header["meta"] = dict(self.meta)
        return header

    # -- checks ---------------------------------------------------------------
    def validate(self, hosts=None):
        """Raise UserError on the first problem; ``hosts`` = known host names."""
        from traces.graph_checks import check_trace
        check_trace(self, hosts)

    # -- pandas views ---------------------------------------------------------
    def requests_df(self):
        """One row per request; absent optional fields are None/NaN."""
        return _frame([to_record(r) for r in self.requests], ["request"])

    def nodes_df(self):
        """One row per node, compute and flow fields side by side."""
        return _frame([to_record(n) for n in self.nodes], ["compute", "flow"])

    def flows_df(self):
        return _frame([to_record(n) for n in self.flows()], ["flow"])


def _frame(records, kinds):
    columns = ["kind"]
    for kind in kinds:
        columns += [name for name in RECORD_FIELDS[kind] if name not in columns]
    return pd.DataFrame.from_records(records, columns=columns)

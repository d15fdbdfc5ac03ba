"""Isolated (uncontended) TTFT of each request: its DAG's critical path.

Each request is timed alone: compute nodes take their duration, a flow takes
``bytes * 8 / rate`` where the rate is the slower NIC of its two hosts, and
dependencies on other requests' nodes (e.g. a prefill instance busy with the
previous request) are ignored.  A node of a batch serves each of its
requests, so a batched request is timed over the nodes that serve it (its
own, and its batches') with the dependencies among them: with its batches
as formed (their compute, its batchmates' KV fetches, its own earlier
prompt chunks), but without the batches before them.  The network share is the flow time on the
critical path divided by the isolated TTFT: near 0 means compute dominates and
every network scheduler will tie; well above 0 means the network matters.
"""

from dataclasses import dataclass

from traces.graph_checks import topological_order
from traces.model import FlowNode, unit_of


@dataclass(frozen=True)
class IsolatedTime:
    request_id: str
    ttft_us: float        # critical path length from arrival to the terminal node's end
    network_us: float     # flow time on that path
    compute_us: float     # compute time on that path

    @property
    def network_share(self):
        return self.network_us / self.ttft_us if self.ttft_us > 0 else 0.0


def flow_time_us(flow, rate_of):
    rate = min(rate_of(flow.src), rate_of(flow.dst))
    return flow.bytes * 8 / rate * 1e6


def isolated_times(trace, rate_of=None):
    """Request id -> IsolatedTime, for every request that has nodes.

    ``rate_of(host) -> bit/s`` defaults to the NIC rates in the trace header
    (100 Gbit/s where it says nothing).
    """
    if trace.batches:
        return _batched_isolated_times(trace, rate_of)
    index, finish, network = _critical_paths(trace, rate_of, alone=True)
    result = {}
    for req, end in _terminals(trace, index, finish):
        total, net = finish[end], network[end]
        result[req.id] = IsolatedTime(req.id, total, net, total - net)
    return result


def _batched_isolated_times(trace, rate_of):
    """:func:`isolated_times` request by request, each over the nodes that
    serve it (a batch's nodes serve all its requests)."""
    rate_of = rate_of or trace.nic_rate
    index = {node.id: i for i, node in enumerate(trace.nodes)}
    order, _ = topological_order(trace.nodes, index)
    members = {b.id: b.requests for b in trace.batches}
    serving = {}                                  # request -> its nodes, dependencies first
    for i in order:
        node = trace.nodes[i]
        for rid in members[node.batch] if node.batch else (node.request_id,):
            serving.setdefault(rid, []).append(i)
    result = {}
    for req in trace.requests:
        finish, network = {}, {}
        for i in serving.get(req.id, ()):
            node, start, net = trace.nodes[i], 0.0, 0.0
            for dep in node.deps:
                j = index[dep]
                if j in finish and finish[j] > start:
                    start, net = finish[j], network[j]
            took = flow_time_us(node, rate_of) if isinstance(node, FlowNode) else node.duration_us
            finish[i], network[i] = start + took, net + (took if isinstance(node, FlowNode) else 0)
        end = index.get(req.terminal) if req.terminal else (
            max(finish, key=finish.get) if finish else None)
        if end is not None and end in finish:
            total, net = finish[end], network[end]
            result[req.id] = IsolatedTime(req.id, total, net, total - net)
    return result


def ttft_lower_bounds(trace, rate_of=None):
    """Request id -> the TTFT (us) no network scheduler can beat.

    The whole trace on an uncontended network: every node starts when its
    request has arrived and its dependencies, other requests' included (the
    prefill instance's queue), have ended; compute takes its duration, a flow
    ``bytes * 8 / rate`` at the slower of its two NICs.  Contention only
    delays nodes, and no path is faster than its NICs, so a request whose
    bound exceeds its SLO misses under every scheduler.
    """
    index, finish, _ = _critical_paths(trace, rate_of, alone=False)
    arrivals = {r.id: r.arrival_us for r in trace.requests}
    return {req.id: finish[end] - arrivals[req.id] for req, end in _terminals(trace, index, finish)}


def idle_end_us(trace, rate_of=None):
    """When the trace's last node ends on an uncontended network (us): every
    node, not only those before a TTFT, and traces with no requests too."""
    _, finish, _ = _critical_paths(trace, rate_of, alone=False)
    return max(finish, default=0.0)


def _critical_paths(trace, rate_of, alone):
    """Each node's finish: from 0 with its own request's dependencies only
    (``alone``), or from its request's arrival with every dependency."""
    rate_of = rate_of or trace.nic_rate
    index = {node.id: i for i, node in enumerate(trace.nodes)}
    order, _ = topological_order(trace.nodes, index)
    arrivals = trace.unit_arrivals_us()
    finish = [0.0] * len(trace.nodes)
    network = [0.0] * len(trace.nodes)
    for i in order:
        node = trace.nodes[i]
        start, net = (0.0, 0.0) if alone else (arrivals.get(unit_of(node), 0.0), 0.0)
        for dep in node.deps:
            j = index[dep]
            if (not alone or trace.nodes[j].request_id == node.request_id) and finish[j] > start:
                start, net = finish[j], network[j]
        if isinstance(node, FlowNode):
            took = flow_time_us(node, rate_of)
            network[i] = net + took
        else:
            took = node.duration_us
            network[i] = net
        finish[i] = start + took
    return index, finish, network


def _terminals(trace, index, finish):
    """(request, index of its terminal node): the named one, else its last to end."""
    last = {}
    for i, node in enumerate(trace.nodes):
        if node.request_id not in last or finish[i] >= finish[last[node.request_id]]:
            last[node.request_id] = i
    for req in trace.requests:
        end = index.get(req.terminal) if req.terminal else last.get(req.id)
        if end is not None:
            yield req, end


class UncontendedClock:
    """Finish times of a DAG's nodes on an uncontended network, as it grows.

    Each node starts once its request has arrived (``arrivals_us``, by
    request id) and its dependencies have ended; a compute node takes its
    duration, a flow ``bytes * 8 / rate`` at the slower of its two NICs
    (``rate_of(host)``).  :meth:`update` times the nodes added since the last
    call (a builder adds a node after its dependencies).
    """

    def __init__(self, arrivals_us, rate_of):
        self.arrivals_us, self.rate_of = arrivals_us, rate_of
        self.finish = {}
        self._timed = 0

    def update(self, nodes):
        for node in nodes[self._timed:]:
            start = max([self.arrivals_us.get(node.request_id, 0.0)]
                        + [self.finish[dep] for dep in node.deps])
            took = (flow_time_us(node, self.rate_of) if isinstance(node, FlowNode)
                    else node.duration_us)
            self.finish[node.id] = start + took
        self._timed = len(nodes)

    def end_of(self, ids, default=0.0):
        """When the last of ``ids`` ends (``default`` for none)."""
        return max((self.finish[i] for i in ids), default=default)

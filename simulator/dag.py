"""A trace DAG as fluid-simulator inputs (real units: seconds, bytes, bit/s).

A compute node starts once its request has arrived and its dependencies
have ended, and lasts its duration; it is an event (its start) that others
wait for with a lag of that duration.  A compute node that executes a layer
reports the layer's start to the policy, as the emulator's agents do.  A
flow starts on the same condition and is a fluid on its path.
"""

from dataclasses import dataclass

from common.errors import UserError
from netmodel.routing import Routes, source_ports
from policies.fluid import FluidFlow, LayerProgress
from traces.model import unit_of


@dataclass(frozen=True)
class FluidInputs:
    links: dict               # directed link id -> real bit/s
    flows: list               # FluidFlow
    events: list              # LayerProgress: one per compute node (its start)
    arrivals: dict            # request (or batch) id -> arrival, seconds
    durations: dict           # compute node id -> seconds


def fluid_inputs(trace, topology, start_lag=0.0):
    """``start_lag`` (seconds, default 0): added to every flow's start, e.g.
    the emulator's measured per-flow start lag, to compare like for like."""
    routes = Routes(topology)
    nodes = {n.id: n for n in trace.nodes}
    arrivals = {unit: us / 1e6 for unit, us in trace.unit_arrivals_us().items()}
    # A batch's flows are scheduled as the batch's, with its earliest deadline.
    deadlines = {unit: us / 1e6 for unit, us in trace.unit_deadlines_us().items()}
    members = {b.id: tuple(b.requests) for b in trace.batches}
    durations = {n.id: n.duration_us / 1e6 for n in trace.nodes if n.kind == "compute"}
    sports = source_ports(((n.id, n.src) for n in trace.nodes if n.kind == "flow"), limited=False)

    def after(node):
        # a compute dependency ends its duration after its start event
        return tuple((dep, durations.get(dep, 0.0)) for dep in node.deps)

    flows, events = [], []
    for node in trace.nodes:
        start = arrivals[unit_of(node)]       # a batch's: its last request's arrival
        if node.kind == "compute":
            events.append(LayerProgress(unit_of(node), node.layer, start, event_id=node.id,
                                        after=after(node), members=members.get(node.batch, ())))
            continue
        path = routes.flow_directed_path(node.src, node.dst, node.protocol, sports[node.id])
        deps = tuple((dep, lag + start_lag) for dep, lag in after(node))
        flows.append(FluidFlow(node.id, unit_of(node), start + start_lag, node.bytes, path,
                               stage=node.stage, layer=node.layer,
                               deadline=deadlines.get(unit_of(node)), src=node.src,
                               dst=node.dst, after=deps))
    unknown = [(n.id, d) for n in trace.nodes for d in n.deps if d not in nodes]
    if unknown:
        raise UserError(f"trace node {unknown[0][0]}", f"depends on unknown node {unknown[0][1]!r}")
    return FluidInputs(routes.directed_link_rates(), flows, events, arrivals, durations)

"""Simulating a trace under one policy, with the emulator's record shapes.

The records are those the host agents write (``role`` send / recv /
compute, instants in seconds from time zero), so the results tables come
from the same code for both backends; ``queue_changes`` has the columns of
the controller's ``queue_changes.csv``.
"""

import time
from dataclasses import dataclass

import pandas as pd

from policies.fluid import FluidSimulator
from simulator.dag import fluid_inputs


@dataclass
class SimRun:
    records: list
    queue_changes: pd.DataFrame
    stats: dict


def simulate_trace(trace, topology, policy, tick="policy", start_lag=0.0):
    """Run ``trace`` on ``topology`` (real rates) under ``policy``; returns a SimRun.

    ``start_lag``: seconds added to every flow's start (off by default)."""
    inputs = fluid_inputs(trace, topology, start_lag)
    began = time.perf_counter()
    sim = FluidSimulator(inputs.links, inputs.flows, inputs.events, policy, tick,
                         request_arrivals=inputs.arrivals)
    result = sim.run()
    wall = time.perf_counter() - began
    protocols = {n.id: n.protocol for n in trace.nodes if n.kind == "flow"}
    records = []
    for node_id, start in result.event_times.items():
        ready = start
        records.append({"node_id": node_id, "role": "compute", "ready": ready, "start": start,
                        "end": start + inputs.durations[node_id]})
    for flow in inputs.flows:
        res = result.flows[flow.flow_id]
        if res.arrival is None:
            continue
        records.append({"flow_id": flow.flow_id, "role": "send", "protocol": protocols[flow.flow_id],
                        "ready": res.arrival, "start": res.arrival, "bytes": flow.size_bytes,
                        "retransmits": 0})
        if res.finish is not None:
            records.append({"flow_id": flow.flow_id, "role": "recv", "first_byte": res.arrival,
                            "last_byte": res.finish, "bytes_received": flow.size_bytes})
    changes = pd.DataFrame(
        [{"time_us": round(c.time * 1e6, 3), "flow_id": c.flow_id, "request_id": c.request_id,
          "old_queue": c.old_queue, "new_queue": c.new_queue, "reason": c.reason,
          "pace_bps": c.pace_bps} for c in result.changes],
        columns=["time_us", "flow_id", "request_id", "old_queue", "new_queue", "reason", "pace_bps"])
    stats = {"backend": "fluid", "start_lag_us": round(start_lag * 1e6, 3),
             "simulated_seconds": round(result.end_time, 9),
             "wall_seconds": round(wall, 4), "flows": len(inputs.flows),
             "events": len(inputs.events), "links": len(inputs.links),
             "queue_changes": len(result.changes)}
    return SimRun(records, changes, stats)

"""The replay engine's own costs, measured on the real fabric (``run_emulation.py bench``).

Each section replays one workload of :mod:`experiments.bench_traces` with the
real controller, agents and TCP, and reads the results like any run:

* ``isolated``: start lag of flows started one at a time (the chain), split by
  whether the agent that starts the flow learnt of its dependency locally or
  from another agent;
* ``burst``: 64 flows ready at once: the spread until all of them send, and
  the controller's notice-to-decision and decision-to-marking latencies;
* ``all_to_all`` and ``ring_all_reduce``: completion time over the line-rate
  ideal (wire bytes, no headers).

Numbers, not pass/fail; ``bench.json`` keeps them with the dilation used.
"""

import json
import os

import numpy as np
import pandas as pd

from experiments import bench_traces
from experiments.replay import Replay
from common.safe_files import write_json_atomic


def _pcts(values, unit=1.0):
    arr = np.asarray(values, dtype=float) * unit
    if not arr.size:
        return {"p50": None, "p99": None, "max": None}
    return {"p50": round(float(np.percentile(arr, 50)), 1), "p99": round(float(np.percentile(arr, 99)), 1),
            "max": round(float(arr.max()), 1)}


def _replay(topology, dilation, trace, scheduler, out_dir):
    fidelity = Replay(topology, dilation, trace, scheduler, out_dir, timeout=120).run()
    flows = pd.read_csv(os.path.join(out_dir, "flows.csv"))
    with open(os.path.join(out_dir, "controller.json"), encoding="utf-8") as handle:
        controller = json.load(handle)
    return fidelity, flows, controller


def bench_isolated(topology, dilation, out_dir, echo):
    hosts = len(topology.hosts)
    fidelity, flows, _ = _replay(topology, dilation, bench_traces.chain(hosts), "fair", out_dir)
    flows = flows.set_index("flow_id")
    lag_wall = (flows["start_us"] - flows["ready_us"]) * dilation.factor      # wall us
    index = flows.index.str[1:].astype(int)
    report = {"flows": len(flows), "failed": fidelity["flows_failed"],
              "start_lag_wall_us": _pcts(lag_wall[index > 0]),
              "start_lag_local_notice_wall_us": _pcts(lag_wall[(index > 0) & (index % 2 == 1)]),
              "start_lag_remote_notice_wall_us": _pcts(lag_wall[(index > 0) & (index % 2 == 0)]),
              "decision_to_mark_p99_wall_us": fidelity["decision_to_mark_p99_wall_us"]}
    echo(f"isolated start lag (wall us): {report['start_lag_wall_us']}")
    return report


def bench_burst(topology, dilation, out_dir, echo):
    hosts = len(topology.hosts)
    fidelity, flows, controller = _replay(topology, dilation, bench_traces.burst(hosts), "mfs", out_dir)
    lag_wall = (flows["start_us"] - flows["ready_us"]) * dilation.factor
    report = {"flows": len(flows), "failed": fidelity["flows_failed"],
              "all_sending_within_wall_us": round(float(lag_wall.max()), 1),
              "start_lag_wall_us": _pcts(lag_wall),
              "notice_to_decision_wall_us": {
                  "p50": _round(controller.get("decide_latency_p50_ms"), 1e3),
                  "p99": _round(controller.get("decide_latency_p99_ms"), 1e3)},
              "decision_to_mark_wall_us": {"p50": fidelity["decision_to_mark_p50_wall_us"],
                                           "p99": fidelity["decision_to_mark_p99_wall_us"]}}
    echo(f"burst of {len(flows)}: all sending within {report['all_sending_within_wall_us']} wall us; "
         f"decision-to-mark {report['decision_to_mark_wall_us']}")
    return report


def bench_collective(kind, topology, dilation, out_dir, echo):
    hosts = len(topology.hosts)
    rate = min(topology.host_link(h.name).rate_bps for h in topology.hosts)
    if kind == "all_to_all":
        per_rank = 1_000_000
        trace = bench_traces.all_to_all(hosts, per_rank)
        ideal = bench_traces.collective_ideal_us(kind, hosts, rate, per_rank=per_rank)
    else:
        size = 8_000_000
        trace = bench_traces.ring_all_reduce(hosts, size)
        ideal = bench_traces.collective_ideal_us(kind, hosts, rate, size=size)
    fidelity, flows, _ = _replay(topology, dilation, trace, "fair", out_dir)
    cct = flows.groupby("request_id").agg(ready=("ready_us", "min"), end=("end_us", "max"))
    ratios = (cct["end"] - cct["ready"]) / ideal
    report = {"ranks": hosts, "iterations": len(cct), "failed": fidelity["flows_failed"],
              "ideal_us": round(ideal, 2), "cct_us": _pcts(cct["end"] - cct["ready"]),
              "cct_over_ideal": {"median": round(float(ratios.median()), 3),
                                 "best": round(float(ratios.min()), 3),
                                 "worst": round(float(ratios.max()), 3)}}
    echo(f"{kind}: CCT / line-rate ideal {report['cct_over_ideal']} (ideal {ideal:.1f} us)")
    return report


def _round(ms, factor):
    return None if ms is None else round(ms * factor, 1)


SECTIONS = ("isolated", "burst", "all_to_all", "ring_all_reduce")


def run_bench(topology, dilation, out_dir, sections=SECTIONS, echo=print, extra=None):
    os.makedirs(out_dir, exist_ok=True)
    report = {"topology": topology.name, "dilation": dilation.to_dict(), **(extra or {})}
    for section in sections:
        where = os.path.join(out_dir, section)
        if section == "isolated":
            report[section] = bench_isolated(topology, dilation, where, echo)
        elif section == "burst":
            report[section] = bench_burst(topology, dilation, where, echo)
        else:
            report[section] = bench_collective(section, topology, dilation, where, echo)
        write_json_atomic(os.path.join(out_dir, "bench.json"), report)
    echo(f"bench: {os.path.join(out_dir, 'bench.json')}")
    return report

"""Sweep points as tasks: three request rates of the bundled workload, each
replayed by every scheduler on the flow-level simulator, run by two local
worker processes (a Dask LocalCluster on loopback), and read back.

    .venv/bin/python examples/parallel_points.py OUT_DIR

``sweep --workers 2`` does the same and then writes the sweep's summaries
and report; this is the executor underneath (experiments/executor.py).
"""

import sys

import pandas as pd

from experiments.executor import PointExecutor
from experiments.point import make_point
from experiments.sweep_points import apply_point
from netmodel.topology import load_topology
from traces import load_trace

def main(out):
    topology = load_topology("single_tor_8")
    trace = load_trace("traces/default_workload.jsonl")

    points = []
    for rate in (0.5, 1.0, 2.0):
        # each point carries its own topology and trace, parameters applied
        point_topology, point_trace = apply_point(topology, trace, {"rate": rate})
        points.append(make_point(f"rate={rate:g}", point_topology, point_trace,
                                 "traces/default_workload.jsonl", ["fair", "mfs"], "fluid"))

    statuses = PointExecutor(workers=2, echo=lambda *_: None).run(points, out)

    for name, status in statuses.items():
        # each point came back as files: a results directory per point
        requests = {s: pd.read_csv(f"{out}/{name}/{s}/requests.csv") for s in ("fair", "mfs")}
        attainment = {s: r["slo_met"].mean() for s, r in requests.items()}
        print(f"{name}: {status.status} on {status.where}; SLO attainment "
              f"fair {attainment['fair']:.3f}, mfs {attainment['mfs']:.3f}")


# Worker processes start by importing this file again: run only as the main script.
if __name__ == "__main__":
    main(sys.argv[1])

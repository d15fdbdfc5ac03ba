"""How fast sweeps go: simulator points per minute with 1, 2, 4 ... local
workers, and the wall time of a large evaluation projected on a pool of
machines from measured per-point times (``run_emulation.py bench-sweep``).

The same points (a rate sweep of ``--trace``) run once per worker count:
first here (one at a time, in this process), then through a Dask
``LocalCluster`` of N single-threaded worker processes.  The cluster's
start-up is timed apart from the points.

The projection: an evaluation of S schedulers x L loads x K seeds x W
workloads is L x K x W points (each point replays every scheduler).
Simulator points spread over every worker of every machine; emulator
points run one per machine at a time (each owns its fabric), so N machines
take ceil(points / N) x the measured seconds per emulator point, read from
an emulator sweep's ``points.json`` (``--emulator-points``).
"""

import json
import math
import os
import statistics
import time

from common.errors import UserError
from common.safe_files import write_json_atomic

EVALUATION = {"schedulers": 6, "loads": 10, "seeds": 5, "workloads": 2}   # the 600 runs


def _points(args):
    from analysis.sweep import parse_values
    from experiments.point import make_point
    from experiments.sweep_points import apply_point
    from netmodel.topology import load_topology
    from policies import policy_classes
    from traces import load_trace

    topology = load_topology(args.topology)
    trace = load_trace(args.trace, hosts={h.name for h in topology.hosts})
    rates = parse_values(args.rates, "--rates")
    schedulers = list(policy_classes())
    return [make_point(f"rate={rate:g}", *apply_point(topology, trace, {"rate": rate}),
                       args.trace, schedulers, "fluid", run_info={"sweep": {"parameter": "rate",
                                                                           "value": rate}})
            for rate in rates], schedulers


def measure(points, workers, out, echo):
    """Seconds for the points here (workers 0) or on N local workers: (total, start-up, per point)."""
    from experiments.executor import PointExecutor

    executor = PointExecutor(workers=max(workers, 1), echo=lambda *_: None)
    began = time.monotonic()
    if workers == 0:
        statuses = executor.run(points, out)
        startup = 0.0
    else:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None, host="127.0.0.1") as cluster, \
                Client(cluster) as client:
            client.wait_for_workers(workers)
            startup = time.monotonic() - began
            began = time.monotonic()
            executor.cluster = ("address", cluster.scheduler_address)
            statuses = executor.run(points, out)
    total = time.monotonic() - began
    failed = [n for n, s in statuses.items() if s.status != "done"]
    if failed:
        raise UserError("bench-sweep", f"points failed: {', '.join(failed)}")
    per_point = [s.seconds for s in statuses.values()]
    label = "here" if workers == 0 else f"{workers} worker(s)"
    echo(f"{label:>12}: {len(points)} points in {total:.1f}s (+{startup:.1f}s start-up), "
         f"{60 * len(points) / total:.1f} points/min")
    return {"workers": workers, "points": len(points), "seconds": round(total, 2),
            "startup_seconds": round(startup, 2),
            "points_per_minute": round(60 * len(points) / total, 2),
            "point_seconds_median": round(statistics.median(per_point), 3)}


def emulator_point_seconds(path):
    """Median seconds per point of an emulator sweep's points.json."""
    with open(path, encoding="utf-8") as handle:
        progress = json.load(handle)
    seconds = [p["seconds"] for p in progress.get("points", {}).values()
               if p.get("status") == "done" and p.get("seconds")]
    if not seconds:
        raise UserError(path, "no finished point with its seconds")
    return statistics.median(seconds), len(seconds)


def project(measured, emulator, machines, cores):
    """Hours of the EVALUATION on N machines of ``cores`` cores."""
    points = EVALUATION["loads"] * EVALUATION["seeds"] * EVALUATION["workloads"]
    best = max(measured, key=lambda m: m["points_per_minute"])
    rows = []
    for n in machines:
        row = {"machines": n, "points": points,
               "simulator_hours": round(points / (best["points_per_minute"] * n) / 60, 3)}
        if emulator:
            row["emulator_hours"] = round(math.ceil(points / n) * emulator[0] / 3600, 2)
        rows.append(row)
    return {"evaluation": EVALUATION, "points": points, "machine_cores": cores,
            "simulator_rate_from": f"{best['workers']} worker(s)", "rows": rows}


def _counts(text, where):
    try:
        counts = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise UserError(where, f"give positive integers, e.g. 1,2,4 (got {text!r})")
    return counts


def run(args):
    counts, machines = _counts(args.workers, "--workers"), _counts(args.machines, "--machines")
    if not os.path.exists(args.trace):
        raise UserError(args.trace, "no such trace file")
    emulator = emulator_point_seconds(args.emulator_points) if args.emulator_points else None
    points, schedulers = _points(args)
    out = args.out
    os.makedirs(out, exist_ok=True)
    print(f"bench-sweep: {len(points)} simulator points of {args.trace} ({len(schedulers)} "
          f"schedulers each) on {os.cpu_count()} cores")
    measured = []
    for workers in [0] + counts:
        measured.append(measure(points, workers, os.path.join(out, f"w{workers}"), print))
    result = {"trace": args.trace, "rates": args.rates, "cores": os.cpu_count(),
              "measured": measured,
              "emulator_point_seconds": None if emulator is None else
              {"median": round(emulator[0], 1), "points": emulator[1],
               "from": args.emulator_points},
              "projection": project(measured, emulator, machines, os.cpu_count())}
    write_json_atomic(os.path.join(out, "bench_sweep.json"), result)
    p = result["projection"]
    print(f"projected: {p['points']} points ({EVALUATION['schedulers']} schedulers x "
          f"{EVALUATION['loads']} loads x {EVALUATION['seeds']} seeds x "
          f"{EVALUATION['workloads']} workloads = {p['points'] * EVALUATION['schedulers']} runs)")
    for row in p["rows"]:
        print(f"  {row['machines']:>3} machine(s): simulator {row['simulator_hours'] * 60:.1f} min"
              + (f", emulator {row['emulator_hours']:.1f} h" if "emulator_hours" in row else ""))
    print(f"bench-sweep: {out}/bench_sweep.json")
    return 0


def register(subparsers):
    parser = subparsers.add_parser(
        "bench-sweep", help="simulator sweep throughput with 1, 2, 4 local workers, and a large "
                            "evaluation's wall time projected on a pool of machines")
    parser.add_argument("--trace", default="traces/workload_60.jsonl")
    parser.add_argument("--topology", default="single_tor_8")
    parser.add_argument("--rates", default="0.5,0.75,1,1.25,1.5,1.75,2,2.5",
                        help="the points: request-rate factors (default: 8 points)")
    parser.add_argument("--workers", default="1,2,4", help="local worker counts (default 1,2,4)")
    parser.add_argument("--machines", default="1,4,16", help="pool sizes to project (default 1,4,16)")
    parser.add_argument("--emulator-points", default=None, metavar="POINTS_JSON",
                        help="an emulator sweep's points.json: its per-point seconds project "
                             "emulator runs too")
    parser.add_argument("--out", default="results/bench-sweep")
    parser.set_defaults(func=run)

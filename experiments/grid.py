"""Sweeps with repeated trials: every cell of one or two parameters, over N seeds.

``sweep --seeds N`` (one parameter) or ``sweep`` with two of ``--rates``,
``--bandwidths``, ``--slo-scales`` runs here.  Trial K's trace is the trace's
recipe drawn with seed K (:mod:`experiments.seeds`), written once to
``GRID/traces/seed-K.jsonl``; each cell applies its parameters to it
(:func:`experiments.sweep_points.apply_point`), so every cell sees the same
requests in trial K and the ratios are paired.  The layout and the map are
:mod:`analysis.regime`'s.  Every check runs before the first cell starts.
"""

import os

from analysis.regime import GRID_FILE, cells, regime_text, seed_dir, write_regime
from analysis.summary import dump_json
from common.safe_files import write_text_atomic
from common.errors import UserError


def run_grid(args, axes, topology, trace, schedulers, out, emulated_rate, mtu, backend,
             reference, echo=print, executor=None):
    """Run every cell of ``axes`` [(parameter, values)] for ``args.seeds``
    seeds into ``out`` through ``executor`` (default: here, one at a time);
    print and return the regime summary."""
    from analysis.results_dir import check_scheduler_names
    from analysis.summary import write_run_summary
    from analysis.results_dir import RunResults
    from experiments.calibration import choose_speed
    from experiments.executor import PointExecutor
    from experiments.point import make_point
    from experiments.seeds import check_windows, seeded_trace, synth_recipe
    from experiments.sweep_points import apply_point
    from traces import load_trace

    seeds = args.seeds if args.seeds is not None else 1
    if seeds < 2:
        raise UserError("--seeds", "a grid sweep needs at least 2 seeds for its intervals")
    schedulers = check_scheduler_names(list(schedulers), "sweep schedulers")
    if reference not in schedulers or len(schedulers) < 2:
        raise UserError("--scheduler", f"the regime map compares {reference} with the other "
                                       f"schedulers: run it and at least one baseline")
    recipe = synth_recipe(trace, args.trace)
    check_windows(recipe, seeds, args.trace)
    hosts = {h.name for h in topology.hosts}
    for settings in cells(axes):              # every cell must build before any runs
        apply_point(topology, trace, settings)
    os.makedirs(out, exist_ok=True)
    write_text_atomic(os.path.join(out, GRID_FILE), dump_json(
        {"axes": [{"parameter": p, "values": v} for p, v in axes], "seeds": seeds,
         "schedulers": list(schedulers), "reference": reference, "trace": args.trace}))
    paths = [seeded_trace(recipe, k, os.path.join(out, "traces", f"seed-{k}.jsonl"))
             for k in range(seeds)]
    traces = [load_trace(path, hosts=hosts) for path in paths]
    points = []
    for settings in cells(axes):
        for k, (path, seed_trace) in enumerate(zip(paths, traces)):
            cell_topology, cell_trace = apply_point(topology, seed_trace, settings)
            dilation, speed = choose_speed(cell_topology, mtu, cell_trace, emulated_rate,
                                           args.time_dilation, args.byte_scale)
            points.append(make_point(
                os.path.relpath(seed_dir(out, settings, k), out), cell_topology, cell_trace, path,
                schedulers, backend, dilation=dilation, speed=speed,
                policy_config=args.policy_config, timeout=args.timeout, reference=reference,
                sim_start_lag=args.sim_start_lag * 1e-6, run_info={"cell": settings}))
    echo(f"{len(cells(axes))} cells x {seeds} seeds: {len(points)} points")
    statuses = (executor or PointExecutor(echo=echo)).run(points, out)
    for point in points:
        if statuses[point.name].status == "done":
            write_run_summary(RunResults(os.path.join(out, point.name)), reference=reference)
    summary = write_regime(out)
    echo(regime_text(summary))
    echo(f"results: {out}\nreport: {os.path.join(out, 'regime.html')}")
    return summary

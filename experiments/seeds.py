"""Repeated trials: the same workload recipe drawn with seeds 0..N-1.

A synthesized trace records the ``trace synth`` command that made it (its
header's ``source``).  Trial ``k`` re-runs that recipe in-process with the
cache-placement ``--seed`` moved on by ``k``, and a new sample of requests:

* built-in requests: the generator's seed moved on by ``k`` (which
  requests, their sizes, the Poisson arrivals);
* requests from a real trace (``--requests FILE --max-requests N``): the
  ``k``-th next window of N requests of that trace (``--first-request``
  moved on by ``k x N``), re-timed to start at 0.

Trial 0 is the trace itself.
The recorded command is parsed with the command's own argument parser and
never reaches a shell.
"""

import argparse
import os
import shlex

from common.errors import UserError

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYNTH_PREFIX = ("run_emulation.py", "trace", "synth")


def synth_recipe(trace, where):
    """The ``trace synth`` arguments recorded in ``trace``'s header, parsed."""
    from traces.cli import _add_synth

    words = shlex.split(trace.source or "")
    if tuple(os.path.basename(w) for w in words[:3]) != SYNTH_PREFIX:
        raise UserError(where, "--seeds needs a trace made by 'trace synth' (its header's "
                               "source records the recipe); this one says "
                               f"{(trace.source or 'nothing')[:80]!r}")
    parser = argparse.ArgumentParser(prog="trace", add_help=False)
    _add_synth(parser.add_subparsers(dest="trace_command"))
    try:
        args = parser.parse_args(words[2:])
    except SystemExit:
        raise UserError(where, "the recorded 'trace synth' command does not parse") from None
    if args.requests.split(":", 1)[0] == "builtin":
        from traces.synth.request_generator import parse_spec
        parse_spec(args.requests)                  # fails here, before anything runs
    elif not args.max_requests:
        raise UserError(where, "--seeds takes new windows of the recorded request trace, which "
                               "needs the recipe's --max-requests")
    else:
        args.requests = _resolve(args.requests, where)
    args.deployment = _resolve(args.deployment, where)
    if args.batching is None:
        # The trace says whether it was batched; the deployment file may
        # have changed since (batching became a deployment option).
        args.batching = "on" if trace.meta.get("batching") or trace.batches else "off"
    return args


def check_windows(recipe, trials, where):
    """A real request trace must hold ``trials`` full windows of the recipe's size."""
    if recipe.requests.split(":", 1)[0] == "builtin":
        return
    from traces import load_trace
    have = len(load_trace(recipe.requests, validate=False).requests) - recipe.first_request
    need = trials * recipe.max_requests
    if have < need:
        raise UserError(where, f"{trials} trials of {recipe.max_requests} requests need {need} "
                               f"requests from {recipe.requests}; it has {have} from the first used")


def seeded_trace(recipe, trial, out):
    """Write the recipe's trace for trial ``trial`` (0: the recipe's own
    seeds) to ``out``; returns ``out``."""
    from traces.commands import cmd_synth
    from traces.synth.request_generator import parse_spec

    args = argparse.Namespace(**vars(recipe))
    if args.requests.split(":", 1)[0] == "builtin":
        base = parse_spec(args.requests)["seed"]
        spec = args.requests.split(":", 1)
        items = [i for i in (spec[1].split(",") if len(spec) > 1 else [])
                 if i.strip() and i.split("=", 1)[0].strip() != "seed"]
        args.requests = "builtin:" + ",".join(items + [f"seed={base + trial}"])
    else:
        args.first_request = recipe.first_request + trial * recipe.max_requests
    args.seed, args.out = recipe.seed + trial, str(out)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    cmd_synth(args)
    return args.out


def _resolve(path, where):
    """A path from the recorded command: as given, or relative to the project."""
    if os.path.exists(path):
        return path
    candidate = os.path.join(PROJECT_ROOT, path)
    if not os.path.isabs(path) and os.path.exists(candidate):
        return candidate
    raise UserError(where, f"the recorded file {path!r} is not found")


def run_trials(args, trace, topology, dilation, speed, schedulers, out, backend, reference,
               executor=None):
    """``run --seeds N``: the trace's recipe drawn N times, one results
    directory each (OUT/seed-K), run through ``executor`` (default: here, one
    at a time), then mean and 95 % CI (OUT/seeds.json, seeds.html) over the
    trials that ran.  Every check runs before the first trial starts."""
    from analysis.postprocess import postprocess_run
    from analysis.results_dir import RunResults
    from analysis.seeds import seeds_text, write_seeds_summary
    from experiments.executor import PointExecutor
    from experiments.point import make_point
    from traces import load_trace

    if args.seeds < 2:
        raise UserError("--seeds", "needs at least 2 seeds for a confidence interval")
    recipe = synth_recipe(trace, args.trace)
    check_windows(recipe, args.seeds, args.trace)
    hosts = {h.name for h in topology.hosts}
    points = []
    for trial in range(args.seeds):
        name = f"seed-{trial}"
        path = seeded_trace(recipe, trial, os.path.join(out, name, "trace.jsonl"))
        points.append(make_point(name, topology, load_trace(path, hosts=hosts), path, schedulers,
                                 backend, dilation=dilation, speed=speed,
                                 policy_config=args.policy_config, timeout=args.timeout,
                                 reference=reference, sim_start_lag=args.sim_start_lag * 1e-6))
    statuses = (executor or PointExecutor()).run(points, out)
    trials = [k for k, p in enumerate(points) if statuses[p.name].status == "done"]
    if not trials:
        raise UserError("--seeds", f"every trial failed (see {out}/points.json)")
    directories = [os.path.join(out, points[k].name) for k in trials]
    ok = len(trials) == len(points)
    for directory in directories:
        postprocess_run(directory)
        ok = ok and all(s.fidelity.get("flows_failed") == 0
                        for s in RunResults(directory).schedulers.values())
    result = write_seeds_summary(out, directories, trials, reference)
    print(seeds_text(result))
    print(f"results: {out} (seeds.json, seeds.html; one directory per seed)")
    return 0 if ok else 1

"""Dilation invariance: the same workload at two emulation speeds must give
the same results (``run_emulation.py selftest --replay``).

Time dilation is a change of units: a faithful emulation gives the same real
(trace-time) results at x100 and at x1000.  What does not dilate is the
emulator's own cost (wall-clock start lags, timer and scheduling latency,
controller round trips), so results that move with the dilation measure the
emulator, not the schedulers.  This replays a trace at each dilation, puts
each scheduler's TTFT SLO attainment and TTFT p50/p99 side by side, and
fails when attainment differs by more than ``ATTAINMENT_TOLERANCE`` or the
TTFT median by more than ``TTFT_P50_TOLERANCE`` (relative).

With repeats, a gap beyond the tolerance that lies inside the 95 % (Welch)
interval of the difference between the dilations' means is reported as
"within noise", not as a difference: the repeats cannot tell it from the
run-to-run noise.  It still does not count as a pass; more repeats narrow
the interval.  A trace without SLOs (a captured job) has no attainment, and
is judged on its TTFT median alone.
"""

import math
import os

from analysis.metrics import scheduler_metrics
from analysis.results_dir import RunResults
from analysis.seeds import t95
from experiments.calibration import choose_speed
from experiments.experiment import run_experiment
from common.safe_files import write_json_atomic

ATTAINMENT_TOLERANCE = 0.05
TTFT_P50_TOLERANCE = 0.05


def compare(metrics_by_speed, schedulers, noise=None):
    """Rows of the side-by-side table and whether every scheduler passed.

    ``noise``: {scheduler: {"attainment": half-width, "ttft_p50_relative":
    half-width}}, the 95 % interval of the difference between the
    dilations' means; a gap beyond the tolerance but within it is marked
    ``within_noise``.
    """
    labels = list(metrics_by_speed)
    rows, passed = [], True
    for name in schedulers:
        values = [metrics_by_speed[label][name] for label in labels]
        att = [v["slo_attainment"] for v in values]
        p50 = [v["ttft_p50_us"] for v in values]
        p99 = [v["ttft_p99_us"] for v in values]
        no_slo = all(a is None for a in att)         # no attainment to compare at all
        att_gap = max(att) - min(att) if None not in att else None
        p50_gap = (max(p50) - min(p50)) / min(p50) if None not in p50 and min(p50) > 0 else None
        checks = [(p50_gap, TTFT_P50_TOLERANCE, "ttft_p50_relative")]
        if not no_slo:
            checks.append((att_gap, ATTAINMENT_TOLERANCE, "attainment"))
        ok = all(gap is not None and gap <= tolerance + 1e-9 for gap, tolerance, _ in checks)
        passed &= ok
        spread = (noise or {}).get(name) or {}
        within_noise = not ok and all(
            gap is not None and (gap <= tolerance + 1e-9 or (
                spread.get(key) is not None and gap <= spread[key] + 1e-9))
            for gap, tolerance, key in checks)
        rows.append({"scheduler": name, "attainment": dict(zip(labels, att)),
                     "ttft_p50_us": dict(zip(labels, p50)), "ttft_p99_us": dict(zip(labels, p99)),
                     "attainment_gap": att_gap, "ttft_p50_relative_gap": p50_gap, "passed": ok,
                     "within_noise": within_noise})
    return rows, passed


def verdict_of(rows):
    """PASSED: every scheduler within the tolerances; INCONCLUSIVE: the rest
    within the run-to-run noise; FAILED: some scheduler moved with the dilation."""
    if all(r["passed"] for r in rows):
        return "PASSED"
    return "INCONCLUSIVE" if all(r["passed"] or r["within_noise"] for r in rows) else "FAILED"


def format_table(rows, labels):
    head = f"{'scheduler':<9}" + "".join(f"{'att ' + l:>11}" for l in labels) + \
        "".join(f"{'p50 ' + l:>12}" for l in labels) + "".join(f"{'p99 ' + l:>12}" for l in labels) + \
        f"{'att gap':>9}{'p50 gap':>9}  verdict"
    lines = [head]
    for r in rows:
        line = f"{r['scheduler']:<9}"
        line += "".join(f"{_fmt(r['attainment'][l], 3):>11}" for l in labels)
        line += "".join(f"{_fmt(r['ttft_p50_us'][l], 0):>12}" for l in labels)
        line += "".join(f"{_fmt(r['ttft_p99_us'][l], 0):>12}" for l in labels)
        line += f"{_fmt(r['attainment_gap'], 3):>9}{_pct(r['ttft_p50_relative_gap']):>9}  "
        lines.append(line + ("ok" if r["passed"] else
                             "within noise" if r.get("within_noise") else "DIFFERS"))
    return "\n".join(lines)


def _fmt(value, digits):
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(value):
    return "-" if value is None else f"{value:.1%}"


def run_invariance(topology, mtu, trace, trace_path, schedulers, dilations, out_dir, echo=print,
                   repeat=1, **run_options):
    """Replay ``trace`` at each time dilation (``repeat`` times); returns (report, passed).

    With repeats, each dilation's mean is compared, and the spread between
    repeats at one dilation (the run-to-run noise) is reported beside it.
    """
    os.makedirs(out_dir, exist_ok=True)
    metrics, labels, noise, samples = {}, [], {}, {}
    for factor in dilations:
        label = f"x{factor:g}"
        labels.append(label)
        runs = []
        for trial in range(repeat):
            dilation, speed = choose_speed(topology, mtu, trace, time_dilation=factor)
            echo(f"--- {label} run {trial + 1}/{repeat}: {dilation.describe(topology)}")
            directory = os.path.join(out_dir, label if repeat == 1 else f"{label}-{trial + 1}")
            run_experiment(topology, dilation, trace_path, schedulers, directory, trace=trace,
                           speed=speed, echo=echo, **run_options)
            run = RunResults(directory)
            runs.append({name: scheduler_metrics(results) for name, results in run.schedulers.items()})
        metrics[label] = {name: _mean_metrics([r[name] for r in runs]) for name in schedulers}
        samples[label] = {name: {key: [r[name][key] for r in runs]
                                 for key in ("slo_attainment", "ttft_p50_us")}
                          for name in schedulers}
        noise[label] = {name: {"attainment": _spread([r[name]["slo_attainment"] for r in runs]),
                               "ttft_p50_relative": _relative_spread(
                                   [r[name]["ttft_p50_us"] for r in runs])}
                        for name in schedulers}
    intervals = {name: {"attainment": _difference_interval(
                            [samples[l][name]["slo_attainment"] for l in labels]),
                        "ttft_p50_relative": _difference_interval(
                            [samples[l][name]["ttft_p50_us"] for l in labels], relative=True)}
                 for name in schedulers} if repeat > 1 else None
    rows, passed = compare(metrics, schedulers, intervals)
    for row in rows:
        row["attainment_spread_between_repeats"] = {
            l: noise[l][row["scheduler"]]["attainment"] for l in labels}
        row["ttft_p50_relative_spread_between_repeats"] = {
            l: noise[l][row["scheduler"]]["ttft_p50_relative"] for l in labels}
    verdict = verdict_of(rows)
    report = {"trace": trace_path, "requests": len(trace.requests), "dilations": list(dilations),
              "repeat": repeat,
              "tolerance": {"attainment": ATTAINMENT_TOLERANCE, "ttft_p50_relative": TTFT_P50_TOLERANCE},
              "schedulers": rows, "passed": passed, "verdict": verdict}
    write_json_atomic(os.path.join(out_dir, "invariance.json"), report)
    echo(format_table(rows, labels))
    if repeat > 1:
        echo("spread between repeats (attainment / TTFT p50): " + "; ".join(
            f"{r['scheduler']} " + ", ".join(
                f"{l} {_fmt(v, 3)} / {_pct(r['ttft_p50_relative_spread_between_repeats'][l])}"
                for l, v in r["attainment_spread_between_repeats"].items())
            for r in rows))
        noisy = [r["scheduler"] for r in rows if r["within_noise"]]
        if noisy:
            echo(f"within noise: {', '.join(noisy)} (a gap beyond the tolerance but inside the "
                 f"95% interval of the difference between the dilations' means; more repeats "
                 f"narrow it)")
        for row in rows:
            row["difference_interval95"] = intervals[row["scheduler"]]
    echo(f"dilation invariance: {verdict} (attainment within "
         f"{ATTAINMENT_TOLERANCE}, TTFT p50 within {TTFT_P50_TOLERANCE:.0%}); "
         f"{os.path.join(out_dir, 'invariance.json')}")
    return report, passed


def _mean_metrics(values):
    keys = ("slo_attainment", "ttft_p50_us", "ttft_p99_us")
    out = {}
    for key in keys:
        found = [v[key] for v in values if v.get(key) is not None]
        out[key] = sum(found) / len(found) if len(found) == len(values) else None
    return out


def _spread(values):
    found = [v for v in values if v is not None]
    return max(found) - min(found) if len(found) == len(values) and found else None


def _relative_spread(values):
    found = [v for v in values if v is not None]
    if len(found) != len(values) or not found or min(found) <= 0:
        return None
    return (max(found) - min(found)) / min(found)


def _difference_interval(per_dilation, relative=False):
    """Half-width of the 95 % Welch interval of the difference between the
    highest and the lowest of the dilations' means (relative to the lower
    mean if ``relative``); None without two known values at each."""
    if any(len(v) < 2 or None in v for v in per_dilation):
        return None
    means = [sum(v) / len(v) for v in per_dilation]
    hi, lo = (per_dilation[means.index(m)] for m in (max(means), min(means)))
    var = [sum((x - sum(v) / len(v)) ** 2 for x in v) / (len(v) - 1) / len(v) for v in (hi, lo)]
    se = math.sqrt(sum(var))
    if se == 0:
        return 0.0
    df = sum(var) ** 2 / sum(w ** 2 / (len(v) - 1) for w, v in zip(var, (hi, lo)) if w)
    half = t95(df) * se
    return half / min(means) if relative and min(means) > 0 else None if relative else half

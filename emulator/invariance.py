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
"""

import json
import os

from analysis.metrics import scheduler_metrics
from analysis.results_dir import RunResults
from emulator.calibration import choose_speed
from emulator.experiment import run_experiment

ATTAINMENT_TOLERANCE = 0.05
TTFT_P50_TOLERANCE = 0.05


def compare(metrics_by_speed, schedulers):
    """Rows of the side-by-side table and whether every scheduler passed."""
    labels = list(metrics_by_speed)
    rows, passed = [], True
    for name in schedulers:
        values = [metrics_by_speed[label][name] for label in labels]
        att = [v["slo_attainment"] for v in values]
        p50 = [v["ttft_p50_us"] for v in values]
        p99 = [v["ttft_p99_us"] for v in values]
        att_gap = max(att) - min(att) if None not in att else None
        p50_gap = (max(p50) - min(p50)) / min(p50) if None not in p50 and min(p50) > 0 else None
        ok = att_gap is not None and p50_gap is not None and \
            att_gap <= ATTAINMENT_TOLERANCE + 1e-9 and p50_gap <= TTFT_P50_TOLERANCE + 1e-9
        passed &= ok
        rows.append({"scheduler": name, "attainment": dict(zip(labels, att)),
                     "ttft_p50_us": dict(zip(labels, p50)), "ttft_p99_us": dict(zip(labels, p99)),
                     "attainment_gap": att_gap, "ttft_p50_relative_gap": p50_gap, "passed": ok})
    return rows, passed


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
        lines.append(line + ("ok" if r["passed"] else "DIFFERS"))
    return "\n".join(lines)


def _fmt(value, digits):
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(value):
    return "-" if value is None else f"{value:.1%}"


def run_invariance(topology, mtu, trace, trace_path, schedulers, dilations, out_dir, echo=print,
                   **run_options):
    """Replay ``trace`` at each time dilation; returns (report, passed)."""
    os.makedirs(out_dir, exist_ok=True)
    metrics, labels = {}, []
    for factor in dilations:
        label = f"x{factor:g}"
        labels.append(label)
        dilation, speed = choose_speed(topology, mtu, trace, time_dilation=factor)
        echo(f"--- {label}: {dilation.describe(topology)}")
        directory = os.path.join(out_dir, label)
        run_experiment(topology, dilation, trace_path, schedulers, directory, trace=trace,
                       speed=speed, echo=echo, **run_options)
        run = RunResults(directory)
        metrics[label] = {name: scheduler_metrics(results) for name, results in run.schedulers.items()}
    rows, passed = compare(metrics, schedulers)
    report = {"trace": trace_path, "requests": len(trace.requests), "dilations": list(dilations),
              "tolerance": {"attainment": ATTAINMENT_TOLERANCE, "ttft_p50_relative": TTFT_P50_TOLERANCE},
              "schedulers": rows, "passed": passed}
    with open(os.path.join(out_dir, "invariance.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    echo(format_table(rows, labels))
    echo(f"dilation invariance: {'PASSED' if passed else 'FAILED'} (attainment within "
         f"{ATTAINMENT_TOLERANCE}, TTFT p50 within {TTFT_P50_TOLERANCE:.0%}); "
         f"{os.path.join(out_dir, 'invariance.json')}")
    return report, passed

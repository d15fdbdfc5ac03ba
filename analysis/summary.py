"""summary.json and summary.csv of a results directory.

summary.json: {"kind": "run", "directory", "backend", "sweep", "formulas",
"schedulers": {name: {metric: value}}, "reference": the scheduler the others are
compared with (run.json's, or None), "attainment_ratio": {baseline: r}}.
summary.csv: one row per scheduler, a "scheduler" column then the metrics in
the order of :mod:`analysis.metrics`.  Missing values are null / empty.
"""

import io
import json
from pathlib import Path

import pandas as pd

from common.safe_files import write_text_atomic
from analysis.metrics import attainment_ratios, scheduler_metrics
from analysis.stats import as_json_number
from analysis.styles import display_name

SUMMARY_JSON = "summary.json"
SUMMARY_CSV = "summary.csv"
FORMULAS = "analysis/RESULTS_FORMAT.md"


def summarize_run(run, reference=None):
    """The summary.json object of a :class:`~analysis.results_dir.RunResults`.

    ``reference``: the scheduler compared with every other (default: the one
    the run names in run.json, if any).
    """
    reference = reference or run.run.get("reference")
    metrics = {name: {key: as_json_number(value)
                      for key, value in scheduler_metrics(results).items()}
               for name, results in run.schedulers.items()}
    return {
        "kind": "run",
        "directory": str(run.directory),
        "backend": run.backend,
        "sweep": run.run.get("sweep"),
        "formulas": FORMULAS,
        "schedulers": metrics,
        "reference": reference,
        "attainment_ratio": attainment_ratios(metrics, reference) if reference else {},
    }


def summary_frame(summary):
    """summary.csv's table: one row per scheduler."""
    rows = [{"scheduler": name, **metrics} for name, metrics in summary["schedulers"].items()]
    return pd.DataFrame(rows)


def frame_to_csv(frame):
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def dump_json(value):
    # allow_nan=False: a NaN that slipped through is a bug, not "NaN" in a file.
    return json.dumps(value, indent=2, allow_nan=False) + "\n"


def write_run_summary(run, summary=None, reference=None):
    """Write DIR/summary.json and DIR/summary.csv; returns the summary."""
    summary = summary or summarize_run(run, reference)
    write_text_atomic(Path(run.directory) / SUMMARY_JSON, dump_json(summary))
    write_text_atomic(Path(run.directory) / SUMMARY_CSV, frame_to_csv(summary_frame(summary)))
    return summary


HEADLINE = (("slo_attainment", "SLO att."), ("ttft_p50_us", "TTFT p50 us"),
            ("ttft_p99_us", "TTFT p99 us"), ("cct_mean_us", "CCT mean us"),
            ("cct_p99_us", "CCT p99 us"), ("p2d_fct_p99_us", "P2D FCT p99 us"),
            ("slowdown_mean", "slowdown"), ("requests_unfinished", "unfinished"))


def format_number(value, digits=4):
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}"


def headline_text(summary):
    """A fixed-width table of the headline metrics, one line per scheduler."""
    rows = [["scheduler"] + [label for _, label in HEADLINE]]
    for name, metrics in summary["schedulers"].items():
        rows.append([name] + [format_number(metrics.get(key)) for key, _ in HEADLINE])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) if i else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    infeasible = {m.get("requests_infeasible") for m in summary["schedulers"].values()}
    if len(infeasible) == 1 and (count := infeasible.pop()):
        n = next(iter(summary["schedulers"].values()))["requests"]
        lines.append(f"{count} of {n} requests no scheduler could serve in time (their critical "
                     f"path, compute queue included, on an idle network exceeds the SLO); "
                     f"attainment over the other {n - count}: " + ", ".join(
                         f"{name} {format_number(m.get('slo_attainment_feasible'))}"
                         for name, m in summary["schedulers"].items()))
    ratios = summary.get("attainment_ratio") or {}
    if ratios:
        lines.append(f"{display_name(summary['reference'])} SLO attainment / baseline: " + ", ".join(
            f"{name} {format_number(r, 3)}x" if r is not None else f"{name} -"
            for name, r in ratios.items()))
    return "\n".join(lines)

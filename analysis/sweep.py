"""Sweeps: one results directory per value of a parameter (RESULTS_FORMAT.md).

    SWEEP/sweep.json                 {"parameter", "values", "schedulers", "reference"?}
    SWEEP/points/<parameter>=<value>/  a results directory each
    SWEEP/summary.json, summary.csv  written here: attainment against the
                                     parameter, sustainable load, MFS ratios

:func:`run_sweep` lays a sweep out and runs it point by point through a
callable the runner supplies; :func:`summarize_sweep` aggregates one.
A point whose folder has no run.json yet (an interrupted sweep) is reported
as missing rather than failing the whole sweep; a point that is there but
malformed is a UserError like any results directory.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from common.errors import UserError
from common.safe_files import write_text_atomic
from common.json_file import read_json_object
from analysis.results_dir import RUN_FILE, SWEEP_FILE, RunResults, check_scheduler_names
from analysis.summary import (SUMMARY_CSV, SUMMARY_JSON, FORMULAS, dump_json, frame_to_csv,
                              summarize_run, write_run_summary)
from analysis.sustainable import TARGET, sustainable_value, threshold_ratio

POINTS = "points"


@dataclass(frozen=True)
class Parameter:
    label: str                  # axis title
    harder_when_higher: bool    # more load as the value grows
    threshold: str              # what the sustainable value is called


PARAMETERS = {
    "rate": Parameter("request rate (x the trace's)", True, "highest sustainable rate"),
    "bandwidth": Parameter("link bandwidth", False, "lowest sufficient bandwidth"),
    "slo_scale": Parameter("TTFT SLO scale", False, "tightest sufficient SLO scale"),
}


def check_parameter(parameter, where="sweep parameter"):
    if parameter not in PARAMETERS:
        raise UserError(where, f"unknown parameter {parameter!r} "
                               f"(known: {', '.join(PARAMETERS)})")
    return parameter


def check_values(values, where="sweep values"):
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value <= 0:
            raise UserError(where, f"{value!r} is not a positive number")
        out.append(float(value))
    if not out:
        raise UserError(where, "no values")
    if len(set(out)) != len(out):
        raise UserError(where, "a value is given twice")
    return out


def parse_values(text, where="sweep values"):
    """'0.5,1,1.5' -> [0.5, 1.0, 1.5] (for the runner's --rates and friends)."""
    values = []
    for part in str(text).split(","):
        try:
            values.append(float(part))
        except ValueError:
            raise UserError(where, f"{part.strip()!r} is not a number") from None
    return check_values(values, where)


def format_value(value):
    return f"{value:.12g}"


def point_name(parameter, value):
    return f"{parameter}={format_value(value)}"


class Sweep:
    """A sweep directory: its plan and, per value, a RunResults or None."""

    def __init__(self, directory):
        self.directory = Path(directory)
        where = self.directory / SWEEP_FILE
        plan = read_json_object(where)
        self.parameter = check_parameter(plan.get("parameter"), where)
        values = plan.get("values")
        if not isinstance(values, list):
            raise UserError(where, "'values' must be a list of numbers")
        self.values = sorted(check_values(values, where))
        self.schedulers = check_scheduler_names(plan.get("schedulers"), where)
        self.reference = plan.get("reference")
        if self.reference is not None and not isinstance(self.reference, str):
            raise UserError(where, "'reference' must be a scheduler name")
        folders = self._point_folders()
        self.point_dirs = {v: folders.get(v, self.directory / POINTS / point_name(
            self.parameter, v)) for v in self.values}
        self.points = {v: self._load_point(v, d) for v, d in self.point_dirs.items()}

    @property
    def info(self):
        return PARAMETERS[self.parameter]

    def _point_folders(self):
        """{planned value: folder}, matching '<parameter>=<number>' by value, so
        'rate=1' and 'rate=1.0' both name the point 1.0."""
        found = {}
        root = self.directory / POINTS
        if not root.is_dir():
            return found
        for folder in sorted(root.iterdir()):
            name, _, text = folder.name.partition("=")
            if not folder.is_dir() or name != self.parameter:
                continue
            try:
                number = float(text)
            except ValueError:
                continue
            for value in self.values:
                if math.isclose(number, value, rel_tol=1e-9):
                    found.setdefault(value, folder)
        return found

    def _load_point(self, value, folder):
        if not (folder / RUN_FILE).is_file():
            return None
        run = RunResults(folder)
        point = run.sweep_point
        if point is not None and (point[0] != self.parameter
                                  or not math.isclose(point[1], value, rel_tol=1e-9)):
            raise UserError(folder / RUN_FILE, f"'sweep' says {point[0]}={point[1]:g} "
                                               f"but the folder is the point "
                                               f"{self.parameter}={value:g}")
        return run

    @property
    def present(self):
        return {v: run for v, run in self.points.items() if run is not None}

    @property
    def all_schedulers(self):
        names = list(self.schedulers)
        for run in self.present.values():
            names += [n for n in run.schedulers if n not in names]
        return names


def load_sweep(directory):
    sweep = Sweep(directory)
    if not sweep.present:
        raise UserError(sweep.directory / POINTS, "no point of the sweep has a run.json yet")
    return sweep


def summarize_sweep(sweep, target=TARGET, point_summaries=None, reference=None):
    """(summary.json object, summary.csv frame) of a Sweep.

    ``point_summaries`` {value: run summary} avoids recomputing them;
    ``reference`` overrides the scheduler sweep.json compares the others with.
    """
    reference = reference or sweep.reference
    point_summaries = point_summaries or {v: summarize_run(run)
                                          for v, run in sweep.present.items()}
    names = sweep.all_schedulers

    def series(metric):
        return {name: [point_summaries[v]["schedulers"].get(name, {}).get(metric)
                       if v in point_summaries else None for v in sweep.values]
                for name in names}

    attainment = series("slo_attainment")
    harder = sweep.info.harder_when_higher
    thresholds = {name: sustainable_value(sweep.values, attainment[name], target, harder)
                  for name in names}
    summary = {
        "kind": "sweep",
        "directory": str(sweep.directory),
        "parameter": sweep.parameter,
        "values": sweep.values,
        "schedulers": names,
        "formulas": FORMULAS,
        "target_attainment": target,
        "harder_when_higher": harder,
        "points": [{"value": v, "directory": str(d.relative_to(sweep.directory))
                    if d.is_relative_to(sweep.directory) else str(d),
                    "present": v in point_summaries} for v, d in sweep.point_dirs.items()],
        "slo_attainment": attainment,
        "ttft_p99_us": series("ttft_p99_us"),
        "sustainable": {name: t.as_dict() for name, t in thresholds.items()},
        "reference": reference,
        "sustainable_ratio": {},
        "attainment_ratio": {},
    }
    if reference in names:
        for name in names:
            if name == reference:
                continue
            summary["sustainable_ratio"][name] = threshold_ratio(
                thresholds[reference], thresholds[name], harder)
            summary["attainment_ratio"][name] = _attainment_ratio(
                attainment[reference], attainment[name])
    rows = [{sweep.parameter: v, "scheduler": name, **metrics}
            for v, s in sorted(point_summaries.items())
            for name, metrics in s["schedulers"].items()]
    return summary, pd.DataFrame(rows)


def _attainment_ratio(ours, theirs):
    per_value = [o / t if o is not None and t else None for o, t in zip(ours, theirs)]
    defined = [r for r in per_value if r is not None]
    return {"per_value": per_value, "min": min(defined) if defined else None,
            "max": max(defined) if defined else None}


def write_sweep_summary(sweep, target=TARGET, reference=None):
    """Write every point's summaries and the sweep's, all comparing with
    ``reference`` (default: sweep.json's); returns (sweep summary, {value:
    point summary})."""
    reference = reference or sweep.reference
    point_summaries = {v: write_run_summary(run, reference=reference)
                       for v, run in sweep.present.items()}
    summary, frame = summarize_sweep(sweep, target, point_summaries, reference)
    write_text_atomic(sweep.directory / SUMMARY_JSON, dump_json(summary))
    write_text_atomic(sweep.directory / SUMMARY_CSV, frame_to_csv(frame))
    return summary, point_summaries


def run_sweep(parameter, values, run_point, sweep_dir, schedulers, *, target=TARGET,
              on_summary=None, reference=None, run_points=None):
    """Lay out ``sweep_dir``, call ``run_point(value, point_dir)`` for each value
    (it must leave a results directory in ``point_dir``), then write the
    summaries and call ``on_summary(sweep, summary, point_summaries)`` if given
    (:func:`analysis.report.write_sweep_report` writes ``report.html``).
    ``run_points([(value, point_dir)])``, if given, runs them all at once
    instead (an executor, which may run them in parallel).

    Returns the sweep's summary.json object.  An exception from ``run_point``
    propagates; the points already run stay, and ``summarize DIR`` or
    ``report DIR`` aggregates them later.  A point that left no results is
    reported as missing.
    """
    check_parameter(parameter)
    values = check_values(values)
    schedulers = check_scheduler_names(list(schedulers), "sweep schedulers")
    sweep_dir = Path(sweep_dir)
    (sweep_dir / POINTS).mkdir(parents=True, exist_ok=True)
    write_text_atomic(sweep_dir / SWEEP_FILE, dump_json(
        {"parameter": parameter, "values": values, "schedulers": schedulers,
         **({"reference": reference} if reference else {})}))
    layout = [(value, sweep_dir / POINTS / point_name(parameter, value)) for value in values]
    if run_points is not None:
        run_points(layout)
    for value, point_dir in layout:
        point_dir.mkdir(exist_ok=True)
        if run_points is None:
            run_point(value, point_dir)
    sweep = load_sweep(sweep_dir)
    summary, point_summaries = write_sweep_summary(sweep, target)
    if on_summary is not None:
        on_summary(sweep, summary, point_summaries)
    return summary

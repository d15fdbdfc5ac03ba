"""The regime map: where the reference scheduler (MFS) beats the best baseline, and where not.

A grid sweep (``experiments/grid.py``) runs every cell of one or two
parameters over the same seeds:

    GRID/grid.json                  {"axes": [{"parameter", "values"}, ...], "seeds",
                                     "schedulers", "reference"}
    GRID/cells/<p>=<v>[,<q>=<w>]/   per cell: seed-K/ results directories, seeds.json
    GRID/regime.json, regime.csv    written here
    GRID/regime.html                the heatmap and its table

Per cell: every scheduler's attainment (mean and 95 % CI over seeds); the
best baseline, the one with the highest mean attainment there; the
reference's attainment over it, paired seed by seed, with its mean and
95 % Student-t interval.  A cell whose interval holds 1 is "no significant
difference" and is marked so on the map.
"""

import itertools
import math
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from common.safe_files import write_text_atomic
from analysis.figures_common import layout
from analysis.html_page import Page, esc
from common.json_file import read_json_object
from analysis.seeds import interval, summarize_seeds, write_seeds_summary
from analysis.styles import scheduler_style
from analysis.summary import dump_json, format_number
from analysis.sustainable import TARGET, sustainable_value, threshold_ratio
from analysis.sweep import PARAMETERS, check_parameter, check_values, format_value
from common.errors import UserError

GRID_FILE, CELLS = "grid.json", "cells"
REGIME_JSON, REGIME_CSV, REGIME_HTML = "regime.json", "regime.csv", "regime.html"


def cell_name(settings):
    """'rate=1,slo_scale=2' for {"rate": 1.0, "slo_scale": 2.0} (axis order)."""
    return ",".join(f"{p}={format_value(v)}" for p, v in settings.items())


def seed_dir(grid_dir, settings, seed):
    return Path(grid_dir) / CELLS / cell_name(settings) / f"seed-{seed}"


def read_grid(directory):
    """grid.json, checked: (axes [(parameter, values)], seeds, schedulers, reference)."""
    where = Path(directory) / GRID_FILE
    plan = read_json_object(where)
    axes = plan.get("axes")
    if not isinstance(axes, list) or not 1 <= len(axes) <= 2:
        raise UserError(where, "'axes' must list one or two {parameter, values}")
    checked = []
    for axis in axes:
        if not isinstance(axis, dict):
            raise UserError(where, "each axis must be {parameter, values}")
        checked.append((check_parameter(axis.get("parameter"), where),
                        check_values(axis.get("values") or [], where)))
    if len({p for p, _ in checked}) != len(checked):
        raise UserError(where, "an axis parameter is given twice")
    seeds = plan.get("seeds")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 2:
        raise UserError(where, "'seeds' must be an integer of at least 2")
    reference = plan.get("reference")
    if not isinstance(reference, str):
        raise UserError(where, "'reference' must be a scheduler name")
    return checked, seeds, list(plan.get("schedulers") or []), reference


def cells(axes):
    """Every cell's settings {parameter: value}, the first axis varying slowest."""
    names = [p for p, _ in axes]
    return [dict(zip(names, combo)) for combo in itertools.product(*(v for _, v in axes))]


def summarize_cell(grid_dir, settings, seeds, reference, write=False):
    """The cell's seeds summary (analysis.seeds) plus the best baseline and
    the reference's ratio over it; None if a seed's run is missing."""
    directories = [seed_dir(grid_dir, settings, k) for k in range(seeds)]
    if not all((d / "run.json").is_file() for d in directories):
        return None
    summarize = ((lambda *args: write_seeds_summary(*args, page=False)) if write
                 else (lambda _, *rest: summarize_seeds(*rest)))
    result = summarize(directories[0].parent, directories, range(seeds), reference)
    baselines = {name: stats["slo_attainment"]["mean"]
                 for name, stats in result["schedulers"].items() if name != reference}
    known = {n: m for n, m in baselines.items() if m is not None}
    best = max(known, key=known.get) if known else None
    ratio = result["attainment_ratio"].get(best) if best else None
    difference = result["attainment_difference"].get(best) if best else None
    return {"settings": settings, "schedulers": result["schedulers"], "best_baseline": best,
            "ratio": ratio, "difference": difference}


def summarize_grid(directory, write=False):
    """regime.json's object for the grid directory (missing cells listed)."""
    axes, seeds, schedulers, reference = read_grid(directory)
    rows, missing = [], []
    for settings in cells(axes):
        cell = summarize_cell(directory, settings, seeds, reference, write)
        if cell is None:
            missing.append(cell_name(settings))
        else:
            rows.append(cell)
    summary = {"kind": "regime", "directory": str(directory),
               "axes": [{"parameter": p, "values": v} for p, v in axes], "seeds": seeds,
               "schedulers": schedulers, "reference": reference, "cells": rows,
               "missing": missing}
    summary["sustainable"] = sustainable_by_seed(summary)
    return summary


def sustainable_by_seed(summary, target=TARGET):
    """Along the last axis, per row of the first: each scheduler's sustainable
    value (analysis.sustainable) in every seed, with its interval, and the
    reference's ratio over each baseline paired by seed (significant when
    the interval excludes 1; seeds where the ratio is undefined are left out)."""
    axes, seeds, reference = summary["axes"], summary["seeds"], summary["reference"]
    x_axis = axes[-1]
    harder = PARAMETERS[x_axis["parameter"]].harder_when_higher
    rows = axes[0]["values"] if len(axes) == 2 else [None]
    by_cell = {tuple(c["settings"].values()): c for c in summary["cells"]}
    out = []
    for row in rows:
        cells = [by_cell.get((x,) if row is None else (row, x)) for x in x_axis["values"]]
        names = list(next((c["schedulers"] for c in cells if c), {}))
        per_seed = {}
        for name in names:
            per_seed[name] = []
            for k in range(seeds):
                curve = [None if c is None else c["schedulers"][name]["slo_attainment"]["values"][k]
                         for c in cells]
                per_seed[name].append(sustainable_value(x_axis["values"], curve, target, harder))
        entry = {"row": row, "target_attainment": target,
                 "schedulers": {n: interval([t.value for t in ts]) for n, ts in per_seed.items()},
                 "ratio": {}}
        for name in names:
            if name == reference or reference not in per_seed:
                continue
            ratios = [threshold_ratio(o, t, harder) for o, t in zip(per_seed[reference],
                                                                   per_seed[name])]
            entry["ratio"][name] = bounded_mean_ratio(ratios)
        out.append(entry)
    return out


def bounded_mean_ratio(ratios):
    """Mean and interval of per-seed threshold ratios (threshold_ratio's).

    A censored seed gives a bound, not a value, so the mean is one too:
    "kind" is "exact" when every seed is, "lower_bound" / "upper_bound" when
    the rest are exact, "mixed" when both bounds occur.  A bound supports a
    verdict in its own direction only (a lower bound above 1 shows the
    reference sustains more; below 1 it shows nothing), and a mixed mean
    supports none."""
    stats = interval([r["ratio"] for r in ratios])
    stats["kinds"] = [r["kind"] for r in ratios]
    bounds = {k for k in stats["kinds"] if k in ("lower_bound", "upper_bound")}
    stats["kind"] = "mixed" if len(bounds) == 2 else bounds.pop() if bounds else "exact"
    stats["significant"] = False
    if stats["ci95"] is not None:
        low, high = stats["mean"] - stats["ci95"], stats["mean"] + stats["ci95"]
        stats["significant"] = ((low > 1 and stats["kind"] in ("exact", "lower_bound"))
                                or (high < 1 and stats["kind"] in ("exact", "upper_bound")))
    return stats


def attainment_curves(summary):
    """Mean attainment against the last axis with 95 % error bars, one line per
    scheduler; one figure per value of the first axis of a two-axis grid."""
    axes = summary["axes"]
    x_axis = axes[-1]
    rows = axes[0]["values"] if len(axes) == 2 else [None]
    by_cell = {tuple(c["settings"].values()): c for c in summary["cells"]}
    figures = []
    for row in rows:
        fig = go.Figure()
        cells = [by_cell.get((x,) if row is None else (row, x)) for x in x_axis["values"]]
        names = list(next((c["schedulers"] for c in cells if c), {}))
        for name in names:
            stats = [None if c is None else c["schedulers"][name]["slo_attainment"] for c in cells]
            style = scheduler_style(name)
            fig.add_trace(go.Scatter(
                x=x_axis["values"], y=[None if s is None else s["mean"] for s in stats],
                error_y={"type": "data", "visible": True,
                         "array": [None if s is None else s["ci95"] for s in stats]},
                mode="lines+markers", name=style.display, line={"color": style.colour},
                marker={"symbol": style.marker, "size": 8}))
        where = "" if row is None else f" at {axes[0]['parameter']} {format_value(row)}"
        layout(fig, f"TTFT SLO attainment, mean and 95% interval over {summary['seeds']} "
                    f"seeds{where}", xaxis=PARAMETERS[x_axis["parameter"]].label,
               yaxis="fraction of requests meeting the TTFT SLO")
        fig.update_yaxes(range=[0, 1.05])
        figures.append((row, fig))
    return figures


def regime_frame(summary):
    """One row per cell: its settings, the best baseline, the ratio and the
    difference over it with their intervals."""
    records = []
    for cell in summary["cells"]:
        ratio, difference = cell["ratio"] or {}, cell.get("difference") or {}
        mean, ci = ratio.get("mean"), ratio.get("ci95")
        records.append({**cell["settings"], "best_baseline": cell["best_baseline"],
                        "reference_attainment": cell["schedulers"][summary["reference"]]
                        ["slo_attainment"]["mean"],
                        "best_baseline_attainment": None if cell["best_baseline"] is None else
                        cell["schedulers"][cell["best_baseline"]]["slo_attainment"]["mean"],
                        "ratio_mean": mean, "ratio_ci95": ci,
                        "significant": bool(ratio.get("significant", False)),
                        "seeds_left_out": ratio.get("left_out", 0),
                        "difference_mean": difference.get("mean"),
                        "difference_ci95": difference.get("ci95"),
                        "difference_significant": bool(difference.get("significant", False))})
    return pd.DataFrame(records)


def _label(cell):
    ratio = cell["ratio"] or {}
    if ratio.get("mean") is None:
        return "-"
    text = f"{format_number(ratio['mean'], 3)}x"
    if ratio.get("ci95") is not None:
        text += f" +- {format_number(ratio['ci95'], 2)}"
    text += "" if ratio.get("significant") else " (n.s.)"
    if ratio.get("left_out"):
        text += f" ({ratio['left_out']} seeds left out)"
    return text


def regime_heatmap(summary):
    """Ratio of the reference over the best baseline per cell, 1 white; cells
    whose interval holds 1 are crossed out and say "n.s."."""
    axes = summary["axes"]
    x_axis = axes[-1]
    y_axis = axes[0] if len(axes) == 2 else None
    ys = y_axis["values"] if y_axis else [None]
    z = [[None] * len(x_axis["values"]) for _ in ys]
    text = [[""] * len(x_axis["values"]) for _ in ys]
    crossed_x, crossed_y = [], []
    for cell in summary["cells"]:
        i = ys.index(cell["settings"][y_axis["parameter"]]) if y_axis else 0
        j = x_axis["values"].index(cell["settings"][x_axis["parameter"]])
        ratio = cell["ratio"] or {}
        z[i][j] = ratio.get("mean")
        text[i][j] = f"{_label(cell)}<br>vs {cell['best_baseline'] or '-'}"
        if not ratio.get("significant"):
            crossed_x.append(format_value(x_axis["values"][j]))
            crossed_y.append(format_value(ys[i]) if y_axis else "")
    x_labels = [format_value(v) for v in x_axis["values"]]
    y_labels = [format_value(v) for v in ys] if y_axis else [""]
    # Colour by log2 of the ratio, so 1/2 and 2 sit equally far from white 1.
    logs = [[None if v is None or v <= 0 else math.log2(v) for v in row] for row in z]
    spread = max([abs(v) for row in logs for v in row if v is not None] + [math.log2(1.5)])
    # a mean ratio of 0 (the reference met no deadline) has no log: the darkest red
    logs = [[-spread if v == 0 else lg for v, lg in zip(zr, lr)] for zr, lr in zip(z, logs)]
    ticks = [t for t in (0.25, 0.5, 2 / 3, 0.8, 1, 1.25, 1.5, 2, 4) if abs(math.log2(t)) <= spread]
    fig = go.Figure(go.Heatmap(
        x=x_labels, y=y_labels, z=logs, text=text, texttemplate="%{text}", zmid=0,
        zmin=-spread, zmax=spread, colorscale="RdBu",
        colorbar={"title": f"{summary['reference']} / best",
                  "tickvals": [math.log2(t) for t in ticks],
                  "ticktext": [f"{t:.3g}" for t in ticks]},
        hovertemplate="%{text}<extra></extra>"))
    if crossed_x:
        fig.add_trace(go.Scatter(x=crossed_x, y=crossed_y, mode="markers", showlegend=False,
                                 hoverinfo="skip", marker={"symbol": "x-thin-open", "size": 40,
                                                           "color": "rgba(0,0,0,0.35)",
                                                           "line": {"width": 2,
                                                                    "color": "rgba(0,0,0,0.35)"}}))
    title = (f"{summary['reference']} TTFT SLO attainment over the best baseline, mean of "
             f"{summary['seeds']} seeds (crossed: 95% interval holds 1)")
    layout(fig, title, xaxis=PARAMETERS[x_axis["parameter"]].label,
           yaxis=PARAMETERS[y_axis["parameter"]].label if y_axis else None,
           height=max(360, 110 * len(ys) + 200))
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    return fig


def regime_text(summary):
    """The map as a terminal table: rows the first axis, columns the second."""
    axes = summary["axes"]
    x_axis = axes[-1]
    by_cell = {tuple(c["settings"].values()): c for c in summary["cells"]}
    head = [axes[0]["parameter"] + (" \\ " + x_axis["parameter"] if len(axes) == 2 else "")]
    rows = [head + [format_value(v) for v in x_axis["values"]]] if len(axes) == 2 else \
        [[x_axis["parameter"], f"{summary['reference']} / best baseline", "best baseline"]]
    if len(axes) == 2:
        for y in axes[0]["values"]:
            rows.append([format_value(y)] + [
                _label(by_cell[(y, x)]) if (y, x) in by_cell else "missing"
                for x in x_axis["values"]])
    else:
        for x in x_axis["values"]:
            cell = by_cell.get((x,))
            rows.append([format_value(x), _label(cell) if cell else "missing",
                         (cell or {}).get("best_baseline") or "-"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [f"{summary['reference']} SLO attainment / best baseline, {summary['seeds']} seeds, "
             "mean +- 95% CI ((n.s.): no significant difference)"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    if summary["missing"]:
        lines.append(f"missing cells: {', '.join(summary['missing'])}")
    return "\n".join(lines)


def _sustainable_table(summary, sustained):
    def cell(stats):
        if stats["mean"] is None:
            return "-"
        text = format_number(stats["mean"], 3)
        text = {"lower_bound": ">= ", "upper_bound": "<= "}.get(stats.get("kind"), "") + text
        if stats.get("kind") == "mixed":
            text += " (mixed bounds)"
        return text if stats["ci95"] is None else f"{text} +- {format_number(stats['ci95'], 2)}"
    rows = "".join(
        f"<tr><td>{esc(name)}</td><td>{cell(stats)}</td><td>"
        + ("" if name == summary["reference"] else
           (cell(sustained["ratio"][name]) + ("" if sustained["ratio"][name]["significant"]
                                              else " (n.s.)")) if name in sustained["ratio"]
           else "-") + "</td></tr>"
        for name, stats in sustained["schedulers"].items())
    return (f"<table><thead><tr><th>scheduler</th><th>sustainable value</th><th>"
            f"{esc(summary['reference'])} / it</th></tr></thead><tbody>{rows}</tbody></table>")


def write_regime(directory, images=None, image_format="svg"):
    """Write the cells' seeds.json, regime.json, regime.csv and regime.html."""
    directory = Path(directory)
    summary = summarize_grid(directory, write=True)
    if not summary["cells"]:
        raise UserError(directory / CELLS, "no cell of the grid has all its seeds yet")
    write_text_atomic(directory / REGIME_JSON, dump_json(summary))
    frame = regime_frame(summary)
    write_text_atomic(directory / REGIME_CSV, frame.to_csv(index=False))
    page = Page(f"Regime map: {directory.resolve().name}",
                f'<p class="headline">{esc(regime_text(summary).splitlines()[0])}</p>')
    page.section("map", "Regime map", "Each cell: the reference's TTFT SLO attainment over "
                 "the baseline with the highest mean attainment in that cell, paired seed by "
                 "seed; mean and 95% Student-t interval. The best baseline is chosen from the "
                 "same seeds, and each cell is its own test with no correction for the number "
                 "of cells: about one cell in twenty may be marked significant by chance. "
                 "Seeds where the best baseline met no deadline have no ratio and are left "
                 "out (counted in the label); the paired difference (regime.csv) keeps them.")
    page.add_figure(regime_heatmap(summary), "regime_map")
    page.add_html(frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="-"))
    page.section("curves", "Attainment with error bars",
                 f"Sustainable value: the {PARAMETERS[summary['axes'][-1]['parameter']].threshold} "
                 f"at {TARGET:g} attainment, per seed (analysis/sustainable.py), then mean and "
                 "95% interval; the reference's ratio over each baseline is paired by seed.")
    for (row, fig), sustained in zip(attainment_curves(summary), summary["sustainable"]):
        name = "regime_curve" if row is None else f"regime_curve_{format_value(row)}"
        page.add_figure(fig, name)
        page.add_html(_sustainable_table(summary, sustained))
    write_text_atomic(directory / REGIME_HTML, page.render())
    if images is not None:
        from analysis.static_export import export_figures
        export_figures(page.figures, images, image_format)
    return summary

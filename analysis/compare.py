"""Two runs (or two sweeps) side by side in one HTML page.

Runs: headline metrics of both with the ratio B / A, SLO attainment bars,
TTFT and CCT CDFs and per-stage FCT overlaid (B dashed or hatched), every
metric and the fidelity panel of each, and the run.json keys that differ.
Sweeps: attainment curves overlaid and both sustainable-load tables.
"""

from pathlib import Path

import plotly.graph_objects as go

from common.errors import UserError
from common.safe_files import write_text_atomic
from analysis.figures_common import layout
from analysis.figures_run import DASHES, Variant, attainment_bars, cct_cdf, stage_boxes, ttft_cdf
from analysis.html_page import Page, esc
from analysis.panels import (fidelity_table, flatten, json_block, metrics_table, sustainable_table,
                             table)
from analysis.results_dir import RunResults, is_sweep_dir
from analysis.styles import display_name, scheduler_style
from analysis.figures_crossval import fct_scatter
from analysis.crossval import CROSSVAL_HEADER, cross_validate, crossval_rows, crossval_text
from analysis.summary import HEADLINE, dump_json, format_number, write_run_summary
from analysis.sweep import load_sweep, write_sweep_summary


def run_labels(dir_a, dir_b):
    a, b = Path(dir_a).resolve(), Path(dir_b).resolve()
    if a.name != b.name:
        return a.name, b.name
    return f"{a.parent.name}/{a.name}", f"{b.parent.name}/{b.name}"


def default_output(dir_a, dir_b):
    a, b = (label.replace("/", "_") for label in run_labels(dir_a, dir_b))
    return Path(f"compare-{a}-vs-{b}.html")


def write_compare(dir_a, dir_b, out=None, images=None, image_format="svg"):
    """Write the comparison page; returns (path, text summary for the terminal).
    ``images``: also write each figure as a static file into that directory."""
    sweeps = is_sweep_dir(dir_a), is_sweep_dir(dir_b)
    if sweeps[0] != sweeps[1]:
        raise UserError(dir_b if sweeps[0] else dir_a, "compare needs two results directories "
                        "or two sweep directories, not one of each")
    labels = run_labels(dir_a, dir_b)
    out = Path(out) if out else default_output(dir_a, dir_b)
    page, text = (_compare_sweeps if sweeps[0] else _compare_runs)(dir_a, dir_b, labels)
    write_text_atomic(out, page.render())
    if images is not None:
        from analysis.static_export import export_figures
        export_figures(page.figures, images, image_format)
    return out, text


def _ratio(a, b):
    return None if a is None or b is None or a == 0 else b / a


def headline_rows(summary_a, summary_b):
    names = list(summary_a["schedulers"]) + [n for n in summary_b["schedulers"]
                                             if n not in summary_a["schedulers"]]
    rows = []
    for name in names:
        for key, label in HEADLINE:
            a = summary_a["schedulers"].get(name, {}).get(key)
            b = summary_b["schedulers"].get(name, {}).get(key)
            rows.append([display_name(name), label, format_number(a), format_number(b),
                         format_number(_ratio(a, b), 3)])
    return rows


def _intro(labels, dirs):
    return (f'<p class="note">A = {esc(labels[0])} ({esc(dirs[0])}), drawn solid; '
            f'B = {esc(labels[1])} ({esc(dirs[1])}), drawn dashed or hatched.</p>')


def _compare_runs(dir_a, dir_b, labels):
    runs = RunResults(dir_a), RunResults(dir_b)
    summaries = [write_run_summary(run) for run in runs]
    page = Page(f"Compare {labels[0]} and {labels[1]}", _intro(labels, (dir_a, dir_b)))
    rows = headline_rows(*summaries)
    page.section("headline", "Headline metrics")
    page.add_html(table(["scheduler", "metric", "A", "B", "B / A"], rows))
    page.add_figure(attainment_bars([Variant(f"({label})", s, dash) for label, s, dash
                                     in zip(labels, summaries, DASHES)]), "attainment")
    variants = [Variant(f"({label})", run, dash) for label, run, dash in zip(labels, runs, DASHES)]
    page.section("ttft", "TTFT")
    page.add_figure(ttft_cdf(variants), "ttft_cdf")
    page.section("cct", "Collectives")
    page.add_figure(cct_cdf(variants), "cct_cdf")
    page.section("stages", "Flows by stage")
    page.add_figure(stage_boxes(variants), "stage_fct")
    for tag, label, run, summary in zip("AB", labels, runs, summaries):
        page.section(f"metrics_{tag}", f"All metrics of {tag} ({label})")
        page.add_html(metrics_table(summary))
        page.add_html(fidelity_table(run))
    page.section("config", "Configuration differences",
                 "run.json keys (nested keys dotted) whose values differ.")
    flat = [flatten(run.run) for run in runs]
    keys = list(flat[0]) + [k for k in flat[1] if k not in flat[0]]
    diff = [[k, str(flat[0].get(k, "")), str(flat[1].get(k, ""))] for k in keys
            if flat[0].get(k) != flat[1].get(k)]
    page.add_html(table(["key", "A", "B"], diff) if diff else
                  '<p class="note">The two run.json files are identical.</p>')
    widths = [max(len(r[i]) for r in rows + [["scheduler", "metric", "A", "B", "B / A"]])
              for i in range(5)]
    text = "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths))
                     for r in [["scheduler", "metric", labels[0], labels[1], "B / A"]] + rows)
    result = cross_validate(*runs)
    if any(v["fct_error"]["matched"] for v in result["schedulers"].values()):
        page.section("crossval", "Cross-validation: B against A, flow by flow",
                     "The same trace in both: flows matched by id, requests by id; errors "
                     "are (B - A) / A. Attainments within 0.05 of each other tie in a ranking.")
        page.add_html(table(CROSSVAL_HEADER, crossval_rows(result)))
        for name in result["schedulers"]:
            page.add_figure(fct_scatter(*runs, name, labels), f"crossval_fct_{name}")
        page.add_html(json_block(result))
        text += "\n\n" + crossval_text(result)
        write_text_atomic(Path(dir_b) / "crossval.json", dump_json(result))
    return page, text


def _compare_sweeps(dir_a, dir_b, labels):
    sweeps = load_sweep(dir_a), load_sweep(dir_b)
    if sweeps[0].parameter != sweeps[1].parameter:
        raise UserError(dir_b, f"sweeps over different parameters ({sweeps[0].parameter} "
                               f"and {sweeps[1].parameter})")
    summaries = [write_sweep_summary(sweep)[0] for sweep in sweeps]
    info = sweeps[0].info
    page = Page(f"Compare sweeps {labels[0]} and {labels[1]}", _intro(labels, (dir_a, dir_b)))
    page.section("sweep", f"SLO attainment against {sweeps[0].parameter}")
    fig = go.Figure()
    for label, summary, dash in zip(labels, summaries, DASHES):
        for name in summary["schedulers"]:
            style = scheduler_style(name)
            fig.add_trace(go.Scatter(x=summary["values"], y=summary["slo_attainment"][name],
                                     mode="lines+markers", name=f"{style.display} ({label})",
                                     line={"color": style.colour, "dash": dash},
                                     marker={"symbol": style.marker, "size": 8}))
    fig.add_hline(y=summaries[0]["target_attainment"], line_dash="dot", line_color="#888")
    layout(fig, f"TTFT SLO attainment against {info.label}", xaxis=info.label,
           yaxis="fraction of requests meeting the TTFT SLO")
    fig.update_yaxes(range=[0, 1.05])
    page.add_figure(fig, "sweep_attainment")
    lines = []
    for tag, label, summary in zip("AB", labels, summaries):
        page.section(f"sustainable_{tag}", f"{info.threshold} of {tag} ({label})")
        page.add_html(sustainable_table(summary, info))
        lines.append(f"{label}: {info.threshold}: " + ", ".join(
            f"{n} {format_number(t['value'], 3)} ({t['bound']})"
            for n, t in summary["sustainable"].items()))
    return page, "\n".join(lines)

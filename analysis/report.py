"""report.html of a results directory or of a sweep directory.

A run's report: SLO attainment and every summary metric, TTFT CDF, CCT CDF,
per-stage FCT / slowdown, link throughput and backlog, a Gantt view of one
request, the fidelity panel and run.json.  A sweep's report adds, first,
attainment and TTFT p99 against the swept parameter with the sustainable
load of each scheduler and MFS's ratios, then the run sections of one
point (``--point``; by default the one where the schedulers' attainments
differ most, where the comparison says the most).
"""

import math
from pathlib import Path

from common.errors import UserError
from common.safe_files import write_text_atomic
from analysis.figures_gantt import choose_request, gantt_figure
from analysis.figures_links import link_figure
from analysis.figures_run import attainment_bars, capture_scatter, cct_cdf, stage_boxes, ttft_cdf
from analysis.figures_sweep import attainment_curve, ttft_p99_curve
from analysis.html_page import Page, esc
from analysis.panels import (capture_table, fidelity_table, json_block, metrics_table, sustainable_table,
                             sweep_attainment_table)
from analysis.results_dir import RunResults, is_sweep_dir
from analysis.styles import display_name
from analysis.summary import format_number, write_run_summary
from analysis.sweep import format_value, load_sweep, point_name, write_sweep_summary

REPORT = "report.html"
FORMULAS_NOTE = ("Every number is in summary.json / summary.csv beside this file and can be "
                 "recomputed from the CSVs with the formulas in analysis/RESULTS_FORMAT.md.")


def write_report(directory, out=None, *, request_id=None, point=None, images=None,
                 image_format="svg"):
    """Write the report of a results or sweep directory (and its summaries);
    returns the report's path (default DIR/report.html).  ``images``: also
    a folder of static copies of the figures, one file per figure."""
    if is_sweep_dir(directory):
        sweep = load_sweep(directory)
        summary, point_summaries = write_sweep_summary(sweep)
        return write_sweep_report(sweep, summary, point_summaries, out, request_id=request_id,
                                  point=point, images=images, image_format=image_format)
    if point is not None:
        raise UserError(directory, "--point needs a sweep directory (one with sweep.json)")
    run = RunResults(directory)
    summary = write_run_summary(run)
    page = Page(f"Run report: {Path(directory).resolve().name}", _run_intro(run, summary))
    add_run_sections(page, run, summary, request_id)
    return _write(page, out or Path(directory) / REPORT, images, image_format)


def _write(page, out, images=None, image_format="svg"):
    out = Path(out)
    write_text_atomic(out, page.render())
    if images is not None:
        from analysis.static_export import export_figures
        export_figures(page.figures, images, image_format)
    return out


def _run_intro(run, summary):
    meta = run.run
    facts = [f"backend <b>{esc(meta.get('backend', '?'))}</b>",
             f"schedulers {esc(', '.join(display_name(n) for n in run.schedulers))}",
             f"git {esc(meta.get('git_revision', '?'))}", f"datapath {esc(meta.get('datapath', '?'))}"]
    lines = [f'<p class="note">{esc(run.directory)} &mdash; {" &middot; ".join(facts)}</p>']
    lines.append(f'<p class="headline">{esc(_run_headline(summary))}</p>')
    lines.append(f'<p class="note">{esc(FORMULAS_NOTE)}</p>')
    return "\n".join(lines)


def _run_headline(summary):
    parts = [f"{display_name(n)} {format_number(m['slo_attainment'], 3)}"
             for n, m in summary["schedulers"].items()]
    text = "TTFT SLO attainment: " + ", ".join(parts) + "."
    ratios = [f"{format_number(r, 3)}x {display_name(n)}"
              for n, r in summary.get("attainment_ratio", {}).items() if r is not None]
    if ratios:
        text += f" {display_name(summary['reference'])}'s attainment is " + ", ".join(ratios) + "'s."
    return text


def add_run_sections(page, run, summary, request_id=None, suffix=""):
    """The sections of one run, headings suffixed (e.g. " at rate=1")."""
    if request_id is not None and not any(
            (r.flows["request_id"] == request_id).any() for r in run.schedulers.values()):
        raise UserError("--request", f"no flow of request {request_id!r} in {run.directory}")
    page.section("summary", "Summary" + suffix, "SLO attainment: requests whose TTFT is at "
                 "most their TTFT SLO, over all requests (unfinished ones miss).")
    page.add_figure(attainment_bars(summary, "TTFT SLO attainment" + suffix), "attainment")
    page.add_html(metrics_table(summary))
    page.section("ttft", "TTFT" + suffix)
    page.add_figure(ttft_cdf(run), "ttft_cdf")
    page.section("cct", "Collectives" + suffix)
    page.add_figure(cct_cdf(run), "cct_cdf")
    if any(m.get("capture_collectives_compared") or m.get("capture_flows_compared")
           or m.get("capture_requests_compared") for m in summary["schedulers"].values()):
        page.section("capture", "Replay against the capture" + suffix,
                     "The trace was captured with its own timings. Each captured duration is "
                     "scaled to this fabric (x capture NIC rate / path bottleneck; unscaled "
                     "when the trace's header has no nic_bps). Ratio = replayed / captured; "
                     "shape error = |ratio / median ratio - 1|, blind to one global factor. "
                     "Measured TTFTs (a request trace from a real deployment) are compared "
                     "as they are: they include the deployment's own compute.")
        page.add_html(capture_table(summary))
        page.add_figure(capture_scatter(run), "capture")
    page.section("stages", "Flows by stage" + suffix, "Slowdown = FCT / isolated FCT, the "
                 "isolated FCT being bytes * 8 / bottleneck_bps (no RTT), so small flows "
                 "have large slowdowns even on an idle fabric.")
    page.add_figure(stage_boxes(run), "stage_fct")
    page.section("links", "Links" + suffix)
    page.add_figure(link_figure(run), "links")
    chosen = request_id if request_id is not None else choose_request(run)
    page.section("gantt", "One request's flows" + suffix,
                 f"Request {esc(chosen)}" + ("" if request_id is not None else
                                              " (the one with the most promotions; choose "
                                              "another with --request ID)") + ".")
    page.add_figure(gantt_figure(run, chosen), "gantt")
    page.section("fidelity", "Fidelity" + suffix, "Every key of each scheduler's "
                 "fidelity.json (nested keys joined with dots).")
    page.add_html(fidelity_table(run))
    page.section("config", "Configuration" + suffix, "run.json as written by the run.")
    page.add_html(json_block(run.run))
    return page


def pick_point(summary, point=None):
    """The detail point: ``point`` if given, else the largest spread of SLO
    attainment across schedulers (ties: the smallest value)."""
    present = [p["value"] for p in summary["points"] if p["present"]]
    if point is not None:
        for value in present:
            if math.isclose(value, point, rel_tol=1e-9):
                return value
        raise UserError("--point", f"{point:g} is not a point of this sweep with results "
                                   f"(have: {', '.join(format_value(v) for v in present)})")

    def spread(value):
        i = summary["values"].index(value)
        att = [a[i] for a in summary["slo_attainment"].values() if a[i] is not None]
        return max(att) - min(att) if att else -1.0
    return min(present, key=lambda v: (-spread(v), v))


def sweep_headline(summary, info):
    lines = []
    values = ", ".join(f"{display_name(n)} {format_number(t['value'], 3)}"
                       + ("" if t["bound"] == "interpolated" else f" ({t['bound']})")
                       for n, t in summary["sustainable"].items())
    lines.append(f"{info.threshold} at >= {summary['target_attainment']:g} attainment: "
                 f"{values}.")
    ref = display_name(summary["reference"]) if summary.get("reference") else None
    for name, r in summary.get("sustainable_ratio", {}).items():
        if r["ratio"] is not None:
            lines.append(f"{ref} / {display_name(name)}: {r['ratio']:.2f}x ({r['kind']}) on "
                         f"{info.threshold}.")
    for name, span in summary.get("attainment_ratio", {}).items():
        if span["min"] is not None:
            lines.append(f"{ref} / {display_name(name)}: {span['min']:.2f}x-{span['max']:.2f}x "
                         f"SLO attainment across the points.")
    return lines


def write_sweep_report(sweep, summary, point_summaries, out=None, *, request_id=None,
                       point=None, images=None, image_format="svg"):
    info = sweep.info
    detail = pick_point(summary, point)
    missing = [format_value(p["value"]) for p in summary["points"] if not p["present"]]
    intro = [f'<p class="note">{esc(sweep.directory)} &mdash; sweep over '
             f'{esc(sweep.parameter)}: {esc(", ".join(format_value(v) for v in sweep.values))}'
             + (f" (missing: {esc(', '.join(missing))})" if missing else "") + "</p>"]
    intro.append('<p class="headline">' + "<br>".join(esc(line) for line in
                                                    sweep_headline(summary, info)) + "</p>")
    intro.append(f'<p class="note">{esc(FORMULAS_NOTE)}</p>')
    page = Page(f"Sweep report: {sweep.directory.resolve().name}", "\n".join(intro))
    page.section("sweep", f"Sweep over {sweep.parameter}",
                 "Sustainable value: first crossing of the target, linearly interpolated "
                 "between the last point at or above it and the first below "
                 "(analysis/RESULTS_FORMAT.md).")
    page.add_figure(attainment_curve(summary, info), "sweep_attainment")
    page.add_html('<p class="note">Sustainable load and MFS over each scheduler:</p>')
    page.add_html(sustainable_table(summary, info))
    page.add_html('<p class="note">TTFT SLO attainment at each point:</p>')
    page.add_html(sweep_attainment_table(summary))
    page.add_figure(ttft_p99_curve(summary, info), "sweep_ttft_p99")
    page.add_html(json_block({"sweep.json": {"parameter": sweep.parameter,
                                             "values": sweep.values,
                                             "schedulers": sweep.schedulers}}))
    run = sweep.points[detail]
    suffix = f" at {point_name(sweep.parameter, detail)}"
    page.sections[-1][2].append(f'<p class="note">Sections below: the point {esc(suffix[4:])}'
                                f' (choose another with --point VALUE).</p>')
    add_run_sections(page, run, point_summaries[detail], request_id, suffix)
    return _write(page, out or sweep.directory / REPORT, images, image_format)

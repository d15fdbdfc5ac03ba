"""Figures of one results directory, or of two overlaid (compare): SLO
attainment per scheduler, TTFT and CCT CDFs, per-stage FCT and slowdown
box plots.

Each function takes a RunResults or a list of Variant (label, run, dash):
the second run of a comparison is drawn dashed in the same colours.
"""

from dataclasses import dataclass

import plotly.graph_objects as go

from analysis.figures_common import add_menu, cdf_points, layout, no_data
from analysis.metrics import completed_flows
from analysis.schema import STAGES
from analysis.styles import scheduler_style

DASHES = ("solid", "dash")


@dataclass(frozen=True)
class Variant:
    label: str      # "" for a single run
    run: object     # RunResults or a summary.json object
    dash: str = "solid"


def variants(runs):
    return list(runs) if isinstance(runs, (list, tuple)) else [Variant("", runs)]


def _name(style, variant):
    return f"{style.display} {variant.label}".strip()


def attainment_bars(summaries, title="TTFT SLO attainment"):
    """Bars straight from summary.json's slo_attainment (one summary, or
    Variants whose ``run`` is a summary)."""
    fig = go.Figure()
    for variant in variants(summaries):
        summary = variant.run
        for name, metrics in summary["schedulers"].items():
            style = scheduler_style(name)
            value = metrics["slo_attainment"]
            fig.add_trace(go.Bar(
                x=[style.display], y=[value], name=_name(style, variant),
                marker={"color": style.colour,
                        "pattern": {"shape": "" if variant.dash == "solid" else "/"}},
                text=["-" if value is None else f"{value:.3f}"], textposition="outside"))
    layout(fig, title, yaxis="fraction of requests meeting the TTFT SLO",
           showlegend=len(variants(summaries)) > 1, barmode="group")
    fig.update_yaxes(range=[0, 1.1])
    return fig


def ttft_cdf(runs):
    """CDF of TTFT and of TTFT / SLO over all requests (unfinished ones never
    count as reached, so a curve tops out at the finished fraction; at
    TTFT / SLO = 1 a curve's height is the SLO attainment)."""
    fig = go.Figure()
    groups = {"TTFT (ms)": [], "TTFT / SLO": []}
    for variant in variants(runs):
        for name, results in variant.run.schedulers.items():
            requests = results.requests
            style = scheduler_style(name)
            for label, values in (("TTFT (ms)", requests["ttft_us"] / 1000),
                                  ("TTFT / SLO", requests["ttft_us"] / requests["ttft_slo_us"])):
                x, y = cdf_points(values.dropna(), total=len(requests))
                groups[label].append(len(fig.data))
                fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=_name(style, variant),
                                         line={"color": style.colour, "shape": "hv",
                                               "dash": variant.dash}))
    layout(fig, "TTFT CDF (all requests; unfinished ones never reach the curve)",
           yaxis="fraction of requests")
    fig.update_yaxes(range=[0, 1.02])
    if not fig.data:
        return no_data(fig, "no requests")
    groups["TTFT / SLO"].append(len(fig.data))
    fig.add_trace(go.Scatter(x=[1, 1], y=[0, 1], mode="lines", name="SLO",
                             line={"color": "#888", "dash": "dot"}))
    return add_menu(fig, [(label, indices, {"xaxis.title.text": label})
                          for label, indices in groups.items()])


def cct_cdf(runs):
    """CDF of collective completion times over all collectives."""
    fig = go.Figure()
    total = 0
    for variant in variants(runs):
        for name, results in variant.run.schedulers.items():
            cct = results.collectives["cct_us"]
            total += len(cct)
            style = scheduler_style(name)
            x, y = cdf_points(cct.dropna() / 1000, total=len(cct))
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=_name(style, variant),
                                     line={"color": style.colour, "shape": "hv",
                                           "dash": variant.dash}))
    layout(fig, "Collective completion time (CCT) CDF", xaxis="CCT (ms)",
           yaxis="fraction of collectives")
    if total == 0:
        return no_data(fig, "no collectives in this run (collectives.csv is empty)")
    fig.update_yaxes(range=[0, 1.02])
    return fig


def stage_boxes(runs):
    """Per-stage FCT and slowdown (FCT / isolated FCT) of completed flows."""
    fig = go.Figure()
    groups = {"FCT (ms)": [], "slowdown": []}
    count = 0
    for variant in variants(runs):
        for name, results in variant.run.schedulers.items():
            done = completed_flows(results.flows)
            count += len(done)
            style = scheduler_style(name)
            order = done["stage"].map({s: i for i, s in enumerate(STAGES)})
            done = done.assign(_order=order).sort_values("_order", kind="stable")
            for label, values in (("FCT (ms)", done["fct_us"] / 1000),
                                  ("slowdown", done["slowdown"])):
                groups[label].append(len(fig.data))
                fig.add_trace(go.Box(x=done["stage"].tolist(), y=values.tolist(),
                                     name=_name(style, variant), marker_color=style.colour,
                                     fillcolor=None if variant.dash == "solid" else "#ffffff",
                                     boxpoints="outliers"))
    layout(fig, "Per-stage flow completion time and slowdown (completed flows)",
           xaxis="stage", boxmode="group")
    if count == 0:
        return no_data(fig, "no completed flows")
    fig.update_yaxes(type="log")
    fig.update_xaxes(categoryorder="array", categoryarray=list(STAGES))
    return add_menu(fig, [(label, indices, {"yaxis.title.text": label + ", log scale"})
                          for label, indices in groups.items()])


def capture_scatter(run):
    """Replayed against captured durations (collectives, and flows where the
    capture timed them), each scaled to this fabric's rates; the diagonal is
    a perfect replay."""
    fig = go.Figure()
    low, high = float("inf"), 0.0
    for name, results in run.schedulers.items():
        style = scheduler_style(name)
        for table, measured, recorded, what, symbol in (
                (results.collectives, "cct_us", "capture_cct_us", "collectives", "circle"),
                (results.flows, "fct_us", "capture_fct_us", "flows", "x")):
            both = table[[measured, recorded, table.columns[0]]].dropna()
            both = both[(both[recorded] > 0) & (both[measured] > 0)]     # log axes
            if both.empty:
                continue
            x, y = both[recorded] / 1000, both[measured] / 1000
            low, high = min(low, x.min(), y.min()), max(high, x.max(), y.max())
            fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name=f"{style.display} {what}",
                                     text=both[table.columns[0]],
                                     marker={"color": style.colour, "symbol": symbol}))
    layout(fig, "Replay against the capture", xaxis="captured, scaled to this fabric (ms)",
           yaxis="replayed (ms)")
    if high == 0:
        return no_data(fig, "no captured timings in this run")
    fig.add_trace(go.Scatter(x=[low, high], y=[low, high], mode="lines", name="replay = capture",
                             line={"color": "grey", "dash": "dot"}))
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    return fig

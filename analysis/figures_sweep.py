"""Figures of a sweep: SLO attainment and TTFT p99 against the swept
parameter, one line per scheduler, with each scheduler's sustainable value
(analysis.sustainable) marked on the target line."""

import plotly.graph_objects as go

from analysis.figures_common import layout
from analysis.styles import scheduler_style


def _xaxis(summary, info):
    # Log axis when the values span more than a decade (e.g. bandwidths in bit/s).
    values = summary["values"]
    return "log" if min(values) > 0 and max(values) / min(values) > 10 else "linear"


def attainment_curve(summary, info):
    fig = go.Figure()
    values, target = summary["values"], summary["target_attainment"]
    for name in summary["schedulers"]:
        style = scheduler_style(name)
        fig.add_trace(go.Scatter(x=values, y=summary["slo_attainment"][name],
                                 mode="lines+markers", name=style.display,
                                 line={"color": style.colour},
                                 marker={"symbol": style.marker, "size": 9}))
    for name in summary["schedulers"]:
        threshold = summary["sustainable"][name]
        if threshold["value"] is None:
            continue
        style = scheduler_style(name)
        fig.add_trace(go.Scatter(
            x=[threshold["value"]], y=[target], mode="markers", showlegend=False,
            name=f"{style.display} {info.threshold}",
            hovertext=f"{style.display}: {info.threshold} {threshold['value']:.4g} "
                      f"({threshold['bound']})", hoverinfo="text",
            marker={"symbol": "line-ns-open", "size": 18, "color": style.colour,
                    "line": {"width": 3}}))
    fig.add_hline(y=target, line_dash="dot", line_color="#888",
                  annotation_text=f"target {target:g}", annotation_position="bottom right")
    layout(fig, f"TTFT SLO attainment against {info.label} (ticks on the target line: "
                f"{info.threshold})", xaxis=info.label,
           yaxis="fraction of requests meeting the TTFT SLO")
    fig.update_xaxes(type=_xaxis(summary, info))
    fig.update_yaxes(range=[0, 1.05])
    return fig


def ttft_p99_curve(summary, info):
    fig = go.Figure()
    for name in summary["schedulers"]:
        style = scheduler_style(name)
        y = [None if v is None else v / 1000 for v in summary["ttft_p99_us"][name]]
        fig.add_trace(go.Scatter(x=summary["values"], y=y, mode="lines+markers",
                                 name=style.display, line={"color": style.colour},
                                 marker={"symbol": style.marker, "size": 9}))
    layout(fig, f"TTFT p99 (finished requests) against {info.label}", xaxis=info.label,
           yaxis="TTFT p99 (ms)")
    fig.update_xaxes(type=_xaxis(summary, info))
    return fig

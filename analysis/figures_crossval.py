"""The cross-validation figure: each flow's FCT on one backend against the other."""

import pandas as pd
import plotly.graph_objects as go

from analysis.figures_common import layout, no_data
from analysis.styles import STAGE_COLOURS, display_name


def fct_scatter(run_a, run_b, scheduler, labels=("A", "B")):
    """Matched flows of ``scheduler``: FCT in A (x) against B (y), by stage, with y = x."""
    fig = go.Figure()
    a = run_a.schedulers[scheduler].flows.set_index("flow_id")["fct_us"]
    b = run_b.schedulers[scheduler].flows.set_index("flow_id")[["fct_us", "stage"]]
    joined = b.join(a.rename("fct_a"), how="inner").dropna(subset=["fct_us", "fct_a"])
    title = f"FCT of each flow, {labels[1]} against {labels[0]} ({display_name(scheduler)})"
    if joined.empty:
        return no_data(layout(fig, title), "no flow ran in both")
    for stage, group in joined.groupby("stage"):
        fig.add_trace(go.Scattergl(x=group["fct_a"], y=group["fct_us"], mode="markers", name=stage,
                                   marker={"color": STAGE_COLOURS.get(stage, "#999999"), "size": 5,
                                           "opacity": 0.6},
                                   text=group.index, hovertemplate="%{text}<br>%{x:.1f} / %{y:.1f} us"))
    top = float(pd.concat([joined["fct_a"], joined["fct_us"]]).max())
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="equal",
                             line={"color": "#888", "dash": "dot"}))
    return layout(fig, title, xaxis=f"FCT in {labels[0]} (us)", yaxis=f"FCT in {labels[1]} (us)")

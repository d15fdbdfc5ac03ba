"""Pieces every figure shares: layout defaults, an explicit "no data"
figure (so each figure of the report is always there), CDF points and
dropdown menus that switch which traces are visible."""

import numpy as np

# Modebar's camera button saves a static SVG, offline, in the browser.
PLOT_CONFIG = {"displaylogo": False, "responsive": True,
               "toImageButtonOptions": {"format": "svg", "scale": 1}}
MAX_CDF_POINTS = 1000


def layout(fig, title, xaxis=None, yaxis=None, height=440, **extra):
    fig.update_layout(title={"text": title, "x": 0.01, "xanchor": "left"},
                      template="plotly_white", height=height,
                      margin={"l": 70, "r": 30, "t": 90, "b": 60},
                      legend={"orientation": "h", "y": -0.18}, **extra)
    if xaxis:
        fig.update_xaxes(title_text=xaxis)
    if yaxis:
        fig.update_yaxes(title_text=yaxis)
    return fig


def no_data(fig, message):
    """Say on the figure itself why it is empty."""
    fig.add_annotation(text=message, showarrow=False, xref="paper", yref="paper",
                       x=0.5, y=0.5, font={"size": 14, "color": "#666"})
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return fig


def cdf_points(values, total=None, max_points=MAX_CDF_POINTS):
    """(x, y) of an empirical CDF: y = (rank) / total.

    ``total`` defaults to len(values); passing a larger one (e.g. counting
    requests that never finished) makes the curve end below 1.  Long series
    are thinned to ``max_points`` evenly spaced ranks, first and last kept.
    """
    x = np.sort(np.asarray(values, dtype="float64"))
    x = x[np.isfinite(x)]
    total = total or len(x)
    y = np.arange(1, len(x) + 1) / total if total else np.empty(0)
    if len(x) > max_points:
        keep = np.unique(np.linspace(0, len(x) - 1, max_points).round().astype(int))
        x, y = x[keep], y[keep]
    return x, y


def add_menu(fig, groups, x=1.0, y=1.02, direction="down"):
    """A dropdown whose buttons each show one group of traces.

    ``groups`` is [(label, [trace indices])] or [(label, [indices], {layout
    changes})]; the first group starts visible with its layout changes.
    """
    count = len(fig.data)
    buttons = []
    for label, indices, *changes in groups:
        visible = [False] * count
        for i in indices:
            visible[i] = True
        buttons.append({"label": label, "method": "update",
                        "args": [{"visible": visible}, changes[0] if changes else {}]})
    first = set(groups[0][1]) if groups else set()
    for i, trace in enumerate(fig.data):
        trace.visible = i in first
    if groups and len(groups[0]) > 2:
        fig.update_layout(groups[0][2])
    fig.update_layout(updatemenus=[{"buttons": buttons, "direction": direction,
                                    "x": x, "y": y, "xanchor": "right", "yanchor": "bottom",
                                    "showactive": True, "active": 0}])
    return fig

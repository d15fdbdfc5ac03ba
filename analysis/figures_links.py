"""Per-link throughput and per-queue backlog over time, one scheduler at a
time (menu).

Throughput is summed over a link's queues at each sample time; only the
busiest links (highest mean throughput) and the queues with the largest
peak backlog are drawn, so a fat-tree's hundreds of directed links stay
readable.  Series longer than MAX_SERIES_POINTS are averaged (throughput)
or maxed (backlog) into equal-width time bins.

The replay writes only samples where something moved, so a gap longer than
1.5 sample intervals (the median spacing of the file's series) is drawn as
idle: the line drops to 0 one interval after the last sample and rises one
interval before the next, instead of being interpolated across the gap.
"""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.figures_common import add_menu, layout, no_data
from analysis.styles import display_name, queue_colour

MAX_LINKS = 8
MAX_QUEUES = 12
MAX_SERIES_POINTS = 1500
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#17becf"]


def _thin(frame, value, how):
    if len(frame) <= MAX_SERIES_POINTS:
        return frame["time_us"].to_numpy(), frame[value].to_numpy()
    edges = np.linspace(frame["time_us"].min(), frame["time_us"].max(), MAX_SERIES_POINTS + 1)
    bins = pd.cut(frame["time_us"], edges, include_lowest=True, labels=False)
    grouped = frame.groupby(bins)
    return grouped["time_us"].mean().to_numpy(), grouped[value].agg(how).to_numpy()


def sample_interval(frame, keys):
    """Median spacing of consecutive samples of one series (None if unknown)."""
    gaps = frame.sort_values("time_us").groupby(keys)["time_us"].diff()
    gaps = gaps[gaps > 0]
    return float(gaps.median()) if len(gaps) else None


def with_idle_gaps(x, y, interval):
    """(x, y) with zeros where samples are missing for more than 1.5 intervals."""
    if interval is None or len(x) < 2:
        return x, y
    out_x, out_y = [x[0]], [y[0]]
    for i in range(1, len(x)):
        if x[i] - x[i - 1] > 1.5 * interval:
            out_x += [x[i - 1] + interval, x[i] - interval]
            out_y += [0.0, 0.0]
        out_x.append(x[i])
        out_y.append(y[i])
    return np.array(out_x), np.array(out_y)


def link_series(links):
    """(throughput per link and time, backlog per link, queue and time) frames."""
    links = links.assign(queue=links["queue"].fillna(-1))
    throughput = (links.groupby(["link", "time_us"], sort=True)["throughput_bps"]
                  .sum(min_count=1).reset_index())
    backlog = links.dropna(subset=["backlog_bytes"])
    return throughput, backlog


def link_figure(run):
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("throughput per link (Gbit/s)",
                                        "backlog per queue (KB)"))
    groups, total_links = [], 0
    for name, results in run.schedulers.items():
        indices = []
        throughput, backlog = link_series(results.links)
        interval = sample_interval(throughput, "link")
        total_links = max(total_links, throughput["link"].nunique())
        busiest = (throughput.groupby("link")["throughput_bps"].mean()
                   .sort_values(ascending=False).index[:MAX_LINKS])
        for i, link in enumerate(busiest):
            series = throughput[throughput["link"] == link].sort_values("time_us")
            x, y = with_idle_gaps(*_thin(series, "throughput_bps", "mean"), interval)
            indices.append(len(fig.data))
            fig.add_trace(go.Scatter(x=x / 1000, y=y / 1e9, mode="lines", name=link,
                                     legendgroup=link,
                                     line={"color": _PALETTE[i % len(_PALETTE)]}),
                          row=1, col=1)
        peaks = (backlog.groupby(["link", "queue"])["backlog_bytes"].max()
                 .sort_values(ascending=False))
        for (link, queue) in peaks[peaks > 0].index[:MAX_QUEUES]:
            series = backlog[(backlog["link"] == link) & (backlog["queue"] == queue)]
            x, y = with_idle_gaps(*_thin(series.sort_values("time_us"), "backlog_bytes", "max"),
                                  interval)
            label = f"{link} Q{int(queue)}" if queue >= 0 else link
            indices.append(len(fig.data))
            fig.add_trace(go.Scatter(x=x / 1000, y=y / 1000, mode="lines", name=label,
                                     line={"color": queue_colour(max(queue, 0)),
                                           "width": 1.5}), row=2, col=1)
        groups.append((display_name(name), indices))
    layout(fig, f"Link throughput and queue backlog (busiest {MAX_LINKS} of "
                f"{total_links} links, queues with the largest backlog; menu: scheduler)",
           height=640)
    fig.update_xaxes(title_text="time since the experiment's start (ms)", row=2, col=1)
    if not any(indices for _, indices in groups):
        return no_data(fig, "no samples in links.csv")
    return add_menu(fig, groups)

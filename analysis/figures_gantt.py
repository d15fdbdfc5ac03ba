"""Gantt view of one request's flows under each scheduler (menu: scheduler
and colouring by stage or by queue).

Each flow is a row: a pale bar from ready to start (waiting for the sender),
then its transfer from start to end cut into segments at its queue changes
(queue_changes.csv), coloured by the flow's stage or by the queue each
segment ran in.  Markers show promotions, demotions, moves to the scavenger
queue and pacing changes; dotted lines the request's first token and its
TTFT deadline.
"""

import math

import pandas as pd
import plotly.graph_objects as go

from analysis.figures_common import add_menu, layout, no_data
from analysis.schema import STAGES
from analysis.styles import STAGE_COLOURS, display_name, queue_colour

MAX_ROWS = 150
_MARKERS = {"promotion": ("triangle-up", "#000000"), "demotion": ("triangle-down", "#555555"),
            "scavenger": ("x", "#000000"), "pace": ("circle-open", "#333333")}


def choose_request(run):
    """The request with the most promotions over all schedulers (then the most
    flows, then the smallest id): the one whose Gantt shows the most."""
    promotions, flows = {}, {}
    for results in run.schedulers.values():
        for rid, count in results.flows["request_id"].value_counts().items():
            flows[rid] = max(flows.get(rid, 0), int(count))
        changes = results.queue_changes
        promoted = changes[changes["reason"] == "promotion"]
        owner = promoted["flow_id"].map(results.flows.set_index("flow_id")["request_id"])
        for rid, count in owner.value_counts().items():
            promotions[rid] = promotions.get(rid, 0) + int(count)
    if not flows:
        return None
    return min(flows, key=lambda rid: (-promotions.get(rid, 0), -flows[rid], str(rid)))


def _segments(flow, changes):
    """[(start, end, queue)] of one flow's transfer, cut at its queue changes."""
    start, end = flow.start_us, flow.end_us
    if pd.isna(start) or pd.isna(end):
        return []
    queue = flow.queue_initial
    cuts = []
    for change in changes.itertuples():
        if change.time_us <= start:
            queue = change.new_queue
        elif change.time_us < end:
            cuts.append((change.time_us, change.new_queue))
    out, at = [], start
    for time, new_queue in cuts:
        out.append((at, time, queue))
        at, queue = time, new_queue
    out.append((at, end, queue))
    return [(a, b, -1 if pd.isna(q) else int(q)) for a, b, q in out]


def _bar(rows, name, colour, opacity=1.0, showlegend=True):
    return go.Bar(orientation="h", y=[r[0] for r in rows], base=[r[1] for r in rows],
                  x=[r[2] for r in rows], hovertext=[r[3] for r in rows], hoverinfo="text",
                  name=name, marker_color=colour, opacity=opacity, showlegend=showlegend)


def _scheduler_traces(results, request_id, t0):
    flows = results.flows[results.flows["request_id"] == request_id]
    flows = flows.sort_values(["ready_us", "start_us", "flow_id"], kind="stable").head(MAX_ROWS)
    changes = results.queue_changes
    changes = changes[changes["flow_id"].isin(flows["flow_id"])].sort_values("time_us",
                                                                             kind="stable")
    by_flow = dict(tuple(changes.groupby("flow_id", sort=False)))
    empty = changes.iloc[0:0]
    waiting, by_stage, by_queue, marks = [], {}, {}, {}
    for flow in flows.itertuples():
        label = f"{flow.flow_id} ({flow.stage})"
        layer = "" if pd.isna(flow.layer) else f" layer {flow.layer}"
        info = (f"{flow.flow_id}<br>{flow.stage}{layer}<br>{flow.src} -> "
                f"{flow.dst}, {flow.bytes} B<br>status {flow.status} {flow.reason}")
        if not pd.isna(flow.ready_us) and not pd.isna(flow.start_us) \
                and flow.start_us > flow.ready_us:
            waiting.append((label, (flow.ready_us - t0) / 1000,
                            (flow.start_us - flow.ready_us) / 1000, info + "<br>waiting"))
        flow_changes = by_flow.get(flow.flow_id, empty)
        for a, b, queue in _segments(flow, flow_changes):
            row = (label, (a - t0) / 1000, (b - a) / 1000,
                   f"{info}<br>queue {queue}: {(a - t0) / 1000:.3f}-{(b - t0) / 1000:.3f} ms")
            by_stage.setdefault(flow.stage, []).append(row)
            by_queue.setdefault(queue, []).append(row)
        for change in flow_changes.itertuples():
            if change.reason in _MARKERS:
                marks.setdefault(change.reason, []).append(
                    (label, (change.time_us - t0) / 1000,
                     f"{change.reason}: Q{change.old_queue} -> Q{change.new_queue}"))
    common = []
    if waiting:
        common.append(_bar(waiting, "waiting (ready to start)", "#cccccc", 0.6))
    for reason, points in marks.items():
        symbol, colour = _MARKERS[reason]
        common.append(go.Scatter(x=[p[1] for p in points], y=[p[0] for p in points],
                                 mode="markers", name=reason, hovertext=[p[2] for p in points],
                                 hoverinfo="text",
                                 marker={"symbol": symbol, "size": 10, "color": colour}))
    stage_traces = [_bar(by_stage[s], s, STAGE_COLOURS.get(s, "#999999"))
                    for s in STAGES if s in by_stage]
    queue_traces = [_bar(by_queue[q], f"Q{q}" if q >= 0 else "queue unknown",
                         queue_colour(max(q, 0))) for q in sorted(by_queue)]
    return common, stage_traces, queue_traces, len(flows)


def _request_lines(request, t0, rows):
    lines = []
    if request is None or not rows:
        return lines
    ttft, deadline = request.get("ttft_us"), request.get("deadline_us")
    if ttft is not None and not math.isnan(ttft):
        lines.append(("first token", (request["arrival_us"] + ttft - t0) / 1000, "#000000"))
    if deadline is not None and not math.isnan(deadline):
        lines.append(("TTFT deadline", (deadline - t0) / 1000, "#d62728"))
    return [go.Scatter(x=[x, x], y=[rows[0], rows[-1]], mode="lines", name=name,
                       line={"dash": "dot", "color": colour}) for name, x, colour in lines]


def gantt_figure(run, request_id=None):
    request_id = request_id if request_id is not None else choose_request(run)
    fig = go.Figure()
    title = f"Flows of request {request_id}"
    if request_id is None:
        layout(fig, "Flows of one request")
        return no_data(fig, "no flows in this run")
    groups, max_rows = [], 0
    for name, results in run.schedulers.items():
        requests = results.requests.set_index("request_id")
        request = requests.loc[request_id].to_dict() if request_id in requests.index else None
        flows = results.flows[results.flows["request_id"] == request_id]
        t0 = request["arrival_us"] if request else flows["ready_us"].min()
        if pd.isna(t0):
            t0 = 0.0
        common, stage_traces, queue_traces, rows = _scheduler_traces(results, request_id, t0)
        max_rows = max(max_rows, rows)
        labels = [f"{f.flow_id} ({f.stage})" for f in flows.sort_values(
            ["ready_us", "start_us", "flow_id"], kind="stable").head(MAX_ROWS).itertuples()]
        common += _request_lines(request, t0, labels)
        first = len(fig.data)
        fig.add_traces(common + stage_traces + queue_traces)
        common_ids = list(range(first, first + len(common)))
        stage_ids = list(range(first + len(common), first + len(common) + len(stage_traces)))
        queue_ids = list(range(stage_ids[-1] + 1 if stage_ids else first + len(common),
                               len(fig.data)))
        groups.append((f"{display_name(name)}: by stage", common_ids + stage_ids))
        groups.append((f"{display_name(name)}: by queue", common_ids + queue_ids))
    if max_rows >= MAX_ROWS:
        title += f" (first {MAX_ROWS} flows by ready time)"
    layout(fig, title + " (menu: scheduler and colouring)",
           xaxis="time since the request's arrival (ms)",
           height=min(2400, 220 + 22 * max(max_rows, 4)), barmode="overlay")
    fig.update_yaxes(autorange="reversed", type="category")
    if max_rows == 0:
        return no_data(fig, f"request {request_id} has no flows")
    return add_menu(fig, groups)

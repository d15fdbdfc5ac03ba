"""The default workload is in the regime where network scheduling matters.

A small fluid model replays it: compute nodes are timers, flows share each
host's 100 Gbit/s uplink and downlink (one non-blocking ToR), either max-min
fairly or by strict priority of their request's arrival (FIFO across
requests).  If communication were a minor part of TTFT both would meet the
same SLOs; here they must not.
"""

import heapq

import pytest

import traces
from tests.test_traces_support import DEFAULT_WORKLOAD
from traces.model import FlowNode

RATE_BPS = 100e9


def fluid_ttfts(trace, policy):
    """Request id -> TTFT (us) under ``policy`` "fair" or "fifo"."""
    nodes, requests = trace.nodes, trace.request_map()
    index = {n.id: i for i, n in enumerate(nodes)}
    waiting = [len(n.deps) for n in nodes]
    children = [[] for _ in nodes]
    for i, node in enumerate(nodes):
        for dep in node.deps:
            children[index[dep]].append(i)
    end, timers, active, now = {}, [], {}, 0.0

    def start(i, t):
        node = nodes[i]
        begin = max(t, requests[node.request_id].arrival_us)
        if isinstance(node, FlowNode):
            heapq.heappush(timers, (begin, i, "send"))
        else:
            heapq.heappush(timers, (begin + node.duration_us, i, "done"))

    def finish(i, t):
        end[i] = t
        for child in children[i]:
            waiting[child] -= 1
            if waiting[child] == 0:
                start(child, t)

    for i, count in enumerate(waiting):
        if count == 0:
            start(i, 0.0)
    while timers or active:
        rates = _rates(nodes, requests, list(active), policy)
        step = min([active[f] / rates[f] for f in active if rates[f] > 0] +
                   [timers[0][0] - now if timers else float("inf")])
        now += step
        for f in list(active):
            active[f] -= rates[f] * step
            if active[f] <= 1e-9:
                del active[f]
                finish(f, now)
        while timers and timers[0][0] <= now + 1e-9:
            _, i, what = heapq.heappop(timers)
            if what == "send":
                active[i] = nodes[i].bytes * 8.0            # bits; rates are bit/us
            else:
                finish(i, now)
    return {r.id: end[index[r.terminal]] - r.arrival_us for r in trace.requests}


def _rates(nodes, requests, flows, policy):
    """bit/us for each active flow: max-min fair, or strict priority by arrival."""
    links = lambda f: (("up", nodes[f].src), ("down", nodes[f].dst))
    used, rates = {}, {}
    capacity = RATE_BPS / 1e6
    if policy == "fifo":
        for f in sorted(flows, key=lambda f: (requests[nodes[f].request_id].arrival_us, f)):
            rates[f] = max(0.0, min(capacity - used.get(link, 0.0) for link in links(f)))
            for link in links(f):
                used[link] = used.get(link, 0.0) + rates[f]
        return rates
    left = set(flows)
    while left:                                        # progressive filling
        sharing = {}
        for f in left:
            for link in links(f):
                sharing.setdefault(link, []).append(f)
        link = min(sharing, key=lambda k: (capacity - used.get(k, 0.0)) / len(sharing[k]))
        share = (capacity - used.get(link, 0.0)) / len(sharing[link])
        for f in sharing[link]:
            rates[f] = share
            left.discard(f)
            for other in links(f):
                used[other] = used.get(other, 0.0) + share
    return rates


def attainment(trace, policy):
    ttft = fluid_ttfts(trace, policy)
    return sum(ttft[r.id] <= r.ttft_slo_us for r in trace.requests) / len(trace.requests)


def test_default_workload_separates_schedulers():
    trace = traces.load_trace(DEFAULT_WORKLOAD)
    fair, fifo = attainment(trace, "fair"), attainment(trace, "fifo")
    assert fair < 0.9 and fifo - fair >= 0.25, (fair, fifo)
    # With 4x less load most requests meet their SLO under either policy.
    light = traces.scale_trace_rate(trace, 0.25)
    assert attainment(light, "fair") >= 0.75 and attainment(light, "fifo") >= 0.9


@pytest.mark.parametrize("policy", ["fair", "fifo"])
def test_fluid_ttft_never_beats_isolated(policy):
    trace = traces.load_trace(DEFAULT_WORKLOAD)
    isolated = traces.isolated_times(trace)
    for rid, ttft in fluid_ttfts(trace, policy).items():
        assert ttft >= isolated[rid].ttft_us - 1e-6

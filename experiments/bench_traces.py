"""Workloads that measure the replay engine itself (``run_emulation.py bench``).

Each is a small trace in real units for an N-host fabric (hosts ``h1..hN``):

* :func:`chain`: flows one after another, alternately announced by the same
  agent (the previous flow ended where the next starts) and by another one
  (the notice crosses agents): the isolated start lag.
* :func:`burst`: many flows ready at the same instant: how long until all send.
* :func:`all_to_all` and :func:`ring_all_reduce`: repeated collectives whose
  completion time is compared with the line-rate ideal.
"""

from traces.model import ComputeNode, FlowNode, Request
from traces.trace import Trace

SLO_US = 1e9      # no deadline pressure: these measure the engine, not a policy


def _hosts(n):
    return [f"h{i + 1}" for i in range(n)]


def _request(rid, hosts, terminal):
    return Request(rid, 0.0, 1024, 1, ttft_slo_us=SLO_US, prefill_hosts=[hosts[0]],
                   decode_host=hosts[-1], terminal=terminal)


def _close_iteration(rid, names, waits_for, gap_us, nodes, requests):
    """Each rank's node ``gap_us`` after what it ``waits_for``, and the
    iteration's request; returns {rank: that node}, what the next one waits for."""
    done = {}
    for h in names:
        node = ComputeNode(f"{rid}.{h}.next", rid, h, gap_us, deps=waits_for[h])
        nodes.append(node)
        done[h] = node.id
    requests.append(_request(rid, names, done[names[-1]]))
    return done


def chain(hosts=8, flows=40, size=100_000):
    """``flows`` flows in sequence; every other one starts on a host that did
    not receive the previous one, so its start waits for an agent-to-agent notice."""
    names = _hosts(hosts)
    nodes, src = [], 0
    for i in range(flows):
        dst = (src + 1) % hosts
        deps = [nodes[-1].id] if nodes else []
        nodes.append(FlowNode(f"c{i}", "chain", names[src], names[dst], size, "other", deps=deps))
        src = dst if i % 2 == 0 else (dst + 2) % hosts   # odd steps: a different host starts
    return Trace(requests=[_request("chain", names, nodes[-1].id)], nodes=nodes,
                 source="experiments/bench_traces.py chain")


def burst(hosts=8, per_host=8, size=1_000_000):
    """``hosts * per_host`` flows, all ready at time zero, spread over every destination."""
    names = _hosts(hosts)
    nodes = []
    for s in range(hosts):
        for k in range(per_host):
            d = (s + 1 + k % (hosts - 1)) % hosts
            nodes.append(FlowNode(f"b{s}.{k}", "burst", names[s], names[d], size, "collective",
                                  layer=0, label="all-to-all burst"))
    end = ComputeNode("burst.end", "burst", names[0], 0.0, deps=[n.id for n in nodes])
    return Trace(requests=[_request("burst", names, end.id)], nodes=nodes + [end],
                 source="experiments/bench_traces.py burst")


def all_to_all(hosts=8, per_rank=1_000_000, iterations=10, gap_us=50.0):
    """``iterations`` all-to-alls: each rank sends ``per_rank / hosts`` to every
    other rank (the rank's own share stays local); a rank starts the next one
    ``gap_us`` after it has received everything of the last."""
    names = _hosts(hosts)
    share = per_rank // hosts
    requests, nodes = [], []
    previous = {h: None for h in names}
    for it in range(iterations):
        rid = f"a2a{it}"
        flows = {h: [] for h in names}
        for s in names:
            for d in names:
                if s != d:
                    deps = [previous[s]] if previous[s] else []
                    flow = FlowNode(f"{rid}.{s}-{d}", rid, s, d, share, "collective", deps=deps,
                                    layer=0, label="all-to-all dispatch")
                    nodes.append(flow)
                    flows[d].append(flow.id)
        previous = _close_iteration(rid, names, flows, gap_us, nodes, requests)
    return Trace(requests=requests, nodes=nodes, source="experiments/bench_traces.py all_to_all")


def ring_all_reduce(hosts=8, size=8_000_000, iterations=5, gap_us=50.0):
    """``iterations`` ring all-reduces of ``size`` bytes: 2(N-1) steps in which
    every rank sends ``size / N`` to the next rank, a step starting once the
    rank received the previous one."""
    names = _hosts(hosts)
    chunk = size // hosts
    requests, nodes = [], []
    previous = {h: None for h in names}
    for it in range(iterations):
        rid = f"ar{it}"
        received = dict(previous)       # what each rank waits for before sending
        for step in range(2 * (hosts - 1)):
            sent = {}
            for r, s in enumerate(names):
                d = names[(r + 1) % hosts]
                deps = [received[s]] if received[s] else []
                flow = FlowNode(f"{rid}.s{step}.{s}", rid, s, d, chunk, "collective", deps=deps,
                                layer=0, label="ring all-reduce")
                nodes.append(flow)
                sent[d] = flow.id
            received = sent
        previous = _close_iteration(rid, names, {h: [received[h]] for h in names}, gap_us,
                                    nodes, requests)
    return Trace(requests=requests, nodes=nodes, source="experiments/bench_traces.py ring_all_reduce")


def collective_ideal_us(kind, hosts, rate_bps, per_rank=None, size=None):
    """Line-rate completion time of one collective (no latency, full duplex)."""
    if kind == "all_to_all":
        return (per_rank // hosts) * (hosts - 1) * 8 / rate_bps * 1e6
    return 2 * (hosts - 1) * (size // hosts) * 8 / rate_bps * 1e6

"""Bandwidth allocation of the fluid model: strict priority, max-min fair within a queue.

This is what ideal strict-priority switch queues plus fair TCP within each
queue converge to: queue 0 takes what it can use on every link, queue 1 the
max-min fair share of what is left, and so on.  Within a queue, progressive
filling raises every flow's rate together until a link saturates or a flow
hits its pacing cap; those flows freeze and the rest keep rising.
"""

from collections import defaultdict

_EPS = 1e-9


def allocate(flows, capacity):
    """Rates in bit/s for ``flows``, an iterable of ``(flow_id, queue, path,
    cap_bps or None)``, over links of ``capacity`` {link: bit/s}."""
    residual = dict(capacity)
    by_queue = defaultdict(list)
    for flow in flows:
        by_queue[flow[1]].append(flow)
    rates = {}
    for queue in sorted(by_queue):
        _fill(by_queue[queue], residual, capacity, rates)
    return rates


def _fill(flows, residual, capacity, rates):
    """Max-min fair rates for one queue's flows over the ``residual`` capacity.

    Flows with the same path and cap are interchangeable, so they are filled
    as one group of that many flows: the work grows with the number of
    distinct paths, not of flows (layer-wise P2D makes dozens per path).
    """
    members = defaultdict(list)
    for flow_id, _, path, cap in flows:
        members[(tuple(path), cap)].append(flow_id)
    level = {group: 0.0 for group in members}   # the rate of each flow of a group
    unfrozen = dict.fromkeys(members)             # ordered: the same result in every process
    load = defaultdict(int)                      # unfrozen flows on each link
    for group in members:
        for link in group[0]:
            load[link] += len(members[group])
    load = {link: count for link, count in load.items() if count}
    while unfrozen:
        step, limit = float("inf"), None
        for link, count in load.items():
            if residual[link] / count < step:
                step, limit = residual[link] / count, link
        for group in unfrozen:
            cap = group[1]
            if cap is not None and cap - level[group] < step:
                step, limit = cap - level[group], group
        step = max(step, 0.0)
        for group in unfrozen:
            level[group] += step
        full = set()
        for link, count in load.items():
            residual[link] = max(residual[link] - step * count, 0.0)
            if residual[link] <= _EPS * capacity[link]:
                full.add(link)
        if limit in residual:
            residual[limit] = 0.0  # the binding link: no rounding residue
            full.add(limit)
        frozen = [group for group in unfrozen
                  if group == limit or not full.isdisjoint(group[0])
                  or (group[1] is not None and level[group] >= group[1] * (1 - _EPS))]
        for group in frozen:
            del unfrozen[group]
            for link in group[0]:
                load[link] -= len(members[group])
                if not load[link]:
                    del load[link]      # no unfrozen flow left on it: never scanned again
    for group, flow_ids in members.items():
        for flow_id in flow_ids:
            rates[flow_id] = level[group]

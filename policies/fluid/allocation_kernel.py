"""The fluid allocation compiled (numba), over arrays the simulator keeps.

The same progressive filling as :func:`policies.fluid.allocation.allocate`
(strict priority across queues, max-min fair within one, pacing caps), on
flat arrays instead of dicts: every active flow is a *slot* with its queue,
its cap (``inf``: unpaced) and its path as link indices.  The simulator
calls it at every event that moves a rate, so its cost is the simulator's;
compiled, it is about two orders of magnitude faster than the dict version,
which stays as the readable reference the tests hold it to.

Within one queue every unfrozen flow sits at the same level (the *water*),
so a flow's rate is the water when it freezes.  One iteration finds the
smallest step that saturates a link or reaches a cap, raises the water by
it and freezes the flows that can rise no further: those of the links that
just filled (each link keeps its flows in a CSR list) and the capped ones
that reached their cap.  An iteration costs the links the queue touches
plus the capped flows; each flow is frozen once.
"""

import numpy as np
from numba import njit

EPS = 1e-9   # relative: a link with less than this share of its capacity left is full


@njit(cache=True, nogil=True)
def allocate_slots(active, queue, cap, hops, nhops, capacity, rates):  # pragma: no cover (compiled)
    """Write into ``rates[slot]`` the rate of every slot in ``active``.

    ``queue[slot]`` (0 is served first), ``cap[slot]`` (bit/s, inf: none),
    ``hops[slot, :nhops[slot]]`` the slot's link indices, ``capacity[link]``
    bit/s.
    """
    n = active.shape[0]
    if n == 0:
        return
    n_links = capacity.shape[0]
    residual = capacity.copy()
    queues = np.empty(n, np.int64)
    for i in range(n):
        queues[i] = queue[active[i]]
    order = np.argsort(queues, kind="mergesort")
    count = np.zeros(n_links, np.int64)     # unfrozen flows of this queue on each link
    full = np.zeros(n_links, np.bool_)      # saturated while filling this queue
    seen = np.zeros(n_links, np.bool_)
    touched = np.empty(n_links, np.int64)   # the links this queue's flows cross
    first = np.zeros(n_links + 1, np.int64)  # link -> its flows: members[first[l]:first[l + 1]]
    fill = np.zeros(n_links, np.int64)
    members = np.empty(int(nhops.max()) * n, np.int64)
    frozen = np.zeros(n, np.bool_)          # by position in ``order``
    capped = np.empty(n, np.int64)
    start = 0
    while start < n:
        level = queues[order[start]]
        end = start
        while end < n and queues[order[end]] == level:
            end += 1
        n_touched, n_capped = 0, 0
        for k in range(start, end):
            slot = active[order[k]]
            if cap[slot] < np.inf:
                capped[n_capped] = k
                n_capped += 1
            for h in range(nhops[slot]):
                link = hops[slot, h]
                count[link] += 1
                if not seen[link]:
                    seen[link] = True
                    touched[n_touched] = link
                    n_touched += 1
        # the flows of each link, contiguous (CSR), so a saturated link freezes its own
        total = 0
        for j in range(n_touched):
            link = touched[j]
            first[link], fill[link] = total, total
            total += count[link]
        for k in range(start, end):
            slot = active[order[k]]
            for h in range(nhops[slot]):
                link = hops[slot, h]
                members[fill[link]] = k
                fill[link] += 1
        water = 0.0
        unfrozen = end - start
        n_live = n_touched          # touched[:n_live]: links with rising flows
        while unfrozen > 0:
            step, limit_link, limit_flow = np.inf, -1, -1
            j = 0
            while j < n_live:
                link = touched[j]
                if count[link] == 0:    # every flow on it froze: drop it from the scans
                    n_live -= 1
                    touched[j], touched[n_live] = touched[n_live], link
                    continue
                if residual[link] / count[link] < step:
                    step, limit_link = residual[link] / count[link], link
                j += 1
            for c in range(n_capped):
                k = capped[c]
                if not frozen[k] and cap[active[order[k]]] - water < step:
                    step, limit_link, limit_flow = cap[active[order[k]]] - water, -1, k
            if step == np.inf:          # no link and no cap binds: nothing can be allocated
                step = 0.0
            step = max(step, 0.0)
            water += step
            for j in range(n_live):
                link = touched[j]
                residual[link] = max(residual[link] - step * count[link], 0.0)
            if limit_link >= 0:
                residual[limit_link] = 0.0  # the binding link: no rounding residue
            before = unfrozen
            for c in range(n_capped):
                k = capped[c]
                if not frozen[k] and (k == limit_flow or water >= cap[active[order[k]]] * (1 - EPS)):
                    unfrozen -= _freeze(k, active[order[k]], water, frozen, rates, hops, nhops, count)
            for j in range(n_live):
                link = touched[j]
                if count[link] > 0 and not full[link] and residual[link] <= EPS * capacity[link]:
                    full[link] = True
                    for m in range(first[link], fill[link]):
                        k = members[m]
                        if not frozen[k]:
                            unfrozen -= _freeze(k, active[order[k]], water, frozen, rates, hops,
                                                nhops, count)
            if unfrozen == before:      # unbounded flows (no path, no cap): leave them at the water
                for k in range(start, end):
                    if not frozen[k]:
                        unfrozen -= _freeze(k, active[order[k]], water, frozen, rates, hops, nhops,
                                            count)
        for j in range(n_touched):
            seen[touched[j]] = False
            full[touched[j]] = False
        start = end


@njit(cache=True, nogil=True, inline="always")
def _freeze(k, slot, water, frozen, rates, hops, nhops, count):  # pragma: no cover (compiled)
    frozen[k] = True
    rates[slot] = water
    for h in range(nhops[slot]):
        count[hops[slot, h]] -= 1
    return 1


@njit(cache=True, nogil=True)
def advance_slots(active, left, rate, dt):  # pragma: no cover (compiled)
    """``dt`` seconds pass: each active slot sends ``rate x dt`` of its bytes left."""
    for i in range(active.shape[0]):
        slot = active[i]
        left[slot] = max(left[slot] - rate[slot] * (dt / 8), 0.0)


@njit(cache=True, nogil=True)
def next_finish(active, left, rate, tolerance):  # pragma: no cover (compiled)
    """(seconds from now to the earliest finish, the slots finishing within
    ``tolerance`` of it, ascending); inf and none when nothing moves."""
    best = np.inf
    for i in range(active.shape[0]):
        slot = active[i]
        if rate[slot] > 0:
            best = min(best, left[slot] * 8 / rate[slot])
    finishing = []
    if best < np.inf:
        for i in range(active.shape[0]):
            slot = active[i]
            if rate[slot] > 0 and left[slot] * 8 / rate[slot] <= best + tolerance:
                finishing.append(slot)
    out = np.array(finishing, dtype=np.int64) if finishing else np.empty(0, np.int64)
    out.sort()
    return best, out

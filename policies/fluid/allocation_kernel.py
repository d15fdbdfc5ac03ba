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
it and freezes the flows that can rise no further; it costs the links the
queue touches plus its unfrozen flows times their hops.
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
    residual = capacity.copy()
    queues = np.empty(n, np.int64)
    for i in range(n):
        queues[i] = queue[active[i]]
    order = np.argsort(queues, kind="mergesort")
    count = np.zeros(capacity.shape[0], np.int64)     # unfrozen flows of this queue per link
    seen = np.zeros(capacity.shape[0], np.bool_)
    touched = np.empty(capacity.shape[0], np.int64)   # links this queue's flows cross
    frozen = np.zeros(n, np.bool_)                    # by position in ``order``
    start = 0
    while start < n:
        level = queues[order[start]]
        end = start
        while end < n and queues[order[end]] == level:
            end += 1
        n_touched = 0
        for k in range(start, end):
            slot = active[order[k]]
            for h in range(nhops[slot]):
                link = hops[slot, h]
                count[link] += 1
                if not seen[link]:
                    seen[link] = True
                    touched[n_touched] = link
                    n_touched += 1
        water = 0.0
        unfrozen = end - start
        while unfrozen > 0:
            step, limit_link, limit_flow = np.inf, -1, -1
            for j in range(n_touched):
                link = touched[j]
                if count[link] > 0 and residual[link] / count[link] < step:
                    step, limit_link = residual[link] / count[link], link
            for k in range(start, end):
                if not frozen[k] and cap[active[order[k]]] - water < step:
                    step, limit_link, limit_flow = cap[active[order[k]]] - water, -1, k
            if step == np.inf:          # no link and no cap binds: nothing can be allocated
                step = 0.0
            step = max(step, 0.0)
            water += step
            for j in range(n_touched):
                link = touched[j]
                if count[link] > 0:
                    residual[link] = max(residual[link] - step * count[link], 0.0)
            if limit_link >= 0:
                residual[limit_link] = 0.0  # the binding link: no rounding residue
            progressed = False
            for k in range(start, end):
                if frozen[k]:
                    continue
                slot = active[order[k]]
                stop = k == limit_flow or water >= cap[slot] * (1 - EPS)
                if not stop:
                    for h in range(nhops[slot]):
                        link = hops[slot, h]
                        if residual[link] <= EPS * capacity[link]:
                            stop = True
                            break
                if stop:
                    frozen[k] = True
                    unfrozen -= 1
                    progressed = True
                    rates[slot] = water
                    for h in range(nhops[slot]):
                        count[hops[slot, h]] -= 1
            if not progressed:          # unbounded flows (no path, no cap): leave them at the water
                for k in range(start, end):
                    if not frozen[k]:
                        slot = active[order[k]]
                        frozen[k] = True
                        rates[slot] = water
                        for h in range(nhops[slot]):
                            count[hops[slot, h]] -= 1
                unfrozen = 0
        for j in range(n_touched):
            seen[touched[j]] = False
        start = end

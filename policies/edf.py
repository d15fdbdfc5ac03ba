"""``edf``: earlier request deadline first.

Active requests (those with an unfinished flow) are ranked by their TTFT
deadline, ties sharing a rank; rank r goes to queue ``min(r, N-1)`` so the
N-1 most urgent deadlines get a queue each and everything later, or without
a deadline, shares the last one.  Ranks only change when a request appears,
disappears or changes deadline, so the ranking is updated on those arrivals
and completions, at once (which also covers the periodic tick), and ticks
cost nothing.  An update only touches the requests in the first N ranks:
beyond them everything is in the last queue anyway.

Validated by: ``tests/test_policies_baselines.py``; the default experiment
``tests/test_experiment_root.py`` (no fluid scenario or replay test of its
own yet).
"""

from bisect import bisect_left, insort

from policies.base import ARRIVAL, COMPLETION, Decision, Policy, move

_ABSENT = object()


class EdfPolicy(Policy):
    name = "edf"
    description = "earlier request deadline first: queue by deadline rank among active requests"

    def __init__(self, params=None, num_queues=8):
        super().__init__(params, num_queues)
        self._deadline = {}    # active request -> its deadline (None: none)
        self._holders = {}     # deadline -> requests with it
        self._distinct = []    # the distinct deadlines, ascending
        self._queue = {}       # active request -> its queue
        self._moved = set()    # requests whose queue changed since the last reevaluate

    def assign(self, flow, view):
        self._update(view, flow.request_id)
        return Decision(self._queue[flow.request_id], "initial")

    def reevaluate(self, view, trigger):
        if trigger.kind == COMPLETION:
            self._update(view, trigger.request_id)
        if trigger.kind not in (ARRIVAL, COMPLETION) or not self._moved:
            return {}
        changes = {}
        for request_id in sorted(self._moved):     # the same order in every process
            queue = self._queue.get(request_id)
            for flow in view.flows_of_request(request_id):
                if flow.queue is not None and queue != flow.queue:
                    changes[flow.flow_id] = Decision(queue, move(flow.queue, queue))
        self._moved = set()
        return changes

    def queue_of(self, deadline):
        last = self.num_queues - 1
        return last if deadline is None else min(bisect_left(self._distinct, deadline), last)

    def _update(self, view, request_id):
        """Re-rank after ``request_id`` appeared, left or changed deadline."""
        active = request_id in view.active_requests()
        new = view.request_deadline(request_id) if active else _ABSENT
        old = self._deadline.get(request_id, _ABSENT)
        if new == old:
            return
        first = len(self._distinct)   # the first rank position that shifts
        if old is not _ABSENT:
            del self._deadline[request_id]
            if old is not None:
                first = min(first, self._release(request_id, old))
        if new is not _ABSENT:
            self._deadline[request_id] = new
            if new is not None:
                first = min(first, self._hold(request_id, new))
        if not active:
            self._queue.pop(request_id, None)
        touched = {request_id} if active else set()
        for deadline in self._distinct[first:self.num_queues]:
            touched |= self._holders[deadline]
        for r in touched:
            queue = self.queue_of(self._deadline[r])
            if self._queue.get(r) != queue:
                self._queue[r] = queue
                self._moved.add(r)

    def _hold(self, request_id, deadline):
        if deadline not in self._holders:
            self._holders[deadline] = set()
            insort(self._distinct, deadline)
        self._holders[deadline].add(request_id)
        return bisect_left(self._distinct, deadline)

    def _release(self, request_id, deadline):
        holders = self._holders[deadline]
        holders.discard(request_id)
        position = bisect_left(self._distinct, deadline)
        if not holders:
            del self._holders[deadline]
            del self._distinct[position]
        return position

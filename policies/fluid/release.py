"""When flows and layer-progress events start: at their time, after their dependencies.

Flows and progress events are nodes of one dependency graph, keyed by flow
id or event id (one namespace).  A node is released at ``max(time,
finish(dep) + lag)`` over its dependencies, in order of time, then kind
(progress before flows, so a flow arriving with a layer report sees it),
then insertion.
"""

import heapq
import itertools

from common.errors import UserError

TIME_EPS = 1e-12   # seconds; events closer than this are simultaneous


class ReleaseQueue:
    def __init__(self):
        self._heap = []
        self._order = itertools.count()
        self._nodes = {}       # node id -> (time, after, rank, payload)
        self._unmet = {}       # node id -> dependencies not yet finished
        self._dependents = {}  # node id -> ids of nodes waiting for it
        self._finished = {}    # node id -> finish time

    def add(self, node_id, time, after, rank, payload):
        if node_id in self._nodes:
            raise UserError(f"fluid node {node_id!r}", "duplicate flow or event id")
        if time < 0:
            raise UserError(f"fluid node {node_id!r}", "times start at 0")
        self._nodes[node_id] = (time, after, rank, payload)

    def start(self):
        """Check dependencies and queue every node that has none."""
        for node_id, (time, after, rank, payload) in self._nodes.items():
            for dep, _ in after:
                if dep not in self._nodes:
                    raise UserError(f"fluid node {node_id!r}", f"depends on unknown {dep!r}")
                self._dependents.setdefault(dep, []).append(node_id)
            self._unmet[node_id] = len(after)
            if not after:
                self._push(node_id, time)

    def next_time(self):
        return self._heap[0][0] if self._heap else float("inf")

    def pop_due(self, now):
        """Payloads of the nodes released by ``now``, in release order."""
        due = []
        while self._heap and self._heap[0][0] <= now + TIME_EPS:
            due.append(heapq.heappop(self._heap)[-1])
        return due

    def finished(self, node_id, time):
        """A node finished: release the nodes that were waiting only for it."""
        self._finished[node_id] = time
        for waiting in self._dependents.get(node_id, ()):
            self._unmet[waiting] -= 1
            if self._unmet[waiting] == 0:
                earliest, after = self._nodes[waiting][:2]
                ready = max([earliest] + [self._finished[d] + lag for d, lag in after])
                self._push(waiting, ready)

    def finish_time(self, node_id):
        """When ``node_id`` finished (an event: when it was released); None if not yet."""
        return self._finished.get(node_id)

    def never_released(self):
        """Ids of nodes still waiting for dependencies (a cycle, or a cut-off run)."""
        return [n for n, unmet in self._unmet.items() if unmet > 0]

    def _push(self, node_id, time):
        _, _, rank, payload = self._nodes[node_id]
        heapq.heappush(self._heap, (time, rank, next(self._order), payload))

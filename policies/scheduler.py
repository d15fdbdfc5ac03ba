"""The coordinator between a policy and a data plane.

Both data planes (the emulator's controller and the fluid simulator) feed
events into a :class:`Scheduler` and enforce the :class:`QueueChange` values
it returns; the scheduler keeps the view, calls the policy exactly the same
way for both, applies decisions to the flow records and logs every change
with its timestamp.
"""

from dataclasses import dataclass
from typing import Hashable

from policies.base import ARRIVAL, COMPLETION, PROGRESS, TICK, Trigger
from policies.view import SchedulerView


@dataclass(frozen=True, slots=True)
class QueueChange:
    """One logged decision: at ``time`` flow ``flow_id`` moved ``old_queue`` ->
    ``new_queue`` (``old_queue`` None on arrival), now paced at ``pace_bps``,
    with the sender's own demotions ``demote_at`` still to come."""

    time: float
    flow_id: Hashable
    request_id: Hashable
    old_queue: int | None
    new_queue: int
    reason: str
    pace_bps: float | None = None
    demote_at: tuple = ()


class Scheduler:
    """Runs one policy over one view; every event method returns the changes
    the data plane must enforce now, in order.

    ``log`` keeps every change in ``self.changes``; ``on_change`` (optional)
    is called with each change as it is made.
    """

    def __init__(self, policy, link_rates, *, log=True, on_change=None):
        self.policy = policy
        self.view = SchedulerView(link_rates)
        self.changes = [] if log else None
        self._on_change = on_change

    def fit(self, flow_sizes, stages=None):
        """Let the policy learn the trace's flow sizes before the run."""
        self.policy.fit(list(flow_sizes), None if stages is None else list(stages))

    def declare(self, flows):
        """Hand the run's flows (FlowState records, an iterable, consumed only
        if the policy plans ahead) to the policy before they start."""
        if self.policy.plans_ahead:
            self.policy.declare(list(flows))

    def add_flow(self, flow, now):
        """Register a flow; its initial decision comes first in the result."""
        self._advance(now)
        if flow.start_time is None:
            flow.start_time = now
        self.view.add(flow)
        out = [self._apply(flow, self.policy.assign(flow, self.view))]
        out += self._reevaluate(Trigger(ARRIVAL, flow.flow_id, flow.request_id))
        return out

    def complete_flow(self, flow_id, now):
        self._advance(now)
        flow = self.view.remove(flow_id)
        return self._reevaluate(Trigger(COMPLETION, flow_id, flow.request_id))

    def report_progress(self, request_id, layer, now, members=()):
        """A request's prefill started executing ``layer``; stale reports are ignored.

        For a batch, ``request_id`` is the batch and ``members`` its requests:
        the batch's layer is each of theirs too (their own KV fetches wait
        for it), so each is re-evaluated as if it had reported.
        """
        self._advance(now)
        out = []
        for unit in (request_id, *members):
            if self.view.set_progress(unit, layer):
                out += self._reevaluate(Trigger(PROGRESS, request_id=unit))
        return out

    def report_bytes(self, flow_id, bytes_sent):
        """Update a flow's bytes sent; policies see it at the next event."""
        self.view.flows[flow_id].bytes_sent = bytes_sent

    def sender_demoted(self, flow_id, queue, now):
        """The sender applied its byte-triggered demotion of ``flow_id`` to
        ``queue`` (the decision's ``demote_at``).  Logged and applied to the
        view; the data plane has already enforced it, so the change returned
        is for the record only, and policies are not re-evaluated.  A report
        about a flow that has left, or that a later decision superseded, is
        ignored (returns None).
        """
        self._advance(now)
        flow = self.view.flows.get(flow_id)
        if flow is None or queue not in [q for _, q in flow.demote_at]:
            return None
        rest = tuple((b, q) for b, q in flow.demote_at if q > queue)
        change = QueueChange(now, flow_id, flow.request_id, flow.queue, queue, "demotion",
                             flow.pace_bps, rest)
        flow.queue, flow.demote_at = queue, rest
        self._log(change)
        return change

    def tick(self, now):
        self._advance(now)
        return self._reevaluate(Trigger(TICK))

    def forget_request(self, request_id):
        """Drop what the view and the policy keep about a finished request
        (every flow of it completed), to bound memory over long runs."""
        self.view.forget_request(request_id)
        self.policy.forget_request(request_id)

    def _advance(self, now):
        if now < self.view.now:
            raise ValueError(f"time went backwards: {now} < {self.view.now}")
        self.view.now = now

    def _reevaluate(self, trigger):
        decisions = self.policy.reevaluate(self.view, trigger)
        out = []
        for flow_id, decision in decisions.items():
            change = self._apply(self.view.flows[flow_id], decision)
            if change is not None:
                out.append(change)
        return out

    def _apply(self, flow, decision):
        if not 0 <= decision.queue < self.policy.num_queues:
            raise ValueError(f"policy {self.policy.name} chose queue {decision.queue} "
                             f"of {self.policy.num_queues} for flow {flow.flow_id!r}")
        if decision.demote_at and decision.demote_at[-1][1] >= self.policy.num_queues:
            raise ValueError(f"policy {self.policy.name} plans a demotion to queue "
                             f"{decision.demote_at[-1][1]} of {self.policy.num_queues} "
                             f"for flow {flow.flow_id!r}")
        if (flow.queue == decision.queue and flow.pace_bps == decision.pace_bps
                and flow.demote_at == decision.demote_at):
            return None
        change = QueueChange(self.view.now, flow.flow_id, flow.request_id, flow.queue,
                             decision.queue, decision.reason, decision.pace_bps,
                             decision.demote_at)
        flow.queue, flow.pace_bps = decision.queue, decision.pace_bps
        flow.demote_at = decision.demote_at
        self._log(change)
        return change

    def _log(self, change):
        if self.changes is not None:
            self.changes.append(change)
        if self._on_change is not None:
            self._on_change(change)

"""The fluid flow-level simulator: the second data plane of the policies.

Flows are fluids over links: between two events every flow sends at a
constant rate given by :func:`~policies.fluid.allocation.allocate` (strict
priority across queues, max-min fair within one, capped by a pacing rate).
Events are flow arrivals, flow completions, a sender's byte-triggered
demotions (``Decision.demote_at``), layer-progress reports and the periodic
tick; at each, the simulator drives the policy through the same
:class:`~policies.scheduler.Scheduler` calls the emulator's
controller makes (assign + re-evaluate on arrival, re-evaluate on
completion, progress and tick), then re-allocates if anything moved.

Simultaneous events are handled completions first, then sender demotions,
then progress reports, then arrivals, then the tick.  Unlike the emulator, decisions take effect
instantly (no decision-to-rule delay) and queues are ideal.

Every flow of the run has a *slot* in flat arrays (queue, cap, path as link
indices, bytes left, rate), and the active slots are a packed array, so
advancing time, finding the next completion and re-allocating
(:mod:`~policies.fluid.allocation_kernel`, compiled) cost no Python work
per active flow.  A flow's ``bytes_sent`` is read from its slot when a
policy asks for it.
"""

import math

import numpy as np

from common.errors import UserError
from policies.fluid.model import FlowResult, FluidResult, RequestResult
from policies.fluid.release import TIME_EPS, ReleaseQueue
from policies.base import FlowState
from policies.scheduler import Scheduler

_PROGRESS, _FLOW = 0, 1   # release ranks: progress reports before arrivals


def simulate(links, flows, progress=(), *, policy, tick="policy", request_arrivals=None,
             until=None, fit=True):
    """Run ``flows`` (:class:`FluidFlow`) and ``progress`` (:class:`LayerProgress`)
    over ``links`` {directed link id: bit/s} under ``policy``.

    ``tick`` is the re-evaluation period in seconds: by default the
    policy's own (:attr:`Policy.tick`), None for events only;
    ``request_arrivals`` {request id: time} gives TTFTs their origin;
    ``until`` stops the run early; ``fit`` hands the flow sizes to the
    policy first, as the emulator's runner does.
    """
    return FluidSimulator(links, flows, progress, policy, tick, request_arrivals).run(until, fit)


class FluidSimulator:
    def __init__(self, links, flows, progress, policy, tick="policy", request_arrivals=None):
        if tick == "policy":
            tick = policy.tick
        if tick is not None and tick <= 0:
            raise UserError("tick", "must be positive (or None for no ticks)")
        for link, rate in links.items():
            if rate <= 0:
                raise UserError(f"link {link!r}", "rate must be positive")
        self.links = dict(links)
        self.flows = list(flows)
        self.tick = tick
        self.request_arrivals = dict(request_arrivals or {})
        self.scheduler = Scheduler(policy, self.links, on_change=self._record)
        self.results = {f.flow_id: FlowResult(f.flow_id, f.request_id, f.stage, f.size_bytes,
                                              f.deadline) for f in self.flows}
        self.release = ReleaseQueue()
        for f in self.flows:
            self.release.add(f.flow_id, f.arrival, f.after, _FLOW, f)
        self._event_ids = []
        for i, event in enumerate(progress):
            node = event.event_id if event.event_id is not None else ("progress", i)
            self.release.add(node, event.time, event.after, _PROGRESS, (node, event))
            self._event_ids.append(node)
        self.now = 0.0
        self.active = {}    # flow id -> FlowState
        self._slots = _Slots(self.flows, self.links)
        self._next_tick = 1
        self._moved = False

    def run(self, until=None, fit=True):
        if fit:
            self.scheduler.fit([f.size_bytes for f in self.flows], [f.stage for f in self.flows])
        self.scheduler.declare(
            FlowState(f.flow_id, f.request_id, f.stage, f.size_bytes, layer=f.layer,
                      deadline=f.deadline, src=f.src, dst=f.dst, path=f.path) for f in self.flows)
        self.release.start()
        while True:
            finish_at, finishing = self._next_completions()
            demote_time, demoting = self._slots.next_demotion(self.now)
            t = min(finish_at, demote_time, self.release.next_time(), self._tick_time())
            if t == math.inf:
                break
            if until is not None and t > until:
                self._advance(until)
                return self._result()
            self._advance(t)
            self._moved = False
            if finish_at <= t + TIME_EPS:
                for flow_id in finishing:
                    self._complete(flow_id)
            if demote_time <= t + TIME_EPS:
                # fire the slots chosen with the time, not re-judged from bytes:
                # far into a run a step below float spacing never moves ``now``
                for slot, queue in self._slots.fire(demoting):
                    if self.scheduler.sender_demoted(self.flows[slot].flow_id, queue, t) is None:
                        self._slots.plan(slot, ())     # superseded: nothing left to fire
            self._release_due()
            if self._tick_time() <= t + TIME_EPS:
                self.scheduler.tick(t)
                self._next_tick += 1
            if self._moved:
                self._allocate()
        stuck = self.release.never_released()
        if stuck:
            raise UserError("fluid scenario", "nodes wait on a dependency cycle: "
                                              + ", ".join(map(repr, stuck[:5])))
        return self._result()

    # -- events ------------------------------------------------------------------

    def _release_due(self):
        # Loop: a node finishing now (a progress report) can release others now.
        due = self.release.pop_due(self.now)
        while due:
            for item in due:
                if isinstance(item, tuple):
                    node, event = item
                    if event.layer is not None:       # None: a plain event (a compute node)
                        self.scheduler.report_progress(event.request_id, event.layer, self.now,
                                                       event.members)
                    self.release.finished(node, self.now)
                else:
                    self._arrive(item)
            due = self.release.pop_due(self.now)

    def _arrive(self, f):
        slot = self._slots.index[f.flow_id]
        state = SlotFlowState(self._slots.left, slot, f.flow_id, f.request_id, f.stage,
                              f.size_bytes, layer=f.layer, deadline=f.deadline, src=f.src,
                              dst=f.dst, path=f.path)
        self._slots.activate(slot)
        self.active[f.flow_id] = state
        self.results[f.flow_id].arrival = self.now
        self.scheduler.add_flow(state, self.now)
        self._moved = True

    def _complete(self, flow_id):
        state = self.active.pop(flow_id)
        self._slots.deactivate(state.slot)
        state.bytes_sent = state.size_bytes
        self.results[flow_id].finish = self.now
        self.scheduler.complete_flow(flow_id, self.now)
        self.release.finished(flow_id, self.now)
        self._moved = True

    def _record(self, change):
        self._slots.decide(change.flow_id, change.new_queue, change.pace_bps, change.demote_at)
        self.results[change.flow_id].queue_history.append(
            (change.time, change.old_queue, change.new_queue, change.reason))
        self._moved = True

    # -- the fluid -----------------------------------------------------------------

    def _tick_time(self):
        if self.tick is None or not self.active:
            return math.inf
        # Ticks sit on the grid k * tick; skip the ones an idle gap jumped over.
        self._next_tick = max(self._next_tick, math.ceil((self.now - TIME_EPS) / self.tick))
        return self._next_tick * self.tick

    def _next_completions(self):
        """The earliest finish time and the flows finishing then (in trace order)."""
        slots = self._slots
        after, finishing = slots.next_finish(slots.active[:slots.n], slots.left, slots.rate,
                                             TIME_EPS)
        if not len(finishing):
            return math.inf, []
        return self.now + after, [self.flows[slot].flow_id for slot in finishing]

    def _advance(self, t):
        dt = t - self.now
        if dt > 0:
            slots = self._slots
            slots.advance(slots.active[:slots.n], slots.left, slots.rate, dt)
        self.now = t

    def _allocate(self):
        self._slots.allocate()

    def _result(self):
        requests = {}
        scavenged = {c.request_id for c in self.scheduler.changes if c.reason == "scavenger"}
        by_request = {}
        for f in self.flows:
            by_request.setdefault(f.request_id, []).append(self.results[f.flow_id])
        for request_id, results in by_request.items():
            arrivals = [r.arrival for r in results if r.arrival is not None]
            finishes = [r.finish for r in results]
            deadlines = [r.deadline for r in results if r.deadline is not None]
            arrival = self.request_arrivals.get(request_id, min(arrivals, default=math.nan))
            requests[request_id] = RequestResult(
                request_id, arrival, None if None in finishes else max(finishes),
                min(deadlines) if deadlines else None, request_id in scavenged)
        events = {node: self.release.finish_time(node) for node in self._event_ids}
        return FluidResult(self.results, requests, self.scheduler.changes, self.now,
                           {n: t for n, t in events.items() if t is not None})


class SlotFlowState(FlowState):
    """A FlowState whose ``bytes_sent`` lives in the simulator's arrays."""

    __slots__ = ("_left", "slot")

    def __init__(self, left, slot, *args, **kwargs):
        self._left, self.slot = left, slot
        super().__init__(*args, **kwargs)

    @property
    def bytes_sent(self):
        return self.size_bytes - float(self._left[self.slot])

    @bytes_sent.setter
    def bytes_sent(self, value):
        self._left[self.slot] = self.size_bytes - value


class _Slots:
    """Every flow's scheduling state as arrays indexed by its position in the run."""

    def __init__(self, flows, links):
        # compiled on first use: imported here so that importing the package stays light
        from policies.fluid.allocation_kernel import advance_slots, allocate_slots, next_finish

        self._kernel, self.advance, self.next_finish = allocate_slots, advance_slots, next_finish
        link_index = {link: i for i, link in enumerate(links)}
        self.capacity = np.array([float(links[link]) for link in links], dtype=np.float64)
        self.index = {f.flow_id: i for i, f in enumerate(flows)}
        n = len(flows)
        width = max((len(f.path) for f in flows), default=1)
        self.hops = np.zeros((n, width), dtype=np.int64)
        self.nhops = np.zeros(n, dtype=np.int64)
        for i, f in enumerate(flows):
            try:
                self.hops[i, :len(f.path)] = [link_index[link] for link in f.path]
            except KeyError as err:
                raise UserError(f"fluid flow {f.flow_id!r}", f"crosses unknown link {err.args[0]!r}")
            self.nhops[i] = len(f.path)
        self.queue = np.zeros(n, dtype=np.int64)
        self.cap = np.full(n, np.inf)
        self.left = np.array([float(f.size_bytes) for f in flows], dtype=np.float64)
        self.rate = np.zeros(n, dtype=np.float64)
        self.active = np.zeros(n, dtype=np.int64)      # packed: the first ``n`` are active
        self.position = np.full(n, -1, dtype=np.int64)
        self.n = 0
        self.size = self.left.copy()
        # Sender demotions: each planned flow's remaining (bytes sent, queue)
        # steps, and the bytes left at which its next one fires (-1: none).
        self.plans = {}
        self.demote_left = np.full(n, -1.0)

    def activate(self, slot):
        self.active[self.n], self.position[slot] = slot, self.n
        self.n += 1

    def deactivate(self, slot):
        # swap-remove: the last active slot takes the hole
        hole, last = self.position[slot], self.active[self.n - 1]
        self.active[hole], self.position[last] = last, hole
        self.position[slot] = -1
        self.n -= 1
        self.rate[slot] = 0.0
        self.plan(slot, ())

    def decide(self, flow_id, queue, pace_bps, demote_at=()):
        slot = self.index[flow_id]
        self.queue[slot] = queue
        self.cap[slot] = np.inf if pace_bps is None else pace_bps
        self.plan(slot, demote_at)

    def plan(self, slot, demote_at):
        # a threshold at or beyond the flow's size is never crossed while it sends
        steps = [(sent, queue) for sent, queue in demote_at if sent < self.size[slot]]
        if steps:
            self.plans[slot] = steps
            self.demote_left[slot] = self.size[slot] - steps[0][0]
        elif self.plans.pop(slot, None) is not None:
            self.demote_left[slot] = -1.0

    def next_demotion(self, now):
        """(when the first planned sender demotion fires, the slots due then
        within the time tolerance); (inf, none) when none is planned or moving."""
        if not self.plans:
            return math.inf, []
        slots = np.fromiter(self.plans, dtype=np.int64, count=len(self.plans))
        slots = slots[self.rate[slots] > 0]
        if not len(slots):
            return math.inf, []
        gap = np.maximum(self.left[slots] - self.demote_left[slots], 0.0)
        after = gap * 8 / self.rate[slots]
        first = float(after.min())
        return now + first, sorted(int(s) for s in slots[after <= first + TIME_EPS])

    def fire(self, slots):
        """(slot, queue) of each due demotion, in slot order; each slot's bytes
        left snap to its threshold (they differ by float rounding only)."""
        due = []
        for slot in slots:
            if slot in self.plans:
                self.left[slot] = min(self.left[slot], self.demote_left[slot])
                due.append((slot, self.plans[slot][0][1]))
        return due

    def allocate(self):
        self._kernel(self.active[:self.n], self.queue, self.cap, self.hops, self.nhops,
                     self.capacity, self.rate)

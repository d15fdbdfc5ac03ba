"""``mfs``: Reverse Multi-Level Queue with Defer-and-Promote (the MFS scheduler).

MFS approximates Least-Laxity-First without knowing how much slack a
request has left.  Flows start deferred and are *promoted only, never
demoted*, as their laxity shrinks; the paper's thresholds are not public, so
this is a reconstruction with every number a parameter.

Stage 3, P2D transfers (explicit deadline: request arrival + TTFT SLO) are
classed by Minimal Link Utilization, the fraction of its most loaded link
the transfer needs from now on to finish in time::

    MLU = max over links l of the path:  bytes(l) * 8 / ((deadline - now) * rate(l))

With ``mlu_scope: request`` (default) ``bytes(l)`` sums the remaining bytes
of every unfinished P2D flow of the request that crosses ``l``: layer-wise
P2D makes dozens of parallel flows per request, each of which alone looks
lax until all are late together, and the P2D flows from several prefill
hosts meet on the decode host's downlink (incast), which the sender's
uplink alone would not show.  ``mlu_scope: flow`` uses the flow's own
remaining bytes (then the most loaded link is the slowest).  Class ``mluK`` holds MLU at or above the K-th
of ``mlu_thresholds`` (``mlu0``: below the first, i.e. deferred).  With
``scavenger`` on, a flow whose MLU exceeds ``scavenger_mlu`` (1: not even
line rate would make the deadline) moves to the scavenger queue for good, so
it stops taking bandwidth from requests that can still make their SLO; that
is the one move down, logged with reason ``scavenger``.  P2D MLUs are
re-evaluated on every tick and when a sibling P2D flow arrives.

Two options, off by default (``policies.yaml`` has what they measured):
``mlu_unregistered`` also counts the request's P2D bytes not registered yet
(the KV of layers still to compute, known from the prompt length; the data
plane declares every flow before the run, see ``Policy.declare``; a
declared flow that never registers, e.g. one that failed to connect, stays
counted, and the run reports it failed);
``scavenge_request`` sends every flow of a request, present and future, to
the scavenger queue once one of its P2D flows goes there (the paper's
feasibility check: a request that cannot make its SLO stops taking
bandwidth with all its flows, not only its P2D).

Stages 1 and 2, KV-block retrieval and collectives (implicit deadlines), are
classed by Relative Layer Index ``RLI = flow.layer - executing layer`` (0:
the GPU is waiting for it now; negative counts as 0); ``rli_bounds`` are
the lower RLI bounds of classes ``rli1``.. (``rli0`` below the first).
Re-evaluated when the request reports a new layer.  A request that has not
reported yet is not executing: it waits for its prefill instance, so it
counts as executing layer ``queued_layer`` (-1: its layer-0 fetch is RLI 1,
not "the GPU waits now").  Synthesized traces report layer 0 when the
instance admits the request (its zero-length ``admit`` node), so from then
on the layer-0 fetch is RLI 0.  A trace without such nodes would defer
every layer-0 fetch until its compute starts: ``run`` prints a note
(``experiments.experiment.unadmitted_note``) suggesting ``queued_layer: 0``.

Everything else (stage ``other``, P2D without deadline, stages 1-2 without a
consuming layer) is class ``other``, which never moves.

``layout`` lists the priority levels top first, each a list of classes; the
default is the 8-queue layout of the design, Q0 highest::

    Q0 mlu4 (MLU >= 0.9)    Q4 rli2 (RLI 2-3), mlu2 (MLU 0.5-0.75)
    Q1 rli0                 Q5 rli3 (RLI >= 4), mlu1 (MLU 0.25-0.5)
    Q2 mlu3 (MLU 0.75-0.9)  Q6 mlu0 (deferred), other
    Q3 rli1                 Q7 scavenger

With fewer queues the scavenger keeps the last queue to itself and the other
levels merge as :mod:`policies.layout` describes (with 4 queues:
Q0 mlu4+rli0+mlu3, Q1 rli1+rli2+mlu2, Q2 rli3+mlu1+mlu0+other, Q3
scavenger).  With the scavenger off its level is dropped and the others
spread over all queues.

Validated by: ``tests/test_policies_mfs.py``; the fluid scenarios of
``tests/test_fluid_scenarios.py`` (promotion in time, scavenger, request-
summed MLU); the replays ``tests/test_replay_root.py`` (contention, promoted
bytes in the higher class, infeasible P2D) and
``tests/test_controller_root.py``.
"""

from bisect import bisect_right
from collections import defaultdict
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from policies.base import ARRIVAL, PROGRESS, TICK, Decision, Policy
from policies.layout import level_queues
from policies.params import STRICT, TICK_DEFAULT, Seconds

DEFAULT_LAYOUT = [["mlu4"], ["rli0"], ["mlu3"], ["rli1"], ["rli2", "mlu2"],
                  ["rli3", "mlu1"], ["mlu0", "other"], ["scavenger"]]
RLI_STAGES = ("kv_fetch", "collective")


def _ascending(values):
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError("must be strictly ascending")
    return values


class MfsParams(BaseModel):
    model_config = STRICT

    mlu_thresholds: list[float] = Field([0.25, 0.5, 0.75, 0.9], min_length=1)
    rli_bounds: list[int] = Field([1, 2, 4], min_length=1)
    mlu_scope: Literal["request", "flow"] = "request"
    # With mlu_scope request: also count the request's P2D flows not registered yet.
    mlu_unregistered: bool = False
    # A scavenged P2D flow sends its whole request to the scavenger queue.
    scavenge_request: bool = False
    # The layer a request that has not reported progress counts as executing.
    queued_layer: int = Field(-1, ge=-1, le=0)
    scavenger: bool = True
    scavenger_mlu: float = 1.0
    layout: list[list[str]] = DEFAULT_LAYOUT
    # The coordinator's re-evaluation period (P2D laxity shrinks with time).
    tick: Seconds = TICK_DEFAULT

    @field_validator("mlu_thresholds")
    @classmethod
    def _thresholds(cls, values):
        if values[0] <= 0:
            raise ValueError("MLU thresholds must be positive")
        return _ascending(values)

    @field_validator("rli_bounds")
    @classmethod
    def _bounds(cls, values):
        if values[0] < 1:
            raise ValueError("RLI bounds start at 1 or more (class rli0 is RLI 0)")
        return _ascending(values)

    @model_validator(mode="after")
    def _check(self):
        if self.scavenge_request and not self.scavenger:
            raise ValueError("scavenge_request needs the scavenger queue (scavenger: true)")
        if self.scavenger_mlu < self.mlu_thresholds[-1]:
            raise ValueError("scavenger_mlu must not be below the highest MLU threshold")
        check_layout(self.layout, len(self.mlu_thresholds), len(self.rli_bounds))
        return self


def check_layout(layout, num_mlu_thresholds, num_rli_bounds):
    """Every class exactly once, scavenger alone and last, bands in order."""
    mlu = [f"mlu{i}" for i in range(num_mlu_thresholds + 1)]
    rli = [f"rli{i}" for i in range(num_rli_bounds + 1)]
    expected = set(mlu + rli + ["other", "scavenger"])
    level = {}
    for index, classes in enumerate(layout):
        if not classes:
            raise ValueError(f"layout: level {index} is empty")
        for name in classes:
            if name not in expected:
                raise ValueError(f"layout: unknown class {name!r} "
                                 f"(classes: {', '.join(sorted(expected))})")
            if name in level:
                raise ValueError(f"layout: class {name!r} appears twice")
            level[name] = index
    missing = expected - level.keys()
    if missing:
        raise ValueError(f"layout: missing classes {', '.join(sorted(missing))}")
    if layout[-1] != ["scavenger"]:
        raise ValueError("layout: 'scavenger' must be alone on the last level")
    # Promotion only is only possible if a more urgent band is never placed
    # below a less urgent one.
    for more, less in list(zip(mlu[::-1], mlu[-2::-1])) + list(zip(rli, rli[1:])):
        if level[more] > level[less]:
            raise ValueError(f"layout: {more} must not be below {less}")


class MfsPolicy(Policy):
    name = "mfs"
    description = "MFS: defer, then promote P2D by MLU and KV/collective by RLI; scavenge late P2D"
    Params = MfsParams

    def __init__(self, params=None, num_queues=8):
        super().__init__(params, num_queues)
        p = self.params
        levels = p.layout if p.scavenger else p.layout[:-1]
        queues = level_queues(len(levels), num_queues, reserve_last=p.scavenger)
        self.class_queue = {name: queues[i] for i, classes in enumerate(levels)
                            for name in classes}
        self._mlu_queue = [self.class_queue[f"mlu{i}"] for i in range(len(p.mlu_thresholds) + 1)]
        self._rli_queue = [self.class_queue[f"rli{i}"] for i in range(len(p.rli_bounds) + 1)]
        self.scavenger_queue = num_queues - 1 if p.scavenger else None
        self._unregistered = {}                   # request -> {link: declared P2D bytes}
        self._declared = set()                    # P2D flows counted there, not registered yet
        self._doomed, self._newly_doomed = set(), set()   # requests sent to the scavenger

    @property
    def plans_ahead(self):
        return self.params.mlu_unregistered and self.params.mlu_scope == "request"

    def declare(self, flows):
        for f in flows:
            if _counts_for_mlu(f) and f.flow_id not in self._declared:
                self._declared.add(f.flow_id)
                links = self._unregistered.setdefault(f.request_id, {})
                for link in f.path:
                    links[link] = links.get(link, 0.0) + f.size_bytes

    # -- the two laxity measures ---------------------------------------------

    def mlu(self, flow, view, link_bytes=None):
        """The flow's MLU now.  ``link_bytes`` {(request, link): remaining
        bytes}: the request's P2D bytes on each link, when the caller has
        them (:func:`_request_link_bytes`)."""
        left = flow.deadline - view.now
        if left <= 0:
            return float("inf")
        if self.params.mlu_scope == "flow" or not flow.path:
            return flow.remaining_bytes * 8 / (left * flow.bottleneck_rate_bps)
        if link_bytes is None:
            link_bytes = _request_link_bytes(
                [g for g in view.flows_of_request(flow.request_id) if _counts_for_mlu(g)])
        rid = flow.request_id
        rates, ahead = view.link_rates, self._unregistered.get(rid, {})
        load = max((link_bytes[(rid, link)] + ahead.get(link, 0.0)) / rates[link]
                   for link in flow.path)
        return load * 8 / left

    def rli(self, flow, view):
        return flow.layer - view.executing_layer(flow.request_id, self.params.queued_layer)

    # -- classes to queues -----------------------------------------------------

    def target_queue(self, flow, view, link_bytes=None):
        """The queue the flow's current laxity calls for (before promotion-only)."""
        if flow.request_id in self._doomed:
            return self.scavenger_queue
        if _counts_for_mlu(flow):
            mlu = self.mlu(flow, view, link_bytes)
            if self.params.scavenger and mlu > self.params.scavenger_mlu:
                return self.scavenger_queue
            return self._mlu_queue[bisect_right(self.params.mlu_thresholds, mlu)]
        if flow.stage in RLI_STAGES and flow.layer is not None:
            return self._rli_queue[bisect_right(self.params.rli_bounds, self.rli(flow, view))]
        return self.class_queue["other"]

    def _decide(self, flow, target):
        scavenger = self.scavenger_queue
        if flow.queue is None:
            return Decision(target, "scavenger" if target == scavenger else "initial")
        if scavenger is not None and flow.queue == scavenger:
            return None  # a hopeless flow stays put: moving back would starve others again
        if target == scavenger:
            return Decision(target, "scavenger")
        if target < flow.queue:
            return Decision(target, "promotion")
        return None  # never demote, even if the laxity grew back

    # -- policy interface ---------------------------------------------------------

    def assign(self, flow, view):
        if flow.flow_id in self._declared:         # registered now: counted by the view
            self._declared.discard(flow.flow_id)
            links = self._unregistered[flow.request_id]
            for link in flow.path:
                links[link] -= flow.size_bytes
        return self._checked(flow, self._decide(flow, self.target_queue(flow, view)))

    def forget_request(self, request_id):
        self._unregistered.pop(request_id, None)
        self._doomed.discard(request_id)

    def reevaluate(self, view, trigger):
        changes = self._reevaluate(view, trigger)
        for rid in sorted(self._newly_doomed):     # its other flows follow it down
            for flow in view.flows_of_request(rid):
                if flow.queue != self.scavenger_queue:
                    changes[flow.flow_id] = Decision(self.scavenger_queue, "scavenger")
        self._doomed |= self._newly_doomed
        self._newly_doomed = set()
        return changes

    def _checked(self, flow, decision):
        """Note a request whose P2D flow is scavenged, if the whole request should follow."""
        if (decision is not None and self.params.scavenge_request and _counts_for_mlu(flow)
                and decision.queue == self.scavenger_queue
                and flow.request_id not in self._doomed):
            self._newly_doomed.add(flow.request_id)
        return decision

    def _reevaluate(self, view, trigger):
        if trigger.kind == TICK:
            flows = [f for f in view.flows_in_stage("p2d") if f.deadline is not None]
            return self._reconsider_p2d(flows, view)
        if trigger.kind == ARRIVAL and self.params.mlu_scope == "request":
            # A new P2D flow raises its siblings' summed MLU.
            flows = [f for f in view.flows_of_request(trigger.request_id) if _counts_for_mlu(f)]
            return self._reconsider_p2d(flows, view) if len(flows) > 1 else {}
        if trigger.kind == PROGRESS:
            changes = {}
            for flow in view.flows_of_request(trigger.request_id):
                if flow.stage in RLI_STAGES and flow.layer is not None:
                    self._note(changes, flow, self.target_queue(flow, view))
            return changes
        return {}  # a completion only lowers MLUs, and MFS never demotes

    def _reconsider_p2d(self, flows, view):
        # One pass over the paths instead of a sibling scan per flow.
        sums = _request_link_bytes(flows) if self.params.mlu_scope == "request" else None
        changes = {}
        for flow in flows:
            if flow.queue is not None and flow.queue == self.scavenger_queue:
                continue  # absorbing; it still counted in its request's sums above
            self._note(changes, flow, self.target_queue(flow, view, sums))
        return changes

    def _note(self, changes, flow, target):
        decision = self._checked(flow, self._decide(flow, target))
        if decision is not None:
            changes[flow.flow_id] = decision


def _counts_for_mlu(flow):
    return flow.stage == "p2d" and flow.deadline is not None


def _request_link_bytes(flows):
    """{(request, link): remaining bytes of ``flows`` crossing the link}."""
    sums = defaultdict(float)
    for g in flows:
        remaining = g.remaining_bytes
        for link in g.path:
            sums[(g.request_id, link)] += remaining
    return sums

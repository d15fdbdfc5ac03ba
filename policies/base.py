"""The interface between scheduling policies and the data planes that run them.

One policy code path drives two data planes: the emulator's OpenFlow
controller and the fluid simulator (:mod:`policies.fluid`).  Neither is
visible from here: a policy sees flows as :class:`FlowState` records and the
network as a :class:`~policies.view.SchedulerView`, and answers
with :class:`Decision` values.  The data plane applies them (an OpenFlow
queue / DSCP rule and ``SO_MAX_PACING_RATE`` in the emulator, a bandwidth
allocation in the simulator).

Calls, all made by :class:`~policies.scheduler.Scheduler`, which
both data planes share:

* ``fit(flow_sizes, stages)`` once before a run, with the trace's flows, so
  size-threshold policies can place their thresholds at quantiles.
* ``declare(flows)`` before a run, in one or more calls, with every flow of
  the trace as a :class:`FlowState` (nothing sent yet), but only if the
  policy's ``plans_ahead`` is true: a serving engine knows a request's KV
  size from its prompt, so a policy may count bytes not yet registered.
* ``assign(flow, view) -> Decision`` when a flow is registered (the flow is
  already in ``view.flows``); ``flow.queue`` is still None.
* ``reevaluate(view, trigger) -> {flow_id: Decision}`` on every periodic tick,
  after every arrival (following ``assign``), completion (the flow has already
  left the view) and layer-progress report.  Return only flows whose queue or
  pacing rate changes; ``trigger`` says what happened so a policy can touch
  only the flows concerned instead of every active flow.

What the data plane supplies: the directed link rates when it builds the
scheduler; per flow at registration the fields of :class:`FlowState` (ids,
stage, consuming layer, size, the request's absolute deadline, path);
``bytes_sent`` of active flows before each tick (``Scheduler.report_bytes``;
PIAS, Karuna and MFS read it); layer-progress reports and completions as
they happen; a tick every ``policy.tick`` seconds (None: the policy needs
none).  It enforces every returned change: the queue, ``pace_bps``, and
``demote_at``, demotions the sender makes itself as its bytes sent cross
thresholds (PIAS tags packets at the end host); it reports each as it
happens (``Scheduler.sender_demoted``).

Units everywhere: seconds of real (undilated) time, bytes, bits per second.
Queues are numbered 0 (highest priority) to ``num_queues - 1`` (lowest).

A policy reads ``flow.queue`` and ``flow.pace_bps`` (the state last applied)
but never writes a flow; the scheduler does, after the data plane has the
decision.  Policies keep no per-flow state of their own, so a flow's whole
scheduling state is what the data plane enforces.
"""

from dataclasses import dataclass
from typing import ClassVar, Hashable

from pydantic import BaseModel, ConfigDict

from common.errors import UserError

STAGES = ("kv_fetch", "collective", "p2d", "other")

# Why a flow's queue or pacing changed.  Arrival decisions say 'initial'
# (or 'scavenger' when a flow goes straight to the scavenger queue); a later
# move says 'promotion' (to a higher-priority, lower-numbered queue),
# 'demotion' (lower priority), 'scavenger' (an MFS flow that can no longer
# meet its deadline) or 'pace' (same queue, new pacing rate).
REASONS = ("initial", "promotion", "demotion", "scavenger", "pace")

TICK, ARRIVAL, COMPLETION, PROGRESS = "tick", "arrival", "completion", "progress"


@dataclass(slots=True)
class FlowState:
    """One registered, unfinished flow, as the data plane reports it.

    ``layer`` is the prefill layer that consumes the flow (None when none
    does); ``deadline`` the request's absolute TTFT deadline in seconds (None
    when it has none); ``path`` the directed link ids the flow crosses, in
    order, as named in the view's ``link_rates``.  ``bytes_sent`` is kept
    current by the data plane (flow statistics, sender reports or the fluid
    model).  ``bottleneck_link`` and ``bottleneck_rate_bps`` are filled in
    from the path when the flow enters a view; give ``bottleneck_rate_bps``
    yourself only for a flow without a path.  ``queue`` and ``pace_bps``
    (None: unpaced) and ``demote_at`` (sender-side demotions still to come)
    are the decision currently applied.
    """

    flow_id: Hashable
    request_id: Hashable
    stage: str
    size_bytes: int
    layer: int | None = None
    deadline: float | None = None
    src: str = ""
    dst: str = ""
    path: tuple = ()
    start_time: float | None = None
    bytes_sent: float = 0
    bottleneck_link: str | None = None
    bottleneck_rate_bps: float | None = None
    queue: int | None = None
    pace_bps: float | None = None
    demote_at: tuple = ()

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"flow {self.flow_id!r}: unknown stage {self.stage!r} "
                             f"(one of {', '.join(STAGES)})")
        self.path = tuple(self.path)

    @property
    def remaining_bytes(self):
        return max(self.size_bytes - self.bytes_sent, 0)

    @property
    def has_deadline(self):
        return self.deadline is not None


@dataclass(frozen=True, slots=True)
class Decision:
    """A flow's whole scheduling state: its queue and its pacing rate.

    ``pace_bps`` is the sender's ``SO_MAX_PACING_RATE`` in real bits per
    second, None for an unpaced flow; a decision that omits it unpaces.
    ``demote_at`` is ``((bytes_sent, queue), ...)``: the sender itself moves
    the flow to ``queue`` once it has sent ``bytes_sent`` bytes, with no
    controller round trip (bytes and queues strictly ascending, every queue
    below ``queue`` in priority).  A later decision replaces the whole plan.
    """

    queue: int
    reason: str
    pace_bps: float | None = None
    demote_at: tuple = ()

    def __post_init__(self):
        if self.reason not in REASONS:
            raise ValueError(f"unknown decision reason {self.reason!r} (one of {REASONS})")
        last_bytes, last_queue = 0, self.queue
        for sent, queue in self.demote_at:
            if sent <= last_bytes or queue <= last_queue:
                raise ValueError(f"demote_at {self.demote_at!r}: bytes and queues must ascend "
                                 f"from ({last_bytes}, {self.queue})")
            last_bytes, last_queue = sent, queue


@dataclass(frozen=True, slots=True)
class Trigger:
    """What caused a re-evaluation: a tick, or an event about one flow or request."""

    kind: str
    flow_id: Hashable = None
    request_id: Hashable = None


def move(old, new):
    """The reason for moving a flow from queue ``old`` to queue ``new``."""
    return "promotion" if new < old else "demotion"


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a policy without parameters


class Policy:
    """Base class of scheduling policies; subclass it in a module of this package.

    A subclass with a non-empty ``name`` is registered under that name (see
    :mod:`policies.registry`).  ``Params`` is its pydantic model of
    parameters (``extra="forbid"``; its defaults should equal the policy's
    section of ``policies/policies.yaml``).  ``min_queues`` is the fewest
    queues the policy can work with.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    min_queues: ClassVar[int] = 2
    Params: ClassVar[type[BaseModel]] = NoParams
    plans_ahead: bool = False      # wants ``declare`` (an attribute, a parameter may set it)

    def __init__(self, params=None, num_queues=8):
        if not isinstance(params, self.Params):
            params = self.Params.model_validate(params or {})
        if num_queues < self.min_queues:
            raise UserError(f"policy {self.name}",
                            f"needs at least {self.min_queues} queues, got {num_queues}")
        self.params = params
        self.num_queues = num_queues

    @property
    def tick(self):
        """Seconds between periodic re-evaluations, or None if ticks change nothing.

        Policies that act on ticks have a ``tick`` parameter; the data plane
        calls ``reevaluate`` with a tick trigger that often (real time).
        """
        return getattr(self.params, "tick", None)

    def fit(self, flow_sizes, stages=None):
        """Learn from the trace's flow sizes (bytes; ``stages`` parallel to them).

        Called once before a run.  Policies whose thresholds default to
        quantiles of the flow sizes set them here, but only when their
        parameters leave the thresholds unset.
        """

    def declare(self, flows):
        """Flows the run will register later (only if ``plans_ahead``); read, never kept
        for writing: they are the records the data plane registers later."""

    def forget_request(self, request_id):
        """The request finished (every flow of it completed): drop what is kept
        about it, so a long run's memory stays bounded."""

    def assign(self, flow, view):
        """The decision for a newly registered flow."""
        raise NotImplementedError

    def reevaluate(self, view, trigger):
        """Decisions for the active flows whose queue or pacing changes now."""
        return {}

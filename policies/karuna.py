"""``karuna``: mixed deadline and size-known flows (Karuna, SIGCOMM'16).

Deadline flows (P2D transfers with a deadline) take Q0 and are paced at the
minimal rate that still meets their deadline, ``remaining bytes / time
left``, so they leave the rest of the bandwidth to other flows instead of
finishing needlessly early.  The sender applies the rate with
``SO_MAX_PACING_RATE`` (:attr:`Decision.pace_bps`).  The rate is recomputed
every tick and pushed only when it moves by more than ``repace_tolerance``,
to keep socket updates rare.  A flow that would need its bottleneck's line
rate or more goes unpaced.  A flow that can no longer make its deadline
(past it, or needing more than line rate) does not keep Q0 above everything
(``late_flows: size_class``): it continues as a size-known flow, classed by
its remaining bytes like the others (Karuna's type 2); ``top`` keeps it in
Q0 unpaced, the earlier reconstruction.

Other flows are split by size thresholds over Q1..Q(N-1), as ``sjf`` does
over all queues; ``fit`` places the thresholds at quantiles of the sizes of
the trace's non-P2D flows.

Validated by: ``tests/test_policies_baselines.py``; the fluid scenario
``test_karuna_paces_a_lax_deadline_flow_and_frees_bandwidth``; the default
experiment ``tests/test_experiment_root.py``.
"""

from typing import Literal

from pydantic import BaseModel, Field

from policies.base import TICK, Decision, Policy
from policies.layout import level_queues
from policies.params import (
    STRICT, TICK_DEFAULT, BitsPerSecond, Seconds, SizeThresholds)
from policies.thresholds import (
    check_threshold_count, quantile_thresholds, require_thresholds, size_class)


class KarunaParams(BaseModel):
    model_config = STRICT

    # Sizes separating the non-deadline flows over Q1..Q(N-1); null:
    # quantiles of the trace's non-P2D flow sizes.
    size_thresholds: SizeThresholds = None
    # Pace at this multiple of the minimal rate (1: exactly the minimal
    # rate; above 1 leaves slack for TCP's own inefficiency).
    pace_headroom: float = Field(1.05, ge=1.0)
    # Push a new pacing rate only when it differs from the applied one by
    # more than this fraction.
    repace_tolerance: float = Field(0.05, ge=0.0)
    # Never pace below this rate (bit/s), so a very lax flow still moves.
    min_pace_bps: BitsPerSecond = 1e6
    # How often pacing rates are recomputed.
    tick: Seconds = TICK_DEFAULT
    # A deadline flow that can no longer make it: size_class (by remaining
    # bytes, below Q0) or top (stays in Q0, unpaced).
    late_flows: Literal["size_class", "top"] = "size_class"


def is_deadline_flow(flow):
    return flow.stage == "p2d" and flow.deadline is not None


class KarunaPolicy(Policy):
    name = "karuna"
    description = "deadline (P2D) flows on top paced at their minimal rate; others by size below"
    Params = KarunaParams

    def __init__(self, params=None, num_queues=8):
        super().__init__(params, num_queues)
        self.thresholds = self.params.size_thresholds
        check_threshold_count(self.name, "size_thresholds", self.thresholds, num_queues - 1)

    def fit(self, flow_sizes, stages=None):
        if self.params.size_thresholds is None:
            if stages is not None:
                flow_sizes = [s for s, st in zip(flow_sizes, stages) if st != "p2d"]
            self.thresholds = quantile_thresholds(flow_sizes, self.num_queues - 1)

    def assign(self, flow, view):
        if is_deadline_flow(flow) and not self._given_up(flow, view.now):
            return Decision(0, "initial", self.pace(flow, view.now))
        return Decision(self._size_queue(flow.remaining_bytes), "initial")

    def _size_queue(self, size):
        thresholds = require_thresholds(self.name, "size_thresholds", self.thresholds)
        # Size classes fill Q1..Q(N-1); with fewer classes than queues the
        # lowest queues go unused.
        lower = level_queues(len(thresholds) + 1, self.num_queues - 1)
        return 1 + lower[size_class(size, thresholds)]

    def _given_up(self, flow, now):
        """Whether a deadline flow can no longer make it and leaves Q0."""
        if self.params.late_flows == "top":
            return False
        left = flow.deadline - now
        return left <= 0 or flow.remaining_bytes * 8 / left > flow.bottleneck_rate_bps

    def reevaluate(self, view, trigger):
        # Only time and bytes sent move a pacing rate; both are seen on ticks.
        if trigger.kind != TICK:
            return {}
        changes = {}
        for flow in view.flows_in_stage("p2d"):
            if flow.deadline is None or flow.queue != 0:
                continue                  # no deadline, or gave up on it already
            if self._given_up(flow, view.now):
                changes[flow.flow_id] = Decision(self._size_queue(flow.remaining_bytes),
                                                 "demotion")
                continue
            pace = self.pace(flow, view.now)
            if self._differs(pace, flow.pace_bps):
                changes[flow.flow_id] = Decision(flow.queue, "pace", pace)
        return changes

    def pace(self, flow, now):
        """The minimal rate meeting the flow's deadline, or None (unpaced)."""
        left = flow.deadline - now
        if left <= 0:
            return None
        rate = flow.remaining_bytes * 8 / left * self.params.pace_headroom
        if rate >= flow.bottleneck_rate_bps:
            return None
        return max(rate, self.params.min_pace_bps)

    def _differs(self, new, old):
        if new is None or old is None:
            return new is not old
        return abs(new - old) > self.params.repace_tolerance * old

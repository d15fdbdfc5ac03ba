"""``pias``: information-agnostic multi-level feedback queue (PIAS, NSDI'15).

Every flow starts in Q0 and is demoted as its bytes sent cross the
thresholds, so short flows finish in the top queues without anyone knowing
sizes.  As in PIAS, the sender demotes itself: the arrival decision carries
the whole plan (``Decision.demote_at``), the sender re-marks its packets the
moment its bytes sent cross a threshold and tells the controller.
``demote: controller`` instead demotes at the controller's tick from
reported bytes (one tick late at worst; kept to measure what that costs).
Thresholds come from the parameters, or else from ``fit``: quantiles of the
trace's flow sizes (PIAS derives them from the size distribution too, by
solving for the thresholds that minimise mean FCT under its M/G/1 model;
equal-count quantiles are the documented stand-in).  PIAS also relies on
ECN/DCTCP to keep queues short; this kernel has no RED/ECN qdisc, so flows
here run plain TCP (see ``policies.yaml``).

Validated by: ``tests/test_policies_baselines.py``;
``tests/test_fluid_simulator.py`` (demotion as bytes are sent); the default
experiment ``tests/test_experiment_root.py``.
"""

from typing import Literal

from pydantic import BaseModel

from policies.base import TICK, Decision, Policy
from policies.params import STRICT, TICK_DEFAULT, Seconds, SizeThresholds
from policies.thresholds import (
    check_threshold_count, quantile_thresholds, require_thresholds, size_class)


class PiasParams(BaseModel):
    model_config = STRICT

    # Bytes sent at which a flow drops to the next queue; null: quantiles of
    # the trace's flow sizes.
    demotion_thresholds: SizeThresholds = None
    # sender: the sender re-marks its packets as its bytes sent cross each
    # threshold (PIAS); controller: demote at the controller's tick.
    demote: Literal["sender", "controller"] = "sender"
    # With demote: controller, how often bytes sent are checked.
    tick: Seconds = TICK_DEFAULT


class PiasPolicy(Policy):
    name = "pias"
    description = "information-agnostic MLFQ (PIAS): start on top, demote as bytes sent grow"
    Params = PiasParams

    def __init__(self, params=None, num_queues=8):
        super().__init__(params, num_queues)
        self.thresholds = self.params.demotion_thresholds
        check_threshold_count(self.name, "demotion_thresholds", self.thresholds, num_queues)

    @property
    def tick(self):
        return self.params.tick if self.params.demote == "controller" else None

    def fit(self, flow_sizes, stages=None):
        if self.params.demotion_thresholds is None:
            self.thresholds = quantile_thresholds(flow_sizes, self.num_queues)

    def assign(self, flow, view):
        require_thresholds(self.name, "demotion_thresholds", self.thresholds)
        decision = self._decide(flow) or Decision(0, "initial")
        if self.params.demote == "sender":
            plan = tuple((threshold, queue + 1) for queue, threshold in enumerate(self.thresholds)
                         if queue + 1 > decision.queue)
            decision = Decision(decision.queue, decision.reason, demote_at=plan)
        return decision

    def reevaluate(self, view, trigger):
        # Bytes sent only grow between ticks; other events move nothing.
        if trigger.kind != TICK or self.params.demote == "sender":
            return {}
        changes = {}
        for flow in view.flows.values():
            decision = self._decide(flow)
            if decision is not None:
                changes[flow.flow_id] = decision
        return changes

    def _decide(self, flow):
        """A demotion if the flow's bytes sent put it below its queue, else None."""
        target = size_class(flow.bytes_sent, self.thresholds)
        current = 0 if flow.queue is None else flow.queue
        if target <= current:
            return None
        return Decision(target, "initial" if flow.queue is None else "demotion")

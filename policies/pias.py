"""``pias``: information-agnostic multi-level feedback queue (PIAS, NSDI'15).

Every flow starts in Q0 and is demoted, one tick after the fact at worst, as
its bytes sent cross the thresholds, so short flows finish in the top queues
without anyone knowing sizes.  ``bytes_sent`` must be kept current by the
data plane (flow statistics or sender reports).  Thresholds come from the
parameters, or else from ``fit``: quantiles of the trace's flow sizes (PIAS
derives them from the size distribution too; equal-count quantiles are the
simple stand-in for its optimisation).

Validated by: ``tests/test_policies_baselines.py``;
``tests/test_fluid_simulator.py`` (demotion as bytes are sent); the default
experiment ``tests/test_experiment_root.py``.
"""

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
    # How often bytes sent are checked against the thresholds.
    tick: Seconds = TICK_DEFAULT


class PiasPolicy(Policy):
    name = "pias"
    description = "information-agnostic MLFQ (PIAS): start on top, demote as bytes sent grow"
    Params = PiasParams

    def __init__(self, params=None, num_queues=8):
        super().__init__(params, num_queues)
        self.thresholds = self.params.demotion_thresholds
        check_threshold_count(self.name, "demotion_thresholds", self.thresholds, num_queues)

    def fit(self, flow_sizes, stages=None):
        if self.params.demotion_thresholds is None:
            self.thresholds = quantile_thresholds(flow_sizes, self.num_queues)

    def assign(self, flow, view):
        require_thresholds(self.name, "demotion_thresholds", self.thresholds)
        return self._decide(flow) or Decision(0, "initial")

    def reevaluate(self, view, trigger):
        # Bytes sent only grow between ticks; other events move nothing.
        if trigger.kind != TICK:
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

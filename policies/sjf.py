"""``sjf``: smaller flows first, by flow size through K-1 size thresholds.

Sizes are known at registration, so a flow's queue is fixed on arrival.
Thresholds come from the parameters, or else from ``fit``: quantiles of the
trace's flow sizes splitting the flows evenly over the queues.

Validated by: ``tests/test_policies_baselines.py``; the default experiment
``tests/test_experiment_root.py`` (no fluid scenario or replay test of its
own yet).
"""

from pydantic import BaseModel

from policies.base import Decision, Policy
from policies.params import STRICT, SizeThresholds
from policies.thresholds import (
    check_threshold_count, quantile_thresholds, require_thresholds, size_class)


class SjfParams(BaseModel):
    model_config = STRICT

    # Flow sizes (bytes, or strings such as '1MiB') separating the queues;
    # null: quantiles of the trace's flow sizes.
    size_thresholds: SizeThresholds = None


class SjfPolicy(Policy):
    name = "sjf"
    description = "smaller flows first: queue by flow size through K-1 size thresholds"
    Params = SjfParams

    def __init__(self, params=None, num_queues=8):
        super().__init__(params, num_queues)
        self.thresholds = self.params.size_thresholds
        check_threshold_count(self.name, "size_thresholds", self.thresholds, num_queues)

    def fit(self, flow_sizes, stages=None):
        if self.params.size_thresholds is None:
            self.thresholds = quantile_thresholds(flow_sizes, self.num_queues)

    def assign(self, flow, view):
        thresholds = require_thresholds(self.name, "size_thresholds", self.thresholds)
        return Decision(size_class(flow.size_bytes, thresholds), "initial")

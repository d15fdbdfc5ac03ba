"""``fair``: every flow in one queue, so TCP shares bandwidth fairly.

The stage-agnostic baseline: no priorities at all.
"""

from controller.policies.base import Decision, Policy


class FairPolicy(Policy):
    name = "fair"
    description = "one queue for all flows (TCP fair sharing), the stage-agnostic baseline"
    min_queues = 1

    def assign(self, flow, view):
        return Decision(0, "initial")

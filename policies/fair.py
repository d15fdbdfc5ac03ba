"""``fair``: every flow in one queue, so TCP shares bandwidth fairly.

The stage-agnostic baseline: no priorities at all.

Validated by: ``tests/test_policies_baselines.py``; the fluid scenario
``test_fair_slows_the_all_to_all_and_misses_the_deadline``
(``tests/test_fluid_scenarios.py``); the replay
``tests/test_replay_root.py`` (contention, against MFS).
"""

from policies.base import Decision, Policy


class FairPolicy(Policy):
    name = "fair"
    description = "one queue for all flows (TCP fair sharing), the stage-agnostic baseline"
    min_queues = 1

    def assign(self, flow, view):
        return Decision(0, "initial")

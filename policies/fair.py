"""``fair``: every flow in one queue, so TCP shares bandwidth fairly.

The stage-agnostic baseline: no priorities at all.

Validated by: ``tests/test_policies_baselines.py``; the fluid scenario
``test_fair_slows_the_all_to_all_and_misses_the_deadline``
(``tests/test_fluid_scenarios.py``); the replay
``tests/test_replay_root.py`` (contention, against MFS).
"""

from pydantic import BaseModel, Field

from common.errors import UserError
from policies.base import Decision, Policy
from policies.params import STRICT


class FairParams(BaseModel):
    model_config = STRICT

    # The queue every flow uses.  Q0 is also where every egress puts small
    # packets (ACKs, SYNs); 1 puts data below them, as it is under the
    # policies that leave Q0 to their most urgent flows.
    queue: int = Field(default=0, ge=0)


class FairPolicy(Policy):
    name = "fair"
    description = "one queue for all flows (TCP fair sharing), the stage-agnostic baseline"
    min_queues = 1
    Params = FairParams

    def __init__(self, params=None, num_queues=8):
        super().__init__(params, num_queues)
        if self.params.queue >= num_queues:
            raise UserError("fair.queue", f"queue {self.params.queue} does not exist with "
                                          f"{num_queues} queues")

    def assign(self, flow, view):
        return Decision(self.params.queue, "initial")

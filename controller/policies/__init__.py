"""Flow scheduling policies, shared by the emulator's controller and the fluid simulator.

    from controller.policies import get_policy, Scheduler, FlowState
    policy = get_policy("mfs", {"mlu_scope": "flow"}, num_queues=8)
    scheduler = Scheduler(policy, link_rates={"h1->tor1": 100e9, ...})
    scheduler.fit(trace_flow_sizes, trace_flow_stages)
    changes = scheduler.add_flow(FlowState(...), now)   # enforce each change

See :mod:`controller.policies.base` for the interface and units.
"""

from controller.policies.base import (
    REASONS, STAGES, Decision, FlowState, Policy, Trigger)
from controller.policies.config import DEFAULT_CONFIG, get_policy, read_policy_config
from controller.policies.registry import policy_class, policy_classes
from controller.policies.scheduler import QueueChange, Scheduler
from controller.policies.view import SchedulerView

__all__ = ["REASONS", "STAGES", "Decision", "FlowState", "Policy", "Trigger",
           "DEFAULT_CONFIG", "get_policy", "read_policy_config", "policy_class",
           "policy_classes", "QueueChange", "Scheduler", "SchedulerView"]

"""Flow scheduling policies, shared by the emulator's controller and the fluid simulator.

    from policies import get_policy, Scheduler, FlowState
    policy = get_policy("mfs", {"mlu_scope": "flow"}, num_queues=8)
    scheduler = Scheduler(policy, link_rates={"h1->tor1": 100e9, ...})
    scheduler.fit(trace_flow_sizes, trace_flow_stages)
    changes = scheduler.add_flow(FlowState(...), now)   # enforce each change

See :mod:`policies.base` for the interface and units.  The map:

* ``base``       the interface: ``Policy``, ``FlowState``, ``Decision``.
* ``scheduler``  ``Scheduler``: the calls both data planes make (arrival,
  completion, progress, bytes, tick) and the changes they must enforce.
* ``view``       ``SchedulerView``: active flows, request progress, links.
* ``fair``, ``sjf``, ``edf``, ``pias``, ``karuna``, ``mfs``  the policies,
  one per module; ``layout``, ``thresholds``, ``params`` their helpers.
* ``registry``   finds every ``Policy`` subclass in this package by name
  (modules starting with ``_`` are skipped: ``_example.py`` is the
  annotated template for a new policy).
* ``config``     ``policies.yaml`` (one section per policy) and user files.
* ``fluid/``     the fluid allocator and flow-level simulator.
* ``cli``        ``run_emulation.py policies``.

Imports :mod:`common` only: the emulator's controller process and the
simulator both run these modules unchanged.
"""

from policies.base import (
    REASONS, STAGES, Decision, FlowState, Policy, Trigger)
from policies.config import (DEFAULT_CONFIG, DEFAULT_REFERENCE, default_schedulers, get_policy,
                             read_policy_config)
from policies.registry import policy_class, policy_classes
from policies.scheduler import QueueChange, Scheduler
from policies.view import SchedulerView

__all__ = ["REASONS", "STAGES", "Decision", "FlowState", "Policy", "Trigger",
           "DEFAULT_CONFIG", "DEFAULT_REFERENCE", "default_schedulers", "get_policy",
           "read_policy_config", "policy_class",
           "policy_classes", "QueueChange", "Scheduler", "SchedulerView"]

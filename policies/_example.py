"""``laxity_first`` (a template): copy this file to add a policy.

Copy it to ``policies/<your_name>.py`` (a module name without the leading
underscore: the registry skips ``_``-prefixed modules, which is why this one
is not registered), rename the class and ``name``, and add a section with
the same name to ``policies/policies.yaml`` holding the defaults of
``Params``.  That is all: the registry finds the class, ``run
--scheduler <name>`` runs it on the emulator, the fluid simulator runs it,
and ``run_emulation.py policies`` lists it.  ``tests/test_examples.py``
checks that exactly these two touches suffice.

The policy: a flow whose request has little laxity left (time to its
deadline minus the time its remaining bytes need at the bottleneck's rate)
goes high.  Laxity is re-read on every tick, so flows are promoted as
their deadlines approach and demoted if they get ahead.

Validated by: ``tests/test_examples.py`` (registered, runs in the fluid
simulator); add your own unit tests, a fluid scenario
(``tests/test_fluid_scenarios.py``) and a replay test
(``tests/test_replay_root.py``) for a real policy.
"""

from pydantic import BaseModel

from policies.base import TICK, Decision, Policy, move
from policies.params import STRICT, Seconds


class ExampleParams(BaseModel):
    """Parameters, validated when a file is read (``extra="forbid"``: a typo
    in a key is an error).  Defaults must equal the YAML section."""

    model_config = STRICT

    # Laxity (seconds of real time) under which a flow goes to the top queue.
    urgent_laxity: Seconds = 0.001
    # Seconds between re-evaluations (None would mean: arrivals only).
    tick: Seconds = 0.001


class ExamplePolicy(Policy):
    # The registry's key, the --scheduler name and the YAML section's name.
    name = "laxity_first"
    # One line for `run_emulation.py policies`.
    description = "little laxity first: urgent flows top, the rest by laxity"
    # Fewest queues this policy works with (the data plane offers 8).
    min_queues = 2
    Params = ExampleParams

    def fit(self, flow_sizes, stages=None):
        """Called once with the trace's flow sizes before a run (optional)."""

    def assign(self, flow, view):
        """The first decision for a newly registered flow (``flow.queue`` is None)."""
        return Decision(self._queue(flow, view), "initial")

    def reevaluate(self, view, trigger):
        """Changes only: {flow id: Decision} for flows whose queue or pacing moves.

        ``trigger.kind`` is tick, arrival, completion or progress; this
        policy only acts on ticks.
        """
        if trigger.kind != TICK:
            return {}
        changes = {}
        for flow in view.flows.values():
            queue = self._queue(flow, view)
            if flow.queue is not None and queue != flow.queue:
                changes[flow.flow_id] = Decision(queue, move(flow.queue, queue))
        return changes

    def _queue(self, flow, view):
        if flow.deadline is None:
            return self.num_queues - 1          # no deadline: the lowest queue
        rate = flow.bottleneck_rate_bps or 1.0
        laxity = flow.deadline - view.now - flow.remaining_bytes * 8 / rate
        if laxity < self.params.urgent_laxity:
            return 0
        # one queue per further `urgent_laxity` of slack, capped at the lowest
        return min(self.num_queues - 1, 1 + int(laxity / self.params.urgent_laxity))

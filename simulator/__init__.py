"""The second data plane: a flow-level simulator of a whole trace DAG.

* ``dag``  a trace onto the fluid simulator's inputs: compute nodes become
  timed events (a layer's start is reported to the policy as progress),
  flows become fluids on their ECMP path, and every dependency, the
  instance queue included, becomes an ``after`` edge.
* ``run``  ``simulate_trace``: the same :class:`~policies.scheduler.Scheduler`
  calls the emulator's controller makes (arrival, completion, progress,
  bytes, tick), then the run as records shaped like the host agents', so
  the emulator's results code writes the same tables.

Runs in the orchestrator process; no root, no fabric.  Imports
:mod:`netmodel`, :mod:`policies` and :mod:`traces`, never the emulator.
"""

"""Experiments: a backend run over a trace, with its results and checks.

* ``cli``           the run, sweep, selftest, bench and topology commands.
* ``experiment``    one trace under each scheduler; ``run.json``.
* ``replay``        the emulator's orchestration: controller, fabric, agents,
  the hub, time zero; ``results`` turns the agents' records into the tables.
* ``calibration``   the automatic emulation speed (dilation, MTU) and why.
* ``selftest``, ``capacity``, ``invariance``  fabric fidelity, aggregate
  capacity, dilation invariance.
* ``bench``, ``bench_traces``  the engine's own costs and collective
  efficiency.
* ``sweep_points``  one experiment per value of a swept parameter.

Runs in the orchestrator process (``run_emulation.py``, as root); starts
the controller and the host agents. The top layer: may import any package.
"""

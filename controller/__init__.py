"""The scheduling controller: one os-ken (Ryu API) process per run.

* ``app``              the OpenFlow 1.3 app: forwarding and per-flow path
  pins on the switches; runs the policy (:mod:`policies`) on its own loop.
* ``registry_server``  the flow registry: agents declare flows, report
  arrivals, progress, bytes and completions; decisions are pushed back.
* ``protocol``         the registry's messages (JSON lines), shared by both
  ends; ``client`` is the orchestrator's side of it.
* ``change_log``       every queue change, written as ``queue_changes.csv``.
* ``settings``, ``launcher``, ``process``, ``compat``  how the orchestrator
  starts it (``python -m controller.launcher SETTINGS.json``), checks it and
  stops it by PID; os-ken or classic Ryu.

Channels: OpenFlow over TCP to Open vSwitch; the registry's Unix socket to
the host agents and the orchestrator.  Imports :mod:`netmodel` and
:mod:`policies`, never a data plane.
"""

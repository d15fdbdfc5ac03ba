"""The network model every backend shares; imports no data plane.

* ``topology``  the topology file (YAML, pydantic-validated): hosts,
  switches, links with rate, buffer, queues and MTU; ``Topology.with_mtu``.
* ``routing``   shortest paths and ECMP next hops computed from the
  topology file (never from OpenFlow port descriptions).
* ``queues``    the queue plan of a port: HTB classes, the DSCP (IP
  precedence) of each queue, u32 filters; what a queue number means.
* ``dilation``  time dilation and byte scale: emulated <-> real units.

Run by every process kind: the orchestrator (building the fabric), the
controller (paths and DSCP of each decision) and the simulator.
"""

"""The emulated data plane: real hosts, switches, queues and TCP on one machine.

* ``fabric``       Mininet hosts and Open vSwitch bridges built from a
  topology; interface MTU, offloads and host TCP settings; cleanup of
  exactly what it created.
* ``ovs``, ``tc``  Open vSwitch (ovs-vsctl, the userspace datapath) and the
  queue plan as HTB trees over netlink (pyroute2).
* ``hub``          the orchestrator's Unix socket the host agents report to.
* ``agent/``       the host agent, one process per emulated host (see there).
* ``agents``       starting them: per replay, or one serving process per host
  for the replays that share a fabric.
* ``sampler``      per-port queue and throughput samples (``links.csv``).
* ``traffic``      backlogged iperf3 flows for the self-test.
* ``host_tuning``  low wake-up latency while a replay runs.

Process kinds: the orchestrator (an :mod:`experiments` command) builds the
fabric and runs the hub; the agents run in the hosts' namespaces; the
controller (:mod:`controller`) talks OpenFlow to the bridges.
"""

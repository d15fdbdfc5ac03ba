"""Fabric self-test: does the emulated fabric behave like the switches it models?

Builds the fabric, sends real backlogged TCP traffic and measures:

* ``rate_accuracy``: goodput of >= 4 backlogged flows sharing one bottleneck
  port, over the port's configured (emulated) rate (``--rate-flows`` adds
  other flow counts);
* ``fairness``: Jain's index of those flows' goodputs, which share one queue
  (1 = equal shares; the aggregate alone would hide an unfair split);
* ``priority_isolation``: share of a contended switch port that a backlogged
  high-priority flow gets while a backlogged low-priority flow competes;
* ``nic_priority_isolation``: the same on a sender's own NIC (one host
  sending a high- and a low-priority flow at once);
* ``switch_cpu``: fraction of one core used by ovs-vswitchd during the
  rate test;
* ``unmodelled_drops``: packets lost anywhere but the modelled queues (OVS
  send errors and lost upcalls, veth drops and errors); expected 0.

Goodput counts TCP payload only, so a perfect port scores about
``(MTU - 52) / (MTU + 14)`` (0.99 at MTU 9000).  The test passes when every
ratio and the fairness index are >= 0.95.
"""

import os
import time

from common import measured
from emulator import ovs
from emulator.fabric import Fabric
from netmodel.queues import tos_for_queue
from emulator.traffic import TestFlow, run_backlogged
from common.safe_files import write_json_atomic

PASS_RATIO = 0.95


def pick_hosts(topology, count):
    """``count`` hosts, spread over the topology (first ``count`` in file order)."""
    hosts = [h.name for h in topology.hosts]
    if len(hosts) < count:
        raise ValueError(f"the self-test needs {count} hosts, topology has {len(hosts)}")
    return hosts[:count]


def jain_index(values):
    """Jain's fairness index: (sum x)^2 / (n sum x^2); 1 when all are equal."""
    values = [float(v) for v in values]
    squares = sum(v * v for v in values)
    return sum(values) ** 2 / (len(values) * squares) if squares else 0.0


def measure_rate_accuracy(fabric, senders, receiver, seconds, flows=None):
    """Goodput of ``flows`` backlogged flows (default one per sender, spread
    round-robin over ``senders``) into ``receiver``, over the port's rate."""
    port = fabric.egress_port(*_last_hop(fabric, receiver))
    count = flows or len(senders)
    tests = [TestFlow(senders[i % len(senders)], receiver) for i in range(count)]
    results = run_backlogged(fabric, tests, seconds)
    total = sum(r.goodput_bps for r in results)
    return total / port.plan.rate_bps, results


def measure_priority(fabric, high, low, seconds):
    """Goodput share of the high-priority flow on the port where both meet."""
    queues = fabric.topology.links[0].queues
    flows = [TestFlow(*high, tos=tos_for_queue(0, queues)),
             TestFlow(*low, tos=tos_for_queue(queues - 1, queues))]
    results = run_backlogged(fabric, flows, seconds)
    if high[0] == low[0]:   # same sender: its NIC is the contended port
        port = fabric.egress_port(high[0], _first_hop(fabric, high[0]))
    else:                   # same receiver: the last switch port is
        port = fabric.egress_port(*_last_hop(fabric, high[1]))
    return results[0].goodput_bps / port.plan.rate_bps, results


def _first_hop(fabric, host):
    link = fabric.topology.host_link(host)
    return link.b if link.a == host else link.a


def _last_hop(fabric, host):
    return _first_hop(fabric, host), host


SELFTEST_NOT_MEASURED = {
    "switch_cpu": "ovs-vswitchd's /proc entry could not be read (it stopped or restarted)",
    "unmodelled_drops": "an interface was gone, the OVS log unreadable or ovs-appctl silent",
}


def run_selftest(topology, dilation, seconds=6.0, out_dir=None, echo=print, flow_counts=()):
    """Build the fabric, measure, write ``fidelity.json``; return the report.

    ``flow_counts``: extra flow counts for the rate-accuracy test (e.g. 1, 16).
    """
    a, b, c, d, e = pick_hosts(topology, 5)
    with Fabric(topology, dilation) as fabric:
        echo(f"fabric: {topology.name}, {len(topology.hosts)} hosts, "
             f"{len(topology.switches)} switches, datapath {fabric.datapath}; "
             f"{dilation.describe(topology)}")
        pid = ovs.vswitchd_pid()
        log_offset = ovs.log_size()
        lost0, ifdrops0 = ovs.datapath_lost(), fabric.interface_drops()

        cpu0, wall0 = ovs.process_cpu_seconds(pid), time.monotonic()
        rate, rate_flows = measure_rate_accuracy(fabric, [a, b, c, d], e, seconds)
        switch_cpu = measured.per_second(measured.diff(ovs.process_cpu_seconds(pid), cpu0),
                                         time.monotonic() - wall0)
        fairness = jain_index([r.goodput_bps for r in rate_flows])
        echo(f"rate accuracy      {rate:.3f}  ({len(rate_flows)} TCP flows into {e}: "
             + ", ".join(f"{r.goodput_bps / 1e6:.1f}" for r in rate_flows) + " Mbit/s)")
        echo(f"fairness           {fairness:.3f}  (Jain's index of those flows, one queue)")
        by_count = {}
        for count in [n for n in dict.fromkeys(flow_counts) if n != len(rate_flows)]:
            acc, flows = measure_rate_accuracy(fabric, [a, b, c, d], e, seconds, count)
            by_count[count] = {"rate_accuracy": round(acc, 4),
                               "fairness": round(jain_index([r.goodput_bps for r in flows]), 4)}
            echo(f"  {count:>2} flows        {acc:.3f}  fairness {by_count[count]['fairness']:.3f}")

        prio, prio_flows = measure_priority(fabric, (a, e), (b, e), seconds)
        echo(f"priority isolation {prio:.3f}  (switch port to {e}: high "
             f"{prio_flows[0].goodput_bps / 1e6:.1f}, low {prio_flows[1].goodput_bps / 1e6:.1f} Mbit/s)")

        nic, nic_flows = measure_priority(fabric, (a, b), (a, c), seconds)
        echo(f"NIC priority       {nic:.3f}  ({a}'s NIC: high "
             f"{nic_flows[0].goodput_bps / 1e6:.1f}, low {nic_flows[1].goodput_bps / 1e6:.1f} Mbit/s)")

        unmodelled = measured.total(ovs.send_errors_since(log_offset),
                                    measured.diff(ovs.datapath_lost(), lost0),
                                    measured.diff(fabric.interface_drops(), ifdrops0))
        report = {
            "rate_accuracy": round(rate, 4),
            "fairness": round(fairness, 4),
            "rate_accuracy_by_flows": by_count,
            "priority_isolation": round(prio, 4),
            "nic_priority_isolation": round(nic, 4),
            "switch_cpu": None if switch_cpu is None else round(switch_cpu, 4),
            "unmodelled_drops": unmodelled,
            "modelled_drops": fabric.modelled_drops(),
            "retransmits": sum(r.retransmits for r in rate_flows + prio_flows + nic_flows),
            "datapath": fabric.datapath,
            "seconds_per_test": seconds,
            "tcp_congestion_control": _read("/proc/sys/net/ipv4/tcp_congestion_control"),
            "fabric": fabric.describe(),
        }
    report["not_measured"] = measured.unmeasured(
        {"switch_cpu": switch_cpu, "unmodelled_drops": unmodelled}, SELFTEST_NOT_MEASURED)
    report["passed"] = min(rate, fairness, prio, nic) >= PASS_RATIO
    cpu_text = "not measured" if switch_cpu is None else f"{switch_cpu:.2f} of a core"
    drops_text = "not measured" if unmodelled is None else unmodelled
    echo(f"switch CPU         {cpu_text}; unmodelled drops {drops_text}; "
         f"modelled drops {report['modelled_drops']}; retransmits {report['retransmits']}")
    echo("PASS" if report["passed"] else f"FAIL: a ratio is below {PASS_RATIO}")
    if out_dir:
        write_json(os.path.join(out_dir, "fidelity.json"), report)
        echo(f"wrote {os.path.join(out_dir, 'fidelity.json')}")
    return report


def _read(path):
    with open(path, encoding="ascii") as handle:
        return handle.read().strip()


write_json = write_json_atomic     # the name the experiments use

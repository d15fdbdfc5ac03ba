"""Fabric capacity: how much traffic the emulated fabric carries as it grows
(``run_emulation.py selftest --capacity 8,16,32,64``).

For each size it builds a single-ToR fabric and a leaf-spine one (4 hosts per
leaf, 2 spines, non-blocking uplinks), sends one backlogged TCP flow from
every host to the next (a permutation: every host link busy in both
directions) and reports the aggregate goodput over the configured aggregate,
Jain's index of the flows and Open vSwitch's CPU.  The fabric's own limit
is where the ratio falls below 1 as hosts are added.
"""

import os
import tempfile
import time

import yaml

from common import measured
from emulator import ovs
from experiments.calibration import choose_speed
from emulator.fabric import Fabric
from experiments.selftest import jain_index
from netmodel.topology import load_topology
from emulator.traffic import TestFlow, run_backlogged

SHAPES = ("single_tor", "leaf_spine")
HOSTS_PER_LEAF = 4


def topology_spec(shape, hosts):
    """A topology file's content (dict) for ``hosts`` servers in ``shape``."""
    names = [f"h{i + 1}" for i in range(hosts)]
    spec = {"name": f"{shape}_{hosts}", "defaults": {"rate": "100Gbps", "buffer": "16MiB",
                                                     "queues": 8, "mtu": 9000},
            "hosts": names}
    if shape == "single_tor":
        spec.update(description=f"{hosts} servers on one ToR", switches=["tor1"],
                    links=[{"a": h, "b": "tor1"} for h in names])
        return spec
    leaves = [f"leaf{i + 1}" for i in range(-(-hosts // HOSTS_PER_LEAF))]
    spines = ["spine1", "spine2"]
    uplink = f"{100 * HOSTS_PER_LEAF // len(spines)}Gbps"     # non-blocking
    links = [{"a": h, "b": leaves[i // HOSTS_PER_LEAF]} for i, h in enumerate(names)]
    links += [{"a": leaf, "b": spine, "rate": uplink} for leaf in leaves for spine in spines]
    spec.update(description=f"{hosts} servers, {len(leaves)} leaves x {HOSTS_PER_LEAF}, 2 spines",
                switches=leaves + spines, links=links)
    return spec


def measure(topology, dilation, seconds):
    hosts = [h.name for h in topology.hosts]
    flows = [TestFlow(h, hosts[(i + 1) % len(hosts)]) for i, h in enumerate(hosts)]
    with Fabric(topology, dilation) as fabric:
        pid = ovs.vswitchd_pid()
        cpu0, wall0 = ovs.process_cpu_seconds(pid), time.monotonic()
        results = run_backlogged(fabric, flows, seconds)
        cpu = measured.per_second(measured.diff(ovs.process_cpu_seconds(pid), cpu0),
                                  time.monotonic() - wall0)
        configured = sum(fabric.egress_port(f.src, _first_hop(topology, f.src)).plan.rate_bps
                         for f in flows)
    goodput = [r.goodput_bps for r in results]
    return {"hosts": len(hosts), "switches": len(topology.switches),
            "emulated_link_bps": dilation.emu_rate(topology.host_link(hosts[0]).rate_bps),
            "aggregate_goodput_bps": round(sum(goodput)), "configured_bps": round(configured),
            "accuracy": round(sum(goodput) / configured, 4), "fairness": round(jain_index(goodput), 4),
            "switch_cpu": None if cpu is None else round(cpu, 3),
            "retransmits": sum(r.retransmits for r in results)}


def _first_hop(topology, host):
    link = topology.host_link(host)
    return link.b if link.a == host else link.a


def run_capacity(sizes, shapes, mtu, emulated_rate, seconds, echo=print):
    rows = []
    with tempfile.TemporaryDirectory(prefix="capacity-") as work:
        for shape in shapes:
            for hosts in sizes:
                path = os.path.join(work, f"{shape}_{hosts}.yaml")
                with open(path, "w", encoding="utf-8") as handle:
                    yaml.safe_dump(topology_spec(shape, hosts), handle)
                topology = load_topology(path).with_mtu(mtu)
                dilation, _ = choose_speed(topology, mtu, emulated_rate=emulated_rate)
                try:
                    row = {"shape": shape, **measure(topology, dilation, seconds)}
                except RuntimeError as err:      # a size this machine cannot build: say so, go on
                    rows.append({"shape": shape, "hosts": hosts, "error": str(err)[:300]})
                    echo(f"{shape:>10} {hosts:>3} hosts: could not build: {str(err)[:120]}")
                    continue
                rows.append(row)
                echo(f"{shape:>10} {hosts:>3} hosts: {row['aggregate_goodput_bps'] / 1e9:.2f} of "
                     f"{row['configured_bps'] / 1e9:.2f} Gbit/s ({row['accuracy']:.3f}), fairness "
                     f"{row['fairness']:.3f}, OVS "
                     + ("not measured" if row["switch_cpu"] is None else f"{row['switch_cpu']:.2f} core"))
    return rows

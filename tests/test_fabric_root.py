"""Root integration: the real fabric (Mininet, OVS, kernel TCP, tc queues)."""

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import REPO
from emulator import ovs, tc
from netmodel.dilation import Dilation
from emulator.fabric import Fabric
from netmodel.queues import tos_for_queue
from experiments.selftest import measure_priority, run_selftest
from netmodel.topology import MAX_MTU, load_topology
from emulator.traffic import TestFlow, run_backlogged

pytestmark = pytest.mark.root


def shells():
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if l.startswith("bash") and "mininet:" in l]


def emulated_links():
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if "-eth" in l]


@pytest.fixture(scope="module")
def selftest_report(root_env, tmp_path_factory):
    topo = load_topology("single_tor_8")
    out = tmp_path_factory.mktemp("selftest")
    report = run_selftest(topo, Dilation.for_topology(topo), seconds=4, out_dir=str(out),
                          echo=lambda *_: None)
    return report, out


def qos_rows():
    return set(ovs.run(["ovs-vsctl", "--bare", "--columns=_uuid", "list", "qos"]).split())


@pytest.mark.parametrize("name", ["single_tor_8", "leaf_spine", "fat_tree_k4"])
def test_fabric_builds_and_all_hosts_reach_each_other(root_env, name):
    topo = load_topology(name)
    bridges_before, qos_before = set(ovs.bridges()), qos_rows()
    with Fabric(topo, Dilation.for_topology(topo)) as fabric:
        assert fabric.datapath in ("user", "kernel")
        created = set(ovs.bridges()) - bridges_before
        assert created == {s.internal for s in topo.switches}
        assert fabric.net.pingAll(timeout=2) == 0.0
        # hosts' TCP: every segment acknowledged at once, a minimum RTO
        # dilated with the fabric
        host = topo.hosts[0].name
        proc = fabric.popen(host, ["ip", "route", "show"])
        route = proc.communicate(timeout=10)[0].decode()
        assert "quickack 1" in route and "rto_min lock" in route, route
        assert fabric.min_rto_ms(topo.host_link(host)) > 200      # 16 MiB drain, dilated x1000
        # every egress has its HTB tree: the port class plus one class per queue
        for port in (fabric.egress[0], fabric.egress[1]):
            stats = fabric.port_stats(port)
            assert sorted(stats) == list(range(port.plan.num_queues))
            assert all("bytes" in s for s in stats.values())
        # and every queue below Q0 starts in deficit: it can only borrow, in
        # priority order (its first frame would otherwise jump the queues above)
        for port in fabric.egress:
            tokens = tc.class_tokens(fabric._ns_pid(port.node), port.ifname)
            below_q0 = [tokens[c.classid] for c in port.plan.classes if c.queue > 0]
            assert len(below_q0) == port.plan.num_queues - 1
            assert all(t < 0 for t in below_q0), (port.ifname, below_q0)
    assert set(ovs.bridges()) == bridges_before
    assert qos_rows() == qos_before        # OVS keeps QoS rows after their ports: we remove ours
    from common import ledger
    assert ledger._lock_fd is None     # a stopped fabric leaves the machine to the next run
    assert not shells()
    assert not emulated_links()


def test_selftest_meets_fidelity_targets(selftest_report):
    report, out = selftest_report
    assert report["rate_accuracy"] >= 0.95
    assert report["fairness"] >= 0.95
    assert report["priority_isolation"] >= 0.95
    assert report["unmodelled_drops"] == 0
    assert report["datapath"] in ("user", "kernel")
    assert 0 < report["switch_cpu"] < 2
    written = json.loads((out / "fidelity.json").read_text())
    for key in ("rate_accuracy", "priority_isolation", "switch_cpu", "unmodelled_drops", "datapath"):
        assert written[key] == report[key]
    assert written["fabric"]["dilation"]["time_dilation"] == pytest.approx(1000)


def test_sender_nic_is_a_strict_priority_queue(selftest_report):
    report, _ = selftest_report
    assert report["nic_priority_isolation"] >= 0.95


def test_priority_traffic_lands_in_its_queue_class(root_env):
    topo = load_topology("single_tor_8")
    with Fabric(topo, Dilation.for_topology(topo)) as fabric:
        share, results = measure_priority(fabric, ("h1", "h3"), ("h2", "h3"), seconds=2)
        stats = fabric.port_stats(fabric.egress_port("tor1", "h3"))
        # the high flow's bytes went through Q0, the low flow's through Q7
        assert stats[0]["bytes"] > 10 * stats[7]["bytes"] > 0
        assert share >= 0.9


def test_low_priority_data_never_lands_in_the_top_queue(root_env):
    """A low-priority flow's data stays in its queue on the sender's NIC.

    Multi-segment (GSO) packets over 64 KiB carry an IP total length of 0,
    which the small-packet filter used to send to Q0, ahead of every queue.
    """
    topo = load_topology("single_tor_8").with_mtu(MAX_MTU)   # GSO packets exceed 64 KiB
    queues = topo.links[0].queues
    with Fabric(topo, Dilation.for_topology(topo)) as fabric:
        run_backlogged(fabric, [TestFlow("h1", "h3", tos=tos_for_queue(queues - 1, queues))],
                       seconds=2)
        stats = fabric.port_stats(fabric.egress_port("h1", "tor1"))
        assert stats[queues - 1]["bytes"] > 1_000_000
        # only the handshake's and the closing's small packets go to Q0
        assert stats[0]["bytes"] < 0.001 * stats[queues - 1]["bytes"]


@pytest.mark.parametrize("command, written", [
    (["selftest", "--seconds", "30"], "fidelity.json"),
    # the soak samples in a helper thread; the replay, in the main one, unwinds
    (["selftest", "--soak", "--trace", "traces/workload_60.jsonl", "--scheduler", "fair"],
     "soak.json"),
])
def test_sigterm_removes_everything_the_run_created(root_env, tmp_path, command, written):
    bridges_before = set(ovs.bridges())
    proc = subprocess.Popen([sys.executable, str(REPO / "run_emulation.py"), *command,
                             "--out", str(tmp_path)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert ovs.wait_for(lambda: shells() and set(ovs.bridges()) - bridges_before, 30)
        time.sleep(2)   # traffic is flowing now
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    out, err = proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM, (out[-2000:], err[-2000:])
    assert set(ovs.bridges()) == bridges_before
    assert not shells()
    assert not emulated_links()
    assert not (tmp_path / written).exists()   # nothing half-written


def test_refuses_to_touch_a_bridge_it_did_not_create(root_env):
    from common.errors import UserError
    topo = load_topology("single_tor_8")
    subprocess.run(["ovs-vsctl", "add-br", "s1", "--", "set", "bridge", "s1",
                    "datapath_type=netdev"], check=True)
    try:
        with pytest.raises(UserError, match="bridge.*s1.*already exist"):
            Fabric(topo, Dilation.for_topology(topo)).start()
        assert "s1" in ovs.bridges()          # still there: not ours to delete
        from common import ledger
        assert ledger._lock_fd is None        # a refused fabric keeps no hold on the machine
    finally:
        subprocess.run(["ovs-vsctl", "--if-exists", "del-br", "s1"], check=True)

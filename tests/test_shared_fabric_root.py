"""Root integration: successive replays on one fabric and one set of serving
agents (as ``run`` does for its schedulers) see the state a new fabric has,
and get the same results."""

import os
import signal

import pandas as pd
import pytest

from emulator import ovs, tc
from emulator.agents import Agents
from emulator.fabric import Fabric
from experiments.replay import Replay
from netmodel.dilation import Dilation
from netmodel.topology import load_topology
from tests.scenarios import contention_trace

pytestmark = pytest.mark.root


def _tcp_metrics(fabric, host):
    return fabric.host(host).cmd("ip tcp_metrics show").strip()


def _run(fabric, agents, topo, scheduler, directory):
    fidelity = Replay(topo, Dilation.for_topology(topo), contention_trace(), scheduler, directory,
                      timeout=120).run(fabric, agents)
    flows = pd.read_csv(directory / "flows.csv").set_index("flow_id")
    requests = pd.read_csv(directory / "requests.csv").set_index("request_id")
    return fidelity, flows, requests


@pytest.fixture(scope="module")
def shared_runs(root_env, tmp_path_factory):
    """mfs, fair, mfs on one fabric; between the last two a stray rule that
    would blackhole h3 is left in the switch, and the state is inspected."""
    topo = load_topology("single_tor_8")
    runs, seen = [], {}
    with Fabric(topo, Dilation.for_topology(topo), controller=Fabric.LATER) as fabric, \
            Agents(fabric, serve=True) as agents:
        for i, scheduler in enumerate(("mfs", "fair", "mfs")):
            if i == 2:
                seen["metrics_before"] = _tcp_metrics(fabric, "h3")
                switch = topo.switches[0].internal
                ovs.run(["ovs-ofctl", "-O", "OpenFlow13", "add-flow", switch,
                         f"priority=65000,ip,nw_dst={topo.nodes['h3'].ip},actions=drop"])
                fabric.prepare_replay(("127.0.0.1", 9))       # nobody listens there
                seen["metrics_after"] = {h.name: _tcp_metrics(fabric, h.name) for h in topo.hosts}
                port = fabric.egress_port("tor1", "h3")
                seen["tokens"] = tc.class_tokens(None, port.ifname)
                seen["plan"] = port.plan
                killed = agents._serving["h1"]                   # a serving agent died between runs
                os.kill(killed.pid, signal.SIGKILL)
                killed.wait()
            directory = tmp_path_factory.mktemp(f"{i}-{scheduler}")
            runs.append(_run(fabric, agents, topo, scheduler, directory))
            seen.setdefault("agent_pids", []).append(
                {host: proc.pid for host, proc in agents._serving.items()})
            seen.setdefault("logs", []).append(
                {h.name: (directory / f"agent-{h.name}.log").exists() for h in topo.hosts})
        seen["bridges"] = set(ovs.bridges())
    seen["bridges_after"] = set(ovs.bridges())
    return runs, seen


def test_every_replay_connects_every_flow_on_the_same_ports(shared_runs):
    runs, _ = shared_runs
    for fidelity, flows, _ in runs:
        # the source ports of the last replay are reused: a TIME_WAIT would refuse them
        assert fidelity["connect_errors"] == 0
        assert (flows["status"] == "ok").all(), flows[["status", "reason"]]
        assert fidelity["byte_mismatches"] == 0 and fidelity["dependency_violations"] == 0


def test_the_new_controller_clears_what_was_left_in_the_switch(shared_runs):
    runs, _ = shared_runs
    _, flows, _ = runs[2]
    assert flows.loc["a.a2a", "status"] == "ok"        # h3 was reachable despite the drop rule


def test_a_reset_fabric_forgets_tcp_metrics_and_queue_tokens(shared_runs):
    _, seen = shared_runs
    assert seen["metrics_before"], "the kernel kept no TCP metrics to forget"
    assert all(text == "" for text in seen["metrics_after"].values()), seen["metrics_after"]
    classes = {cls.classid: cls.queue for cls in seen["plan"].classes}
    below_q0 = [tokens for classid, tokens in seen["tokens"].items()
                if classes.get(classid, 0) > 0]
    assert below_q0 and all(tokens < 0 for tokens in below_q0), seen["tokens"]


def test_the_same_scheduler_gets_the_same_result_before_and_after_another(shared_runs):
    runs, _ = shared_runs
    (_, first, first_req), (_, fair, _), (_, again, again_req) = runs
    for flows in (first, again):
        assert flows.loc["a.a2a", "queue_initial"] < flows.loc["b.p2d", "queue_initial"]
        # the collective went first under mfs both times, unlike under fair
        assert flows.loc["a.a2a", "end_us"] < 0.9 * fair.loc["a.a2a", "end_us"]
    assert bool(first_req.loc["b", "slo_met"]) and bool(again_req.loc["b", "slo_met"])
    for flow in ("a.a2a", "b.p2d"):
        assert again.loc[flow, "end_us"] == pytest.approx(first.loc[flow, "end_us"], rel=0.15)


def test_the_fabric_lasts_for_every_replay_and_is_removed_after(shared_runs):
    _, seen = shared_runs
    ours = {s.internal for s in load_topology("single_tor_8").switches}
    assert ours <= seen["bridges"]
    assert not ours & seen["bridges_after"]


def test_one_agent_process_per_host_serves_every_replay(shared_runs):
    _, seen = shared_runs
    first, second, third = seen["agent_pids"]
    assert len(first) == 8 and second == first
    # h1's was killed before the third replay: a new one served it, the others went on
    assert third["h1"] != first["h1"]
    assert {h: p for h, p in third.items() if h != "h1"} == \
        {h: p for h, p in first.items() if h != "h1"}
    # each replay's output still has a log per host in its own directory
    assert all(all(logs.values()) for logs in seen["logs"])

"""Root integration: whole replays on the real fabric (controller, agents, TCP)."""

import os
import signal
import threading
import time

import pandas as pd
import pytest

from netmodel.dilation import Dilation
from experiments.replay import Replay
from netmodel.topology import load_topology
from tests.scenarios import MB, contention_trace, infeasible_p2d_trace

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def topo():
    return load_topology("single_tor_8")


@pytest.fixture(scope="module")
def contention_runs(root_env, topo, tmp_path_factory):
    """The contention scenario replayed under fair and mfs."""
    out = {}
    for scheduler in ("fair", "mfs"):
        directory = tmp_path_factory.mktemp(scheduler)
        fidelity = Replay(topo, Dilation.for_topology(topo), contention_trace(), scheduler,
                          directory, timeout=120).run()
        flows = pd.read_csv(directory / "flows.csv").set_index("flow_id")
        requests = pd.read_csv(directory / "requests.csv").set_index("request_id")
        changes = pd.read_csv(directory / "queue_changes.csv")
        out[scheduler] = (fidelity, flows, requests, changes, directory)
    return out


@pytest.mark.parametrize("scheduler", ["fair", "mfs"])
def test_results_match_the_trace(contention_runs, scheduler):
    fidelity, flows, requests, _, directory = contention_runs[scheduler]
    assert set(flows.index) == {"a.a2a", "b.p2d"}
    assert (flows["status"] == "ok").all()
    assert flows.loc["a.a2a", "bytes"] == 25 * MB and flows.loc["b.p2d", "bytes"] == 10 * MB
    assert fidelity["byte_mismatches"] == 0 and fidelity["flows_failed"] == 0
    assert fidelity["dependency_violations"] == 0
    # the collective could not start before the compute node it depends on
    assert flows.loc["a.a2a", "ready_us"] >= 10.0
    assert (flows["start_us"] >= flows["ready_us"]).all()
    # the engine measured its own costs, and every flow waited for its decision
    for key in ("start_lag_p99_wall_us", "dispatch_lag_p99_wall_us", "decision_to_mark_p99_wall_us"):
        assert fidelity[key] is not None and fidelity[key] >= 0, key
    assert fidelity["connect_errors"] == 0
    assert requests["ttft_us"].notna().all()
    for name in ("flows.csv", "requests.csv", "collectives.csv", "queue_changes.csv", "links.csv",
                 "fidelity.json", "controller.json"):
        assert (directory / name).exists(), name


def test_mfs_serves_the_rli0_collective_first_and_the_p2d_still_meets_its_deadline(contention_runs):
    _, fair, fair_req, _, _ = contention_runs["fair"]
    _, mfs, mfs_req, changes, _ = contention_runs["mfs"]
    # fair sharing: the collective shares the bottleneck with the P2D
    assert mfs.loc["a.a2a", "end_us"] < 0.9 * fair.loc["a.a2a", "end_us"]
    assert mfs.loc["b.p2d", "end_us"] > fair.loc["b.p2d", "end_us"]
    assert bool(mfs_req.loc["b", "slo_met"])
    # the collective sat above the deferred P2D
    assert mfs.loc["a.a2a", "queue_initial"] < mfs.loc["b.p2d", "queue_initial"]


def test_promoted_flow_bytes_move_to_the_higher_class(contention_runs):
    _, flows, _, changes, directory = contention_runs["mfs"]
    p2d = changes[changes["flow_id"] == "b.p2d"]
    assert (p2d["reason"] == "promotion").any(), p2d
    assert p2d["new_queue"].is_monotonic_decreasing        # promoted only, never demoted
    links = pd.read_csv(directory / "links.csv")
    into_h3 = links[links["link"] == "tor1->h3"]
    final_queue = int(flows.loc["b.p2d", "queue_final"])
    initial_queue = int(flows.loc["b.p2d", "queue_initial"])
    assert final_queue < initial_queue
    # the tc class of the promoted queue carried traffic on the bottleneck port
    assert into_h3[into_h3["queue"] == final_queue]["throughput_bps"].sum() > 0


def test_infeasible_p2d_goes_to_the_scavenger_queue(root_env, topo, tmp_path):
    Replay(topo, Dilation.for_topology(topo), infeasible_p2d_trace(), "mfs", tmp_path,
           timeout=120).run()
    changes = pd.read_csv(tmp_path / "queue_changes.csv")
    assert changes.iloc[0]["reason"] == "scavenger" and changes.iloc[0]["new_queue"] == 7
    requests = pd.read_csv(tmp_path / "requests.csv")
    assert bool(requests.loc[0, "scavenged"]) and not bool(requests.loc[0, "slo_met"])


def _agent_pids(host):
    """PIDs of our own agent processes for ``host`` (found via /proc, never by name kill)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                args = handle.read().split(b"\0")
            with open(f"/proc/{entry}/status", encoding="ascii") as handle:
                ppid = next(int(l.split()[1]) for l in handle if l.startswith("PPid:"))
        except (OSError, StopIteration):
            continue
        if b"emulator.agent" in args and any(a.endswith(f"agent-{host}.json".encode()) for a in args):
            pids.append((int(entry), ppid))
    return [pid for pid, _ in pids]


def test_a_dead_agent_is_reported_not_hung_on(root_env, topo, tmp_path):
    trace = contention_trace(collective_mb=200, p2d_mb=10)     # a.a2a runs for ~16 emulated s
    replay = Replay(topo, Dilation.for_topology(topo), trace, "fair", tmp_path, timeout=120)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("fidelity", replay.run()))
    thread.start()
    deadline = time.monotonic() + 60
    while not _agent_pids("h1") and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)          # the collective is flowing now
    for pid in _agent_pids("h1"):
        os.kill(pid, signal.SIGKILL)
    thread.join(timeout=120)
    assert not thread.is_alive(), "the replay hung on a dead agent"
    flows = pd.read_csv(tmp_path / "flows.csv").set_index("flow_id")
    assert flows.loc["a.a2a", "status"] == "failed"
    # whichever side notices first names the cause: the orchestrator (dead
    # agent) or the receiver (the connection closed short of the flow's bytes)
    reason = flows.loc["a.a2a", "reason"]
    assert "agent on h1 exited" in reason or "receiver h3: got" in reason, reason
    assert flows.loc["b.p2d", "status"] == "ok"
    assert result["fidelity"]["flows_failed"] == 1


def test_udp_flows_are_paced_and_their_losses_counted(root_env, topo, tmp_path):
    from tests.scenarios import udp_trace
    fidelity = Replay(topo, Dilation.for_topology(topo), udp_trace(), "fair", tmp_path,
                      timeout=120).run()
    flows = pd.read_csv(tmp_path / "flows.csv", keep_default_na=False).set_index("flow_id")
    assert (flows["status"] == "ok").all(), flows[["status", "reason"]]
    assert flows.loc["u.alone", "protocol"] == "udp"
    # alone on its path, paced at line rate: nothing lost, about line-rate duration
    assert flows.loc["u.alone", "reason"] == ""
    assert flows.loc["u.alone", "fct_us"] >= 0.9 * 5 * MB * 8 / 100e9 * 1e6
    assert fidelity["byte_mismatches"] == 0          # every sender sent the trace's bytes
    assert fidelity["udp_lost_bytes"] >= 0

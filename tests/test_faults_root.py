"""Faults mid-run: a controller that dies, or Open vSwitch stopping, ends the
replay with the reason; the results written so far stay, flagged as partial.
(A dead agent: tests/test_replay_root.py.)"""

import os
import signal
import threading
import time

import pandas as pd
import pytest

from common import ledger
from emulator import ovs
from experiments.replay import Replay
from netmodel.dilation import Dilation
from netmodel.topology import load_topology
from tests.scenarios import contention_trace

pytestmark = pytest.mark.root


def _recorded(scope, phase_wanted):
    """PIDs this process's ledger recorded in ``scope`` once it reached ``phase_wanted``."""
    _, items, phase = ledger.read_ledger(ledger.current().path)
    if phase != phase_wanted:
        return []
    return [i["pid"] for i in items if i["kind"] == "process" and i["scope"].startswith(scope)]


def _replay_then(tmp_path, fault):
    """Start a long replay, apply ``fault`` once it is replaying, and return
    (its fidelity, flows.csv, seconds from the fault to the replay's end)."""
    topo = load_topology("single_tor_8")
    trace = contention_trace(collective_mb=200, p2d_mb=10)     # ~16 emulated s of collective
    replay = Replay(topo, Dilation.for_topology(topo), trace, "fair", tmp_path, timeout=300)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("fidelity", replay.run()))
    thread.start()
    deadline = time.monotonic() + 60
    while not _recorded("controller", "replaying"):
        assert thread.is_alive() and time.monotonic() < deadline, "never reached the replay"
        time.sleep(0.05)
    time.sleep(2)                                              # the collective is flowing
    fault()
    struck = time.monotonic()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the replay hung on the fault"
    ended = time.monotonic() - struck
    flows = pd.read_csv(tmp_path / "flows.csv", keep_default_na=False).set_index("flow_id")
    return result["fidelity"], flows, ended


def test_a_dead_controller_fails_the_run_with_the_reason(root_env, tmp_path):
    def kill_controller():
        [pid] = _recorded("controller", "replaying")
        os.kill(pid, signal.SIGKILL)

    fidelity, flows, ended = _replay_then(tmp_path, kill_controller)
    assert fidelity["fault"] == "run failed: the controller exited with code -9"
    unfinished = flows[flows["status"] != "ok"]
    assert "a.a2a" in unfinished.index
    assert (unfinished["reason"] == fidelity["fault"]).all()
    assert fidelity["flows_failed"] == len(unfinished)
    print(f"controller death to the replay's end: {ended:.2f} s")


def test_open_vswitch_stopping_fails_the_run_with_the_reason(root_env, tmp_path):
    pid = ovs.vswitchd_pid()
    try:
        fidelity, flows, ended = _replay_then(
            tmp_path, lambda: ovs.run(["ovs-appctl", "-t", "ovs-vswitchd", "exit"]))
        assert fidelity["fault"] == f"run failed: ovs-vswitchd (pid {pid}) stopped"
        assert (flows.loc[flows["status"] != "ok", "reason"] == fidelity["fault"]).all()
        assert fidelity["switch_cpu"] is None and "switch_cpu" in fidelity["not_measured"]
        print(f"OVS stop to the replay's end: {ended:.2f} s")
    finally:
        ovs.ensure_vswitchd()

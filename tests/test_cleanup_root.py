"""A run killed with SIGKILL leaves nothing behind once `cleanup` has run,
and `cleanup` touches nothing it did not create.

Each test starts a real `run_emulation.py run` (default workload, fair), lets
it reach a point (building the fabric, controller up, mid-replay,
collecting) as its ledger records, SIGKILLs it, and runs `cleanup`.  Decoys
made here (a bridge, a namespace, a veth pair and a process) must survive.
The runs use a private state directory, so their lock and ledgers are
theirs alone.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from common import ledger
from netmodel.topology import load_topology

pytestmark = pytest.mark.root

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _items(state):
    runs = state / "runs"
    paths = list(runs.glob("*.jsonl")) if runs.is_dir() else []
    if not paths:
        return None, [], None
    return ledger.read_ledger(str(paths[0]))


def _reached(point):
    def process_in(scope):
        return lambda items, phase: any(i["kind"] == "process" and i["scope"].startswith(scope)
                                        for i in items)
    return {
        "building": lambda items, phase: sum(i["kind"] == "link" for i in items) >= 4,
        "controller": process_in("controller"),
        # host shells are the first 8 fabric processes; agents come after
        "replaying": lambda items, phase: phase == "replaying" and sum(
            i["kind"] == "process" and i["scope"].startswith("fabric") for i in items) > 8,
        "collecting": lambda items, phase: phase == "collecting",
    }[point]


def _ours_in_root_namespace(topology):
    names = {n.internal for n in topology.switches} | {n.internal for n in topology.hosts}
    links = [n for n in os.listdir("/sys/class/net") if n.split("-eth")[0] in names and "-eth" in n]
    bridges = subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True).stdout.split()
    return sorted(links) + sorted(b for b in bridges if b in names)


def _tagged(table, run_id):
    out = subprocess.run(["ovs-vsctl", "--format=json", "--columns=_uuid", "find", table,
                          f"external_ids:{ledger.TAG_KEY}={run_id}"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["data"]


@pytest.fixture
def decoys():
    """Things of the same kinds that we did not create."""
    subprocess.run(["ovs-vsctl", "add-br", "decoy0", "--", "set", "bridge", "decoy0",
                    "datapath_type=netdev"], check=True)
    subprocess.run(["ip", "netns", "add", "decoyns"], check=True)
    subprocess.run(["ip", "link", "add", "decoy-a", "type", "veth", "peer", "name", "decoy-b"],
                   check=True)
    sleeper = subprocess.Popen(["sleep", "600"])
    yield sleeper
    sleeper.kill()
    sleeper.wait()
    subprocess.run(["ovs-vsctl", "--if-exists", "del-br", "decoy0"])
    subprocess.run(["ip", "netns", "del", "decoyns"])
    subprocess.run(["ip", "link", "del", "decoy-a"])


def _cli(state, *args, **kwargs):
    env = dict(os.environ, NETSCHED_STATE_DIR=str(state))
    return subprocess.Popen([sys.executable, os.path.join(REPO, "run_emulation.py"), *args],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)


@pytest.mark.parametrize("point", ["building", "controller", "replaying", "collecting"])
def test_a_killed_run_is_cleaned_up_exactly(root_env, tmp_path, decoys, point):
    topology = load_topology("single_tor_8")
    assert _ours_in_root_namespace(topology) == [], "a fabric of single_tor_8 is already up"
    state = tmp_path / "state"
    run = _cli(state, "run", "--scheduler", "fair", "--out", str(tmp_path / "out"))
    reached, deadline = _reached(point), time.monotonic() + 120
    try:
        while True:
            header, items, phase = _items(state)
            if header and reached(items, phase):
                os.kill(run.pid, signal.SIGSTOP)     # hold it there, then kill it
                break
            assert run.poll() is None, f"the run ended before {point}: {run.communicate()}"
            assert time.monotonic() < deadline, f"the run never reached {point}"
            time.sleep(0.002)
        header, items, phase = _items(state)       # what it had recorded when stopped
        os.kill(run.pid, signal.SIGKILL)
    finally:
        run.kill()
        run.communicate()
    processes = [(i["pid"], i["start"]) for i in items if i["kind"] == "process"]
    if point != "collecting":
        assert processes or point == "building"

    cleanup = _cli(state, "cleanup")
    out, err = cleanup.communicate(timeout=120)
    assert cleanup.returncode == 0, err
    assert f"run {header['run']}" in out

    assert _ours_in_root_namespace(topology) == []
    assert _tagged("Bridge", header["run"]) == [] and _tagged("QoS", header["run"]) == []
    assert all(ledger.process_start(pid) != start for pid, start in processes)
    assert not [i for i in items if i["kind"] == "dir" and not i.get("if_empty")
                and os.path.exists(i["path"])]
    assert list((state / "runs").iterdir()) == []
    # what we did not create is untouched
    assert "decoy0" in subprocess.run(["ovs-vsctl", "list-br"], capture_output=True,
                                      text=True).stdout.split()
    assert "decoyns" in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                       text=True).stdout
    assert os.path.exists("/sys/class/net/decoy-a") and decoys.poll() is None
    # and a second cleanup finds nothing
    again = _cli(state, "cleanup")
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 0 and "nothing to clean up" in out


def test_a_second_run_is_refused_naming_the_first(root_env, tmp_path):
    state = tmp_path / "state"
    first = _cli(state, "run", "--scheduler", "fair", "--out", str(tmp_path / "first"))
    try:
        deadline = time.monotonic() + 60
        while not _items(state)[0]:
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        second = _cli(state, "run", "--scheduler", "fair", "--out", str(tmp_path / "second"))
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2
        assert f"another run is using the fabric: pid {first.pid} " in err
        assert "Traceback" not in err and not (tmp_path / "second").exists()
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode != 0
    assert not (state / "runs").exists() or list((state / "runs").iterdir()) == []

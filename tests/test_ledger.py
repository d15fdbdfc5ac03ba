"""The run ledger and the run lock (common/ledger.py), in a private state
directory; the kill tests in tests/test_cleanup_root.py prove them on real runs."""

import json
import os
import subprocess
import sys

import pytest

from common import ledger
from common.errors import UserError


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setattr(ledger, "STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(ledger, "_current", None)
    monkeypatch.setattr(ledger, "_lock_fd", None)
    monkeypatch.setattr(ledger, "_lock_holds", 0)
    yield tmp_path / "state"
    if ledger._lock_fd is not None:
        os.close(ledger._lock_fd)


def test_a_process_is_known_by_its_pid_and_start_time():
    me = ledger.process_start(os.getpid())
    assert me is not None and ledger.alive(os.getpid(), me, ledger.boot_id())
    assert not ledger.alive(os.getpid(), me + 1, ledger.boot_id())       # a reused pid
    assert not ledger.alive(os.getpid(), me, "another boot")
    child = subprocess.Popen(["true"])
    child.wait()
    assert ledger.process_start(child.pid) is None


def test_open_scopes_outlive_the_process_and_closed_ones_do_not(state):
    led = ledger.Ledger()
    a, b = led.scope("fabric"), led.scope("controller")
    led.add(a, "link", name="s1-eth1")
    led.add_process(b, os.getpid())
    led.phase("replaying")
    led.done(b)
    header, items, phase = ledger.read_ledger(led.path)
    assert header["pid"] == os.getpid() and header["run"] == led.run_id
    assert [(i["kind"], i.get("name")) for i in items] == [("link", "s1-eth1")]
    assert phase == "replaying"
    led.close()
    assert os.path.exists(led.path)                  # scope a is still open: kept for cleanup
    assert oct(os.stat(state).st_mode & 0o777) == "0o700"


def test_a_ledger_whose_scopes_all_closed_is_removed_at_exit(state):
    led = ledger.Ledger()
    scope = led.scope("replay")
    led.add(scope, "dir", path="/nonexistent")
    led.done(scope)
    led.close()
    assert not os.path.exists(led.path)


def test_a_line_cut_by_a_crash_is_skipped(state):
    led = ledger.Ledger()
    led.add(led.scope("fabric"), "link", name="s1-eth1")
    with open(led.path, "a", encoding="utf-8") as handle:
        handle.write('{"op": "add", "kind": "li')
    assert len(ledger.read_ledger(led.path)[1]) == 1


def test_the_run_lock_names_its_holder(state):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; sys.path.insert(0, '.');"
         "from common import ledger; ledger.STATE_DIR = sys.argv[1]; ledger.run_lock();"
         "print('held', flush=True); time.sleep(60)", str(state)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match=rf"another run is using the fabric: pid {holder.pid} "):
            ledger.run_lock()
    finally:
        holder.kill()
        holder.wait()
    ledger.run_lock()                  # the kernel released the dead holder's lock
    ledger.run_lock()                  # and taking it again is a no-op
    assert json.loads((state / "run.lock").read_text())["pid"] == os.getpid()


def test_the_lock_is_free_once_every_hold_is_released(state):
    def other_process_can_lock():
        probe = subprocess.run(
            [sys.executable, "-c", "import sys; sys.path.insert(0, '.');"
             "from common import ledger; ledger.STATE_DIR = sys.argv[1]; ledger.run_lock()",
             str(state)], capture_output=True, text=True)
        return probe.returncode == 0

    ledger.run_lock()          # e.g. the command line
    ledger.run_lock()          # and a fabric built inside it
    ledger.release_run_lock()  # the fabric stops: the command still holds it
    assert not other_process_can_lock()
    ledger.release_run_lock()
    assert other_process_can_lock()
    ledger.release_run_lock()  # one release too many is harmless
    assert ledger._lock_fd is None

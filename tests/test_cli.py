"""The command line: one-line errors, no tracebacks, non-zero exits."""

from tests.helpers import run_cli


def test_help_lists_the_commands():
    out = run_cli("--help").stdout
    for command in ("selftest", "policies", "topology", "doctor"):
        assert command in out


def test_topology_check_ok():
    result = run_cli("topology", "fat_tree_k4")
    assert result.returncode == 0 and "16 hosts, 20 switches, 48 links; OK" in result.stdout


def test_bad_topology_is_one_line_without_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nhosts: [h1]\nswitches: [s1]\nlinks:\n  - {a: h1, b: s2}\n")
    result = run_cli("topology", path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and "bad.yaml" in result.stderr
    assert "unknown node 's2'" in result.stderr


def test_bad_option_value_for_selftest():
    result = run_cli("selftest", "--emulated-rate", "fast")
    assert result.returncode == 2 and "--emulated-rate" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`trace stats ... | head`: the pipe closes before the output is written."""
    import subprocess
    import sys

    from tests.helpers import REPO

    proc = subprocess.Popen([sys.executable, str(REPO / "run_emulation.py"), "trace", "stats",
                             str(REPO / "traces" / "workload_60.jsonl")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    proc.stdout.close()                       # the reader is gone before the first line
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()


DROPPED_SIGNAL = """
import os, signal, sys, time
sys.path.insert(0, {repo!r})
import run_emulation
run_emulation.install_signal_handlers()

class Dropped:
    def __del__(self):                       # the handler runs here, where its
        os.kill(os.getpid(), signal.SIGTERM) # SystemExit is printed and dropped
        for _ in range(100000):
            pass

Dropped()
for _ in range(100):
    time.sleep(0.01)
print("the run went on")
"""


def test_a_sigterm_that_lands_in_a_destructor_still_stops_the_run(tmp_path):
    """Python drops an exception raised inside __del__; the CLI's handlers
    send the signal again so the run unwinds (a CI run once finished a soak
    with exit 0 after its SIGTERM)."""
    import subprocess
    import sys
    from tests.helpers import REPO
    script = tmp_path / "dropped.py"
    script.write_text(DROPPED_SIGNAL.format(repo=str(REPO)))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=60)
    assert "Exception ignored" in result.stderr            # the first one was dropped
    assert result.returncode == 143 and "the run went on" not in result.stdout

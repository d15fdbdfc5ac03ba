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

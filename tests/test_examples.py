"""Every example runs, as a user would run it, and shows what it says it shows.

Also: adding a policy takes its module and its YAML section, nothing else
(the template ``policies/_example.py`` copied into a copy of the package).
"""

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from tests.helpers import REPO
from tests.test_analysis_support import synthetic_run
from tests.test_traces_support import shared_trace

EXAMPLES = REPO / "examples"


def run_example(name, *args, pythonpath=(), timeout=300):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*map(str, pythonpath), str(REPO)]))
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_every_example_is_described_and_tested():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    readme = (EXAMPLES / "README.md").read_text()
    tests = open(__file__, encoding="utf-8").read()
    for script in scripts:
        assert f"`{script}`" in readme, f"{script} has no paragraph in examples/README.md"
        assert f'"{script}"' in tests, f"{script} has no test"


def test_fluid_contention_mfs_meets_the_deadline_fair_misses():
    out = run_example("fluid_contention.py")
    fair, mfs = out.splitlines()
    assert fair.startswith("fair") and "misses" in fair
    assert mfs.strip().startswith("mfs") and "meets" in mfs


def test_custom_policy_puts_p2d_on_top():
    out = run_example("custom_policy.py")
    lines = {line.split(":")[0].strip(): line for line in out.splitlines()}
    assert "queue 0" in lines["p2d"] and "queue 1" in lines["kv"]


def test_synthesize_trace_from_the_azure_trace(tmp_path):
    azure = shared_trace("azure_llm_2023_code.csv")
    out = tmp_path / "small.jsonl"
    printed = run_example("synthesize_trace.py", azure, out)
    assert "8 requests" in printed
    from traces import load_trace
    trace = load_trace(str(out))
    assert len(trace.requests) == 8
    assert {n.stage for n in trace.flows()} >= {"collective", "p2d"}


def test_read_results_prints_each_scheduler(tmp_path):
    synthetic_run(tmp_path / "run", schedulers=("fair", "mfs"))
    out = run_example("read_results.py", tmp_path / "run")
    assert "attainment" in out.splitlines()[0]
    assert any(line.startswith("fair") for line in out.splitlines())
    assert any(line.startswith("mfs") for line in out.splitlines())


def test_parallel_points_run_on_workers(tmp_path):
    out = run_example("parallel_points.py", tmp_path)
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["rate=0.5", "rate=1", "rate=2"]
    # run by worker processes, not here
    assert all(": done on tcp://127.0.0.1:" in line for line in lines), out
    assert (tmp_path / "points.json").is_file()


@pytest.mark.root
def test_replay_contention_on_the_real_fabric(root_env, tmp_path):
    out = run_example("replay_contention.py", tmp_path, timeout=600)
    ends = {s: pd.read_csv(tmp_path / s / "flows.csv").set_index("flow_id")["end_us"]
            for s in ("fair", "mfs")}
    # MFS serves the all-to-all first; under fair it shares the port with the P2D
    assert ends["mfs"]["a.a2a"] < 0.9 * ends["fair"]["a.a2a"]
    assert "results:" in out


def test_a_policy_needs_only_its_module_and_its_yaml_section(tmp_path):
    """The template copied in as a real policy, in a copy of the package."""
    package = tmp_path / "policies"
    shutil.copytree(REPO / "policies", package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(package / "_example.py", package / "laxity_first.py")
    with open(package / "policies.yaml", "a", encoding="utf-8") as handle:
        handle.write("\nlaxity_first:\n  urgent_laxity: 2ms\n  tick: 1ms\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]))
    check = """
import argparse
from policies import default_schedulers, get_policy
from policies.cli import list_policies
list_policies(argparse.Namespace(config=None))                  # `run_emulation.py policies`
from policies.fluid import FluidFlow, simulate
policy = get_policy("laxity_first")
assert policy.params.urgent_laxity == 0.002, policy.params      # the YAML section was read
assert default_schedulers()[-1] == "laxity_first"
flows = [FluidFlow("p", "r1", 0.0, 8 * 10**6, ("l",), stage="p2d", deadline=0.010),
         FluidFlow("k", "r2", 0.0, 10 * 10**6, ("l",), stage="kv_fetch", layer=2)]
result = simulate({"l": 10e9}, flows, policy=policy)
assert result.flows["p"].met_deadline, result.flows["p"]
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("laxity_first ") for line in lines), proc.stdout
    assert lines[-1] == "ok"

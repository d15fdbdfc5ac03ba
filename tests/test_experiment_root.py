"""Root integration: the run, default and sweep commands end to end."""

import json
import re

import pandas as pd
import pytest

from tests.helpers import run_cli
from tests.scenarios import contention_trace
from traces import write_trace

pytestmark = pytest.mark.root


@pytest.fixture
def scenario_trace(tmp_path):
    path = tmp_path / "scenario.jsonl"
    write_trace(contention_trace(), str(path))
    return path


def test_run_command_writes_results_summary_and_report(root_env, scenario_trace, tmp_path):
    out = tmp_path / "run"
    result = run_cli("run", "--trace", scenario_trace, "--scheduler", "fair,mfs", "--out", out,
                     timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"results: {out}" in result.stdout
    run = json.loads((out / "run.json").read_text())
    assert run["schedulers"] == ["fair", "mfs"]
    # the dilation was chosen automatically, and run.json says why
    speed = run["speed"]
    assert speed["chosen_by"] == "automatic" and speed["reason"]
    assert run["dilation"]["time_dilation"] == pytest.approx(speed["time_dilation"])
    assert speed["emulated_mtu"] == 64000 and speed["preemption_granularity_real_us"] > 0
    assert run["datapath"] in ("user", "kernel") and run["git_revision"]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["schedulers"]) == {"fair", "mfs"}
    # the summary's attainment is recomputable from requests.csv
    for name in ("fair", "mfs"):
        requests = pd.read_csv(out / name / "requests.csv")
        met = (requests["ttft_us"] <= requests["ttft_slo_us"]).mean()
        assert summary["schedulers"][name]["slo_attainment"] == pytest.approx(met)
    html = (out / "report.html").read_text()
    assert "<script" in html and not re.search(r'<script[^>]*src="https?:', html)   # offline


def test_bad_trace_is_a_one_line_error(root_env, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind":"header","format":"llm-comm-dag","version":1}\n{"kind":"request"}\n')
    result = run_cli("run", "--trace", bad, "--scheduler", "fair", "--out", tmp_path / "x")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and "bad.jsonl:2" in result.stderr
    assert not (tmp_path / "x").exists()


def test_unknown_scheduler_is_refused_before_anything_runs(root_env, scenario_trace, tmp_path):
    result = run_cli("run", "--trace", scenario_trace, "--scheduler", "fair,fastest",
                     "--out", tmp_path / "y")
    assert result.returncode == 2 and "unknown scheduler 'fastest'" in result.stderr


def test_sweep_command_runs_every_point(root_env, scenario_trace, tmp_path):
    out = tmp_path / "sweep"
    result = run_cli("sweep", "--trace", scenario_trace, "--scheduler", "mfs",
                     "--slo-scales", "0.5,2", "--out", out, timeout=300)
    assert result.returncode == 0, result.stderr
    points = sorted(p.name for p in (out / "points").iterdir())
    assert points == ["slo_scale=0.5", "slo_scale=2"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parameter"] == "slo_scale"
    assert (out / "report.html").exists()


def test_default_experiment_completes(root_env, tmp_path):
    """What `sudo python run_emulation.py` runs: the bundled workload, every scheduler."""
    out = tmp_path / "default"
    result = run_cli("default", "--out", out, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    run = json.loads((out / "run.json").read_text())
    assert run["schedulers"] == ["fair", "sjf", "edf", "pias", "karuna", "mfs"]
    for name in run["schedulers"]:
        fidelity = json.loads((out / name / "fidelity.json").read_text())
        assert fidelity["flows_failed"] == 0 and fidelity["byte_mismatches"] == 0
        assert fidelity["dependency_violations"] == 0
    assert (out / "report.html").exists() and (out / "summary.csv").exists()


def test_bench_measures_the_engine(root_env, tmp_path):
    out = tmp_path / "bench"
    result = run_cli("bench", "--sections", "isolated,all_to_all", "--out", out, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((out / "bench.json").read_text())
    isolated = report["isolated"]
    assert isolated["failed"] == 0 and isolated["flows"] == 40
    assert 0 <= isolated["start_lag_wall_us"]["p50"] <= isolated["start_lag_wall_us"]["p99"]
    a2a = report["all_to_all"]
    assert a2a["failed"] == 0 and a2a["iterations"] == 10
    # a collective cannot beat its line-rate ideal by more than HTB's one-frame burst
    assert a2a["cct_over_ideal"]["best"] > 0.5
    assert report["dilation"]["byte_scale"] == 1


def test_replay_selftest_compares_two_dilations(root_env, scenario_trace, tmp_path):
    out = tmp_path / "invariance"
    result = run_cli("selftest", "--replay", "--trace", scenario_trace, "--scheduler", "fair",
                     "--dilations", "200,400", "--out", out, timeout=300)
    assert result.returncode in (0, 1), result.stderr[-2000:]   # 1: the results differ
    report = json.loads((out / "invariance.json").read_text())
    assert report["dilations"] == [200, 400]
    row = report["schedulers"][0]
    assert row["scheduler"] == "fair" and set(row["attainment"]) == {"x200", "x400"}
    assert row["passed"] == (result.returncode == 0)
    for label in ("x200", "x400"):
        run = json.loads((out / label / "run.json").read_text())
        assert run["speed"]["chosen_by"] == "--time-dilation"
        assert run["dilation"]["time_dilation"] == pytest.approx(float(label[1:]))

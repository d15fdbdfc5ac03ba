"""Repeated trials: run --seeds N re-draws the workload and reports 95 % CIs."""

import json

import pytest

from analysis.seeds import interval
from tests.test_simulator_backend import run_cli
from traces import load_trace


def test_interval_is_the_student_t_half_width():
    stats = interval([1.0, 2.0, 3.0])                 # sd 1, t(2 df) = 4.303
    assert stats["mean"] == 2.0 and stats["ci95"] == pytest.approx(4.303 / 3 ** 0.5)
    assert interval([0.5, None])["ci95"] is None and interval([])["mean"] is None


def test_run_seeds_on_the_simulator(tmp_path):
    out = tmp_path / "seeds"
    result = run_cli("run", "--backend", "sim", "--seeds", "2", "--scheduler", "fair,mfs",
                     "--out", out)
    assert result.returncode == 0, result.stderr
    assert "mean +- 95% CI" in result.stdout and "2 trials" in result.stdout
    assert "mfs SLO attainment / baseline: fair" in result.stdout
    summary = json.loads((out / "seeds.json").read_text())
    assert summary["seeds"] == [0, 1] and summary["reference"] == "mfs"
    page = (out / "seeds.html").read_text()    # the means with their intervals as error bars
    assert 'id="fig-seeds_slo_attainment"' in page and '"error_y"' in page
    att = summary["schedulers"]["mfs"]["slo_attainment"]
    per_seed = [json.loads((out / f"seed-{k}" / "summary.json").read_text())
                ["schedulers"]["mfs"]["slo_attainment"] for k in (0, 1)]
    assert att["values"] == per_seed and att["mean"] == pytest.approx(sum(per_seed) / 2)
    # trial 0 is the bundled workload itself; trial 1 draws other arrivals
    default = load_trace("traces/default_workload.jsonl")
    seed0, seed1 = (load_trace(out / f"seed-{k}" / "trace.jsonl") for k in (0, 1))
    assert [r.arrival_us for r in seed0.requests] == [r.arrival_us for r in default.requests]
    assert [r.arrival_us for r in seed1.requests] != [r.arrival_us for r in default.requests]
    assert "fair" in summary["attainment_ratio"]
    assert isinstance(summary["attainment_ratio"]["fair"]["significant"], bool)
    fair = [json.loads((out / f"seed-{k}" / "summary.json").read_text())
            ["schedulers"]["fair"]["slo_attainment"] for k in (0, 1)]
    assert summary["attainment_difference"]["fair"]["values"] == pytest.approx(
        [m - f for m, f in zip(per_seed, fair)])


@pytest.mark.parametrize("args, message", [
    (["--seeds", "1"], "--seeds: needs at least 2 seeds"),
    (["--seeds", "3", "--trace", "traces/workload_60.jsonl.missing"], "no such trace file"),
])
def test_run_seeds_rejects_bad_input(tmp_path, args, message):
    result = run_cli("run", "--backend", "sim", *args, "--out", tmp_path / "x")
    assert result.returncode != 0 and message in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x").exists()


def test_run_seeds_needs_a_synthesized_trace(tmp_path):
    trace = tmp_path / "imported.jsonl"
    lines = open("traces/default_workload.jsonl").read().splitlines()
    header = json.loads(lines[0])
    header["source"] = "run_emulation.py trace import azure some.csv --out x.jsonl"
    trace.write_text("\n".join([json.dumps(header)] + lines[1:]) + "\n")
    result = run_cli("run", "--backend", "sim", "--seeds", "2", "--trace", trace,
                     "--out", tmp_path / "x")
    assert result.returncode != 0 and "--seeds needs a trace made by 'trace synth'" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x").exists()


def test_run_seeds_takes_new_windows_of_a_real_request_trace(tmp_path):
    """A recipe over a request trace (--requests FILE --max-requests 10):
    trial K takes that trace's requests 10K..10K+9, re-timed to start at 0."""
    source, recipe = tmp_path / "source.jsonl", tmp_path / "w.jsonl"
    common = ["--model", "mixtral-8x7b", "--layers", "2",
              "--deployment", "traces/deployments/single_tor_8.yaml"]
    assert run_cli("trace", "synth", "--requests", "builtin:n=30", *common,
                   "--out", source).returncode == 0
    made = run_cli("trace", "synth", "--requests", source, "--max-requests", "10", *common,
                   "--out", recipe)
    assert made.returncode == 0, made.stderr
    too_many = run_cli("run", "--backend", "sim", "--seeds", "4", "--trace", recipe,
                       "--out", tmp_path / "x")
    assert too_many.returncode != 0 and "4 trials of 10 requests need 40" in too_many.stderr
    assert not (tmp_path / "x").exists()
    out = tmp_path / "seeds"
    result = run_cli("run", "--backend", "sim", "--seeds", "3", "--trace", recipe,
                     "--scheduler", "fair", "--out", out)
    assert result.returncode == 0, result.stderr
    tokens = [r.input_tokens for r in load_trace(source).requests]
    for k in range(3):
        window = load_trace(out / f"seed-{k}" / "trace.jsonl").requests
        assert [r.input_tokens for r in window] == tokens[10 * k:10 * k + 10]
        assert min(r.arrival_us for r in window) == 0



def test_a_seed_whose_baseline_meets_nothing_is_left_out_of_the_ratio_only():
    from analysis.seeds import paired, seeds_text
    ratio = paired([1.5, None, 1.4], 1)
    ratio["left_out"] = 1
    difference = paired([0.2, 0.3, 0.25], 0)
    assert ratio["mean"] == pytest.approx(1.45) and difference["significant"] is True
    result = {"seeds": [0, 1, 2], "reference": "mfs", "schedulers": {},
              "attainment_ratio": {"fair": ratio}, "attainment_difference": {"fair": difference}}
    text = seeds_text(result)
    assert "(1 of 3 seeds left out: fair met no SLO)" in text
    assert "mfs SLO attainment - baseline: fair 0.25 +- " in text

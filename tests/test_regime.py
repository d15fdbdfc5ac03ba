"""Grid sweeps over seeds and the regime map they draw (sweep --seeds, two parameters)."""

import json
import math

import pandas as pd
import pytest

from analysis.regime import bounded_mean_ratio, regime_heatmap, regime_text, sustainable_by_seed
from tests.test_simulator_backend import run_cli
from traces import load_trace


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    out = tmp_path_factory.mktemp("regime") / "grid"
    result = run_cli("sweep", "--backend", "sim", "--rates", "1,3", "--slo-scales", "0.5,2",
                     "--seeds", "2", "--scheduler", "fair,sjf,mfs", "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def test_every_cell_runs_every_seed_on_the_same_requests(grid):
    out, _ = grid
    plan = json.loads((out / "grid.json").read_text())
    assert plan["axes"] == [{"parameter": "rate", "values": [1.0, 3.0]},
                            {"parameter": "slo_scale", "values": [0.5, 2.0]}]
    cells = sorted(p.name for p in (out / "cells").iterdir())
    assert cells == ["rate=1,slo_scale=0.5", "rate=1,slo_scale=2", "rate=3,slo_scale=0.5",
                     "rate=3,slo_scale=2"]
    for cell in cells:
        run = json.loads((out / "cells" / cell / "seed-1" / "run.json").read_text())
        rate, slo = (float(part.split("=")[1]) for part in cell.split(","))
        assert run["grid_cell"] == {"rate": rate, "slo_scale": slo}
        assert run["schedulers"] == ["fair", "sjf", "mfs"]
    # trial K's requests are the same in every cell; the cell moves arrivals and SLOs
    seed1 = load_trace(out / "traces" / "seed-1.jsonl")
    requests = pd.read_csv(out / "cells" / "rate=3,slo_scale=2" / "seed-1" / "mfs" / "requests.csv")
    assert sorted(requests["request_id"]) == sorted(r.id for r in seed1.requests)
    by_id = {r.id: r for r in seed1.requests}
    for row in requests.itertuples():
        assert row.arrival_us == pytest.approx(by_id[row.request_id].arrival_us / 3, abs=1e-3)
        assert row.ttft_slo_us == pytest.approx(by_id[row.request_id].ttft_slo_us * 2)


def test_the_map_compares_mfs_with_the_best_baseline_per_cell(grid):
    out, stdout = grid
    summary = json.loads((out / "regime.json").read_text())
    assert len(summary["cells"]) == 4 and summary["missing"] == []
    for cell in summary["cells"]:
        means = {n: s["slo_attainment"]["mean"] for n, s in cell["schedulers"].items()}
        best = cell["best_baseline"]
        assert best in ("fair", "sjf") and means[best] == max(means["fair"], means["sjf"])
        seeds = json.loads((out / "cells" / ",".join(f"{k}={v:g}" for k, v in
                                                    cell["settings"].items())
                            / "seeds.json").read_text())
        assert cell["ratio"] == seeds["attainment_ratio"][best]
        ratio = cell["ratio"]
        if ratio["mean"] is not None and ratio["ci95"] is not None:
            inside = ratio["mean"] - ratio["ci95"] <= 1 <= ratio["mean"] + ratio["ci95"]
            assert ratio["significant"] is (not inside)
    frame = pd.read_csv(out / "regime.csv")
    assert len(frame) == 4 and {"rate", "slo_scale", "ratio_mean", "significant"} <= set(frame)
    assert "SLO attainment / best baseline, 2 seeds" in stdout
    html = (out / "regime.html").read_text()
    assert 'id="fig-regime_map"' in html


def test_cells_whose_interval_holds_one_are_crossed_out():
    def cell(rate, slo, mean, ci, significant):
        return {"settings": {"rate": rate, "slo_scale": slo}, "best_baseline": "fair",
                "schedulers": {}, "ratio": {"mean": mean, "ci95": ci,
                                            "significant": significant}}
    summary = {"axes": [{"parameter": "rate", "values": [1.0, 2.0]},
                        {"parameter": "slo_scale", "values": [1.0]}],
               "seeds": 3, "reference": "mfs", "missing": [],
               "cells": [cell(1.0, 1.0, 1.3, 0.1, True), cell(2.0, 1.0, 1.1, 0.3, False)]}
    fig = regime_heatmap(summary)
    heat, crosses = fig.data
    assert [list(row) for row in heat.z] == [[pytest.approx(math.log2(1.3))],
                                             [pytest.approx(math.log2(1.1))]]   # log2 colours
    assert heat.zmid == 0
    assert list(crosses.y) == ["2"] and list(crosses.x) == ["1"]   # only the n.s. cell
    text = regime_text(summary)
    assert "1.3x +- 0.1" in text and "1.1x +- 0.3 (n.s.)" in text


@pytest.mark.parametrize("args, message", [
    (["--rates", "1,2", "--slo-scales", "1,2"], "give --seeds N"),
    (["--rates", "1,2", "--seeds", "1"], "at least 2 seeds"),
    (["--rates", "1,2", "--slo-scales", "1", "--bandwidths", "10", "--seeds", "2"],
     "or two of them"),
    (["--rates", "1,2", "--seeds", "2", "--scheduler", "fair,sjf"], "compares mfs with"),
    (["--rates", "1,-2", "--seeds", "2"], "--rates"),
])
def test_a_bad_grid_is_refused_before_anything_runs(tmp_path, args, message):
    result = run_cli("sweep", "--backend", "sim", *args, "--out", tmp_path / "x")
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x").exists()


def test_sustainable_load_is_taken_per_seed_and_compared_with_intervals():
    def cell(rate, mfs, fair):
        return {"settings": {"rate": rate}, "best_baseline": "fair", "ratio": None,
                "schedulers": {"mfs": {"slo_attainment": {"values": mfs}},
                               "fair": {"slo_attainment": {"values": fair}}}}
    summary = {"axes": [{"parameter": "rate", "values": [1.0, 2.0, 3.0]}], "seeds": 2,
               "reference": "mfs", "cells": [cell(1.0, [1.0, 1.0], [0.95, 0.92]),
                                             cell(2.0, [0.95, 0.9], [0.7, 0.8]),
                                             cell(3.0, [0.5, 0.8], [0.2, 0.1])]}
    [row] = sustainable_by_seed(summary)          # target 0.9, interpolated by hand:
    mfs, fair = row["schedulers"]["mfs"], row["schedulers"]["fair"]
    assert mfs["values"] == pytest.approx([2 + 0.05 / 0.45, 2.0])
    assert fair["values"] == pytest.approx([1 + 0.05 / 0.25, 1 + 0.02 / 0.12])
    ratio = row["ratio"]["fair"]
    assert ratio["values"] == pytest.approx([(2 + 0.05 / 0.45) / 1.2, 2.0 / (1 + 0.02 / 0.12)])
    assert ratio["kinds"] == ["exact", "exact"] and ratio["significant"] is True


def test_the_report_draws_error_bars(grid):
    out, _ = grid
    html = (out / "regime.html").read_text()
    assert 'id="fig-regime_curve_1"' in html and 'id="fig-regime_curve_3"' in html
    assert '"error_y"' in html and "sustainable value" in html


@pytest.mark.parametrize("kinds, values, kind, significant", [
    (["exact", "exact", "exact"], [1.5, 1.6, 1.7], "exact", True),
    (["exact", "lower_bound", "exact"], [1.5, 1.6, 1.7], "lower_bound", True),   # ours >= that
    (["exact", "lower_bound", "exact"], [0.5, 0.6, 0.7], "lower_bound", False),  # shows nothing
    (["upper_bound", "exact", "exact"], [0.5, 0.6, 0.7], "upper_bound", True),
    (["upper_bound", "lower_bound", "exact"], [1.5, 1.6, 1.7], "mixed", False),
])
def test_a_mean_of_censored_ratios_is_a_bound_and_judged_as_one(kinds, values, kind, significant):
    stats = bounded_mean_ratio([{"ratio": v, "kind": k} for v, k in zip(values, kinds)])
    assert stats["kind"] == kind and stats["significant"] is significant


def test_a_zero_ratio_is_drawn_darkest_and_left_out_seeds_are_named():
    cell = {"settings": {"rate": 1.0}, "best_baseline": "fair",
            "ratio": {"mean": 0.0, "ci95": 0.0, "significant": True, "left_out": 2},
            "schedulers": {}}
    summary = {"axes": [{"parameter": "rate", "values": [1.0]}], "seeds": 5,
               "reference": "mfs", "cells": [cell]}
    heat = regime_heatmap(summary).data[0]
    assert heat.z[0][0] == heat.zmin < 0            # not a blank cell
    assert "(2 seeds left out)" in heat.text[0][0]

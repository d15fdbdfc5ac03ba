"""Sweep aggregation: attainment against the parameter, the sustainable
value with linear interpolation, and MFS's ratios over each baseline."""

import json

import pytest

from common.errors import UserError
from analysis.sustainable import Threshold, sustainable_value, threshold_ratio
from analysis.report import write_sweep_report
from analysis.sweep import load_sweep, parse_values, run_sweep, summarize_sweep
from tests.test_analysis_support import run_cli, run_with_attainment

VALUES = [0.5, 1.0, 1.5, 2.0]


@pytest.mark.parametrize("attainment, expected", [
    # crossing between 1.0 (0.95) and 1.5 (0.8): 1 + 0.05 * 0.5 / 0.15
    ([1.0, 0.95, 0.8, 0.5], Threshold(1 + 0.05 * 0.5 / 0.15, "interpolated")),
    # exactly on the target at 1.5: 1.5 itself
    ([1.0, 0.95, 0.9, 0.5], Threshold(1.5, "interpolated")),
    # a later recovery above the target does not count
    ([1.0, 0.8, 0.95, 0.95], Threshold(0.5 + 0.1 * 0.5 / 0.2, "interpolated")),
    # a missing point is skipped: 0.5 (1.0) to 1.5 (0.5): 0.5 + 0.1 * 1 / 0.5
    ([1.0, None, 0.5, 0.4], Threshold(0.7, "interpolated")),
    ([1.0, 1.0, 0.95, 0.91], Threshold(2.0, "censored")),
    ([0.8, 0.95, 1.0, 1.0], Threshold(None, "never")),
    ([None] * 4, Threshold(None, "no_data")),
])
def test_highest_sustainable_rate(attainment, expected):
    got = sustainable_value(VALUES, attainment)
    assert got.bound == expected.bound
    assert got.value == pytest.approx(expected.value)


def test_unsorted_values_are_sorted():
    got = sustainable_value([2.0, 0.5, 1.0], [0.5, 1.0, 0.95])
    assert got.value == pytest.approx(1 + 0.05 * 1.0 / 0.45)


def test_lowest_sufficient_bandwidth():
    # easier when higher: walk down from 40; 20 (0.95) holds, 10 (0.5) does not
    got = sustainable_value([10, 20, 40], [0.5, 0.95, 1.0], harder_when_higher=False)
    assert got == Threshold(pytest.approx(20 - 10 * 0.05 / 0.45), "interpolated")


@pytest.mark.parametrize("ours, theirs, harder, expected", [
    (Threshold(1.5, "interpolated"), Threshold(1.0, "interpolated"), True, (1.5, "exact")),
    (Threshold(2.0, "censored"), Threshold(1.0, "interpolated"), True, (2.0, "lower_bound")),
    (Threshold(1.0, "interpolated"), Threshold(2.0, "censored"), True, (0.5, "upper_bound")),
    (Threshold(2.0, "censored"), Threshold(2.0, "censored"), True, (None, "undefined")),
    (Threshold(1.0, "interpolated"), Threshold(None, "never"), True, (None, "undefined")),
    # bandwidth: MFS needing 10 where the baseline needs 15 is 1.5x better
    (Threshold(10, "interpolated"), Threshold(15, "interpolated"), False, (1.5, "exact")),
])
def test_threshold_ratio(ours, theirs, harder, expected):
    got = threshold_ratio(ours, theirs, harder)
    assert (got["ratio"], got["kind"]) == (pytest.approx(expected[0]), expected[1])


MET = {0.5: {"mfs": 10, "karuna": 10, "sjf": 9},
       1.0: {"mfs": 10, "karuna": 8, "sjf": 4},
       2.0: {"mfs": 8, "karuna": 5, "sjf": 0}}


def _point(value, point_dir):
    run_with_attainment(point_dir, MET[value], sweep={"parameter": "rate", "value": value})


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sweep")
    run_sweep("rate", [0.5, 1.0, 2.0], _point, directory, ["mfs", "karuna", "sjf"],
              reference="mfs")
    return directory


def test_run_sweep_layout(sweep_dir):
    assert json.loads((sweep_dir / "sweep.json").read_text()) == {
        "parameter": "rate", "values": [0.5, 1.0, 2.0], "schedulers": ["mfs", "karuna", "sjf"],
        "reference": "mfs"}
    for name in ("rate=0.5", "rate=1", "rate=2"):
        assert (sweep_dir / "points" / name / "summary.json").is_file()
    assert (sweep_dir / "summary.json").is_file() and (sweep_dir / "summary.csv").is_file()
    assert not (sweep_dir / "report.html").exists()


def test_sweep_attainment_thresholds_and_ratios(sweep_dir):
    summary = json.loads((sweep_dir / "summary.json").read_text())
    assert summary["slo_attainment"] == {"mfs": [1.0, 1.0, 0.8], "karuna": [1.0, 0.8, 0.5],
                                         "sjf": [0.9, 0.4, 0.0]}
    # mfs: 1.0 + 0.1 * 1.0 / 0.2 = 1.5; karuna: 0.5 + 0.1 * 0.5 / 0.2 = 0.75;
    # sjf meets exactly 0.9 at 0.5, then drops: 0.5
    assert summary["sustainable"]["mfs"] == {"value": pytest.approx(1.5), "bound": "interpolated"}
    assert summary["sustainable"]["karuna"]["value"] == pytest.approx(0.75)
    assert summary["sustainable"]["sjf"]["value"] == pytest.approx(0.5)
    assert summary["sustainable_ratio"]["karuna"] == {"ratio": pytest.approx(2.0),
                                                          "kind": "exact"}
    assert summary["sustainable_ratio"]["sjf"]["ratio"] == pytest.approx(3.0)
    karuna = summary["attainment_ratio"]["karuna"]
    assert karuna["per_value"] == pytest.approx([1.0, 1.25, 1.6])
    assert (karuna["min"], karuna["max"]) == (pytest.approx(1.0), pytest.approx(1.6))
    # sjf's attainment is 0 at rate 2: no ratio there
    assert summary["attainment_ratio"]["sjf"]["per_value"][2] is None


def test_sweep_csv_has_one_row_per_point_and_scheduler(sweep_dir):
    lines = (sweep_dir / "summary.csv").read_text().splitlines()
    assert lines[0].startswith("rate,scheduler,requests,")
    assert len(lines) == 1 + 3 * 3


def test_missing_point_is_reported_not_fatal(tmp_path):
    def run_point(value, point_dir):
        if value != 1.0:
            _point(value, point_dir)
    summary = run_sweep("rate", [0.5, 1.0, 2.0], run_point, tmp_path, ["mfs", "karuna"],
                        on_summary=write_sweep_report)
    assert [p["present"] for p in summary["points"]] == [True, False, True]
    assert summary["slo_attainment"]["karuna"] == [1.0, None, 0.5]
    # 0.5 (1.0) straight to 2.0 (0.5): 0.5 + 0.1 * 1.5 / 0.5
    assert summary["sustainable"]["karuna"]["value"] == pytest.approx(0.8)
    assert "missing: 1" in (tmp_path / "report.html").read_text()


def test_point_folder_is_matched_by_value(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps(
        {"parameter": "rate", "values": [1, 2], "schedulers": ["mfs"]}))
    run_with_attainment(tmp_path / "points" / "rate=1.0", {"mfs": 10})
    run_with_attainment(tmp_path / "points" / "rate=2", {"mfs": 5})
    summary, _ = summarize_sweep(load_sweep(tmp_path))
    assert summary["slo_attainment"]["mfs"] == [1.0, 0.5]
    assert summary["sustainable_ratio"] == {}        # nothing to compare against


def test_point_with_another_value_in_run_json(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps(
        {"parameter": "rate", "values": [1], "schedulers": ["mfs"]}))
    run_with_attainment(tmp_path / "points" / "rate=1", {"mfs": 10},
                        sweep={"parameter": "rate", "value": 2})
    with pytest.raises(UserError, match="says rate=2"):
        load_sweep(tmp_path)


def test_run_point_failure_propagates(tmp_path):
    def run_point(value, point_dir):
        raise RuntimeError("fabric broke")
    with pytest.raises(RuntimeError):
        run_sweep("rate", [1.0], run_point, tmp_path, ["mfs"])
    assert (tmp_path / "sweep.json").is_file() and not (tmp_path / "summary.json").exists()


def test_no_point_at_all(tmp_path):
    with pytest.raises(UserError, match="no point"):
        run_sweep("rate", [1.0], lambda value, point_dir: None, tmp_path, ["mfs"])


@pytest.mark.parametrize("parameter, values", [("load", [1]), ("rate", []), ("rate", [0]),
                                               ("rate", [1, 1]), ("rate", [float("nan")])])
def test_bad_sweep_arguments(tmp_path, parameter, values):
    with pytest.raises(UserError):
        run_sweep(parameter, values, _point, tmp_path, ["mfs"])


def test_parse_values():
    assert parse_values("0.5, 1,1.5") == [0.5, 1.0, 1.5]
    for bad in ("a", "1,1", "-1", ""):
        with pytest.raises(UserError):
            parse_values(bad, "--rates")


def test_summarize_cli_on_a_sweep(sweep_dir, capsys):
    code, out, _ = run_cli(capsys, "summarize", sweep_dir)
    assert code == 0
    assert "highest sustainable rate at >= 0.9 attainment: MFS 1.5, Karuna 0.75, SJF 0.5." in out
    assert "MFS / Karuna: 2.00x (exact) on highest sustainable rate." in out

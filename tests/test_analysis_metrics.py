"""Metrics on hand-built results directories whose answers are worked out
by hand in the comments (formulas: analysis/RESULTS_FORMAT.md)."""

import csv
import json
import math

import numpy as np
import pytest

from analysis.results_dir import RunResults
from analysis.summary import summarize_run, write_run_summary
from tests.test_analysis_support import flow, request, synthetic_run, write_run

# r0 meets (50 <= 100), r1 ties (100 <= 100: meets), r2 misses (150), r3 never
# finished (misses) although its slo_met column wrongly says true.
REQUESTS = [
    request(request_id="r0", arrival_us=0, ttft_us=50),
    request(request_id="r1", arrival_us=100, ttft_us=100),
    request(request_id="r2", arrival_us=200, ttft_us=150, scavenged="true"),
    request(request_id="r3", arrival_us=400, ttft_us="", slo_met="true"),
]
COLLECTIVES = [
    {"collective_id": "c0", "request_id": "r0", "layer": 0, "kind": "all_to_all", "flows": 2,
     "ready_us": 0, "end_us": 10, "cct_us": 10},
    {"collective_id": "c1", "request_id": "r0", "layer": 1, "kind": "all_to_all", "flows": 2,
     "ready_us": 10, "end_us": 40, "cct_us": 30},
    {"collective_id": "c2", "request_id": "r3", "layer": 0, "kind": "all_reduce", "flows": 2,
     "ready_us": 50, "end_us": "", "cct_us": ""},
]
# Isolated FCTs: f0 1000 B at 8 Gbit/s = 1 us, f1 2 us, f2 4000 B at 16 Gbit/s = 2 us.
FLOWS = [
    flow(flow_id="f0", stage="p2d", bytes=1000, start_us=0, end_us=4, promotions=1),
    flow(flow_id="f1", stage="p2d", bytes=2000, start_us=10, end_us=16, promotions=2),
    flow(flow_id="f2", stage="kv_fetch", bytes=4000, bottleneck_bps=16e9, start_us=5,
         end_us=15, retransmits=4),
    flow(flow_id="f3", stage="collective", status="failed", reason="timeout", end_us="",
         fct_us=""),
    flow(flow_id="f4", stage="collective", end_us="", fct_us=""),   # still running
]


@pytest.fixture
def known(tmp_path):
    sjf = [request(request_id=f"r{i}", arrival_us=i, ttft_us=50 if i == 0 else 500)
           for i in range(4)]
    return write_run(tmp_path / "run", {
        "mfs": {"requests": REQUESTS, "collectives": COLLECTIVES, "flows": FLOWS},
        "sjf": {"requests": sjf, "flows": [flow(flow_id="g0")]},
        "fair": {},
    })


def test_request_metrics(known):
    m = summarize_run(RunResults(known))["schedulers"]["mfs"]
    assert m["requests"] == 4
    assert m["requests_finished"] == 3 and m["requests_unfinished"] == 1
    assert m["slo_met"] == 2
    assert m["slo_attainment"] == 0.5
    assert m["slo_met_column_mismatches"] == 1          # r3
    assert m["ttft_mean_us"] == 100
    assert m["ttft_p50_us"] == 100
    assert m["ttft_p90_us"] == pytest.approx(140)      # h = 2*0.9: 100 + 0.8*50
    assert m["ttft_p99_us"] == pytest.approx(149)      # h = 1.98: 100 + 0.98*50
    assert m["requests_scavenged"] == 1
    assert m["offered_rate_rps"] == pytest.approx(7500)   # 3 gaps over 400 us
    assert m["slo_goodput_rps"] == pytest.approx(3750)


def test_collective_metrics(known):
    m = summarize_run(RunResults(known))["schedulers"]["mfs"]
    assert m["collectives"] == 3 and m["collectives_unfinished"] == 1
    assert m["cct_mean_us"] == 20 and m["cct_p50_us"] == 20
    assert m["cct_p99_us"] == pytest.approx(29.8)


def test_flow_metrics(known):
    m = summarize_run(RunResults(known))["schedulers"]["mfs"]
    assert (m["flows"], m["flows_completed"], m["flows_failed"]) == (5, 3, 1)
    assert m["p2d_flows"] == 2
    assert m["p2d_fct_mean_us"] == 5 and m["p2d_fct_p50_us"] == 5
    assert m["p2d_fct_p99_us"] == pytest.approx(5.98)
    # slowdowns: f0 4/1, f1 6/2, f2 10/2
    assert m["slowdown_mean"] == pytest.approx(4)
    assert m["slowdown_p99"] == pytest.approx(4.98)
    assert m["slowdown_p2d_mean"] == pytest.approx(3.5)
    assert m["slowdown_p2d_p99"] == pytest.approx(3.99)
    assert m["slowdown_kv_fetch_p50"] == pytest.approx(5)
    assert m["slowdown_collective_mean"] is None and m["slowdown_other_p99"] is None
    assert m["goodput_bps"] == pytest.approx(7000 * 8 / 16e-6)   # 7000 B from t=0 to 16 us
    assert (m["promotions"], m["retransmits"]) == (3, 4)


def test_mfs_ratio_and_empty_tables(known):
    summary = summarize_run(RunResults(known))
    assert summary["schedulers"]["sjf"]["slo_attainment"] == 0.25
    # fair has no requests: its attainment is unknown, so is the ratio
    assert summary["attainment_ratio"] == {"sjf": 2.0, "fair": None}
    fair = summary["schedulers"]["fair"]
    assert fair["requests"] == 0 and fair["flows"] == 0
    for key in ("slo_attainment", "ttft_p99_us", "cct_mean_us", "p2d_fct_p99_us",
                "slowdown_mean", "goodput_bps", "offered_rate_rps"):
        assert fair[key] is None, key


def test_summary_files_round_trip(known):
    summary = write_run_summary(RunResults(known))
    assert json.loads((known / "summary.json").read_text()) == summary
    with open(known / "summary.csv", newline="") as handle:
        rows = {row["scheduler"]: row for row in csv.DictReader(handle)}
    assert list(rows) == ["mfs", "sjf", "fair"]
    assert float(rows["mfs"]["ttft_p99_us"]) == pytest.approx(149)
    assert rows["fair"]["slo_attainment"] == ""          # no data: empty, not 0
    assert list(rows["mfs"])[0] == "scheduler"
    assert list(rows["mfs"])[1:] == list(summary["schedulers"]["mfs"])


def _type7(values, p):
    xs = sorted(values)
    h = (len(xs) - 1) * p / 100
    lo = math.floor(h)
    return xs[lo] + (h - lo) * (xs[min(lo + 1, len(xs) - 1)] - xs[lo])


def test_summary_recomputed_from_csv_by_the_documented_formulas(tmp_path):
    """Re-derive the headline numbers with the csv module and plain Python."""
    directory = synthetic_run(tmp_path / "run", load=2, schedulers=("sjf", "mfs"))
    summary = write_run_summary(RunResults(directory))
    for name in ("sjf", "mfs"):
        with open(directory / name / "requests.csv", newline="") as handle:
            requests = list(csv.DictReader(handle))
        ttft = [float(r["ttft_us"]) for r in requests if r["ttft_us"]]
        met = sum(1 for r in requests
                  if r["ttft_us"] and float(r["ttft_us"]) <= float(r["ttft_slo_us"]))
        with open(directory / name / "collectives.csv", newline="") as handle:
            cct = [float(c["cct_us"]) for c in csv.DictReader(handle) if c["cct_us"]]
        with open(directory / name / "flows.csv", newline="") as handle:
            flows = [f for f in csv.DictReader(handle) if f["status"] == "ok" and f["fct_us"]]
        p2d = [float(f["fct_us"]) for f in flows if f["stage"] == "p2d"]
        slow = [float(f["fct_us"]) / (int(f["bytes"]) * 8 / float(f["bottleneck_bps"]) * 1e6)
                for f in flows]
        span = max(float(f["end_us"]) for f in flows) - min(float(f["start_us"]) for f in flows)
        m = summary["schedulers"][name]
        assert m["slo_attainment"] == pytest.approx(met / len(requests))
        assert m["ttft_p99_us"] == pytest.approx(_type7(ttft, 99))
        assert m["ttft_p90_us"] == pytest.approx(_type7(ttft, 90))
        assert m["cct_mean_us"] == pytest.approx(sum(cct) / len(cct))
        assert m["cct_p99_us"] == pytest.approx(_type7(cct, 99))
        assert m["p2d_fct_p99_us"] == pytest.approx(_type7(p2d, 99))
        assert m["slowdown_mean"] == pytest.approx(np.mean(slow))
        assert m["goodput_bps"] == pytest.approx(
            8 * sum(int(f["bytes"]) for f in flows) / span * 1e6)
    # load 2 leaves sjf's last request unfinished: it counts as a miss
    assert summary["schedulers"]["sjf"]["requests_unfinished"] == 1


def test_attainment_counts_only_requests_with_an_slo(tmp_path):
    directory = write_run(tmp_path / "run", {"mfs": {"requests": [
        request(request_id="r0", ttft_slo_us="", deadline_us="", ttft_us=10, slo_met="false"),
        request(request_id="r1", arrival_us=10, ttft_us=10)]}})
    m = summarize_run(RunResults(directory))["schedulers"]["mfs"]
    assert (m["slo_met"], m["slo_attainment"], m["slo_met_column_mismatches"]) == (1, 1.0, 0)
    assert m["requests_with_slo"] == 1
    # goodput: requests that met their SLO per second of the window, not attainment x rate
    assert m["slo_goodput_rps"] == pytest.approx(1 / 2 * m["offered_rate_rps"])


def test_a_job_without_any_slo_has_no_attainment(tmp_path):
    directory = write_run(tmp_path / "run", {"fair": {"requests": [
        request(request_id="job", ttft_slo_us="", deadline_us="", ttft_us=10, slo_met="false")]}})
    m = summarize_run(RunResults(directory))["schedulers"]["fair"]
    assert m["slo_attainment"] is None and m["slo_goodput_rps"] is None
    assert m["requests_with_slo"] == 0
    # without an SLO a request is neither feasible nor infeasible
    assert m["requests_infeasible"] is None and m["slo_attainment_feasible"] is None

"""Replay against capture: captured timings travel from the trace to the
results tables (scaled to the fabric), into summary metrics and the report."""

import csv

import pytest

from analysis.report import write_report
from analysis.results_dir import RunResults
from analysis.summary import summarize_run
from experiments.results import capture_scale
from tests.test_analysis_support import flow, write_run
from traces.model import FlowNode, Request, collective_of
from traces.stats import trace_stats
from traces.trace import Trace

# Ratios replayed / captured: c0 20/10 = 2, c1 45/15 = 3, c2 40/20 = 2 (median 2);
# shape errors |r/2 - 1|: 0, 0.5, 0.  c3 has no captured value and is left out.
COLLECTIVES = [
    {"collective_id": f"c{i}", "request_id": "job", "kind": "all_reduce", "flows": 1,
     "ready_us": 0, "end_us": cct, "cct_us": cct, "capture_cct_us": rec}
    for i, (cct, rec) in enumerate([(20, 10), (45, 15), (40, 20), (30, "")])]
FLOWS = [flow(flow_id="f0", start_us=0, end_us=8, capture_fct_us=4),
         flow(flow_id="f1", start_us=0, end_us=9, capture_fct_us="")]


def test_capture_metrics_by_hand(tmp_path):
    directory = write_run(tmp_path / "run", {"fair": {"collectives": COLLECTIVES,
                                                      "flows": FLOWS}})
    m = summarize_run(RunResults(directory))["schedulers"]["fair"]
    assert m["capture_collectives_compared"] == 3
    assert m["capture_cct_ratio_p50"] == pytest.approx(2.0)
    assert m["capture_cct_shape_error_p50"] == pytest.approx(0.0)
    assert m["capture_cct_shape_error_p90"] == pytest.approx(0.4)     # 0, 0, 0.5 at p90
    assert (m["capture_flows_compared"], m["capture_fct_ratio_p50"]) == (1, pytest.approx(2.0))
    report = write_report(directory).read_text()
    assert "Replay against the capture" in report and "CCT shape error p90" in report


def test_results_without_capture_columns_still_read(tmp_path):
    directory = write_run(tmp_path / "run", {"fair": {"collectives": COLLECTIVES[:1],
                                                      "flows": FLOWS[:1]}})
    for name in ("flows.csv", "collectives.csv"):             # as written before the columns
        path = directory / "fair" / name
        rows = list(csv.DictReader(path.open()))
        keep = [c for c in rows[0] if not c.startswith("capture_")]
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, keep, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    m = summarize_run(RunResults(directory))["schedulers"]["fair"]
    assert m["capture_collectives_compared"] == 0 and m["capture_cct_ratio_p50"] is None
    assert "Replay against the capture" not in write_report(directory).read_text()


def _captured_trace(nic_bps):
    flows = [FlowNode(id=f"a{i}", request_id="job", src=s, dst=d, bytes=1000, stage="collective",
                      label="all_reduce world#0", recorded_cct_us=50.0, recorded_fct_us=40.0)
             for i, (s, d) in enumerate([("h1", "h2"), ("h2", "h1")])]
    request = Request(id="job", arrival_us=0, input_tokens=0, output_tokens=0, terminal="a0")
    return Trace(requests=[request], nodes=flows, nic_bps=nic_bps)


def test_captured_durations_scale_by_the_capture_nic_rate():
    trace = _captured_trace({"default": 100e9})
    # captured at 100 Gbit/s, replayed through a 1 Gbit/s bottleneck: 100x longer
    assert capture_scale(trace, trace.nodes[0], 1e9) == pytest.approx(100.0)
    trace.nic_bps = {"default": 100e9, "h2": 25e9}          # the slower end bounds it
    assert capture_scale(trace, trace.nodes[0], 1e9) == pytest.approx(25.0)
    trace.nic_bps = {}                                       # rate unknown: unscaled
    assert capture_scale(trace, trace.nodes[0], 1e9) == 1.0


def test_stats_per_host_bytes_and_isolated_cct():
    trace = _captured_trace({"default": 8e9})
    stats = trace_stats(trace)
    assert stats["per_host"] == {"h1": {"sent_bytes": 1000, "received_bytes": 1000},
                                 "h2": {"sent_bytes": 1000, "received_bytes": 1000}}
    (row,) = stats["collectives"]
    assert row["id"] == collective_of(trace.nodes[0])[0] and row["kind"] == "all_reduce"
    # each NIC sends and receives 1000 B at 8 Gbit/s at once: 1 us
    assert row["isolated_cct_us"] == pytest.approx(1.0) and row["recorded_cct_us"] == 50.0


def test_results_tables_carry_the_capture_scaled_to_the_fabric():
    """RunRecords (both backends' results): capture_fct_us per flow, and the
    collective's capture_cct_us by its slowest path; empty without a record."""
    import pandas as pd

    from experiments.results import RunRecords
    from netmodel.dilation import Dilation
    from netmodel.routing import Routes
    from netmodel.topology import load_topology

    trace = _captured_trace({"default": 100e9})
    trace.nodes[1].recorded_fct_us = None                     # one flow the capture did not time
    routes = Routes(load_topology("single_tor_8"))
    records = []
    for node in trace.nodes:
        records += [{"role": "send", "flow_id": node.id, "bytes": node.bytes, "start": 1.0},
                    {"role": "recv", "flow_id": node.id, "bytes_received": node.bytes,
                     "first_byte": 1.0001, "last_byte": 1.0002}]
    run = RunRecords(trace, records, 1.0, Dilation(rate_scale=1), routes,
                     pd.DataFrame(columns=["flow_id", "new_queue", "reason"]), {})
    flows = run.flows().set_index("flow_id")
    rate = flows.loc["a0", "bottleneck_bps"]
    # captured at 100 Gbit/s, replayed at the path's rate
    assert flows.loc["a0", "capture_fct_us"] == pytest.approx(40.0 * 100e9 / rate)
    assert pd.isna(flows.loc["a1", "capture_fct_us"])
    (row,) = run.collectives(run.flows()).to_dict("records")
    assert row["capture_cct_us"] == pytest.approx(50.0 * 100e9 / rate)
    assert row["cct_us"] == pytest.approx(200.0)              # 1.0 -> 1.0002 s at D = 1
    # a trace without captured timings: the column is empty, not 0
    plain = _captured_trace({})
    for node in plain.nodes:
        node.recorded_cct_us = node.recorded_fct_us = None
    run = RunRecords(plain, records, 1.0, Dilation(rate_scale=1), routes,
                     pd.DataFrame(columns=["flow_id", "new_queue", "reason"]), {})
    assert run.collectives(run.flows())["capture_cct_us"].isna().all()

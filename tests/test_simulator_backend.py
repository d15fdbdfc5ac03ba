"""The flow-level simulator backend against closed forms, and its results files.

single_tor_8: every link 100 Gbit/s, so 10 MB take 800 us alone.
"""

import json

import pandas as pd
import pytest

from experiments.sim_replay import SimReplay
from netmodel.topology import load_topology
from policies.base import Decision, Policy
from simulator.run import simulate_trace
from tests.helpers import run_cli
from traces.model import ComputeNode, FlowNode, Request
from traces.trace import Trace

MB = 10**6


@pytest.fixture(scope="module")
def tor():
    return load_topology("single_tor_8")


def trace(requests, nodes):
    return Trace(requests=requests, nodes=nodes, source="tests/test_simulator_backend.py")


def request(rid, arrival=0.0, terminal=None, slo=None):
    return Request(rid, arrival, 100, 1, ttft_slo_us=slo, prefill_hosts=["h1"], decode_host="h3",
                   terminal=terminal)


def run(tor, tmp_path, t, scheduler="fair", params=None):
    SimReplay(tor, t, scheduler, tmp_path, policy_params=params).run()
    flows = pd.read_csv(tmp_path / "flows.csv").set_index("flow_id")
    requests = pd.read_csv(tmp_path / "requests.csv").set_index("request_id")
    return flows, requests


def test_one_flow_at_line_rate(tor, tmp_path):
    flows, _ = run(tor, tmp_path, trace([request("a", terminal="a.f")],
                                        [FlowNode("a.f", "a", "h1", "h3", 10 * MB, "p2d")]))
    assert flows.loc["a.f", "fct_us"] == pytest.approx(800.0)
    assert flows.loc["a.f", "status"] == "ok"


def test_two_equal_flows_share_the_link(tor, tmp_path):
    t = trace([request("a", terminal="a.f"), request("b", terminal="b.f")],
              [FlowNode("a.f", "a", "h1", "h3", 10 * MB, "p2d"),
               FlowNode("b.f", "b", "h2", "h3", 10 * MB, "p2d")])
    flows, _ = run(tor, tmp_path, t)
    assert flows["fct_us"].tolist() == pytest.approx([1600.0, 1600.0])


def test_strict_priority_starves_the_low_queue(tor, tmp_path):
    t = trace([request("a", terminal="a.small"), request("b", terminal="b.big")],
              [FlowNode("a.small", "a", "h1", "h3", 5 * MB, "other"),
               FlowNode("b.big", "b", "h2", "h3", 10 * MB, "other")])
    flows, _ = run(tor, tmp_path, t, "sjf", {"size_thresholds": [6 * MB] + [7 * MB + i for i in range(6)]})
    assert flows.loc["a.small", "end_us"] == pytest.approx(400.0)   # the whole link
    assert flows.loc["b.big", "end_us"] == pytest.approx(1200.0)    # nothing until then
    assert flows.loc["a.small", "queue_initial"] < flows.loc["b.big", "queue_initial"]


def test_dag_compute_delays_and_the_instance_queue(tor, tmp_path):
    # a: 100 us compute, 10 MB flow, 50 us compute (the first token): TTFT 950 us.
    # b arrives at 0 too but waits for a's last compute (the instance is busy).
    t = trace([request("a", terminal="a.tok"), request("b", terminal="b.tok")],
              [ComputeNode("a.c0", "a", "h1", 100.0, layer=0),
               FlowNode("a.f", "a", "h1", "h3", 10 * MB, "p2d", deps=["a.c0"], layer=0),
               ComputeNode("a.tok", "a", "h3", 50.0, deps=["a.f"]),
               ComputeNode("b.c0", "b", "h1", 100.0, deps=["a.tok"], layer=0),
               ComputeNode("b.tok", "b", "h1", 0.0, deps=["b.c0"])])
    flows, requests = run(tor, tmp_path, t)
    assert flows.loc["a.f", "start_us"] == pytest.approx(100.0)
    assert requests.loc["a", "ttft_us"] == pytest.approx(950.0)
    assert requests.loc["b", "ttft_us"] == pytest.approx(1050.0)


class _PacedHalf(Policy):
    name = ""                      # not registered: used directly
    min_queues = 1

    def assign(self, flow, view):
        return Decision(0, "initial", pace_bps=50e9)


def test_a_pacing_cap_holds(tor):
    t = trace([request("a", terminal="a.f")], [FlowNode("a.f", "a", "h1", "h3", 10 * MB, "p2d")])
    sim = simulate_trace(t, tor, _PacedHalf())
    recv = next(r for r in sim.records if r.get("role") == "recv")
    assert recv["last_byte"] == pytest.approx(1600e-6)


def test_run_backend_sim_on_the_default_workload_and_compare(tmp_path):
    """No root: the whole results directory, then compare against itself."""
    out = tmp_path / "sim"
    result = run_cli("run", "--backend", "sim", "--out", out)
    assert result.returncode == 0, result.stderr
    info = json.loads((out / "run.json").read_text())
    assert info["backend"] == "fluid" and len(info["schedulers"]) == 6
    for name in info["schedulers"]:
        for table in ("flows.csv", "requests.csv", "collectives.csv", "queue_changes.csv",
                      "links.csv", "fidelity.json"):
            assert (out / name / table).exists(), (name, table)
        flows = pd.read_csv(out / name / "flows.csv")
        assert (flows["status"] == "ok").all() and len(flows) == 1120
        # the lower bound holds: no request beat it under any scheduler
        requests = pd.read_csv(out / name / "requests.csv")
        assert requests["ttft_bound_us"].notna().all()
        assert (requests["ttft_bound_us"] <= requests["ttft_us"] + 1e-3).all(), name
        assert (requests["feasible"] == (requests["ttft_bound_us"] <= requests["ttft_slo_us"])).all()
    summary = json.loads((out / "summary.json").read_text())
    assert all(m["requests_infeasible"] is not None for m in summary["schedulers"].values())
    assert (out / "report.html").exists()
    compared = run_cli("compare", out, out, "--out", tmp_path / "c.html")
    assert compared.returncode == 0, compared.stderr
    assert "same ranking" in compared.stdout
    page = (tmp_path / "c.html").read_text()
    assert "fig-crossval_fct_mfs" in page and "Cross-validation" in page
    crossval = json.loads((out / "crossval.json").read_text())
    assert all(v["ttft_error"]["median"] == 0 for v in crossval["schedulers"].values())


def test_a_start_lag_delays_every_flow(tor, tmp_path):
    t = trace([request("a", terminal="a.tok")],
              [ComputeNode("a.c0", "a", "h1", 100.0, layer=0),
               FlowNode("a.f", "a", "h1", "h3", 10 * MB, "p2d", deps=["a.c0"], layer=0),
               ComputeNode("a.tok", "a", "h3", 0.0, deps=["a.f"])])
    sim = simulate_trace(t, tor, _PacedHalf(), start_lag=5e-6)
    send = next(r for r in sim.records if r.get("role") == "send")
    assert send["start"] == pytest.approx(105e-6)
    assert sim.stats["start_lag_us"] == 5.0

"""Policies see batches: a batch's flows carry its earliest deadline and its
layer progress counts for each of its requests; both data planes run it."""

import json

import pandas as pd

from policies import FlowState, Scheduler, get_policy
from policies.mfs import MfsPolicy
from tests.helpers import run_cli
from tests.test_traces_support import DEPLOYMENTS

LINKS = {"up": 100e9}


def flow(fid, unit, stage, layer):
    return FlowState(fid, unit, stage, 10**6, layer=layer, path=("up",), deadline=0.010)


def test_a_batch_report_moves_the_batch_and_each_of_its_requests():
    sched = Scheduler(MfsPolicy(), LINKS)
    dispatch = flow("b0.L3.dispatch", "b0", "collective", 3)    # the batch's all-to-all
    fetch_a = flow("ra.L3.kv_fetch", "ra", "kv_fetch", 3)       # its requests' own KV fetches
    fetch_b = flow("rb.L3.kv_fetch", "rb", "kv_fetch", 3)
    other = flow("rc.L3.kv_fetch", "rc", "kv_fetch", 3)         # a request of another batch
    for f in (dispatch, fetch_a, fetch_b, other):
        sched.add_flow(f, 0.0)
    assert {f.queue for f in (dispatch, fetch_a, fetch_b, other)} == {5}    # RLI 4: queued
    changes = sched.report_progress("b0", 3, 0.001, members=("ra", "rb"))
    assert sorted((c.flow_id, c.request_id, c.new_queue) for c in changes) == [
        ("b0.L3.dispatch", "b0", 1), ("ra.L3.kv_fetch", "ra", 1), ("rb.L3.kv_fetch", "rb", 1)]
    assert other.queue == 5 and "rc" not in sched.view.progress
    assert sched.report_progress("b0", 2, 0.002, members=("ra", "rb")) == []   # stale


def test_edf_ranks_a_batch_by_its_earliest_deadline():
    sched = Scheduler(get_policy("edf"), LINKS)
    batch = FlowState("b0.f", "b0", "collective", 10**6, layer=0, path=("up",), deadline=0.004)
    late = FlowState("r9.f", "r9", "p2d", 10**6, layer=0, path=("up",), deadline=0.005)
    sched.add_flow(late, 0.0)
    sched.add_flow(batch, 0.0)
    assert (batch.queue, late.queue) == (0, 1)


def test_the_simulator_runs_a_batched_trace_under_every_scheduler(tmp_path):
    trace = tmp_path / "b.jsonl"
    made = run_cli("trace", "synth", "--requests", "builtin:n=40,rate=6000", "--model",
                   "mixtral-8x7b", "--layers", "3", "--deployment",
                   DEPLOYMENTS / "single_tor_8.yaml", "--out", trace)
    assert made.returncode == 0, made.stderr
    out = tmp_path / "sim"
    result = run_cli("run", "--backend", "sim", "--trace", trace, "--out", out)
    assert result.returncode == 0, result.stderr
    batches = {}
    for line in trace.read_text().splitlines():
        record = json.loads(line)
        if record["kind"] == "batch":
            batches[record["id"]] = record["requests"]
    assert max(len(r) for r in batches.values()) > 1
    for name in json.loads((out / "run.json").read_text())["schedulers"]:
        flows = pd.read_csv(out / name / "flows.csv")
        requests = pd.read_csv(out / name / "requests.csv")
        assert (flows["status"] == "ok").all() and requests["ttft_us"].notna().all(), name
        collective = flows[flows["stage"] == "collective"]
        assert collective["batch"].notna().all() and flows.loc[
            flows["stage"] != "collective", "batch"].isna().all()
        changes = pd.read_csv(out / name / "queue_changes.csv")
        if len(changes):           # decisions name the batch, not one of its requests
            ids = set(changes.loc[changes["flow_id"].isin(collective["flow_id"]), "request_id"])
            assert ids and ids <= set(batches), name

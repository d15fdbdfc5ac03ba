"""Root integration: the paper_testbed_8x4 deployment (8 servers x 4 GPUs,
batched prefill) replays end to end on the emulated fabric under all six
schedulers, with batches of several requests scheduled as batches."""

import json

import pandas as pd
import pytest

from tests.helpers import run_cli
from tests.test_ready_deployments import SCHEDULERS, synth
from traces import load_trace

pytestmark = pytest.mark.root


def test_paper_testbed_runs_every_scheduler_on_the_emulator(root_env, tmp_path):
    # 20 requests within 0.4 ms: each instance batches the ones that queue.
    trace_path = synth(tmp_path, "paper_testbed_8x4", requests="builtin:n=20,rate=50000",
                       layers=2)
    trace = load_trace(trace_path)
    members = {b.id: b.requests for b in trace.batches}
    assert max(len(r) for r in members.values()) >= 3
    out = tmp_path / "run"
    result = run_cli("run", "--trace", trace_path, "--scheduler", ",".join(SCHEDULERS),
                     "--out", out, timeout=900)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())["schedulers"]
    assert list(summary) == SCHEDULERS
    for name, m in summary.items():
        assert m["requests_finished"] == 20 and m["flows_failed"] == 0, name
        assert m["slo_attainment"] is not None
        flows = pd.read_csv(out / name / "flows.csv")
        shared = flows[flows["stage"] == "collective"]
        assert shared["batch"].notna().all()
        changes = pd.read_csv(out / name / "queue_changes.csv")
        # the controller registered each shared flow as its batch's
        named = set(changes.loc[changes["flow_id"].isin(shared["flow_id"]), "request_id"])
        assert named and named <= set(members), name

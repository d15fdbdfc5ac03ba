"""Root integration: the paper_testbed_8x4 deployment (8 servers x 4 GPUs)
replays end to end on the emulated fabric under all six schedulers."""

import json

import pytest

from tests.helpers import run_cli
from tests.test_ready_deployments import SCHEDULERS, synth

pytestmark = pytest.mark.root


def test_paper_testbed_runs_every_scheduler_on_the_emulator(root_env, tmp_path):
    trace = synth(tmp_path, "paper_testbed_8x4", requests="builtin:n=12,rate=2000", layers=2)
    out = tmp_path / "run"
    result = run_cli("run", "--trace", trace, "--scheduler", ",".join(SCHEDULERS), "--out", out,
                     timeout=900)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())["schedulers"]
    assert list(summary) == SCHEDULERS
    for name, m in summary.items():
        assert m["requests_finished"] == 12 and m["flows_failed"] == 0, name
        assert m["slo_attainment"] is not None

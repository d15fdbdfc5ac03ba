"""An emulator sweep through a Dask worker that advertises the fabric resource."""

import json

import pytest

from emulator import ovs
from tests.dask_support import loopback_cluster
from tests.helpers import run_cli

pytestmark = pytest.mark.root


def test_a_two_point_emulator_sweep_runs_on_a_fabric_worker(root_env, tmp_path):
    bridges_before = set(ovs.bridges())
    # a plain worker beside it: emulator points must not land there
    with loopback_cluster(tmp_path / "dask", workers=["fabric=1", None]) as address:
        result = run_cli("sweep", "--rates", "1,2", "--scheduler", "fair,mfs", "--cluster",
                         address, "--out", tmp_path / "sweep", timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        from distributed import Client
        with Client(address) as client:
            fabric_workers = {a for a, w in client.scheduler_info()["workers"].items()
                              if w["resources"].get("fabric")}
    assert "Dask: 2 worker(s), 1 with the fabric resource" in result.stdout
    progress = json.loads((tmp_path / "sweep" / "points.json").read_text())
    assert progress["complete"] is True and progress["done"] == 2
    assert {p["where"] for p in progress["points"].values()} == fabric_workers
    for value in ("1", "2"):
        point = tmp_path / "sweep" / "points" / f"rate={value}"
        run = json.loads((point / "run.json").read_text())
        assert run["backend"] == "emulation" and run["schedulers"] == ["fair", "mfs"]
        assert run["datapath"] in ("user", "kernel")
        for name in ("fair", "mfs"):
            fidelity = json.loads((point / name / "fidelity.json").read_text())
            assert fidelity["flows_failed"] == 0 and fidelity["dependency_violations"] == 0
            flows = (point / name / "flows.csv").read_text().splitlines()
            assert len(flows) > 100 and all(",ok," in row for row in flows[1:])
    summary = json.loads((tmp_path / "sweep" / "summary.json").read_text())
    assert [p["value"] for p in summary["points"]] == [1.0, 2.0]
    assert set(ovs.bridges()) == bridges_before          # each point's fabric is gone

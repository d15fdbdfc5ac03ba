"""Sweep points through the executor: here, in local worker processes, and
on a real Dask cluster on loopback (scheduler and worker processes)."""

import json
from pathlib import Path

import pytest

from experiments.executor import PointExecutor, parse_cluster
from experiments.point import make_point
from netmodel.topology import load_topology
from tests.dask_support import loopback_cluster
from tests.helpers import REPO, run_cli
from traces import load_trace

SWEEP = ["sweep", "--backend", "sim", "--rates", "1,2", "--scheduler", "fair,edf,mfs"]
# what differs between two runs of the same points: how long they took, and where
TIMINGS = {"wall_seconds", "emulated_seconds"}


def comparable(root):
    """{relative path: content} of a results tree, without what records time or place."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_dir() or path.name in ("points.json", "report.html", "regime.html",
                                          "seeds.html"):
            continue
        text = path.read_text()
        if path.suffix == ".json":
            data = json.loads(text)
            if isinstance(data, dict):
                for key in TIMINGS | {"directory", "directories"}:
                    data.pop(key, None)
            text = json.dumps(data, sort_keys=True).replace(str(root), "ROOT")
        out[relative] = text.replace(str(root), "ROOT")
    return out


def test_a_sweep_on_a_loopback_dask_cluster_equals_the_sequential_sweep(tmp_path):
    here = run_cli(*SWEEP, "--out", tmp_path / "here")
    assert here.returncode == 0, here.stderr
    with loopback_cluster(tmp_path / "dask", workers=[None, None]) as address:
        there = run_cli(*SWEEP, "--cluster", address, "--out", tmp_path / "there", timeout=300)
    assert there.returncode == 0, there.stderr
    assert "Dask: 2 worker(s), 0 with the fabric resource" in there.stdout
    assert comparable(tmp_path / "here") == comparable(tmp_path / "there")
    progress = json.loads((tmp_path / "there" / "points.json").read_text())
    assert progress["executor"] == address and progress["complete"] is True
    assert (progress["done"], progress["failed"], progress["total"]) == (2, 0, 2)
    assert all(p["where"].startswith("tcp://127.0.0.1:") and p["where"] != address
               for p in progress["points"].values())      # run by a worker, not the scheduler
    # the trace travelled with the task: run.json names the submitter's file
    run = json.loads((tmp_path / "there" / "points" / "rate=2" / "run.json").read_text())
    assert run["config"]["trace"].endswith("default_workload.jsonl")
    assert run["sweep"] == {"parameter": "rate", "value": 2.0}


def test_local_workers_give_the_sequential_results(tmp_path):
    """--workers 2 on a regime grid and on run --seeds: the same directories as one at a time."""
    grid = ["sweep", "--backend", "sim", "--rates", "1,2", "--slo-scales", "1,2", "--seeds", "2",
            "--scheduler", "fair,mfs"]
    trials = ["run", "--backend", "sim", "--seeds", "2", "--scheduler", "sjf,mfs"]
    for name, command in (("grid", grid), ("trials", trials)):
        one = run_cli(*command, "--out", tmp_path / f"{name}-1", timeout=300)
        two = run_cli(*command, "--workers", "2", "--out", tmp_path / f"{name}-2", timeout=300)
        assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
        assert comparable(tmp_path / f"{name}-1") == comparable(tmp_path / f"{name}-2")
        progress = json.loads((tmp_path / f"{name}-2" / "points.json").read_text())
        assert progress["executor"] == "2 local workers" and progress["complete"] is True
        assert json.loads((tmp_path / f"{name}-1" / "points.json").read_text())["executor"] == "here"
    assert (tmp_path / "grid-2" / "regime.json").is_file()
    assert (tmp_path / "trials-2" / "seeds.json").is_file()


def _points(tmp_path):
    topology = load_topology("single_tor_8")
    trace = load_trace(REPO / "traces" / "default_workload.jsonl")
    good = make_point("points/good", topology, trace, "default_workload.jsonl", ["fair"], "fluid")
    bad = make_point("points/bad", topology, trace, "default_workload.jsonl", ["no-such"], "fluid")
    return [bad, good]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_point_is_retried_once_then_reported_and_the_sweep_goes_on(tmp_path, workers):
    lines = []
    executor = PointExecutor(workers=workers, echo=lines.append)
    statuses = executor.run(_points(tmp_path), tmp_path)
    assert executor.failed == ["points/bad"]        # what the command's exit status reads
    assert statuses["points/good"].status == "done"
    assert (tmp_path / "points" / "good" / "fair" / "flows.csv").is_file()
    bad = statuses["points/bad"]
    assert (bad.status, bad.attempts) == ("failed", 2)
    assert "unknown scheduler 'no-such'" in bad.error
    assert not (tmp_path / "points" / "bad").exists()     # a failed point leaves nothing half-written
    assert any("attempt 1 failed" in line and "retrying" in line for line in lines)
    progress = json.loads((tmp_path / "points.json").read_text())
    assert (progress["done"], progress["failed"], progress["complete"]) == (1, 1, False)
    assert progress["points"]["points/bad"]["error"] == bad.error


@pytest.mark.parametrize("args, message", [
    (["--cluster", "tcp://a b"], "--cluster: a Dask scheduler address"),
    (["--cluster", "ssh:"], "--cluster: ssh: needs host names"),
    (["--workers", "0"], "--workers: must be at least 1"),
    (["--cluster", "ssh:nonexistent.invalid"], "could not start a Dask cluster over SSH"),
    (["--cluster", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
    (["--workers", "2", "--cluster", "tcp://127.0.0.1:1"], "give --workers or --cluster, not both"),
])
def test_bad_executor_options_are_refused_before_anything_runs(tmp_path, args, message):
    result = run_cli(*SWEEP, *args, "--out", tmp_path / "x")
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x").exists()


def test_a_single_run_is_one_point(tmp_path):
    result = run_cli("run", "--backend", "sim", "--workers", "2", "--out", tmp_path / "x")
    assert result.returncode == 2 and "a single run is one point" in result.stderr
    assert not (tmp_path / "x").exists()


def test_emulator_points_need_a_fabric_worker(tmp_path):
    with loopback_cluster(tmp_path / "dask", workers=[None]) as address:
        result = run_cli("sweep", "--rates", "1,2", "--scheduler", "fair,mfs", "--cluster",
                         address, "--out", tmp_path / "x", timeout=120)
    assert result.returncode == 2, result.stderr
    assert "need a worker with the 'fabric' resource and none of the 1 has it" in result.stderr
    assert "Traceback" not in result.stderr


def test_cluster_address_forms():
    assert parse_cluster("10.0.0.5:8786") == ("address", "tcp://10.0.0.5:8786")
    assert parse_cluster("tls://sched:8786") == ("address", "tls://sched:8786")
    assert parse_cluster("ssh:vm1, vm2") == ("ssh", ["vm1", "vm2"])

"""The ready deployments (traces/deployments/): each synthesizes a valid
trace on its topology; paper_testbed_8x4 runs every scheduler on the
simulator (the emulator: tests/test_paper_testbed_root.py)."""

import json

import pytest

from tests.helpers import run_cli
from traces import load_trace

SCHEDULERS = ["fair", "sjf", "edf", "pias", "karuna", "mfs"]
READY = {"paper_testbed_8x4": "single_tor_8", "sim_32x8": "topologies/leaf_spine_32.yaml",
         "paper_testbed_8x4_rail": "topologies/rail_8x4.yaml"}


def synth(tmp_path, deployment, requests="builtin:n=20,rate=2000", layers=2):
    out = tmp_path / f"{deployment}.jsonl"
    made = run_cli("trace", "synth", "--requests", requests, "--model", "mixtral-8x7b",
                   "--layers", layers, "--deployment", f"traces/deployments/{deployment}.yaml",
                   "--out", out)
    assert made.returncode == 0, made.stderr
    return out


@pytest.mark.parametrize("deployment", READY)
def test_ready_deployment_synthesizes_on_its_topology(tmp_path, deployment):
    out = synth(tmp_path, deployment)
    checked = run_cli("trace", "validate", out, "--topology", READY[deployment])
    assert checked.returncode == 0, checked.stderr
    trace = load_trace(out)
    server = (lambda host: host.split("g")[0]) if deployment.endswith("rail") else str
    # an instance spans two servers: the all-to-all crosses the network between
    # servers, and the share for GPUs of the sender's own server stays in it
    collectives = [f for f in trace.flows() if f.stage == "collective"]
    assert collectives and all(server(f.src) != server(f.dst) for f in collectives)
    local = [n for n in trace.nodes if n.kind == "compute" and n.label == "all-to-all dispatch"]
    assert local and all(n.duration_us > 0 for n in local)
    assert trace.meta["deployment"] == deployment


def test_paper_testbed_runs_every_scheduler_on_the_simulator(tmp_path):
    out = tmp_path / "run"
    result = run_cli("run", "--backend", "sim", "--trace", synth(tmp_path, "paper_testbed_8x4"),
                     "--scheduler", ",".join(SCHEDULERS), "--out", out, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())["schedulers"]
    assert list(summary) == SCHEDULERS
    assert all(m["requests_finished"] == 20 and m["flows_failed"] == 0
               for m in summary.values())


def test_rail_servers_are_validated(tmp_path):
    bad = tmp_path / "rail.yaml"
    text = open("traces/deployments/paper_testbed_8x4_rail.yaml").read()
    bad.write_text(text.replace("gpus_per_host: 1", "gpus_per_host: 4"))
    made = run_cli("trace", "synth", "--requests", "builtin:n=2", "--model", "mixtral-8x7b",
                   "--deployment", bad, "--out", tmp_path / "t.jsonl")
    assert made.returncode == 2 and "gpus_per_host must be 1" in made.stderr
    assert "Traceback" not in made.stderr and not (tmp_path / "t.jsonl").exists()
    bad.write_text(text.replace("[s2g1, s2g2, s2g3, s2g4]", "[s1g1, s2g2, s2g3, s2g4]", 1))
    made = run_cli("trace", "synth", "--requests", "builtin:n=2", "--model", "mixtral-8x7b",
                   "--deployment", bad, "--out", tmp_path / "t.jsonl")
    assert made.returncode == 2 and "'s1g1' is in servers.0 and servers.1" in made.stderr
    assert "Traceback" not in made.stderr and not (tmp_path / "t.jsonl").exists()
    # a misspelled GPU: its traffic would silently cross the network
    bad.write_text(text.replace("s1g4]", "s1x4]", 1))
    made = run_cli("trace", "synth", "--requests", "builtin:n=2", "--model", "mixtral-8x7b",
                   "--deployment", bad, "--out", tmp_path / "t.jsonl")
    assert made.returncode == 2 and "host 's1g4' is in no server" in made.stderr
    bad.write_text(text.replace("[s8g1, s8g2, s8g3, s8g4]", "[]", 1))
    made = run_cli("trace", "synth", "--requests", "builtin:n=2", "--model", "mixtral-8x7b",
                   "--deployment", bad, "--out", tmp_path / "t.jsonl")
    assert made.returncode == 2 and "servers.7 is empty" in made.stderr


def test_gpu_hosts_of_one_server_exchange_data_locally():
    """DagBuilder(server_of=...): between GPU hosts of one server a local delay
    at the intra-server rate; between servers a flow."""
    from traces.dag_builder import DagBuilder
    builder = DagBuilder(800e9, server_of=lambda host: host[:2])       # "s1g1" -> "s1"
    (local,) = builder.transfer("x", "r", "s1g1", "s1g2", 10**6, "p2d")
    (flow,) = builder.transfer("y", "r", "s1g1", "s2g1", 10**6, "p2d")
    nodes = {n.id: n for n in builder.nodes}
    assert nodes[local].kind == "compute" and nodes[local].duration_us == pytest.approx(10.0)
    assert nodes[flow].kind == "flow" and (nodes[flow].src, nodes[flow].dst) == ("s1g1", "s2g1")


def test_a_deployment_validates_twice(tmp_path):
    from traces.synth.deployment import Deployment, load_deployment
    dep = load_deployment("traces/deployments/paper_testbed_8x4_rail.yaml")
    again = Deployment.model_validate(dep.model_dump())
    assert again.server_of("s3g2") == dep.server_of("s3g2") == again.server_of("s3g4")
    assert Deployment.model_validate(dep) is not None          # re-validating an instance

"""Generated topologies: the shipped files reproduced, sizes, rates, the CLI."""

import yaml
import pytest

from common.errors import UserError
from netmodel import generate
from netmodel.routing import Routes
from netmodel.topology import parse_topology
from tests.helpers import REPO, run_cli


def shipped(name):
    return yaml.safe_load((REPO / "topologies" / f"{name}.yaml").read_text())


def test_fat_tree_k4_is_the_shipped_file():
    data, ref = generate.fat_tree(4), shipped("fat_tree_k4")
    for key in ("hosts", "switches", "links"):
        assert data[key] == ref[key], key


def test_leaf_spine_is_the_shipped_file():
    data, ref = generate.leaf_spine(4, 2, 4), shipped("leaf_spine")
    for key in ("hosts", "switches", "links"):
        assert data[key] == ref[key], key


def test_fat_tree_k16_has_1024_hosts_and_full_bisection():
    topo = parse_topology(generate.fat_tree(16))
    assert (len(topo.hosts), len(topo.switches), len(topo.links)) == (1024, 320, 3072)
    routes = Routes(topo)
    # hosts in different pods: edge, aggregation, core, aggregation, edge
    assert len(routes.directed_path("h1", "h1024")) == 6
    assert len(routes.directed_path("h1", "h2")) == 2


def test_leaf_spine_oversubscription_sets_the_uplinks():
    topo = parse_topology(generate.leaf_spine(2, 2, 8, rate="100Gbps", oversubscription=4))
    uplinks = [l.rate_bps for l in topo.links if l.a.startswith("leaf")]
    assert uplinks == [100e9] * 4           # 8 x 100G / (2 spines x 4)


def test_rail_optimized_same_rail_is_one_switch_cross_rail_a_spine():
    topo = parse_topology(generate.rail_optimized(4, 8, 2, 8))
    assert len(topo.hosts) == 32
    routes = Routes(topo)
    assert len(routes.directed_path("s1g3", "s2g3")) == 2      # same group, same rail
    assert len(routes.directed_path("s1g3", "s2g4")) == 4      # via a spine


@pytest.mark.parametrize("call", [lambda: generate.fat_tree(3), lambda: generate.leaf_spine(0, 1, 1),
                                  lambda: generate.rail_optimized(3, 8, 2)])
def test_bad_shapes_are_refused(call):
    with pytest.raises(UserError):
        call()


def test_cli_writes_a_valid_file_and_refuses_a_bad_one(tmp_path):
    out = tmp_path / "ls.yaml"
    result = run_cli("topology", "generate", "leaf-spine", "--leaves", "3", "--spines", "2",
                     "--hosts-per-leaf", "2", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "6 hosts" in result.stdout
    assert run_cli("topology", out).returncode == 0
    bad = run_cli("topology", "generate", "fat-tree", "--k", "5", "--out", tmp_path / "x.yaml")
    assert bad.returncode != 0 and "even k" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.yaml").exists()


def test_generated_deployment_places_instances_on_consecutive_hosts():
    from traces.synth.deployment import generate_deployment

    data = generate_deployment([f"h{i}" for i in range(1, 17)], 2, 4, decode_hosts=3, cache_hosts=2)
    assert [i["hosts"] for i in data["prefill_instances"]] == [["h1", "h2", "h3", "h4"],
                                                               ["h5", "h6", "h7", "h8"]]
    assert data["prefill_instances"][0]["ep"] == 4
    assert data["decode_hosts"] == ["h9", "h10", "h11"] and data["kv_cache"]["hosts"] == ["h12", "h13"]
    with pytest.raises(UserError, match="needs 21 hosts \\(16 prefill, 4 decode, 1 cache\\)"):
        generate_deployment([f"h{i}" for i in range(1, 17)], 4, 4)


def test_generated_fabric_and_deployment_run_on_the_simulator(tmp_path):
    """topology generate -> trace deployment -> trace synth -> run --backend sim."""
    topo, dep, trace, out = (tmp_path / n for n in ("ft4.yaml", "dep.yaml", "t.jsonl", "run"))
    steps = [("topology", "generate", "fat-tree", "--k", "4", "--out", topo),
             ("trace", "deployment", "--topology", topo, "--prefill-instances", "2", "--degree",
              "4", "--decode-hosts", "2", "--out", dep),
             ("trace", "synth", "--requests", "builtin:n=4", "--model", "mixtral-8x7b",
              "--deployment", dep, "--layers", "2", "--out", trace),
             ("run", "--backend", "sim", "--topology", topo, "--trace", trace, "--scheduler",
              "fair,mfs", "--out", out)]
    for step in steps:
        result = run_cli(*step)
        assert result.returncode == 0, (step, result.stderr)
    import pandas as pd
    flows = pd.read_csv(out / "mfs" / "flows.csv")
    assert (flows["status"] == "ok").all()
    # an all-to-all between pods crosses the core: 6 links
    assert flows["src"].str.len().gt(0).all()


def test_a_generated_deployment_with_multi_gpu_hosts_spans_gpus_of_several_hosts(tmp_path):
    """256 hosts x 4 GPUs: EP 8 instances of two hosts each; the synthesized
    trace keeps the traffic between GPUs of one host off the network."""
    from traces.synth.deployment import generate_deployment

    data = generate_deployment([f"h{i}" for i in range(1, 9)], 2, 2, gpus_per_host=4)
    assert data["gpus_per_host"] == 4 and [i["ep"] for i in data["prefill_instances"]] == [8, 8]
    topo, dep, trace = (tmp_path / n for n in ("ls.yaml", "dep.yaml", "t.jsonl"))
    assert run_cli("topology", "generate", "leaf-spine", "--leaves", "2", "--spines", "2",
                   "--hosts-per-leaf", "4", "--rate", "400Gbps", "--out", topo).returncode == 0
    result = run_cli("trace", "deployment", "--topology", topo, "--prefill-instances", "2",
                     "--degree", "2", "--gpus-per-host", "4", "--out", dep)
    assert result.returncode == 0, result.stderr
    assert "x 4 GPUs (ep 8)" in result.stdout
    assert "nic_rate: 400Gbps" in dep.read_text()          # the topology's host links
    result = run_cli("trace", "synth", "--requests", "builtin:n=2", "--model", "mixtral-8x7b",
                     "--layers", "2", "--deployment", dep, "--out", trace)
    assert result.returncode == 0, result.stderr
    from traces import load_trace
    flows = [n for n in load_trace(trace).nodes if n.kind == "flow" and n.stage == "collective"]
    # one peer host per instance: a dispatch and a combine per layer cross the network
    assert flows and all(n.src != n.dst for n in flows)
    assert len(flows) == 2 * 2 * 2


def test_a_generated_deployment_keeps_hosts_with_other_nic_rates(tmp_path):
    topo, dep = tmp_path / "mixed.yaml", tmp_path / "dep.yaml"
    links = "\n".join(f"  - {{a: h{i}, b: tor1{', rate: 200Gbps' if i == 4 else ''}}}"
                      for i in range(1, 5))
    topo.write_text("name: mixed\ndefaults: {rate: 100Gbps}\nhosts: [h1, h2, h3, h4]\n"
                    f"switches: [tor1]\nlinks:\n{links}\n")
    result = run_cli("trace", "deployment", "--topology", topo, "--prefill-instances", "1",
                     "--degree", "2", "--decode-hosts", "1", "--out", dep)
    assert result.returncode == 0, result.stderr
    text = dep.read_text()
    assert "nic_rate: 100Gbps" in text and "host_nic_rates: {h4: 200Gbps}" in text

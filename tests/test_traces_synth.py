"""Synthesizer: byte counts equal the issue's formulas for each model."""

import json

import pytest

import traces
from common.errors import UserError
from tests.test_traces_support import DEFAULT_WORKLOAD, DEPLOYMENTS, HOSTS_8, run_cli
from traces.synth.deployment import Deployment, load_deployment
from traces.synth.models import BUILTIN_MODELS, load_model
from traces.synth.synthesizer import synthesize

MOE = ["mixtral-8x7b", "dbrx", "grok-1"]


def deployment(**changes):
    base = {"gpu_tflops": 500, "nic_rate": "100Gbps",
            "prefill_instances": [{"hosts": ["h1", "h2", "h3"]}, {"hosts": ["h4", "h5", "h6"]}],
            "decode_hosts": ["h7", "h8"], "kv_cache": {"hosts": ["h8"]}}
    base.update(changes)
    return Deployment.model_validate(base)


def request(rid, tokens, arrival=0.0, hash_ids=None):
    return traces.Request(id=rid, arrival_us=arrival, input_tokens=tokens, output_tokens=10,
                          hash_ids=hash_ids)


def flows(trace, stage, rid=None, layer="any"):
    return [f for f in trace.flows() if f.stage == stage and (rid is None or f.request_id == rid)
            and (layer == "any" or f.layer == layer)]


def test_builtin_model_shapes():
    shapes = {name: (m.layers, m.hidden, m.q_heads, m.kv_heads, m.head_dim, m.experts, m.top_k,
                     m.expert_ffn) for name, m in BUILTIN_MODELS.items() if m.is_moe}
    assert shapes == {"mixtral-8x7b": (32, 4096, 32, 8, 128, 8, 2, 14336),
                      "dbrx": (40, 6144, 48, 8, 128, 16, 4, 10752),
                      "grok-1": (64, 6144, 48, 8, 128, 8, 2, 32768)}
    for name in MOE:
        assert load_model(name).kv_bytes_per_token_layer == 4096     # 2 x 8 x 128 x 2
    assert not load_model("llama-3-70b").is_moe


@pytest.mark.parametrize("name", MOE)
def test_moe_all_to_all_and_p2d_bytes(name):
    model = load_model(name, layers=3)
    tokens, ep = 900, 3
    trace = synthesize([request("r0", tokens)], model, deployment())
    for layer in range(3):
        for stage_label in ("dispatch", "combine"):
            sent = [f for f in flows(trace, "collective", layer=layer) if stage_label in f.id]
            expected = tokens * model.top_k * model.hidden * 2 * (ep - 1) / ep
            assert len(sent) == ep - 1
            assert sum(f.bytes for f in sent) == pytest.approx(expected, abs=ep)
        p2d = flows(trace, "p2d", layer=layer)
        assert [(f.src, f.dst, f.bytes) for f in p2d] == [("h1", "h7", tokens * 4096)]
    assert not flows(trace, "kv_fetch")
    assert trace.requests[0].prefill_hosts == ["h1", "h2", "h3"]
    assert trace.requests[0].decode_host == "h7"


def test_moe_gpus_per_host_keep_local_share_off_the_network():
    model = load_model("mixtral-8x7b", layers=1)
    tokens = 1200
    trace = synthesize([request("r0", tokens)], model, deployment(gpus_per_host=4))
    sent = [f for f in flows(trace, "collective") if "dispatch" in f.id]
    ep, g = 12, 4
    assert sum(f.bytes for f in sent) == tokens * 2 * 4096 * 2 * (ep - g) // ep
    local = trace.node_map()["r0.L0.dispatch@h1"]
    assert local.host == "h1" and local.duration_us == pytest.approx(
        tokens * 16384 * (g - 1) / ep * 8 / 900e9 * 1e6, rel=1e-3)


def test_kv_fetch_from_prefix_cache_hits():
    model = load_model("dbrx", layers=2)
    reqs = [request("r0", 1500, 0, [10, 11, 12]), request("r1", 1100, 50, [10, 11, 99]),
            request("r2", 1024, 60, [10, 11])]
    trace = synthesize(reqs, model, deployment())
    assert not flows(trace, "kv_fetch", "r0")
    assert [r.cached_tokens for r in trace.requests] == [0, 1024, 1023]   # at least one token computed
    for rid, cached in (("r1", 1024), ("r2", 1023)):
        fetched = flows(trace, "kv_fetch", rid)
        assert [f.layer for f in fetched] == [0, 1]
        assert all(f.src == "h8" and f.bytes == cached * 4096 for f in fetched)
        assert fetched[1].deps == [fetched[0].id]                  # layer by layer
        host = fetched[1].dst
        assert fetched[1].id in trace.node_map()[f"{rid}.L1.attn@{host}"].deps   # ahead of attention
    # the dispatch only carries the tokens computed
    r1 = [f for f in flows(trace, "collective", "r1", 0) if "dispatch" in f.id]
    assert sum(f.bytes for f in r1) == pytest.approx((1100 - 1024) * 4 * 6144 * 2 * 2 / 3, abs=3)


def test_reuse_ratio_without_hash_ids():
    model = load_model("mixtral-8x7b", layers=1)
    trace = synthesize([request("r0", 4000)], model,
                       deployment(kv_cache={"hosts": ["h7"], "reuse_ratio": 0.5}))
    assert trace.requests[0].cached_tokens == 1536                 # 3 whole 512-token blocks
    assert [f.bytes for f in flows(trace, "kv_fetch")] == [1536 * 4096]


def test_dense_tensor_parallel_ring_all_reduce():
    model = load_model("llama-3-70b", layers=2)
    tokens = 1024
    dep = deployment(prefill_instances=[{"hosts": ["h1", "h2"], "tp": 2}], kv_cache={})
    trace = synthesize([request("r0", tokens)], model, dep)
    size = tokens * model.hidden * 2
    n = 2
    per_edge = {}
    for f in flows(trace, "collective", layer=0):
        per_edge[(f.src, f.dst)] = per_edge.get((f.src, f.dst), 0) + f.bytes
    # two all-reduces per layer, each 2(N-1)/N x size on every ring edge
    both = 2 * 2 * (n - 1) * size // n
    assert per_edge == {("h1", "h2"): both, ("h2", "h1"): both}
    assert len(flows(trace, "collective", layer=0)) == 2 * 2 * (n - 1) * 2     # steps x edges
    p2d = flows(trace, "p2d", layer=1)
    half = tokens * 4096 // 2                                 # KV heads sharded over TP
    assert sorted((f.src, f.bytes) for f in p2d) == [("h1", half), ("h2", half)]


def test_dense_ring_steps_with_several_gpus_per_host():
    model = load_model("llama-3-8b", layers=1)
    dep = deployment(gpus_per_host=4, prefill_instances=[{"hosts": ["h1", "h2"]}], kv_cache={})
    trace = synthesize([request("r0", 800)], model, dep)
    n, size = 8, 800 * 4096 * 2
    cross = flows(trace, "collective")
    assert len(cross) == 2 * 2 * (n - 1) * 2                  # 2 all-reduces x 14 steps x 2 edges
    h1_to_h2 = sum(f.bytes for f in cross if f.src == "h1")
    assert h1_to_h2 == 2 * 2 * (n - 1) * size // n
    assert "r0.L0.ar1.s0@h1" in trace.node_map()              # NVLink steps are local delays


def test_bulk_p2d_and_terminal():
    model = load_model("grok-1", layers=4)
    trace = synthesize([request("r0", 300)], model, deployment(), p2d="bulk")
    p2d = flows(trace, "p2d")
    assert [(f.bytes, f.layer) for f in p2d] == [(4 * 300 * 4096, None)]
    terminal = trace.node_map()[trace.requests[0].terminal]
    assert terminal.host == "h7" and p2d[0].id in terminal.deps


def test_slo_is_a_multiple_of_isolated_ttft_and_compute_nodes_have_layers():
    model = load_model("mixtral-8x7b", layers=3)
    trace = synthesize([request("r0", 700), request("r1", 300, 10)], model, deployment(), slo_scale=4)
    iso = traces.isolated_times(trace)
    for req in trace.requests:
        assert req.ttft_slo_us == pytest.approx(4 * iso[req.id].ttft_us, abs=1e-3)
        assert 0 < iso[req.id].network_share < 1
    layered = [n for n in trace.computes() if n.label in ("attention", "experts")]
    assert {n.layer for n in layered} == {0, 1, 2}
    assert trace.requests[1].prefill_hosts == ["h4", "h5", "h6"]  # round-robin instances


def test_fcfs_instance_queue():
    model = load_model("mixtral-8x7b", layers=2)
    reqs = [request("r0", 500, 0), request("r1", 500, 1), request("r2", 500, 2)]
    trace = synthesize(reqs, model, deployment())
    nodes = trace.node_map()
    assert nodes["r2.L0.attn@h2"].deps == ["r2.admit@h2"]          # r2 is the instance's 2nd request
    admit = nodes["r2.admit@h2"]                                   # the instance takes it then
    assert set(admit.deps) == {"r0.L1.expert@h1", "r0.L1.expert@h2", "r0.L1.expert@h3"}
    assert (admit.duration_us, admit.layer) == (0.0, 0)            # it reports layer 0 as it starts
    free = synthesize(reqs, model, deployment(instance_queue="none"))
    assert free.node_map()["r2.admit@h2"].deps == []


def test_default_workload_is_reproducible_and_in_range(tmp_path, capsys):
    """The shipped file is exactly what its documented command makes."""
    out = tmp_path / "w.jsonl"
    code, stdout, err = run_cli(capsys, "trace", "synth", "--requests", "builtin:n=50,rate=1500",
                                "--model",
                                "mixtral-8x7b", "--layers", "4", "--deployment",
                                DEPLOYMENTS / "single_tor_8.yaml", "--out", out)
    assert code == 0, err
    fresh = out.read_text().splitlines()
    shipped = DEFAULT_WORKLOAD.read_text().splitlines()
    assert fresh[1:] == shipped[1:]
    header = json.loads(shipped[0])
    assert header["meta"]["model"] == "Mixtral-8x7B" and header["meta"]["layers"] == 4
    trace = traces.load_trace(DEFAULT_WORKLOAD, hosts=HOSTS_8)
    stats = traces.trace_stats(trace)
    assert stats["requests"] == 50           # one request is 2% of attainment
    assert 500 <= stats["flows"] <= 2000
    assert stats["bytes"] < 2e9
    assert all(stats["bytes_by_stage"][s] > 0 for s in ("kv_fetch", "collective", "p2d"))
    assert {f.src for f in flows(trace, "kv_fetch")} == {"h8"}       # the hot cache holder
    assert stats["network_share"]["mean"] > 0.3                     # communication is first-order


def test_model_and_deployment_files(tmp_path):
    model = load_model(str(DEPLOYMENTS.parent / "models" / "example_moe.yaml"))
    assert model.is_moe and model.kv_bytes_per_token_layer == 4096
    bad = tmp_path / "m.yaml"
    bad.write_text("name: x\nlayers: 2\nhidden: 4096: 2\n")
    with pytest.raises(UserError, match=r"m.yaml:3: malformed YAML"):
        load_model(str(bad))
    bad.write_text("name: x\nlayers: 2\nhidden: 64\nq_heads: 2\nkv_heads: 2\nhead_dim: 8\n"
                   "ffn: 1\nexperts_: 3\n")
    with pytest.raises(UserError, match=r"m.yaml: experts_: unknown field"):
        load_model(str(bad))
    with pytest.raises(UserError, match="unknown model"):
        load_model("gpt-9")
    with pytest.raises(UserError, match="between 1 and 32"):
        load_model("mixtral-8x7b", layers=40)
    dep = tmp_path / "d.yaml"
    dep.write_text("gpu_tflops: 100\nnic_rate: fast\nprefill_instances: [{hosts: [h1]}]\n"
                   "decode_hosts: [h2]\n")
    with pytest.raises(UserError, match=r"d.yaml: nic_rate: cannot read 'fast' as a rate"):
        load_deployment(dep)
    dep.write_text("gpu_tflops: 100\nprefill_instances: [{hosts: [h1]}]\ndecode_hosts: [h1]\n")
    with pytest.raises(UserError, match="decode host 'h1' is also a prefill host"):
        load_deployment(dep)


def test_synth_cli_errors(tmp_path, capsys):
    args = ["trace", "synth", "--requests", "builtin:n=2", "--model", "llama-3-70b", "--deployment",
            DEPLOYMENTS / "single_tor_8.yaml", "--out", tmp_path / "o.jsonl"]
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and "prefill_instances.0.ep: Llama-3-70B is dense" in err
    args[3] = "builtin:n=2,colour=red"
    args[5] = "mixtral-8x7b"
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and "unknown option 'colour=red'" in err
    assert list(tmp_path.iterdir()) == []


def test_synth_from_imported_requests(tmp_path, capsys):
    src = tmp_path / "req.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [
        {"timestamp": 0, "input_length": 1000, "output_length": 5, "hash_ids": [0, 1]},
        {"timestamp": 2, "input_length": 1100, "output_length": 5, "hash_ids": [0, 1, 2]}]))
    requests = tmp_path / "requests.jsonl"
    assert run_cli(capsys, "trace", "import", "mooncake", src, "--out", requests)[0] == 0
    out = tmp_path / "dag.parquet"
    code, stdout, err = run_cli(capsys, "trace", "synth", "--requests", requests, "--model", "dbrx",
                                "--layers", "2", "--deployment", DEPLOYMENTS / "single_tor_8.yaml",
                                "--out", out, "--p2d", "bulk", "--slo-scale", "5")
    assert code == 0, err
    trace = traces.load_trace(out, hosts=HOSTS_8)
    assert trace.requests[1].cached_tokens == 1024          # blocks 0 and 1 seen before
    assert trace.meta["p2d"] == "bulk" and trace.meta["slo_scale"] == 5


def test_sixty_request_workload_is_reproducible(tmp_path, capsys):
    """traces/workload_60.jsonl is exactly what its documented command makes."""
    out = tmp_path / "w60.jsonl"
    code, _, err = run_cli(capsys, "trace", "synth", "--requests", "builtin:n=60", "--model",
                           "mixtral-8x7b", "--layers", "4", "--deployment",
                           DEPLOYMENTS / "single_tor_8.yaml", "--seed", "0", "--batching", "off",
                           "--out", out)
    assert code == 0, err
    shipped = DEFAULT_WORKLOAD.with_name("workload_60.jsonl").read_text().splitlines()
    assert out.read_text().splitlines()[1:] == shipped[1:]
    workload_60 = DEFAULT_WORKLOAD.with_name("workload_60.jsonl")
    assert len(traces.load_trace(workload_60, hosts=HOSTS_8).requests) == 60

"""Batched prefill: the planner, the synthesizer, format version 2 and its checks."""

import json
from collections import Counter, defaultdict

import pytest

import traces
from tests.test_traces_support import DEPLOYMENTS, HOSTS_8, run_cli
from traces.synth.batching import Scheduler, StepPlanner
from traces.synth.deployment import Batching, Deployment
from traces.synth.models import load_model
from traces.synth.synthesizer import Placement, synthesize

MIXTRAL = load_model("mixtral-8x7b", 2)


def deployment(batching=None, **changes):
    base = {"gpu_tflops": 500, "nic_rate": "100Gbps",
            "prefill_instances": [{"hosts": ["h1", "h2", "h3"]}, {"hosts": ["h4", "h5", "h6"]}],
            "decode_hosts": ["h7", "h8"], "kv_cache": {"hosts": ["h8"]}, "batching": batching}
    base.update(changes)
    return Deployment.model_validate(base)


def placement(rid, tokens, arrival=0.0):
    req = traces.Request(id=rid, arrival_us=arrival, input_tokens=tokens, output_tokens=1)
    return Placement(req, 0, ["h1"], "h1", "h7", [])


def steps(placements, free_every_us=100.0, **batching):
    """Every step one scheduler forms, each pass taking ``free_every_us``."""
    config = Batching(**batching)
    planner = StepPlanner([Scheduler(placements, config.max_num_batched_tokens,
                                     config.max_num_seqs, config.chunked_prefill)])
    free, out = 0.0, []
    while planner:
        start, chunks = planner.next_step(free)
        out.append([(c.placement.request.id, c.tokens, c.index) for c in chunks])
        free = start + free_every_us
    return out


def test_the_planner_fills_the_token_budget_and_chunks_what_does_not_fit():
    queue = [placement("a", 300), placement("b", 500), placement("c", 200, arrival=50),
             placement("d", 100, arrival=500)]
    assert steps(queue, max_num_batched_tokens=512) == [
        [("a", 300, 0), ("b", 212, 0)],            # b is chunked to fill the budget
        [("b", 288, 1), ("c", 200, 0)],            # the chunked request goes first
        [("d", 100, 0)]]                           # d had not arrived at 100 us
    assert steps(queue, max_num_batched_tokens=512, chunked_prefill=False) == [
        [("a", 300, 0)], [("b", 500, 0)], [("c", 200, 0)], [("d", 100, 0)]]
    assert steps(queue, max_num_seqs=1) == [[("a", 300, 0)], [("b", 500, 0)], [("c", 200, 0)],
                                            [("d", 100, 0)]]
    # Without chunking a request that does not fit is skipped, not a barrier.
    queue = [placement("e", 400), placement("f", 300), placement("g", 100)]
    assert steps(queue, max_num_batched_tokens=512, chunked_prefill=False) == [
        [("e", 400, 0), ("g", 100, 0)], [("f", 300, 0)]]
    # A prompt above the budget without chunking runs alone and whole.
    assert steps([placement("e", 900), placement("f", 10)], max_num_batched_tokens=512,
                 chunked_prefill=False) == [[("e", 900, 0)], [("f", 10, 0)]]


def test_each_attention_host_of_a_moe_instance_is_a_scheduler_of_its_own():
    """vLLM's DP ranks each have a budget; the instance steps them together."""
    queue = [Placement(traces.Request(id=f"r{i}", arrival_us=0.0, input_tokens=400,
                                      output_tokens=1), 0, ["h1", "h2"], ["h1", "h2"][i % 2],
                       "h7", []) for i in range(4)]
    from traces.synth.synthesizer import _Build
    build = _Build(None, MIXTRAL, deployment({"max_num_batched_tokens": 800}), "layerwise")
    start, chunks = build._planner(queue).next_step(0.0)
    assert sorted(c.placement.request.id for c in chunks) == ["r0", "r1", "r2", "r3"]
    assert all(c.tokens == 400 for c in chunks)     # 800 per host, not 800 per instance


def test_batching_needs_an_instance_queue():
    with pytest.raises(ValueError, match="needs instance_queue: fcfs"):
        deployment({}, instance_queue="none")


def busy_requests(n=12, tokens=300, gap_us=20.0):
    return [traces.Request(id=f"r{i}", arrival_us=i * gap_us, input_tokens=tokens + 37 * i,
                           output_tokens=5) for i in range(n)]


@pytest.mark.parametrize("model_name, dep", [("mixtral-8x7b", "single_tor_8.yaml"),
                                             ("llama-3-8b", "single_tor_8_dense.yaml")])
def test_a_batched_trace_shares_its_collectives_and_keeps_kv_per_request(model_name, dep):
    from traces.synth.deployment import load_deployment
    model = load_model(model_name, 2)
    batched_dep = load_deployment(DEPLOYMENTS / dep).model_copy(
        update={"batching": Batching(max_num_batched_tokens=1024)})
    alone_dep = batched_dep.model_copy(update={"batching": None})
    batched = synthesize(busy_requests(), model, batched_dep)
    alone = synthesize(busy_requests(), model, alone_dep)
    batched.validate(HOSTS_8)
    assert batched.format_version() == 2 and alone.format_version() == 1
    sizes = Counter(len(b.requests) for b in batched.batches)
    assert max(sizes) >= 3                              # requests queued and were batched
    members = {b.id: b.requests for b in batched.batches}
    engine = {r.id: r.prefill_hosts[0] if model.is_moe else "all" for r in batched.requests}
    for batch in batched.batches:                       # each engine (MoE: DP rank) in budget
        per_engine = Counter()
        for rid, tokens in zip(batch.requests, batch.tokens):
            per_engine[engine[rid]] += tokens
        assert max(per_engine.values()) <= 1024
    chunks = defaultdict(int)
    for batch in batched.batches:
        for rid, tokens in zip(batch.requests, batch.tokens):
            chunks[rid] += tokens
    assert chunks == {r.id: r.input_tokens for r in alone.requests}   # every prompt token once
    for node in batched.nodes:
        if node.kind == "flow" and node.stage == "collective":
            assert node.batch is not None and node.request_id == members[node.batch][0]
        elif node.kind == "flow":                       # KV fetch and P2D stay per request
            assert node.batch is None
    p2d = defaultdict(int)
    for trace, key in ((batched, "batched"), (alone, "alone")):
        for flow in trace.flows():
            if flow.stage == "p2d":
                p2d[(key, flow.request_id)] += flow.bytes
    assert {r: b for (k, r), b in p2d.items() if k == "batched"} == {
        r: b for (k, r), b in p2d.items() if k == "alone"}
    # Both are held to the SLOs of each request computed alone.
    assert [r.ttft_slo_us for r in batched.requests] == [r.ttft_slo_us for r in alone.requests]
    # A batch is scheduled with its most urgent request's deadline.
    deadlines = batched.unit_deadlines_us()
    for batch in batched.batches:
        assert deadlines[batch.id] == min(deadlines[r] for r in batch.requests)


def test_batched_traces_round_trip_as_version_2(tmp_path, capsys):
    out = tmp_path / "b.jsonl"
    code, _, err = run_cli(capsys, "trace", "synth", "--requests", "builtin:n=30,rate=12000",
                           "--model", "mixtral-8x7b", "--layers", "2", "--deployment",
                           DEPLOYMENTS / "single_tor_8.yaml", "--out", out)
    assert code == 0, err
    header = json.loads(out.read_text().splitlines()[0])
    assert header["version"] == 2 and header["meta"]["batching"]["max_num_batched_tokens"] == 8192
    trace = traces.load_trace(out, hosts=HOSTS_8)
    assert trace.version == 2 and any(len(b.requests) > 1 for b in trace.batches)
    parquet = tmp_path / "b.parquet"
    traces.write_trace(trace, parquet)
    again = traces.load_trace(parquet, hosts=HOSTS_8)
    assert again.batches == trace.batches and again.nodes == trace.nodes
    code, stdout, _ = run_cli(capsys, "trace", "stats", out)
    assert code == 0 and "batches" in stdout
    off = tmp_path / "o.jsonl"
    code, _, err = run_cli(capsys, "trace", "synth", "--requests", "builtin:n=30,rate=12000",
                           "--model", "mixtral-8x7b", "--layers", "2", "--deployment",
                           DEPLOYMENTS / "single_tor_8.yaml", "--batching", "off", "--out", off)
    assert code == 0, err
    assert json.loads(off.read_text().splitlines()[0])["version"] == 1
    assert traces.load_trace(off).batches == []


BATCH = {"kind": "batch", "id": "b0", "requests": ["r0"]}


@pytest.mark.parametrize("name, change, line, message", [
    ("batch in version 1", lambda rs: rs[0].update(version=1), 3,
     "a batch record needs format version 2"),
    ("unknown request", lambda rs: rs[2].update(requests=["r0", "r9"]), 3,
     "batch 'b0' names unknown request 'r9'"),
    ("id of a request", lambda rs: rs[2].update(id="r0"), 3, "batch id 'r0' is also a request id"),
    ("token count", lambda rs: rs[2].update(tokens=[1, 2]), 3, "2 token counts for 1 requests"),
    ("unknown batch", lambda rs: rs[3].update(batch="b7"), 4, "serves unknown batch 'b7'"),
    ("request outside", lambda rs: rs[2].update(requests=["r1"]), 4,
     "request 'r0' is not in its batch 'b0'"),
    ("empty batch", lambda rs: rs[2].update(requests=[]), 3, "field 'requests'"),
])
def test_bad_batches_are_one_line_errors_naming_the_line(tmp_path, capsys, name, change, line,
                                                         message):
    records = [
        {"kind": "header", "format": "llm-comm-dag", "version": 2},
        {"kind": "request", "id": "r0", "arrival_us": 0, "input_tokens": 8, "output_tokens": 1,
         "terminal": "n0"},
        dict(BATCH),
        {"kind": "compute", "id": "n0", "request_id": "r0", "host": "h1", "duration_us": 5,
         "deps": [], "layer": 0, "batch": "b0"},
        {"kind": "request", "id": "r1", "arrival_us": 0, "input_tokens": 8, "output_tokens": 1},
    ]
    change(records)
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    code, out, err = run_cli(capsys, "trace", "validate", path)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {path}:{line}") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_a_chunked_request_is_timed_alone_without_the_batches_before_it():
    d = deployment({"max_num_batched_tokens": 512})
    reqs = [traces.Request(id=f"r{i}", arrival_us=i * 20.0, input_tokens=300 + 37 * i,
                           output_tokens=5) for i in range(16)]
    trace = synthesize(reqs, MIXTRAL, d)
    assert any(len(b.requests) > 1 for b in trace.batches)
    assert sum(len(b.requests) for b in trace.batches) > len(reqs)     # some prompts chunked
    isolated = traces.isolated_times(trace)
    from traces.isolated import ttft_lower_bounds
    bounds = ttft_lower_bounds(trace)
    for req in trace.requests:
        assert isolated[req.id].ttft_us <= bounds[req.id] + 1e-6
    # r15's chunks are in the instance's last two batches: the three before
    # them (r15's queueing) count in its bound, not in its isolated time.
    assert bounds["r15"] - isolated["r15"].ttft_us > 3000


def test_ids_stay_apart_from_request_ids_or_fail_in_one_line():
    d = deployment({})
    reqs = [traces.Request(id=rid, arrival_us=0.0, input_tokens=50, output_tokens=1)
            for rid in ("i0.b0", "x", "y")]
    trace = synthesize(reqs, MIXTRAL, d)
    trace.validate(HOSTS_8)
    assert "i0.b0" not in {b.id for b in trace.batches}
    # r1's first prompt chunk sends "r1.c0.L0.p2d.h1>h7", as does request "r1.c0"
    clash = [traces.Request(id="r1", arrival_us=0.0, input_tokens=50, output_tokens=1),
             traces.Request(id="r1.c0", arrival_us=1e4, input_tokens=20, output_tokens=1)]
    one_host = deployment({"max_num_batched_tokens": 30}, prefill_instances=[{"hosts": ["h1"]}],
                          decode_hosts=["h7"])
    from common.errors import UserError
    with pytest.raises(UserError, match="made twice: a request id collides"):
        synthesize(clash, MIXTRAL, one_host)

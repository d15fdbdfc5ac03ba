"""The trace format: records, JSONL and Parquet round trips, the Python API."""

import json

import jsonschema
import pytest

import traces
from common.errors import UserError
from tests.test_traces_support import HEADER, small_dag, write_lines
from traces.schema_check import SCHEMA_PATH


def test_load_small_dag_and_views(tmp_path):
    path = write_lines(tmp_path / "t.jsonl", small_dag())
    trace = traces.load_trace(path, hosts={"h1", "h2", "h3"})
    assert [r.id for r in trace.requests] == ["a", "b"]
    assert len(trace.nodes) == 4 and len(trace.flows()) == 2
    flow = trace.node_map()["a.kv"]
    assert (flow.src, flow.dst, flow.bytes, flow.stage, flow.layer, flow.protocol) == \
        ("h1", "h2", 4096, "p2d", 0, "tcp")
    assert trace.node_map()["b.kv"].protocol == "tcp"          # default
    assert trace.request_map()["a"].deadline_us == 500
    nodes = trace.nodes_df()
    assert set(nodes["kind"]) == {"compute", "flow"}
    assert nodes.loc[nodes["id"] == "a.kv", "bytes"].item() == 4096
    assert trace.requests_df()["arrival_us"].tolist() == [0, 10.5]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_round_trip(tmp_path, suffix):
    original = traces.load_trace(traces_default())
    out = tmp_path / f"copy{suffix}"
    traces.write_trace(original, out)
    again = traces.load_trace(out)
    assert again.requests == original.requests
    assert again.nodes == original.nodes
    assert again.meta == original.meta and again.nic_bps == original.nic_bps


def traces_default():
    from tests.test_traces_support import DEFAULT_WORKLOAD
    return DEFAULT_WORKLOAD


def test_every_record_of_the_default_workload_matches_the_schema():
    schema = json.loads(open(SCHEMA_PATH).read())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    with open(traces_default()) as handle:
        records = [json.loads(line) for line in handle]
    assert records[0]["format"] == "llm-comm-dag" and records[0]["version"] == 2
    assert any(r["kind"] == "batch" for r in records)        # the default workload is batched
    for record in records:
        validator.validate(record)
    last = records[-1]
    bad = dict(last, bytes=-1) if last["kind"] == "flow" else dict(last, duration_us=-1)
    assert not validator.is_valid(bad)


def test_scale_rate_compresses_arrivals():
    reqs = [traces.Request(id=str(i), arrival_us=t, input_tokens=1, output_tokens=1)
            for i, t in enumerate([100.0, 300.0, 1100.0])]
    scaled = traces.scale_rate(reqs, 2)
    assert [r.arrival_us for r in scaled] == [100.0, 200.0, 600.0]
    assert [r.arrival_us for r in reqs] == [100.0, 300.0, 1100.0]   # not modified
    with pytest.raises(UserError):
        traces.scale_rate(reqs, 0)


def test_scale_trace_rate_keeps_the_dag():
    trace = traces.load_trace(traces_default())
    faster = traces.scale_trace_rate(trace, 4)
    assert faster.nodes is trace.nodes
    last = trace.requests[-1]
    assert faster.requests[-1].arrival_us == pytest.approx(last.arrival_us / 4)
    assert faster.requests[-1].ttft_slo_us == last.ttft_slo_us


def test_write_refuses_invalid_trace_and_leaves_nothing(tmp_path):
    trace = traces.load_trace(write_lines(tmp_path / "t.jsonl", small_dag()))
    trace.nodes[0].deps.append("nowhere")
    out = tmp_path / "out.jsonl"
    with pytest.raises(UserError, match="missing node 'nowhere'"):
        traces.write_trace(trace, out)
    assert list(tmp_path.iterdir()) == [tmp_path / "t.jsonl"]


def test_in_memory_trace_fields_are_checked():
    trace = traces.Trace(requests=[traces.Request(id="r", arrival_us=-5.0, input_tokens=1,
                                                  output_tokens=1)])
    with pytest.raises(UserError, match="arrival_us' must be >= 0"):
        trace.validate()


def test_isolated_ttft_is_the_critical_path(tmp_path):
    trace = traces.load_trace(write_lines(tmp_path / "t.jsonl", small_dag()))
    iso = traces.isolated_times(trace, lambda host: 8e9)     # 1 byte per ns
    assert iso["a"].ttft_us == pytest.approx(20 + 4096 / 1000)
    assert iso["a"].network_share == pytest.approx(4.096 / 24.096)
    assert iso["b"].ttft_us == pytest.approx(1.0)


def test_ttft_lower_bound_counts_the_queue_ahead_of_a_request(tmp_path):
    """Request b's first node waits for a's compute (one instance, FCFS):
    alone b takes 1 us; behind a it cannot end before a's 20 us compute
    plus its own 1 us, i.e. 21 - 10.5 = 10.5 us after its arrival."""
    from traces.isolated import ttft_lower_bounds

    records = small_dag()
    records[-1]["deps"] = ["a.L0"]
    trace = traces.load_trace(write_lines(tmp_path / "t.jsonl", records))
    bounds = ttft_lower_bounds(trace, lambda host: 8e9)
    assert bounds["a"] == pytest.approx(20 + 4096 / 1000)       # a is first: its isolated path
    assert bounds["b"] == pytest.approx(20 + 1.0 - 10.5)
    assert traces.isolated_times(trace, lambda host: 8e9)["b"].ttft_us == pytest.approx(1.0)


def test_topological_order_lists_dependencies_first():
    trace = traces.load_trace(traces_default())
    index = {n.id: i for i, n in enumerate(trace.nodes)}
    order, leftover = traces.topological_order(trace.nodes, index)
    assert not leftover
    position = {trace.nodes[i].id: k for k, i in enumerate(order)}
    for node in trace.nodes:
        assert all(position[d] < position[node.id] for d in node.deps)


def test_header_only_trace_is_valid(tmp_path):
    trace = traces.load_trace(write_lines(tmp_path / "t.jsonl", [HEADER]))
    assert trace.requests == [] and trace.nodes == []


def test_writer_lists_nodes_after_their_dependencies(tmp_path):
    records = small_dag()
    records[3:] = reversed(records[3:])                     # readers accept any order
    trace = traces.load_trace(write_lines(tmp_path / "t.jsonl", records))
    assert [n.id for n in trace.nodes] == ["b.kv", "a.end", "a.kv", "a.L0"]
    traces.write_trace(trace, tmp_path / "sorted.jsonl")
    again = traces.load_trace(tmp_path / "sorted.jsonl")
    assert [n.id for n in again.nodes] == ["b.kv", "a.L0", "a.kv", "a.end"]
    assert [n.id for n in trace.nodes] == ["b.kv", "a.end", "a.kv", "a.L0"]   # caller's copy kept
    assert [n.id for n in trace.ordered_nodes()] == ["b.kv", "a.L0", "a.kv", "a.end"]

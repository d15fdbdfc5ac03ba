"""Every bad input gets one clear line naming the file and line, and exit 2."""

import copy

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import traces
from common.errors import UserError
from tests.test_traces_support import HEADER, run_cli, small_dag, write_lines


def broken(tmp_path, change, name="t.jsonl"):
    """small_dag() with ``change(records)`` applied, written to a file."""
    records = copy.deepcopy(small_dag())
    change(records)
    return write_lines(tmp_path / name, records)


def validate_error(capsys, path, *extra):
    code, out, err = run_cli(capsys, "trace", "validate", path, *extra)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def node(records, node_id):
    return next(r for r in records if r.get("id") == node_id and r["kind"] != "request")


CASES = [
    # (name, change to small_dag(), line of the error, words in the message)
    ("malformed JSON", lambda r: r.__setitem__(4, '{"kind": "flow", "id": '), 5, "malformed JSON"),
    ("missing field", lambda r: node(r, "a.kv").pop("bytes"), 5, "missing field 'bytes'"),
    ("mistyped field", lambda r: node(r, "a.kv").__setitem__("bytes", "4096"), 5,
     "field 'bytes' must be an integer, got \"4096\""),
    ("fractional bytes", lambda r: node(r, "a.kv").__setitem__("bytes", 1.5), 5,
     "field 'bytes' must be an integer"),
    ("negative bytes", lambda r: node(r, "a.kv").__setitem__("bytes", -5), 5,
     "field 'bytes' must be >= 1, got -5"),
    ("negative arrival", lambda r: r[1].__setitem__("arrival_us", -1), 2,
     "field 'arrival_us' must be >= 0, got -1"),
    ("negative duration", lambda r: node(r, "a.L0").__setitem__("duration_us", -3.5), 4,
     "field 'duration_us' must be >= 0, got -3.5"),
    ("unknown stage", lambda r: node(r, "a.kv").__setitem__("stage", "decode"), 5,
     "field 'stage' must be one of kv_fetch, collective, p2d, other, got \"decode\""),
    ("unknown protocol", lambda r: node(r, "a.kv").__setitem__("protocol", "rdma"), 5,
     "field 'protocol' must be one of tcp, udp"),
    ("unknown field", lambda r: node(r, "a.kv").__setitem__("byte", 3), 5, "unknown field 'byte'"),
    ("unknown kind", lambda r: r[3].__setitem__("kind", "gpu"), 4, "field 'kind' must be one of"),
    ("not an object", lambda r: r.__setitem__(3, "[1, 2]"), 4, "expected a JSON object"),
    ("NaN", lambda r: r.__setitem__(1, r[1] | {"arrival_us": "NAN"}) or
     r.__setitem__(1, '{"kind": "request", "id": "a", "arrival_us": NaN, "input_tokens": 1, '
                      '"output_tokens": 1}'), 2, "NaN is not a number"),
    ("duplicate node id", lambda r: r.append(dict(node(r, "a.L0"))), 8,
     "duplicate node id 'a.L0' (first at"),
    ("duplicate request id", lambda r: r.insert(3, dict(r[1], terminal=None)), 4,
     "duplicate request id 'a'"),
    ("dependency on a missing node", lambda r: node(r, "a.end")["deps"].append("a.L9"), 6,
     "node 'a.end' depends on missing node 'a.L9'"),
    ("dependency cycle", lambda r: node(r, "a.L0")["deps"].append("a.end"), 4,
     "dependency cycle: 'a.L0' -> 'a.kv' -> 'a.end' -> 'a.L0'"),
    ("self dependency", lambda r: node(r, "a.L0")["deps"].append("a.L0"), 4,
     "dependency cycle: 'a.L0' -> 'a.L0'"),
    ("unknown request", lambda r: node(r, "b.kv").__setitem__("request_id", "z"), 7,
     "belongs to unknown request 'z'"),
    ("missing terminal", lambda r: r[2].__setitem__("terminal", "b.gone"), 3,
     "terminal node 'b.gone' is missing"),
    ("no terminal", lambda r: r[2].pop("terminal"), 3, "has nodes but no terminal node"),
    ("foreign terminal", lambda r: r[2].__setitem__("terminal", "a.end"), 3,
     "belongs to request 'a'"),
    ("flow to itself", lambda r: node(r, "a.kv").__setitem__("dst", "h1"), 5, "to itself"),
    ("over-long request id", lambda r: r[1].__setitem__("id", "a" * 201), 2,
     "field 'id' is longer than 200 characters"),
    ("empty host", lambda r: node(r, "a.L0").__setitem__("host", ""), 4,
     "field 'host' must not be empty"),
    ("duplicate dependency", lambda r: node(r, "a.end")["deps"].append("a.kv"), 6,
     "lists an item twice"),
    ("no header", lambda r: r.pop(0), 1, "first line must be the header"),
    ("second header", lambda r: r.append(dict(HEADER)), 8, "a second header line"),
    ("newer version", lambda r: r[0].__setitem__("version", 3), 1, "format version 3 is newer"),
]


@pytest.mark.parametrize("name,change,line,words", CASES, ids=[c[0] for c in CASES])
def test_bad_trace_is_rejected_with_file_and_line(tmp_path, capsys, name, change, line, words):
    path = broken(tmp_path, change)
    message = validate_error(capsys, path)
    assert message.startswith(f"error: {path}:{line}: "), message
    assert words in message, message


def test_unknown_host_against_topology(tmp_path, capsys):
    path = broken(tmp_path, lambda r: node(r, "b.kv").__setitem__("src", "h9"))
    message = validate_error(capsys, path, "--topology", "single_tor_8")
    assert message.startswith(f"error: {path}:7: unknown host 'h9' in src")
    assert "h1, h2, h3, h4, h5, h6, h7, h8" in message
    message = validate_error(capsys, path, "--hosts", "h1-h3")
    assert "unknown host 'h9'" in message
    code, out, _ = run_cli(capsys, "trace", "validate", path, "--hosts", "h1..h9")
    assert code == 0 and out.startswith("ok: ")


def test_unknown_placement_host(tmp_path, capsys):
    path = broken(tmp_path, lambda r: r[1].__setitem__("decode_host", "gpu7"))
    assert "unknown host 'gpu7' in decode_host" in validate_error(capsys, path, "--hosts", "h1-h8")


def test_good_trace_validates(tmp_path, capsys):
    path = write_lines(tmp_path / "t.jsonl", small_dag())
    code, out, err = run_cli(capsys, "trace", "validate", path, "--hosts", "h1,h2,h3")
    assert (code, err) == (0, "")
    assert out.strip() == f"ok: {path}: 2 requests, 4 nodes (2 flows)"


def test_missing_and_misnamed_files(tmp_path, capsys):
    assert "no such file" in validate_error(capsys, tmp_path / "none.jsonl")
    (tmp_path / "t.csv").write_text("x")
    assert "unknown trace file type" in validate_error(capsys, tmp_path / "t.csv")
    (tmp_path / "empty.jsonl").write_text("")
    assert "empty trace file" in validate_error(capsys, tmp_path / "empty.jsonl")


# -- Parquet ------------------------------------------------------------------------
def parquet_with(tmp_path, change):
    trace = traces.load_trace(write_lines(tmp_path / "t.jsonl", small_dag()))
    path = tmp_path / "t.parquet"
    traces.write_trace(trace, path)
    table = pq.read_table(path)
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    change(columns)
    types = {f.name: f.type for f in table.schema}
    arrays = {}
    for name, values in columns.items():
        try:
            arrays[name] = pa.array(values, type=types.get(name))
        except (pa.ArrowInvalid, pa.ArrowTypeError):   # a deliberately mistyped column
            arrays[name] = pa.array(values)
    out = pa.table(arrays).replace_schema_metadata(table.schema.metadata)
    pq.write_table(out, path)
    return path


PARQUET_CASES = [
    ("negative bytes", lambda c: c["bytes"].__setitem__(3, -5),
     "row 4 (id a.kv): field 'bytes' must be >= 1"),
    ("missing field", lambda c: c["host"].__setitem__(2, None), "row 3 (id a.L0): missing field 'host'"),
    ("unknown stage", lambda c: c["stage"].__setitem__(3, "x"),
     "row 4 (id a.kv): field 'stage' must be one of"),
    ("negative time", lambda c: c["arrival_us"].__setitem__(1, -2.0),
     "row 2 (id b): field 'arrival_us' must be >= 0"),
    ("infinite time", lambda c: c["duration_us"].__setitem__(2, float("inf")),
     "must be a finite number"),
    ("empty dependency", lambda c: c["deps"].__setitem__(4, [""]),
     "row 5 (id a.end): field 'deps' holds an empty"),
    ("missing dependency", lambda c: c["deps"].__setitem__(4, ["zz"]),
     "row 5: node 'a.end' depends on missing node 'zz'"),
    ("duplicate id", lambda c: c["id"].__setitem__(5, "a.L0"), "row 6: duplicate node id 'a.L0'"),
    ("over-long id", lambda c: c["id"].__setitem__(3, "k" * 201),
     "field 'id' is longer than 200 characters"),
    ("repeated dependency", lambda c: c["deps"].__setitem__(4, ["a.kv", "a.kv"]),
     "row 5 (id a.end): field 'deps' lists an item twice"),
    ("unknown column", lambda c: c.__setitem__("colour", ["x"] * 6), "column 'colour': unknown column"),
    ("mistyped column", lambda c: c.__setitem__("bytes", [None, None, None, "many", None, "1000"]),
     "column 'bytes': must hold int64 values"),
]


@pytest.mark.parametrize("name,change,words", PARQUET_CASES, ids=[c[0] for c in PARQUET_CASES])
def test_bad_parquet_is_rejected_with_row(tmp_path, capsys, name, change, words):
    path = parquet_with(tmp_path, change)
    message = validate_error(capsys, path)
    assert message.startswith(f"error: {path}"), message
    assert words in message, message


def test_parquet_without_header_metadata(tmp_path, capsys):
    path = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"kind": ["request"]}), path)
    assert "no 'llm-comm-dag.header' metadata" in validate_error(capsys, path)
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    assert "cannot read as Parquet" in validate_error(capsys, tmp_path / "junk.parquet")


def test_user_error_names_where():
    with pytest.raises(UserError) as info:
        traces.load_trace("/nonexistent/x.jsonl")
    assert info.value.where == "/nonexistent/x.jsonl"


def test_in_memory_trace_with_a_mistyped_field(tmp_path):
    trace = traces.load_trace(write_lines(tmp_path / "t.jsonl", small_dag()))
    trace.fields_checked = False
    trace.nodes[1].bytes = "many"
    with pytest.raises(UserError) as info:
        trace.validate()
    assert info.value.message == 'field \'bytes\' must be an integer, got "many"'
    assert info.value.where.endswith(":5")


@pytest.mark.parametrize("command", [
    ["trace", "validate", "{bin}"],
    ["trace", "import", "mooncake", "{bin}", "--out", "{out}"],
    ["trace", "import", "azure", "{dir}", "--out", "{out}"],
    ["trace", "import", "nccl", "{dir}", "--out", "{out}"],
    ["trace", "import", "pcap", "{dir}", "--out", "{out}"],
    ["trace", "import", "chakra", "{dir}", "--out", "{out}"],
    ["trace", "synth", "--requests", "builtin", "--model", "mixtral-8x7b", "--deployment", "{bin}",
     "--out", "{out}"],
], ids=["validate", "mooncake", "azure", "nccl", "pcap", "chakra", "synth"])
def test_unreadable_inputs_get_one_line(tmp_path, capsys, command):
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(bytes(range(256)))
    (tmp_path / "dir").mkdir()
    names = {"bin": binary, "dir": tmp_path / "dir", "out": tmp_path / "out.jsonl"}
    code, out, err = run_cli(capsys, *[part.format(**names) for part in command])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert not (tmp_path / "out.jsonl").exists()

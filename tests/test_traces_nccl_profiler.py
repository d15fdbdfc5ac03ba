"""NCCL example profiler plugin traces -> communication DAG.

Fixtures: real plugin output (tests/fixtures/nccl_profiler/README.md); smaller
cases are written here.  Expected byte counts are read from the JSON directly.
"""

import gzip
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

import traces
from common.errors import UserError
from tests.test_traces_support import run_cli
from traces.capture.host_maps import rank_host_map
from traces.capture.nccl_profiler import import_nccl_profiler

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "nccl_profiler"
SETS = ["v2.23.4_api-v1_mask63", "v2.27.7_api-v4_mask255", "v2.30.7_api-v6_mask4031",
        "v2.30.7_api-v6_mask4095"]
COMM = 11185919062428182640
MIB = 1 << 20


def load_events(path):
    events = json.loads(gzip.decompress(path.read_bytes()))
    assert events[-1] == {}
    return events[:-1]


def sent_bytes(directory):
    """{(rank, block): bytes} from the send-side ProxyOps (ProgressSend, v1 Send) inside
    the AllReduce and inside P2P Sends to another rank, scanning each file in order."""
    total = defaultdict(int)
    for path in sorted(directory.glob("*.gz")):
        block = None
        for event in load_events(path):
            args = event.get("args", {})
            if event["cat"] in ("COLL", "P2P") and event["ph"] == "b":
                if event["name"].endswith("AllReduce"):
                    block, rank = "all_reduce", args["Rank"]
                elif event["name"].endswith("Send") and args["Peer"] != args["Rank"]:
                    block, rank = "send", args["Rank"]
            elif event["cat"] in ("COLL", "P2P"):
                block = None
            elif block and event["cat"] == "PROXY" and event["ph"] == "b" \
                    and event["name"] in ("ProgressSend", "Send"):
                total[(rank, block)] += args["transSize"]
    return total


def ancestors(trace, node_id):
    nodes, seen, todo = trace.node_map(), set(), [node_id]
    while todo:
        for dep in nodes[todo.pop()].deps:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


@pytest.mark.parametrize("name", SETS)
def test_fixture_sets(name):
    trace, notes = import_nccl_profiler([FIXTURES / name], rank_host_map())
    trace.validate(hosts={"h1", "h2"})
    assert notes == {}
    assert trace.source.startswith("trace import nccl-profiler " + name)
    expected = sent_bytes(FIXTURES / name)
    flows = trace.flows()
    coll = [f for f in flows if f.stage == "collective"]
    assert {(f.src, f.dst): f.bytes for f in coll} == {
        ("h1", "h2"): expected[(0, "all_reduce")], ("h2", "h1"): expected[(1, "all_reduce")]}
    assert expected[(0, "all_reduce")] == 4 * MIB           # ring: 2 (N-1)/N x 4 MiB per edge
    assert len({f.label for f in coll}) == 1 and "all_reduce" in coll[0].label
    # how NCCL ran it: RING / SIMPLE (v1 spells it Ring / Simple)
    assert coll[0].label.lower().endswith("ring/simple")
    cct = {f.recorded_cct_us for f in coll}
    assert len(cct) == 1 and cct.pop() > 0
    # v5+ with KernelCh leave the COLL end at enqueue time: the end is taken from its children.
    assert all(0 < f.recorded_fct_us <= f.recorded_cct_us for f in coll)
    sends = [f for f in flows if f.stage == "other"]
    assert {(f.src, f.dst): f.bytes for f in sends} == {
        ("h1", "h2"): expected[(0, "send")], ("h2", "h1"): expected[(1, "send")]}
    assert all(f.recorded_fct_us > 0 for f in sends)
    by_label = defaultdict(set)
    for flow in flows:
        by_label[flow.label].add(flow.id.split(".")[0])      # c<k>: one operation
    assert all(len(ops) == 1 for ops in by_label.values())
    done = next(n.id for n in trace.nodes if n.id.endswith(".done") and "all_reduce" in n.id)
    assert all(done in ancestors(trace, f.id) for f in sends)  # each rank: in capture order
    request = trace.requests[0]
    assert (request.id, request.arrival_us, request.ttft_slo_us) == ("job", 0.0, None)
    assert {f.id for f in flows} <= ancestors(trace, request.terminal)


def test_files_plain_or_gzip(tmp_path):
    plain = []
    for path in sorted((FIXTURES / SETS[1]).glob("*.gz")):
        plain.append(tmp_path / path.name.removesuffix(".gz"))
        plain[-1].write_bytes(gzip.decompress(path.read_bytes()))
    trace, _ = import_nccl_profiler([str(p) for p in plain], rank_host_map())
    zipped, _ = import_nccl_profiler([FIXTURES / SETS[1]], rank_host_map())
    assert [(f.id, f.bytes) for f in trace.flows()] == [(f.id, f.bytes) for f in zipped.flows()]


def test_rank_missing_from_capture():
    rank0 = sorted((FIXTURES / SETS[2]).glob("*_0.json.gz"))
    trace, notes = import_nccl_profiler(rank0, rank_host_map())
    trace.validate()
    assert {(f.src, f.dst, f.stage) for f in trace.flows()} == {("h1", "h2", "collective"),
                                                                ("h1", "h2", "other")}
    assert notes == {"collectives with ranks missing from the capture": 1}


def write_events(path, events):
    lines = ["["] + [json.dumps(e) + "," for e in events] + ["{}]"]
    path.write_text("\n".join(lines) + "\n")
    return path


def rewrite(name, tmp_path, drop=lambda event: False, edit=lambda line: line):
    """The fixture set ``name`` rewritten to tmp_path without some events / with lines edited."""
    out = tmp_path / name
    out.mkdir()
    for path in sorted((FIXTURES / name).glob("*.gz")):
        lines = gzip.decompress(path.read_bytes()).decode().splitlines()
        kept = [edit(line) for line in lines
                if line in ("[", "{}]") or not drop(json.loads(line.rstrip(",")))]
        (out / path.name.removesuffix(".gz")).write_text("\n".join(kept) + "\n")
    return out


def test_without_proxy_operations(tmp_path):
    """Mask Coll|P2p only: sizes come from Count x datatype, expanded by algorithm."""
    directory = rewrite(SETS[1], tmp_path, drop=lambda e: e["cat"] in ("PROXY", "NET", "NET_SOCK",
                                                                     "GPU"))
    trace, notes = import_nccl_profiler([directory], rank_host_map())
    trace.validate()
    assert {(f.src, f.dst, f.stage): f.bytes for f in trace.flows()} == {
        ("h1", "h2", "collective"): 4 * MIB, ("h2", "h1", "collective"): 4 * MIB,
        ("h1", "h2", "other"): MIB, ("h2", "h1", "other"): MIB}
    assert notes == {"collectives without proxy operations (expanded by algorithm)": 1,
                     "sends without proxy operations (bytes from Count)": 2}


def test_without_seqnum(tmp_path):
    """Collectives are then matched by their order on each rank."""
    directory = rewrite(SETS[0], tmp_path, edit=lambda line: re.sub(r'"SeqNum": \d+, ', "", line))
    assert "SeqNum" not in "".join(p.read_text() for p in directory.iterdir())
    trace, notes = import_nccl_profiler([directory], rank_host_map())
    original, _ = import_nccl_profiler([FIXTURES / SETS[0]], rank_host_map())
    assert notes == {}
    assert [(f.id, f.bytes, f.label) for f in trace.flows()] == \
        [(f.id, f.bytes, f.label) for f in original.flows()]


def test_unquoted_values_of_nccl_2_28(tmp_path):
    """2.28-2.29.2 print ``"datatype": ncclFloat32`` and ``"Stream": 0x..`` unquoted."""
    unquote = lambda line: re.sub(r'"(datatype|Stream)": "([^"]*)"', r'"\1": \2', line)
    directory = rewrite(SETS[3], tmp_path, edit=unquote)
    text = next(directory.iterdir()).read_text()
    assert '"datatype": ncclFloat32, ' in text and '"Stream": 0x' in text
    trace, notes = import_nccl_profiler([directory], rank_host_map())
    assert notes == {"files with unquoted values repaired (NCCL 2.28-2.29.2)": 2}
    assert sum(f.bytes for f in trace.flows()) == 10 * MIB


def coll(name, ts, end, comm, rank, seq=0, sends=()):
    """A COLL block with ScheduleSend/ProgressSend pairs ``(peer, bytes)``."""
    args = {"SeqNum": seq, "CommHash": comm, "Rank": rank, "Count": 1024,
            "Datatype": "ncclFloat32", "Algorithm": "RING", "Protocol": "SIMPLE", "nChannels": 1}
    events = [{"name": name, "cat": "COLL", "ph": "b", "ts": ts, "args": args}]
    for peer, nbytes in sends:
        op = {"Channel": 0, "Peer": peer, "Steps": 1, "ChunkSize": nbytes, "transSize": nbytes}
        events += [{"name": "ScheduleSend", "cat": "PROXY", "ph": "b", "ts": ts + 1, "args": op},
                   {"name": "ScheduleSend", "cat": "PROXY", "ph": "e", "ts": ts + 2},
                   {"name": "ProgressSend", "cat": "PROXY", "ph": "b", "ts": ts + 2, "args": op},
                   {"name": "ProgressSend", "cat": "PROXY", "ph": "e", "ts": end}]
    return events + [{"name": name, "cat": "COLL", "ph": "e", "ts": end}]


def test_smaller_communicator_mapped_through_its_process(tmp_path):
    """Four ranks on comm 1; comm 2 holds global ranks 2 and 3 as its ranks 0 and 1;
    comm 3 is written by a process not in comm 1 (its ranks stay as they are)."""
    paths = []
    for rank in range(4):
        events = coll("AllReduce", 10, 50, 1, rank, sends=[((rank + 1) % 4, 1000)])
        if rank >= 2:
            events += coll("AllGather", 100 + rank, 200, 2, rank - 2, sends=[(3 - rank, 500)])
        for event in events:
            event.update(pid=100 + rank, tid=1, id=0)
        paths.append(write_events(tmp_path / f"r{rank}.json", events))
    stray = coll("Broadcast", 5, 40, 3, 1, sends=[(0, 700)])
    for event in stray:
        event.update(pid=999)
    paths.append(write_events(tmp_path / "stray.json", stray))
    trace, notes = import_nccl_profiler(paths, rank_host_map())
    trace.validate()
    flows = {(f.src, f.dst, f.label.split()[0]): f for f in trace.flows()}
    assert flows[("h3", "h4", "all_gather")].bytes == 500
    assert flows[("h4", "h3", "all_gather")].bytes == 500
    assert flows[("h2", "h1", "broadcast")].bytes == 700
    all_reduce = next(n.id for n in trace.nodes if n.id.endswith("all_reduce.done"))
    assert all_reduce in ancestors(trace, flows[("h3", "h4", "all_gather")].id)
    # the idle gap between the all-reduce's end (50) and the all-gather's begin (102 / 103)
    idle = [n for n in trace.nodes if n.kind == "compute" and "all_gather.idle" in n.id]
    assert sorted(n.duration_us for n in idle) == [52, 53]
    assert notes == {"ranks of smaller communicators used as they are (no process to map them)": 2,
                     "collectives with ranks missing from the capture": 1}


def test_ranks_disagree_on_the_order(tmp_path):
    """Rank 0 runs comm 1's all-reduce first, rank 1 comm 2's: no order fits both."""
    paths = []
    for rank in range(2):
        first = coll("AllReduce", 10, 20, 1 + rank, rank, sends=[(1 - rank, 100)])
        second = coll("AllReduce", 30, 40, 2 - rank, rank, sends=[(1 - rank, 200)])
        for event in first + second:
            event.update(pid=10 + rank)
        paths.append(write_events(tmp_path / f"r{rank}.json", first + second))
    trace, notes = import_nccl_profiler(paths, rank_host_map())
    trace.validate()
    assert sorted(f.bytes for f in trace.flows()) == [100, 100, 200, 200]
    assert notes == {"operations taken out of their rank's order (ranks disagree)": 1}


def test_cli(tmp_path, capsys):
    out = tmp_path / "profile.jsonl"
    code, stdout, err = run_cli(capsys, "trace", "import", "nccl-profiler", FIXTURES / SETS[3],
                                "--out", out, "--rank-hosts", "0=h3,1=h5", "--protocol", "udp")
    assert code == 0, err
    trace = traces.load_trace(out)
    assert {(f.src, f.dst) for f in trace.flows()} == {("h3", "h5"), ("h5", "h3")}
    assert {f.protocol for f in trace.flows()} == {"udp"}


def raw(tmp_path, text, name="bad.json"):
    path = tmp_path / name
    path.write_text(text)
    return path


def fixture_text(index=0):
    return gzip.decompress(sorted((FIXTURES / SETS[2]).glob("*.gz"))[index].read_bytes()).decode()


@pytest.mark.parametrize("case,words", [
    ("truncated", "not valid JSON"),
    ("unbalanced", "unbalanced b/e"),
    ("no CommHash", "without a valid CommHash"),
    ("datatype", "unknown NCCL datatype 'ncclFloat99'"),
    ("not a list", "not a JSON array"),
    ("huge count", "beyond 2^53 bytes"),
    ("negative transSize", "without a valid Peer or transSize"),
    ("NaN timestamp", "not a trace event"),
    ("pid a list", "pid must be a process id"),
    ("only receives", "only Recv events"),
])
def test_bad_input(tmp_path, case, words):
    text = fixture_text()
    if case == "truncated":
        text = text[:len(text) // 2]
    elif case == "unbalanced":
        lines = text.splitlines()
        closing = next(i for i, line in enumerate(lines) if '"ProgressSend", "cat": "PROXY", "ph": "e"'
                       in line)
        text = "\n".join(lines[:closing] + lines[closing + 1:])
    elif case == "no CommHash":
        text = text.replace(f'"CommHash": {COMM}, ', "", 1)
    elif case == "datatype":
        text = text.replace('"Datatype": "ncclFloat32"', '"Datatype": "ncclFloat99"', 1)
    elif case == "huge count":
        text = re.sub(r'"Count": \d+', f'"Count": {2 ** 52}', text, count=1)
    elif case == "negative transSize":
        text = re.sub(r'("ProgressSend", "cat": "PROXY", "ph": "b".*?"transSize": )\d+', r'\1-5',
                      text, count=1)
    elif case == "NaN timestamp":
        text = re.sub(r'"ts": [\d.]+', '"ts": NaN', text, count=1)
    elif case == "pid a list":
        text = re.sub(r'("cat": "COLL", "ph": "b", "id": \d+, "pid": )\d+', r'\1[1]', text, count=1)
    elif case == "only receives":
        text = json.dumps([{"name": "Recv", "cat": "P2P", "ph": "b", "id": 0, "pid": 1, "ts": 1.0,
                            "args": {"CommHash": 1, "Rank": 1, "Peer": 0, "Count": 4,
                                     "Datatype": "ncclFloat32"}},
                           {"name": "Recv", "cat": "P2P", "ph": "e", "id": 0, "pid": 1, "ts": 2.0}])
    else:
        text = '{"traceEvents": []}'
    path = raw(tmp_path, text)
    with pytest.raises(UserError) as info:
        import_nccl_profiler([path], rank_host_map())
    assert str(path) in str(info.value) and words in info.value.message
    if case in ("unbalanced", "no CommHash", "datatype"):
        assert "event " in info.value.where


def test_no_collectives(tmp_path):
    path = write_events(tmp_path / "ctrl.json", [
        {"name": "Idle", "cat": "PROXY", "ph": "b", "id": 0, "pid": 1, "tid": 1, "ts": 1.0},
        {"name": "Idle", "cat": "PROXY", "ph": "e", "id": 0, "pid": 1, "tid": 1, "ts": 2.0}])
    with pytest.raises(UserError, match="no COLL or P2P events"):
        import_nccl_profiler([path], rank_host_map())
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no .json, .txt or .json.gz files"):
        import_nccl_profiler([empty], rank_host_map())
    with pytest.raises(UserError, match="no such file"):
        import_nccl_profiler([tmp_path / "missing.json"], rank_host_map())

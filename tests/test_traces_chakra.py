"""Chakra ET: our protobuf encoder/decoder round trip, and import to a DAG."""

import gzip

import pytest

import traces
from common.errors import UserError
from tests.test_traces_support import run_cli
from traces.capture import protobuf_wire as pw
from traces.capture.chakra_et import ChakraNode, GlobalMetadata, decode_node, read_et, write_et
from traces.capture.chakra_import import import_chakra
from traces.capture.host_maps import rank_host_map

COMP, SEND, RECV, COLL = 4, 5, 6, 7


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**32, 2**63 - 1])
def test_varint_round_trip(value):
    encoded = pw.encode_varint(value)
    assert pw.decode_varint(encoded + b"\xff", 0) == (value, len(encoded))


def test_known_encodings():
    assert pw.encode_varint(300) == b"\xac\x02"                     # the protobuf docs' example
    assert pw.field_varint(1, 150) == b"\x08\x96\x01"
    assert pw.encode_varint(-1) == b"\xff" * 9 + b"\x01"
    assert pw.signed64(pw.decode_varint(pw.encode_varint(-5), 0)[0]) == -5
    assert pw.zigzag_decode(pw.zigzag_encode(-3)) == -3
    with pytest.raises(pw.WireError):
        list(pw.iter_fields(b"\x12\x05ab"))                           # length past the end


def rank_nodes(rank):
    """Two ranks: compute, an all-reduce, a send 0 -> 1, and an all-to-all."""
    nodes = [ChakraNode(1, "gemm", COMP, duration_micros=100 + rank),
             ChakraNode(2, "allreduce", COLL, data_deps=[1],
                        attrs={"comm_type": 0, "comm_size": 1 << 20, "pg_name": "tp"}),
             ChakraNode(3, "gemm2", COMP, data_deps=[2], duration_micros=50)]
    if rank == 0:   # comm_type holds the node type here, as in some real files
        nodes.append(ChakraNode(4, "send", SEND, data_deps=[3],
                                attrs={"comm_type": 5, "comm_size": 4096, "comm_dst": 1, "comm_tag": 7}))
    else:
        nodes.append(ChakraNode(4, "recv", RECV, data_deps=[3],
                                attrs={"comm_type": 6, "comm_size": 4096, "comm_src": 0, "comm_tag": 7}))
    nodes.append(ChakraNode(5, "a2a", COLL, data_deps=[4], ctrl_deps=[99],
                            attrs={"comm_type": 6, "comm_size": 3000, "pg_name": "tp",
                                   "ints": [1, -2], "ratio": 0.5, "flag": True, "names": ["a", "b"]}))
    return nodes


def write_job(tmp_path):
    for rank in (0, 1):
        write_et(tmp_path / (f"job.{rank}.et" + (".gz" if rank else "")),
                 GlobalMetadata("0.0.4", {"schema": "test"}), rank_nodes(rank))
    return tmp_path / "job"


def test_et_round_trip(tmp_path):
    write_job(tmp_path)
    assert (tmp_path / "job.1.et.gz").read_bytes()[:2] == b"\x1f\x8b"
    for rank in (0, 1):
        suffix = ".et.gz" if rank else ".et"
        meta, nodes = read_et(tmp_path / f"job.{rank}{suffix}")
        assert meta == GlobalMetadata("0.0.4", {"schema": "test"})
        assert nodes == rank_nodes(rank)


def test_unpacked_repeated_and_other_attribute_types_decode():
    # ctrl_deps unpacked (one varint field each), an int32 attr that is negative,
    # a sint64 attr (zigzag) and a uint64 list.
    attr_int32 = pw.field_string(1, "a") + pw.field_varint(7, -4)
    attr_sint = pw.field_string(1, "b") + pw.field_varint(17, pw.zigzag_encode(-9))
    attr_list = pw.field_string(1, "c") + pw.field_bytes(14, pw.field_packed_varints(1, [3, 4]))
    data = (pw.field_varint(1, 9) + pw.field_varint(3, COMP) + pw.field_varint(4, 1)
            + pw.field_varint(4, 2) + pw.field_bytes(10, attr_int32) + pw.field_bytes(10, attr_sint)
            + pw.field_bytes(10, attr_list))
    node = decode_node(data)
    assert (node.id, node.ctrl_deps) == (9, [1, 2])
    assert node.attrs == {"a": -4, "b": -9, "c": [3, 4]}


def test_import_to_dag(tmp_path):
    prefix = write_job(tmp_path)
    trace, notes = import_chakra([str(prefix)], rank_host_map(None, 1))
    trace.validate(hosts={"h1", "h2"})
    nodes = trace.node_map()
    assert nodes["r0.n1"].duration_us == 100 and nodes["r1.n1"].host == "h2"
    send = nodes["r0.n4"]                          # keyed on node type, not comm_type 5 (broadcast)
    assert (send.kind, send.src, send.dst, send.bytes, send.stage) == ("flow", "h1", "h2", 4096, "other")
    assert "r0.n4" in nodes["r1.n4"].deps          # the receive waits for the send
    ring = {(f.src, f.dst): f.bytes for f in trace.flows() if f.label == "all_reduce tp #0"}
    assert ring == {("h1", "h2"): 1 << 20, ("h2", "h1"): 1 << 20}   # 2(N-1)/N x size, N = 2
    a2a = [f for f in trace.flows() if f.label == "all_to_all tp #1"]
    assert sorted(f.bytes for f in a2a) == [1500, 1500]
    assert set(f.id for f in a2a) <= set(nodes["r1.n5"].deps)
    assert notes == {"dropped dependencies on absent nodes": 2}
    terminal = nodes[trace.requests[0].terminal]
    assert set(terminal.deps) == {"r0.n5", "r1.n5"}


def test_ranks_on_one_host_stay_off_the_network(tmp_path, capsys):
    prefix = write_job(tmp_path)
    out = tmp_path / "dag.jsonl"
    code, stdout, err = run_cli(capsys, "trace", "import", "chakra", prefix, "--out", out,
                                "--ranks-per-host", "2")
    assert code == 0, err
    trace = traces.load_trace(out)
    assert trace.flows() == []
    local = trace.node_map()["coll0.tp.all_reduce@h1"]
    assert local.duration_us == pytest.approx(2 * (1 << 20) * 8 / 900e9 * 1e6, abs=1e-3)
    assert "dropped dependencies on absent nodes: 2" in stdout


def test_rank_host_map():
    host_of = rank_host_map("0-1=h5,2=h6")
    assert [host_of(r) for r in (0, 1, 2)] == ["h5", "h5", "h6"]
    with pytest.raises(UserError, match="rank 3 has no host"):
        host_of(3)
    assert rank_host_map(None, 4)(9) == "h3"


def test_bad_et_files(tmp_path, capsys):
    (tmp_path / "bad.0.et").write_bytes(b"\x05\x0a\x02")            # length past the end
    code, _, err = run_cli(capsys, "trace", "import", "chakra", tmp_path / "bad.0.et",
                           "--out", tmp_path / "o.jsonl")
    assert code == 2 and "malformed Chakra ET" in err and "bad.0.et" in err
    write_et(tmp_path / "nosize.0.et", GlobalMetadata(),
             [ChakraNode(1, "ar", COLL, attrs={"comm_type": 0})])
    with pytest.raises(UserError, match="nosize.0.et: node 1: COMM_COLL node without "
                                        "integer attribute 'comm_size'"):
        import_chakra([str(tmp_path / "nosize.0.et")], rank_host_map())
    with pytest.raises(UserError, match="no such file, directory or prefix"):
        import_chakra([str(tmp_path / "absent")], rank_host_map())
    assert not (tmp_path / "o.jsonl").exists()


def test_gzip_detected_by_content(tmp_path):
    node = pw.field_varint(1, 3) + pw.field_varint(3, COMP)
    data = gzip.compress(pw.delimited(b"") + pw.delimited(node))
    (tmp_path / "x.2.et").write_bytes(data)
    assert read_et(tmp_path / "x.2.et")[1][0].id == 3

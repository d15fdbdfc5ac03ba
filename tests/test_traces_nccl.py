"""NCCL INFO logs -> communication DAG (logs written here)."""

import pytest

import traces
from common.errors import UserError
from tests.test_traces_support import run_cli
from traces.capture.host_maps import NameHostMap
from traces.capture.nccl_log import import_nccl_log

# Two servers with two GPUs each; one process per GPU, each with its own comm pointer.
RANKS = [("nodeA", 100, 0), ("nodeA", 101, 1), ("nodeB", 200, 0), ("nodeB", 201, 1)]


def op_line(host, pid, dev, op, opcount, count, dtype, comm, nranks=4, root=0):
    return (f"{host}:{pid}:{pid + 7} [{dev}] NCCL INFO {op}: opCount {opcount:x} sendbuff 0x7f00 "
            f"recvbuff 0x7f80 count {count} datatype {dtype} op 0 root {root} comm {comm} "
            f"[nranks={nranks}] stream 0x55aa")


def init_line(host, pid, dev, rank, comm):
    return (f"{host}:{pid}:{pid + 7} [{dev}] NCCL INFO comm {comm} rank {rank} nranks 4 cudaDev {dev} "
            f"nvmlDev {dev} busId 1000 commId 0xabc123 - Init COMPLETE")


def write_log(tmp_path, init=True, shared_pointer=False):
    lines = ["unrelated application output", "nodeA:100:107 [0] NCCL INFO Using network IB"]
    comm = lambda rank: "0x5500" if shared_pointer else f"0x55{rank}0"
    if init:
        lines += [init_line(h, p, d, rank, comm(rank)) for rank, (h, p, d) in enumerate(RANKS)]
    for opcount, (op, count, dtype) in enumerate([("AllReduce", 1000, 7), ("AllGather", 256, 9)]):
        lines += [op_line(h, p, d, op, opcount, count, dtype, comm(rank))
                  for rank, (h, p, d) in enumerate(RANKS)]
    lines.append(op_line("nodeA", 100, 0, "Send", 2, 100, 0, comm(0), root=2))
    lines.append(op_line("nodeB", 200, 0, "Recv", 0, 100, 0, comm(2), root=0))
    path = tmp_path / "nccl.log"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("init,shared", [(True, False), (False, True), (False, False)],
                         ids=["init lines", "shared comm pointer", "matched by size"])
def test_collectives_become_ring_flows(tmp_path, init, shared):
    trace, notes = import_nccl_log([str(write_log(tmp_path, init, shared))], NameHostMap())
    trace.validate(hosts={"h1", "h2"})
    nodes = trace.node_map()
    # AllReduce of 1000 fp32 over 4 ranks: every ring edge 2 x 3/4 x 4000 bytes.
    assert nodes["c0.all_reduce.h1>h2"].bytes == 6000
    assert nodes["c0.all_reduce.h2>h1"].bytes == 6000
    assert nodes["c0.all_reduce@h1"].kind == "compute"            # GPU 0 -> GPU 1 inside nodeA
    # AllGather logs the per-rank count: 256 bf16 x 4 ranks gathered, 3/4 of it per edge.
    assert nodes["c1.all_gather.h1>h2"].bytes == 1536
    assert "c0.done" in nodes["c1.all_gather.h1>h2"].deps         # runs after the all-reduce
    if init:
        send = nodes["c2.send.h1>h2"]
        assert (send.bytes, send.stage) == (100, "other")
    else:
        assert notes["sends skipped (peer unknown: no init lines)"] == 1
    if not init and not shared:
        assert notes["collectives matched across processes by size"] == 2


def test_cli_with_host_map(tmp_path, capsys):
    out = tmp_path / "nccl.jsonl"
    code, stdout, err = run_cli(capsys, "trace", "import", "nccl", write_log(tmp_path), "--out", out,
                                "--host-map", "nodeA=h5,nodeB=h8", "--protocol", "udp")
    assert code == 0, err
    trace = traces.load_trace(out)
    assert {(f.src, f.dst) for f in trace.flows()} == {("h5", "h8"), ("h8", "h5")}
    assert {f.protocol for f in trace.flows()} == {"udp"}


@pytest.mark.parametrize("line,words", [
    ("nodeA:1:2 [0] NCCL INFO AllReduce: opCount 0 sendbuff 0x1 count 5",
     "malformed NCCL collective line"),
    (op_line("nodeA", 1, 0, "AllReduce", 0, 10, 42, "0x1"), "unknown NCCL datatype 42"),
    (op_line("nodeA", 1, 0, "Gossip", 0, 10, 7, "0x1"), "unknown NCCL operation 'Gossip'"),
])
def test_bad_lines(tmp_path, line, words):
    path = tmp_path / "bad.log"
    path.write_text("hello\n" + line + "\n")
    with pytest.raises(UserError) as info:
        import_nccl_log([str(path)], NameHostMap())
    assert info.value.where == f"{path}:2" and words in info.value.message


def test_log_without_collectives(tmp_path):
    path = tmp_path / "empty.log"
    path.write_text("nothing here\n")
    with pytest.raises(UserError, match="no NCCL collective lines"):
        import_nccl_log([str(path)], NameHostMap())

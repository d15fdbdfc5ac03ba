"""Chakra ETs made by the real tools (tests/fixtures/chakra/README.md says
how) import as their programs ran; bytes follow collectives.py's formulas."""

import json
from pathlib import Path

import pytest

from common.errors import UserError
from traces.capture.chakra_et import ChakraNode, GlobalMetadata, write_et
from traces.capture.chakra_import import import_chakra
from traces.capture.host_maps import rank_host_map

FIXTURES = Path(__file__).parent / "fixtures" / "chakra"
COMP, COLL = 4, 7


def imported(*inputs):
    trace, notes = import_chakra([str(FIXTURES / i) for i in inputs], rank_host_map())
    trace.validate()
    return trace, notes


def by_label(trace):
    groups = {}
    for flow in trace.flows():
        groups.setdefault(flow.label, []).append(flow)
    return groups


def test_gloo_trace_collectives_come_from_the_c10d_ops():
    trace, notes = imported("pytorch_gloo_w4/gloo_w4")
    flows = by_label(trace)
    # 64 float32 = 256 bytes per rank; ring of 4: all-reduce 2 x 3/4 x 256 per edge
    assert sorted(f.bytes for f in flows["all_reduce pg0 #0"]) == [384] * 4
    assert len(flows["all_gather pg0 #1"]) == 4 and flows["all_gather pg0 #1"][0].bytes == 768
    assert sorted(f.bytes for f in flows["all_to_all pg0 #2"]) == [64] * 12
    assert len(flows["broadcast pg0 #3"]) == 3
    # the second group (ranks 0 and 2, a 16 x 16 matrix): h1 <-> h3, 2 x 1/2 x 1024
    sub = flows["all_reduce pg1 #5"]
    assert sorted((f.src, f.dst, f.bytes) for f in sub) == [("h1", "h3", 1024), ("h3", "h1", 1024)]
    (send,) = [f for f in trace.flows() if f.stage == "other"]
    assert (send.src, send.dst, send.bytes) == ("h1", "h2", 256)         # isend tag 7
    # the gloo ops ran the transfers: their time is the captured CCT, not compute
    assert sub[0].recorded_cct_us > 0 and flows["all_reduce pg0 #0"][0].recorded_cct_us > 0
    gloo = [n for n in trace.nodes if n.kind == "compute" and (n.label or "").startswith("gloo:")]
    assert gloo and all(n.duration_us == 0 for n in gloo)
    assert set(notes) == {"dropped dependencies on absent nodes"}


def test_a_partial_capture_says_what_it_could_not_expand():
    trace, notes = imported("pytorch_gloo_w4/gloo_w4.0.et.gz", "pytorch_gloo_w4/gloo_w4.1.et.gz")
    assert notes["collectives of process group 0 expanded over ranks 0-1 only (ranks 2-3 have "
                 "no trace file)"] == 6
    assert notes["not expanded: all_reduce pg1 #5 (only rank 0 has it)"] == 1
    assert {f.src for f in trace.flows()} == {"h1", "h2"}


def test_an_unlinked_host_trace_imports_without_timings():
    trace, _ = imported("pytorch_gloo_w2_hostonly/gloo_w2_host")
    assert trace.flows() and all(f.recorded_cct_us is None for f in trace.flows())
    # both groups span the two ranks: the c10d op does not say which ran it
    assert "all_reduce pg0+pg1 #5" in by_label(trace)


def test_text_converter_and_generator_traces():
    trace, _ = imported("text_dp_n4/dp_2layer")
    sizes = sorted({f.bytes for f in trace.flows()})
    assert sizes == [393216, 1572864]             # 2 x 3/4 of 256 KiB and of 1 MiB
    trace, _ = imported("generator_n4/ALL_TO_ALL")
    assert sorted(f.bytes for f in trace.flows()) == [16384] * 12     # 65536 / 4 per peer
    trace, notes = imported("generator_n4/one_comm_send_node")
    assert trace.flows() == []
    assert notes["point-to-point nodes without comm_src/comm_dst (kept as ordering nodes)"] == 4


def test_cpu_side_ops_beside_gpu_kernels_only_order_the_work(tmp_path):
    """A GPU capture: the c10d op (COMM_COLL without comm_type) launches the
    NCCL kernel that carries comm_type; only the kernel's bytes move."""
    for rank in (0, 1):
        tensor = "[[[1, 2, 0, 1024, 4, 'cuda']], '<Object>', '<Object>', '<None>', False, -1]"
        nodes = [ChakraNode(1, "c10d::allreduce_", COLL, inputs={"values": tensor}),
                 ChakraNode(2, "ncclDevKernel_AllReduce_Sum_f32_RING_LL", COLL, data_deps=[1],
                            duration_micros=80 + rank,
                            attrs={"comm_type": 0, "comm_size": 4096, "pg_name": "0"})]
        write_et(tmp_path / f"gpu.{rank}.et", GlobalMetadata(), nodes)
    trace, notes = import_chakra([str(tmp_path / "gpu")], rank_host_map())
    trace.validate()
    assert sorted(f.bytes for f in trace.flows()) == [4096, 4096]      # not 8192: no double
    assert {f.recorded_cct_us for f in trace.flows()} == {81}          # the slower kernel
    assert notes == {"CPU-side communication ops (kept as ordering nodes)": 2}
    kernel = trace.node_map()["r1.n2"]
    assert "r1.n1" in kernel.deps and set(kernel.deps) > {"r1.n1"}    # launched, then waits


@pytest.mark.parametrize("values", ["", "not python", "[[1, 2]]"])
def test_c10d_ops_without_readable_arguments_become_ordering_nodes(tmp_path, values):
    write_et(tmp_path / "odd.0.et", GlobalMetadata(),
             [ChakraNode(1, "c10d::allreduce_", COMP, duration_micros=5,
                         inputs={"values": values} if values else {})])
    trace, notes = import_chakra([str(tmp_path / "odd.0.et")], rank_host_map())
    expected = 1 if values != "[[1, 2]]" else 0
    assert notes.get("c10d ops without known arguments (kept as ordering nodes)", 0) == expected
    assert trace.flows() == []


def tensor(elements, size=4):
    return [7, 8, 0, elements, size, "cpu"]


def c10d(node_id, name, values, deps=()):
    return ChakraNode(node_id, name, COMP, data_deps=list(deps), inputs={"values": repr(values)})


def pg_init(groups):
    text = json.dumps([{"pg_name": str(i), "ranks": ranks, "group_size": len(ranks)}
                       for i, ranks in enumerate(groups)])
    return ChakraNode(1, "## process_group:init ##", 1, inputs={"values": repr([text])})


def write_ranks(tmp_path, nodes_of, groups=((0, 1, 2),)):
    for rank in range(3):
        nodes = [pg_init([list(g) for g in groups])] + nodes_of(rank)
        write_et(tmp_path / f"job.{rank}.et", GlobalMetadata(), nodes)
    trace, notes = import_chakra([str(tmp_path / "job")], rank_host_map())
    trace.validate()
    return trace, notes


def test_roots_chunks_and_backend_times_of_c10d_ops(tmp_path):
    def nodes_of(rank):
        gather_out = [[tensor(8)] * 3] if rank == 1 else []      # only the root holds them all
        return [
            # reduce_(tensors, pg, op, root_rank=1, root_tensor, async, timeout)
            c10d(10, "c10d::reduce_", [[tensor(64)], "<Object>", "<Object>", 1, 0, False, -1]),
            ChakraNode(11, "gloo:reduce", COMP, duration_micros=40),
            # gather_(output lists, inputs, pg, root_rank=1, ...): 32-byte chunks
            c10d(20, "c10d::gather_", [gather_out, [tensor(8)], "<Object>", 1, False, -1]),
            # an op we do not expand: its backend op's time is nobody's CCT
            c10d(30, "c10d::monitored_barrier_", ["<Object>"]),
            ChakraNode(31, "gloo:barrier", COMP, duration_micros=5000)]
    trace, notes = write_ranks(tmp_path, nodes_of)
    flows = by_label(trace)
    # the reduce chain ends at rank 1 (h2), 256 bytes per edge: h3 -> h1 -> h2
    assert sorted((f.src, f.dst, f.bytes) for f in flows["reduce pg0 #0"]) == \
        [("h1", "h2", 256), ("h3", "h1", 256)]
    assert {f.recorded_cct_us for f in flows["reduce pg0 #0"]} == {40}
    # gather matched on every rank's chunk: 32 bytes from each other rank to the root
    assert sorted((f.src, f.dst, f.bytes) for f in flows["gather pg0 #1"]) == \
        [("h1", "h2", 32), ("h3", "h2", 32)]
    assert flows["gather pg0 #1"][0].recorded_cct_us is None      # not the barrier's 5000
    assert notes["c10d ops without known arguments (kept as ordering nodes)"] == 3


def test_a_subgroup_root_is_a_rank_of_its_group(tmp_path):
    def nodes_of(rank):
        if rank == 0:
            return [ChakraNode(5, "gemm", COMP, duration_micros=1)]
        # broadcast_(tensors, pg, root_rank=1 of group [1, 2], root_tensor, async, timeout)
        return [c10d(10, "c10d::broadcast_", [[tensor(16)], "<Object>", 1, 0, False, -1])]
    trace, _ = write_ranks(tmp_path, nodes_of, groups=((0, 1, 2), (1, 2)))
    (flow,) = by_label(trace)["broadcast pg1 #0"]
    assert (flow.src, flow.dst, flow.bytes) == ("h3", "h2", 64)   # global rank 2 is the root


def test_ranks_that_form_one_group_or_several_are_noted(tmp_path):
    def nodes_of(rank):
        return [c10d(10, "c10d::allreduce_", [[tensor(16)], "<Object>", "<Object>", None,
                                              False, -1])]
    for rank in range(4):
        nodes = [pg_init([[0, 1, 2, 3], [0, 1], [2, 3]])] + nodes_of(rank)
        write_et(tmp_path / f"tp.{rank}.et", GlobalMetadata(), nodes)
    trace, notes = import_chakra([str(tmp_path / "tp")], rank_host_map())
    assert len(by_label(trace)["all_reduce pg0 #0"]) == 4
    assert notes["c10d collectives whose ranks form one group and also several smaller ones "
                 "(taken as one collective)"] == 1


@pytest.mark.parametrize("values", [
    [[tensor(2 ** 52, 8)], "<Object>", "<Object>", None, False, -1],      # beyond 2^53 bytes
    [[[7, 8, 0, -4, 4, "cpu"]], "<Object>", "<Object>", None, False, -1],  # negative size
])
def test_impossible_tensor_sizes_are_not_flows(tmp_path, values):
    write_et(tmp_path / "big.0.et", GlobalMetadata(), [c10d(1, "c10d::allreduce_", values)])
    trace, notes = import_chakra([str(tmp_path / "big.0.et")], rank_host_map())
    assert trace.flows() == [] and notes["c10d ops without known arguments (kept as ordering "
                                         "nodes)"] == 1


def test_a_send_to_a_negative_rank_is_not_a_flow(tmp_path):
    write_et(tmp_path / "neg.0.et", GlobalMetadata(),
             [c10d(1, "c10d::send", [[tensor(4)], "<Object>", -1, 0])])
    trace, notes = import_chakra([str(tmp_path / "neg.0.et")], rank_host_map())
    assert trace.flows() == [] and len(notes) == 1


@pytest.mark.parametrize("attrs, message", [
    ({"comm_type": 0, "comm_size": 8, "pg_name": ["a"]}, "'pg_name' must be a string"),
])
def test_wrongly_typed_attributes_are_one_line_errors(tmp_path, attrs, message):
    write_et(tmp_path / "t.0.et", GlobalMetadata(), [ChakraNode(1, "ar", COLL, attrs=attrs)])
    with pytest.raises(UserError, match=message):
        import_chakra([str(tmp_path / "t.0.et")], rank_host_map())


def test_malformed_process_groups_are_skipped():
    from traces.capture.chakra_c10d import PG_INIT, process_groups
    listed = [{"pg_name": "0", "ranks": [0, "x"]}, {"pg_name": "1", "ranks": 5},
              {"pg_name": "2", "ranks": [[1]]}, {"pg_name": "3", "ranks": [], "group_size": 2},
              "not a group", {"ranks": [0]}]
    node = ChakraNode(1, PG_INIT, 1, inputs={"values": repr([json.dumps(listed)])})
    assert process_groups([node]) == {"3": [0, 1]}
    assert process_groups([ChakraNode(1, PG_INIT, 1, inputs={"values": "[1e999999]"})]) == {}


@pytest.mark.parametrize("node, message", [
    (ChakraNode(1, "gemm", COMP, duration_micros=2 ** 63 - 1), "beyond the trace format's 1e12"),
    (ChakraNode(1, "ar", COLL, attrs={"comm_type": 0, "comm_size": 2 ** 60}), "from 0 to 2^53"),
    (ChakraNode(1, "ar", COLL, attrs={"comm_type": 0, "comm_size": float("nan")}),
     "without integer attribute 'comm_size'"),
])
def test_impossible_numbers_name_the_file_and_node(tmp_path, node, message):
    write_et(tmp_path / "n.0.et", GlobalMetadata(), [node])
    with pytest.raises(UserError) as info:
        import_chakra([str(tmp_path / "n.0.et")], rank_host_map())
    assert message in info.value.message and "n.0.et: node 1" in str(info.value)

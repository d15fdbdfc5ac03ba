"""Chakra ETs made by the real tools (tests/fixtures/chakra/README.md says
how) import as their programs ran; bytes follow collectives.py's formulas."""

from pathlib import Path

import pytest

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

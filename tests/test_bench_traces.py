"""The replay engine's benchmark workloads and the dilation-invariance verdict."""

import pytest

from experiments import bench_traces
from experiments.invariance import compare, verdict_of
from emulator.agent import wire


def test_chain_alternates_local_and_remote_dependencies():
    trace = bench_traces.chain(8, flows=6)
    flows = [n for n in trace.nodes]
    for prev, cur in zip(flows, flows[1:]):
        assert cur.deps == [prev.id]
    # even steps start where the previous flow ended, odd ones elsewhere
    assert flows[1].src == flows[0].dst and flows[2].src != flows[1].dst


def test_burst_and_collectives_have_the_expected_shape():
    burst = bench_traces.burst(8, 8)
    assert sum(1 for n in burst.nodes if n.kind == "flow") == 64
    a2a = bench_traces.all_to_all(8, 1_000_000, iterations=2)
    assert sum(1 for n in a2a.nodes if n.kind == "flow") == 2 * 8 * 7
    ring = bench_traces.ring_all_reduce(8, 8_000_000, iterations=1)
    assert sum(1 for n in ring.nodes if n.kind == "flow") == 2 * 7 * 8
    a2a.validate(hosts={f"h{i}" for i in range(1, 9)})
    ring.validate(hosts={f"h{i}" for i in range(1, 9)})


def test_line_rate_ideals():
    # 7/8 of 1 MB leave each rank at 100 Gbit/s
    assert bench_traces.collective_ideal_us("all_to_all", 8, 100e9, per_rank=1_000_000) == \
        pytest.approx(125_000 * 7 * 8 / 100e9 * 1e6)
    # a ring all-reduce moves 2 (N-1)/N of the data through every link
    assert bench_traces.collective_ideal_us("ring_all_reduce", 8, 100e9, size=8_000_000) == \
        pytest.approx(2 * 7 * 1_000_000 * 8 / 100e9 * 1e6)


def _metrics(att, p50, p99=5000.0):
    return {"slo_attainment": att, "ttft_p50_us": p50, "ttft_p99_us": p99}


def test_invariance_verdict_uses_both_tolerances():
    ok = {"x100": {"fair": _metrics(0.70, 2000)}, "x1000": {"fair": _metrics(0.74, 2080)}}
    rows, passed = compare(ok, ["fair"])
    assert passed and rows[0]["attainment_gap"] == pytest.approx(0.04)
    moved = {"x100": {"fair": _metrics(0.70, 2000)}, "x1000": {"fair": _metrics(0.70, 2200)}}
    assert not compare(moved, ["fair"])[1]                    # TTFT p50 moved 10 %
    missing = {"x100": {"fair": _metrics(None, 2000)}, "x1000": {"fair": _metrics(0.7, 2000)}}
    assert not compare(missing, ["fair"])[1]


def test_a_gap_inside_the_run_to_run_noise_is_not_called_a_difference():
    moved = {"x200": {"edf": _metrics(0.49, 3000)}, "x1000": {"edf": _metrics(0.45, 3270)}}
    noisy = {"edf": {"attainment": 0.02, "ttft_p50_relative": 0.12}}
    rows, passed = compare(moved, ["edf"], noisy)
    assert not passed and rows[0]["within_noise"]             # 9% apart, 12% between repeats
    quiet = {"edf": {"attainment": 0.02, "ttft_p50_relative": 0.03}}
    rows, passed = compare(moved, ["edf"], quiet)
    assert not passed and not rows[0]["within_noise"]         # the dilation moved it
    rows, _ = compare(moved, ["edf"])                         # no repeats: no noise to cite
    assert not rows[0]["within_noise"] and verdict_of(rows) == "FAILED"
    rows, _ = compare(moved, ["edf"], noisy)
    assert verdict_of(rows) == "INCONCLUSIVE"
    ok = {"x200": {"edf": _metrics(0.49, 3000)}, "x1000": {"edf": _metrics(0.47, 3050)}}
    assert verdict_of(compare(ok, ["edf"], noisy)[0]) == "PASSED"


def test_the_noise_is_the_interval_of_the_difference_of_means_and_narrows_with_repeats():
    from experiments.invariance import _difference_interval
    two = _difference_interval([[3000, 3100], [3200, 3300]], relative=True)
    four = _difference_interval([[3000, 3100, 3000, 3100], [3200, 3300, 3200, 3300]],
                                relative=True)
    assert 0 < four < two                    # more repeats, a narrower interval
    assert _difference_interval([[0.5, 0.5], [0.6, 0.6]]) == 0.0      # no noise at all
    assert _difference_interval([[0.5], [0.6, 0.6]]) is None          # one run: no estimate


def test_a_trace_without_slos_is_judged_on_its_ttft_alone():
    same = {"x200": {"fair": _metrics(None, 2000)}, "x1000": {"fair": _metrics(None, 2040)}}
    rows, passed = compare(same, ["fair"])
    assert passed and verdict_of(rows) == "PASSED"
    moved = {"x200": {"fair": _metrics(None, 2000)}, "x1000": {"fair": _metrics(None, 2400)}}
    assert not compare(moved, ["fair"])[1]


def test_flow_header_is_parsed_whole_or_not_at_all():
    header = wire.encode_header("r1.L0.a2a", 12345)
    assert wire.parse_header(header[:5]) is None
    assert wire.parse_header(header[:-1]) is None
    assert wire.parse_header(header + b"payload") == ("r1.L0.a2a", 12345, len(header))
    with pytest.raises(ConnectionError):
        wire.parse_header(b"GET / HTTP/1.1\r\n\r\n")

import pytest

from netmodel.dilation import Dilation
from netmodel.queues import (dscp_for_queue, plan_port, queue_classid, queue_for_dscp,
                             tos_for_queue)
from netmodel.topology import load_topology


@pytest.mark.parametrize("n", [1, 2, 4, 8])
def test_dscp_round_trip(n):
    for q in range(n):
        assert queue_for_dscp(dscp_for_queue(q, n), n) == q
        assert tos_for_queue(q, n) == dscp_for_queue(q, n) << 2


def test_unmarked_traffic_is_lowest_and_cs7_is_highest():
    assert queue_for_dscp(0, 8) == 7
    assert queue_for_dscp(56, 8) == 0
    assert queue_for_dscp(56, 4) == 0      # precedence above N-1 lands in Q0
    assert dscp_for_queue(0, 8) == 56


def test_queue_out_of_range():
    with pytest.raises(ValueError):
        dscp_for_queue(8, 8)


def test_plan_is_strict_priority_with_tiny_floors():
    plan = plan_port(100e6, 2**20, 8, 9000)
    assert [c.htb_prio for c in plan.classes] == list(range(8))
    assert all(c.ceil_bps == 100e6 for c in plan.classes)
    # a class's own tokens let it send ahead of higher queues: keep them tiny
    assert all(c.rate_bps == 10_000 for c in plan.classes)
    assert all(c.rate_bps == pytest.approx(1e5) for c in plan_port(10e9, 2**20, 8, 9000).classes)
    assert all(c.limit_bytes == 2**20 for c in plan.classes)
    assert plan.default_classid == queue_classid(0)
    assert len({c.leaf_handle for c in plan.classes}) == 8


def test_filters_cover_every_precedence_and_acks_first():
    plan = plan_port(100e6, 2**20, 8, 9000)
    assert plan.filters[0].pref < min(f.pref for f in plan.filters[1:])
    assert plan.filters[0].classid == queue_classid(0)
    targets = {}
    for flt in plan.filters[1:]:
        value = int(flt.keys[0].split("/")[0], 16)
        targets[(value >> 21) & 7] = flt.classid
    assert targets == {p: queue_classid(queue_for_dscp(p << 3, 8)) for p in range(8)}


def test_buffer_holds_at_least_two_frames():
    assert plan_port(1e6, 100, 2, 9000).buffer_bytes == 2 * 9014


def test_dilation_maps_back_exactly():
    topo = load_topology("single_tor_8")
    d = Dilation.for_topology(topo, 100e6)
    assert d.rate_scale == 1000 and d.factor == 1000
    real_seconds = 8 * 16e6 / 100e9               # 16 MB at 100 Gbit/s
    emu_seconds = 8 * d.emu_bytes(16e6) / d.emu_rate(100e9)
    assert d.real_time(emu_seconds) == pytest.approx(real_seconds)
    d2 = Dilation.for_topology(topo, 100e6, time_dilation=100)
    assert d2.byte_scale == pytest.approx(10) and d2.factor == pytest.approx(100)
    assert d2.emu_bytes(1) == 1
    assert d2.to_dict()["time_dilation"] == pytest.approx(100)

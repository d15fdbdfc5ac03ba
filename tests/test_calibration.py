"""The automatic emulation speed and what --time-dilation / --emulated-rate mean."""

import pytest

from experiments import calibration
from experiments.calibration import choose_speed, mean_switch_hops
from netmodel.topology import load_topology
from tests.scenarios import contention_trace


@pytest.fixture(scope="module")
def tor():
    return load_topology("single_tor_8").with_mtu(64000)


def test_time_dilation_alone_sets_the_rate_and_sends_every_byte(tor):
    dilation, speed = choose_speed(tor, 64000, time_dilation=250)
    assert dilation.factor == pytest.approx(250) and dilation.byte_scale == 1
    assert speed["emulated_host_rate_bps"] == pytest.approx(400e6)
    assert speed["chosen_by"] == "--time-dilation"


def test_time_dilation_with_a_rate_sets_the_byte_scale(tor):
    dilation, speed = choose_speed(tor, 64000, emulated_rate=100e6, time_dilation=100)
    assert dilation.factor == pytest.approx(100) and dilation.byte_scale == pytest.approx(10)
    assert speed["chosen_by"] == "--emulated-rate"


def test_automatic_speed_is_bounded_by_fabric_capacity_without_a_trace(tor):
    dilation, speed = choose_speed(tor, 64000)
    per_link = calibration.FABRIC_CAPACITY_BPS[64000] / 8          # one switch per packet
    assert speed["emulated_host_rate_bps"] <= min(per_link, calibration.MAX_EMULATED_RATE)
    assert dilation.byte_scale == 1 and speed["chosen_by"] == "automatic"
    assert "fabric capacity" in speed["reason"]


def test_automatic_speed_slows_down_for_a_trace_of_short_nodes(tor):
    trace = contention_trace()
    typical = calibration.typical_time_s(trace, tor)
    dilation, speed = choose_speed(tor, 64000, trace)
    # the engine's fixed cost stays under the stated fraction of the median node
    assert calibration.ENGINE_OVERHEAD_S / dilation.factor <= calibration.OVERHEAD_FRACTION * typical
    assert speed["typical_node_real_us"] == pytest.approx(typical * 1e6, rel=1e-3)


def test_preemption_granularity_is_one_frame_at_the_real_host_rate(tor):
    _, speed = choose_speed(tor, 64000, time_dilation=100)
    assert speed["preemption_granularity_real_us"] == pytest.approx(64014 * 8 / 100e9 * 1e6, rel=1e-3)
    _, speed = choose_speed(tor.with_mtu(9000), 9000, time_dilation=100)
    assert speed["preemption_granularity_real_us"] == pytest.approx(9014 * 8 / 100e9 * 1e6, rel=1e-3)


def test_nice_rates_and_hops():
    assert calibration._nice_below(975e6) == 500e6
    assert calibration._nice_below(1e9) == 1e9
    assert calibration._nice_below(260e6) == 250e6
    assert mean_switch_hops(load_topology("single_tor_8")) == 1
    assert 1 < mean_switch_hops(load_topology("leaf_spine")) <= 3


def test_mtu_above_the_limit_is_refused(tmp_path):
    from common.errors import UserError
    from netmodel.topology import load_topology as load

    path = tmp_path / "t.yaml"
    text = (load_topology("single_tor_8").path)
    body = open(text, encoding="utf-8").read().replace("mtu: 9000", "mtu: 65000")
    path.write_text(body)
    with pytest.raises(UserError, match="mtu must be between 576 and 64000"):
        load(str(path))


@pytest.mark.parametrize("shape", ["single_tor", "leaf_spine"])
@pytest.mark.parametrize("hosts", [8, 16, 64])
def test_capacity_topologies_are_valid_and_non_blocking(tmp_path, shape, hosts):
    import yaml

    from experiments.capacity import HOSTS_PER_LEAF, topology_spec

    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(topology_spec(shape, hosts)))
    topo = load_topology(str(path))
    assert len(topo.hosts) == hosts
    if shape == "leaf_spine":
        leaf = next(n for n in topo.switches if n.name == "leaf1")
        up = sum(l.rate_bps for l in topo.links if leaf.name in (l.a, l.b) and "spine" in l.a + l.b)
        assert up == HOSTS_PER_LEAF * 100e9


def test_jain_index():
    from experiments.selftest import jain_index

    assert jain_index([5, 5, 5, 5]) == pytest.approx(1.0)
    assert jain_index([1, 0, 0, 0]) == pytest.approx(0.25)
    assert 0.9 < jain_index([178, 406, 250, 250]) < 0.95


def test_the_replay_timeout_follows_the_trace_and_the_dilation():
    from experiments.experiment import MIN_TIMEOUT, auto_timeout
    from netmodel.dilation import Dilation
    from netmodel.topology import load_topology
    from traces.scenarios import demotion_trace

    topo = load_topology("single_tor_8")
    slow = Dilation(rate_scale=800, byte_scale=1)
    # the late flow arrives at 1 s and takes 0.16 ms alone: 5 x 1.00016 s x 800
    late = auto_timeout(demotion_trace(late_arrival_us=1e6), topo, slow)
    assert late == pytest.approx(5 * 1.00016 * 800, rel=1e-4)
    assert auto_timeout(demotion_trace(), topo, slow) == MIN_TIMEOUT
    # a node after the last TTFT (here 100 MB more, 8 ms alone) is waited for too
    from dataclasses import replace

    from traces.model import FlowNode
    trace = demotion_trace(late_arrival_us=1e6)
    trace = replace(trace, nodes=trace.nodes + [
        FlowNode("late.after", "late", "h3", "h4", 100 * 10**6, "p2d", deps=["late.p2d"])])
    assert auto_timeout(trace, topo, slow) == pytest.approx(5 * 1.00816 * 800, rel=1e-4)

"""The controller issue's scenarios, in the fluid simulator.

One 10 Gbit/s bottleneck (1.25 MB per ms), everything arriving at t = 0:

* ``a2a``  all-to-all (collective) 25 MB consumed by the layer executing now:
  RLI 0, 20 ms alone.
* ``p2d``  55 MB P2D transfer, deadline 100 ms: 44 ms alone, so MLU 0.44 at
  the start: loose, deferred below the collective.
* ``bg``   100 MB KV fetch for a layer four ahead (RLI 4): MFS puts it in
  the same queue as a 0.25-0.5 MLU P2D, so unless the P2D is promoted past
  it they share the link once the collective is done and the P2D finishes
  at 20 + 88 = 108 ms, too late.
* ``lost`` 200 MB P2D with the same 100 ms deadline: 160 ms even at line
  rate, MLU 1.6, infeasible from the start.
"""

import pytest

from policies.fluid import FluidFlow, simulate
from policies import get_policy

MB = 10**6
LINK = {"bottleneck": 10e9}
PATH = ("bottleneck",)


def scenario():
    return [
        FluidFlow("a2a", "r-a2a", 0, 25 * MB, PATH, stage="collective", layer=0),
        FluidFlow("p2d", "r-p2d", 0, 55 * MB, PATH, stage="p2d", deadline=0.100),
        FluidFlow("bg", "r-bg", 0, 100 * MB, PATH, stage="kv_fetch", layer=4),
        FluidFlow("lost", "r-lost", 0, 200 * MB, PATH, stage="p2d", deadline=0.100),
    ]


def run(policy, params=None):
    return simulate(LINK, scenario(), policy=get_policy(policy, params), tick=0.001)


def test_mfs_all_to_all_first_and_p2d_promoted_in_time():
    result = run("mfs")
    a2a, p2d = result.flows["a2a"], result.flows["p2d"]
    assert a2a.finish == pytest.approx(0.020)          # the whole link: nothing above it
    assert a2a.finish < p2d.finish
    assert p2d.met_deadline
    promotions = [(t, old, new) for t, old, new, why in p2d.queue_history if why == "promotion"]
    assert promotions, "the P2D flow was never promoted"
    assert promotions[0][0] < a2a.finish                # promoted while waiting
    assert p2d.queues[-1] < result.flows["bg"].queues[-1]  # ... past the background fetch
    assert p2d.queues == sorted(p2d.queues, reverse=True)  # promotion only
    assert p2d.finish == pytest.approx(0.064)


def test_mfs_infeasible_p2d_goes_to_the_scavenger_and_waits():
    result = run("mfs")
    lost = result.flows["lost"]
    assert lost.queue_history == [(0, None, 7, "scavenger")]
    # It only gets the link once everything else is done, and it is reported.
    others = max(f.finish for f in result.flows.values() if f.flow_id != "lost")
    assert lost.finish == pytest.approx(others + 0.160)
    assert result.scavenged_ttfts() == {"r-lost": pytest.approx(lost.finish)}
    assert result.requests["r-lost"].scavenged and not result.requests["r-p2d"].scavenged


def test_fair_slows_the_all_to_all_and_misses_the_deadline():
    fair, mfs = run("fair"), run("mfs")
    assert fair.flows["a2a"].finish == pytest.approx(0.080)   # a quarter of the link
    assert fair.flows["a2a"].finish > 2 * mfs.flows["a2a"].finish
    assert not fair.flows["p2d"].met_deadline
    assert fair.slo_attainment() == 0.0 and mfs.slo_attainment() == 0.5


def test_without_the_scavenger_the_infeasible_p2d_hogs_the_link():
    result = run("mfs", {"scavenger": False})
    assert result.flows["lost"].queues == [0]
    assert result.flows["a2a"].finish > 0.160                  # waited behind it
    assert not result.flows["p2d"].met_deadline


def test_request_summed_mlu_meets_layerwise_p2d_where_per_flow_misses():
    """A request's KV cache goes as 20 layer-wise 5 MB P2D flows (80 ms at line
    rate, deadline 100 ms) next to a 150 MB RLI-4 fetch.  Each flow alone has
    MLU 0.04 and stays deferred behind the fetch until all are late together;
    summed per request they have MLU 0.8 and go first."""
    flows = [FluidFlow(f"p2d{i}", "req", 0, 5 * MB, PATH, stage="p2d", deadline=0.100)
             for i in range(20)]
    flows.append(FluidFlow("fetch", "other", 0, 150 * MB, PATH, stage="kv_fetch", layer=4))
    summed = simulate(LINK, flows, policy=get_policy("mfs"), tick=0.001)
    per_flow = simulate(LINK, flows, policy=get_policy("mfs", {"mlu_scope": "flow"}),
                        tick=0.001)
    assert summed.requests["req"].met_deadline
    assert summed.requests["req"].ttft == pytest.approx(0.080)
    assert not per_flow.requests["req"].met_deadline
    assert per_flow.requests["req"].ttft > 0.150


def test_karuna_paces_a_lax_deadline_flow_and_frees_bandwidth():
    """A 10 MB P2D flow due in 100 ms needs only 0.8 Gbit/s; paced at that, the
    50 MB fetch next to it gets 9.2 Gbit/s instead of half the link."""
    flows = [FluidFlow("p2d", "r1", 0, 10 * MB, PATH, stage="p2d", deadline=0.100),
             FluidFlow("fetch", "r2", 0, 50 * MB, PATH, stage="kv_fetch", layer=0)]
    karuna = simulate(LINK, flows, policy=get_policy("karuna", {"pace_headroom": 1.0}), tick=0.001)
    fair = simulate(LINK, flows, policy=get_policy("fair"), tick=0.001)
    assert karuna.flows["p2d"].met_deadline
    assert karuna.flows["p2d"].finish > 0.090                  # used its slack
    assert karuna.flows["fetch"].finish == pytest.approx(0.4 / 9.2, rel=1e-3)
    assert fair.flows["fetch"].finish == pytest.approx(0.048)
    # The default 5 % headroom starts at 0.84 Gbit/s; re-paced every tick
    # from the bytes left (rate = 1.05 x left / time left), it slows as it
    # gets ahead and still ends just before the deadline: the headroom covers
    # goodput lost between ticks, it buys no early finish.
    default = simulate(LINK, flows, policy=get_policy("karuna"), tick=0.001)
    assert default.flows["p2d"].met_deadline and default.flows["p2d"].finish > 0.099
    assert default.flows["p2d"].queue_history[0][3] == "initial"
    assert default.flows["fetch"].finish == pytest.approx(0.4 / 9.16, rel=1e-3)

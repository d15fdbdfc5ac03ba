"""Mechanics of the fluid simulator: timing, dependencies, progress, ticks."""

import signal

import pytest

from common.errors import UserError
from policies.fluid import FluidFlow, LayerProgress, simulate
from policies import get_policy

MB = 10**6
LINK = {"l": 10e9}   # 1.25 MB per ms


def fair():
    return get_policy("fair")


def test_lone_flow_takes_the_line_rate():
    result = simulate(LINK, [FluidFlow("f", "r", 0.001, 25 * MB, ("l",))], policy=fair())
    f = result.flows["f"]
    assert (f.arrival, f.finish, f.fct) == pytest.approx((0.001, 0.021, 0.020))
    assert f.queue_history == [(0.001, None, 0, "initial")]


def test_fair_sharing_then_the_survivor_speeds_up():
    flows = [FluidFlow("a", "r", 0, 10 * MB, ("l",)), FluidFlow("b", "r", 0, 20 * MB, ("l",))]
    result = simulate(LINK, flows, policy=fair())
    assert result.flows["a"].finish == pytest.approx(0.016)   # 5 Gbit/s each
    assert result.flows["b"].finish == pytest.approx(0.024)


def test_dependencies_with_lag_release_flows_like_a_dag():
    flows = [FluidFlow("kv", "r", 0, 12.5 * MB, ("l",), stage="kv_fetch", layer=0),
             FluidFlow("p2d", "r", 0, 12.5 * MB, ("l",), stage="p2d", deadline=1.0,
                       after={"L1": 0.005})]
    progress = [LayerProgress("r", 1, event_id="L1", after=[("kv", 0.002)])]
    result = simulate(LINK, flows, progress, policy=get_policy("mfs"))
    assert result.flows["kv"].finish == pytest.approx(0.010)
    assert result.flows["p2d"].arrival == pytest.approx(0.017)   # 10 + 2 + 5 ms
    assert result.flows["p2d"].finish == pytest.approx(0.027)
    assert result.requests["r"].ttft == pytest.approx(0.027)


def test_dependency_errors():
    with pytest.raises(UserError, match="unknown"):
        simulate(LINK, [FluidFlow("a", "r", 0, MB, ("l",), after={"ghost": 0})], policy=fair())
    cycle = [FluidFlow("a", "r", 0, MB, ("l",), after={"b": 0}),
             FluidFlow("b", "r", 0, MB, ("l",), after={"a": 0})]
    with pytest.raises(UserError, match="cycle"):
        simulate(LINK, cycle, policy=fair())


def test_until_cuts_the_run():
    flows = [FluidFlow("a", "r", 0, 25 * MB, ("l",)), FluidFlow("b", "r", 0.5, MB, ("l",))]
    result = simulate(LINK, flows, policy=fair(), until=0.010)
    assert result.flows["a"].finish is None and result.flows["b"].arrival is None
    assert result.end_time == 0.010
    assert result.requests["r"].finish is None


def test_layer_progress_promotes_a_kv_fetch_in_the_simulator():
    """Two 12.5 MB fetches, RLI 4 vs RLI 2: when request a reaches layer 4 at
    2 ms its fetch becomes RLI 0 and overtakes b's."""
    flows = [FluidFlow("a", "ra", 0, 12.5 * MB, ("l",), stage="kv_fetch", layer=4),
             FluidFlow("b", "rb", 0, 12.5 * MB, ("l",), stage="kv_fetch", layer=2)]
    progress = [LayerProgress("ra", 4, 0.002)]
    result = simulate(LINK, flows, progress, policy=get_policy("mfs"), tick=None)
    a, b = result.flows["a"], result.flows["b"]
    assert a.queue_history == [(0, None, 5, "initial"), (0.002, 5, 1, "promotion")]
    assert a.finish == pytest.approx(0.012)          # full rate from 2 ms
    assert b.finish == pytest.approx(0.020)


def test_ticks_follow_the_grid_and_skip_idle_gaps():
    calls = []
    policy = get_policy("fair")
    policy.reevaluate = lambda view, trigger: calls.append((trigger.kind, view.now)) or {}
    flows = [FluidFlow("a", "r", 0, 3.75 * MB, ("l",)),       # 0 - 3 ms
             FluidFlow("b", "r", 0.0105, 1.25 * MB, ("l",))]  # 10.5 - 11.5 ms
    simulate(LINK, flows, policy=policy, tick=0.001)
    ticks = [round(t, 6) for kind, t in calls if kind == "tick"]
    # None at 3 ms (a has just finished: nothing to re-evaluate) nor in the gap.
    assert ticks == [0.001, 0.002, 0.011]


def test_the_policy_tick_paces_reevaluation():
    """A 10 ms P2D flow due at 21.5 ms waits behind an RLI-0 fetch: its MLU
    crosses 0.5 at 1.5 ms, seen at the next tick of the policy's period."""
    flows = [FluidFlow("kv", "r1", 0, 50 * MB, ("l",), stage="kv_fetch", layer=0),
             FluidFlow("p", "r2", 0, 12.5 * MB, ("l",), stage="p2d", deadline=0.0215)]
    for tick, promoted in [("5ms", 0.005), ("1ms", 0.002)]:
        result = simulate(LINK, flows, policy=get_policy("mfs", {"tick": tick}))
        assert result.flows["p"].queue_history[:2] == [
            (0, None, 5, "initial"), (pytest.approx(promoted), 5, 4, "promotion")]


def test_pias_lets_a_late_short_flow_overtake_a_long_one():
    flows = [FluidFlow("long", "r1", 0, 100 * MB, ("l",)),
             FluidFlow("short", "r2", 0.010, 1 * MB, ("l",))]
    policy = get_policy("pias", {"demotion_thresholds": [2 * MB], "demote": "controller"})
    result = simulate(LINK, flows, policy=policy, tick=0.001)
    assert result.flows["long"].queues == [0, 1]               # demoted at the 2 ms tick
    assert result.flows["short"].fct == pytest.approx(0.0008)  # full rate in Q0


def test_pias_senders_demote_the_instant_their_bytes_cross_a_threshold():
    # 1.25 MB per ms.  'long' alone crosses 1 MB at 0.8 ms (-> Q1); 'mid'
    # arrives at 1 ms in Q0, takes the link and crosses 1 MB at 1.8 ms; the
    # two share Q1 until mid ends at 3.4 ms (long then at 2.25 MB); long
    # crosses 3 MB alone at 4.0 ms (-> Q2) and ends at 9.6 ms.
    flows = [FluidFlow("long", "r1", 0, 10 * MB, ("l",)),
             FluidFlow("mid", "r2", 0.001, 2 * MB, ("l",))]
    result = simulate(LINK, flows, policy=get_policy("pias", {"demotion_thresholds": [MB, 3 * MB]}))
    assert [h[:3] for h in result.flows["long"].queue_history] == [
        (0, None, 0), (pytest.approx(0.0008), 0, 1), (pytest.approx(0.0040), 1, 2)]
    assert [h[:3] for h in result.flows["mid"].queue_history] == [
        (pytest.approx(0.001), None, 0), (pytest.approx(0.0018), 0, 1)]
    assert result.flows["mid"].finish == pytest.approx(0.0034)
    assert result.flows["long"].finish == pytest.approx(0.0096)
    assert all(c.reason in ("initial", "demotion") for c in result.changes)


def test_sender_demotions_still_fire_a_day_into_a_run():
    # 123,456 s in, the clock's float spacing (1.5e-11 s) exceeds the time
    # tolerance: demotions judged from the bytes left never came due and the
    # run looped forever (the alarm turns a relapse into a failure).  They
    # fire at the same offsets as at time 0.
    start = 123_456.789
    flows = [FluidFlow("long", "r1", start, 10 * MB, ("l",)),
             FluidFlow("mid", "r2", start + 0.001, 2 * MB, ("l",))]
    policy = get_policy("pias", {"demotion_thresholds": [MB, 3 * MB]})
    signal.signal(signal.SIGALRM, _looped)
    signal.alarm(30)
    try:
        result = simulate(LINK, flows, policy=policy)
    finally:
        signal.alarm(0)
    history = result.flows["long"].queue_history
    assert [h[2] for h in history] == [0, 1, 2]
    assert [h[0] - start for h in history[1:]] == [pytest.approx(0.0008, abs=1e-7),
                                                   pytest.approx(0.0040, abs=1e-7)]
    assert result.flows["long"].finish - start == pytest.approx(0.0096, abs=1e-7)


def _looped(signum, frame):
    raise AssertionError("the simulation did not end within 30 s")

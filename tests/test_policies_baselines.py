"""fair, sjf, edf, pias and karuna decisions, table-driven."""

import pytest

from common.errors import UserError
from policies import FlowState, Scheduler, SchedulerView, get_policy
from policies.base import TICK, Decision, Policy, Trigger

LINKS = {"up": 10e9}


def flow(fid, size=10**6, rid=None, stage="other", deadline=None, sent=0):
    return FlowState(fid, rid or f"r-{fid}", stage, size, deadline=deadline, path=("up",),
                     bytes_sent=sent)


def assign_all(policy, flows, now=0.0):
    view = SchedulerView(LINKS)
    for f in flows:
        view.add(f)
    view.now = now
    return {f.flow_id: policy.assign(f, view) for f in flows}


# -- fair ----------------------------------------------------------------------

@pytest.mark.parametrize("num_queues", [1, 2, 8])
def test_fair_puts_everything_in_one_queue(num_queues):
    flows = [flow("a", 10), flow("b", 10**9, stage="p2d", deadline=0.001),
             FlowState("c", "r", "kv_fetch", 5, layer=0, path=("up",))]
    decisions = assign_all(get_policy("fair", num_queues=num_queues), flows)
    assert {d.queue for d in decisions.values()} == {0}


def test_fair_can_keep_its_data_below_the_control_packets():
    decisions = assign_all(get_policy("fair", {"queue": 1}), [flow("a"), flow("b", 10**9)])
    assert {d.queue for d in decisions.values()} == {1}
    with pytest.raises(UserError, match="fair.queue"):
        get_policy("fair", {"queue": 2}, num_queues=2)


# -- sjf -----------------------------------------------------------------------

@pytest.mark.parametrize("size, queue", [
    (1, 0), (99, 0), (100, 1), (999, 1), (1000, 2), (10**9, 2)])
def test_sjf_queue_by_size(size, queue):
    policy = get_policy("sjf", {"size_thresholds": [100, 1000]})
    assert assign_all(policy, [flow("f", size)])["f"].queue == queue


def test_sjf_fits_quantiles_of_the_trace_sizes():
    policy = get_policy("sjf", num_queues=4)
    policy.fit(range(1, 101))
    assert policy.thresholds == [26, 51, 76]
    sizes = {"a": 25, "b": 26, "c": 60, "d": 100}
    decisions = assign_all(policy, [flow(f, s) for f, s in sizes.items()])
    assert {f: d.queue for f, d in decisions.items()} == {"a": 0, "b": 1, "c": 2, "d": 3}


def test_sjf_fit_keeps_explicit_thresholds():
    policy = get_policy("sjf", {"size_thresholds": ["1KiB", "1MiB"]})
    policy.fit([1, 2, 3])
    assert policy.thresholds == [1024, 2**20]


def test_sjf_without_thresholds_says_what_to_do():
    with pytest.raises(UserError) as err:
        assign_all(get_policy("sjf"), [flow("f")])
    assert err.value.where == "sjf.size_thresholds"


def test_sjf_rejects_more_thresholds_than_queues():
    with pytest.raises(UserError) as err:
        get_policy("sjf", {"size_thresholds": [1, 2, 3, 4]}, num_queues=4)
    assert err.value.where == "sjf.size_thresholds"


# -- edf -----------------------------------------------------------------------

@pytest.mark.parametrize("num_queues, deadlines, queues", [
    (8, [0.3, 0.1, 0.2], [2, 0, 1]),
    (8, [0.2, 0.1, 0.2], [1, 0, 1]),                 # a tie shares a rank
    (8, [0.2, None, 0.1], [1, 7, 0]),                # no deadline: last queue
    (3, [0.4, 0.1, 0.2, 0.3], [2, 0, 1, 2]),         # later ranks share the last queue
])
def test_edf_queue_by_deadline_rank(num_queues, deadlines, queues):
    sched = Scheduler(get_policy("edf", num_queues=num_queues), LINKS)
    flows = [flow(f"f{i}", deadline=d) for i, d in enumerate(deadlines)]
    for f in flows:
        sched.add_flow(f, 0.0)
    assert [f.queue for f in flows] == queues


def test_edf_reranks_on_arrival_and_completion():
    sched = Scheduler(get_policy("edf"), LINKS)
    late, mid = flow("late", deadline=0.3), flow("mid", deadline=0.2)
    sched.add_flow(late, 0.0)
    sched.add_flow(mid, 0.0)
    assert (late.queue, mid.queue) == (1, 0)
    changes = sched.add_flow(flow("early", deadline=0.1), 0.01)
    assert {(c.flow_id, c.new_queue, c.reason) for c in changes} == {
        ("early", 0, "initial"), ("late", 2, "demotion"), ("mid", 1, "demotion")}
    changes = sched.complete_flow("early", 0.02)
    assert {(c.flow_id, c.new_queue, c.reason) for c in changes} == {
        ("late", 1, "promotion"), ("mid", 0, "promotion")}
    assert sched.tick(0.03) == []


def test_edf_burst_of_one_request_keeps_others():
    sched = Scheduler(get_policy("edf"), LINKS)
    sched.add_flow(flow("x", rid="rx", deadline=0.2), 0.0)
    for i in range(3):
        changes = sched.add_flow(flow(f"b{i}", rid="rb", deadline=0.1), 0.0)
        assert [(c.flow_id, c.new_queue) for c in changes] == (
            [("b0", 0), ("x", 1)] if i == 0 else [(f"b{i}", 0)])


# -- pias ----------------------------------------------------------------------

@pytest.mark.parametrize("sent, queue", [
    (0, 0), (99, 0), (100, 1), (5000, 2), (10**5, 3), (10**9, 3)])
def test_pias_at_the_controller_demotes_by_bytes_sent_at_ticks(sent, queue):
    sched = Scheduler(get_policy("pias", {"demotion_thresholds": [100, 1000, 10**4],
                                          "demote": "controller"}), LINKS)
    f = flow("f", size=10**9)
    assert sched.add_flow(f, 0.0)[0].new_queue == 0   # every flow starts on top
    sched.report_bytes("f", sent)
    changes = sched.tick(0.001)
    assert f.queue == queue
    assert [c.reason for c in changes] == (["demotion"] if queue else [])


def test_pias_at_the_controller_never_promotes_and_ignores_other_events():
    policy = get_policy("pias", {"demotion_thresholds": [100], "demote": "controller"})
    sched = Scheduler(policy, LINKS)
    f = flow("f", size=10**9)
    sched.add_flow(f, 0.0)
    sched.report_bytes("f", 500)
    assert sched.report_progress("r-f", 3, 0.001) == []   # not a tick: no demotion yet
    assert [c.new_queue for c in sched.tick(0.002)] == [1]
    sched.report_bytes("f", 0)                             # a bogus report
    assert sched.tick(0.003) == []


def test_pias_plans_every_demotion_at_arrival_for_the_sender():
    policy = get_policy("pias", {"demotion_thresholds": [100, 1000, 10**4]})
    assert policy.tick is None                  # nothing for the controller to do later
    sched = Scheduler(policy, LINKS)
    f = flow("f", size=10**9)
    [change] = sched.add_flow(f, 0.0)
    assert (change.new_queue, change.demote_at) == (0, ((100, 1), (1000, 2), (10**4, 3)))
    sched.report_bytes("f", 5000)
    assert sched.tick(0.001) == [] and f.queue == 0      # the sender demotes, not ticks
    demoted = sched.sender_demoted("f", 1, 0.002)
    assert (demoted.old_queue, demoted.new_queue, demoted.reason) == (0, 1, "demotion")
    assert f.queue == 1 and f.demote_at == ((1000, 2), (10**4, 3))
    assert sched.sender_demoted("f", 1, 0.003) is None   # a repeated report changes nothing
    assert sched.sender_demoted("f", 3, 0.004).old_queue == 1   # a skipped step is fine
    assert f.demote_at == () and [c.new_queue for c in sched.changes] == [0, 1, 3]
    sched.complete_flow("f", 0.005)
    assert sched.sender_demoted("f", 2, 0.006) is None   # the flow has left


def test_a_flow_registered_past_a_threshold_starts_below_it():
    policy = get_policy("pias", {"demotion_thresholds": [100, 1000]})
    d = assign_all(policy, [flow("f", size=10**9, sent=500)])["f"]
    assert (d.queue, d.demote_at) == (1, ((1000, 2),))


@pytest.mark.parametrize("plan", [((0, 1),), ((100, 0),), ((100, 2), (100, 3)),
                                  ((100, 2), (50, 3)), ((100, 3), (200, 2))])
def test_a_demotion_plan_must_ascend_below_the_queue(plan):
    with pytest.raises(ValueError, match="must ascend"):
        Decision(0 if plan[0][1] else 1, "initial", demote_at=plan)


def test_a_plan_past_the_last_queue_is_refused():
    class Over(Policy):          # unnamed: not registered
        def assign(self, flow, view):
            return Decision(0, "initial", demote_at=((10, 8),))
    with pytest.raises(ValueError, match="queue 8 of 8"):
        Scheduler(Over(), LINKS).add_flow(flow("f"), 0.0)


def test_pias_fits_size_quantiles():
    policy = get_policy("pias", num_queues=2)
    policy.fit([10, 20, 30, 40])
    assert policy.thresholds == [30]


# -- karuna --------------------------------------------------------------------

@pytest.mark.parametrize("size, deadline, now, pace", [
    (1_250_000, 0.100, 0.0, 100e6),      # 10 Mbit in 100 ms
    (1_250_000, 0.100, 0.050, 200e6),    # half the time left: twice the rate
    (12_500, 1.0, 0.0, 1e6),             # 0.1 Mbit/s needed: the 1 Mbit/s floor
    (125_000_000, 0.100, 0.0, None),     # needs exactly line rate: unpaced
])
def test_karuna_deadline_flows_on_top_paced_at_minimal_rate(size, deadline, now, pace):
    policy = get_policy("karuna", {"size_thresholds": [10**6], "pace_headroom": 1.0})
    d = assign_all(policy, [flow("p", size, stage="p2d", deadline=deadline)], now)["p"]
    assert d.queue == 0
    assert d.pace_bps == (None if pace is None else pytest.approx(pace))


@pytest.mark.parametrize("late_flows, expected", [("size_class", 2), ("top", 0)])
def test_karuna_lets_a_deadline_flow_that_cannot_make_it_leave_the_top(late_flows, expected):
    policy = get_policy("karuna", {"size_thresholds": [10**6], "late_flows": late_flows})
    passed = flow("p", 1_250_000, stage="p2d", deadline=0.100)
    too_big = flow("q", 126_000_000, stage="p2d", deadline=0.100)    # > line rate for 100 ms
    decisions = assign_all(policy, [passed, too_big], 0.100)
    assert decisions["p"].queue == expected and decisions["p"].pace_bps is None
    assert assign_all(policy, [too_big], 0.0)["q"].queue == expected
    # on the tick after its deadline, a paced flow gives up its place in Q0
    sched = Scheduler(get_policy("karuna", {"size_thresholds": [10**6],
                                            "late_flows": late_flows}), LINKS)
    f = flow("f", 1_250_000, stage="p2d", deadline=0.100)
    sched.add_flow(f, 0.0)
    assert f.queue == 0 and f.pace_bps is not None
    changes = sched.tick(0.101)
    assert f.queue == expected and f.pace_bps is None
    assert [c.reason for c in changes] == (["demotion"] if expected else ["pace"])
    assert sched.tick(0.102) == []


@pytest.mark.parametrize("num_queues, thresholds, size, queue", [
    (8, [10**3, 10**6], 10, 1),
    (8, [10**3, 10**6], 10**4, 2),
    (8, [10**3, 10**6], 10**7, 3),
    (8, [1, 2, 3, 4, 5, 6], 10**9, 7),   # 7 size classes fill Q1..Q7
    (2, [], 10**9, 1),
])
def test_karuna_other_flows_by_size_below_the_top(num_queues, thresholds, size, queue):
    policy = get_policy("karuna", {"size_thresholds": thresholds}, num_queues=num_queues)
    d = assign_all(policy, [flow("f", size, stage="kv_fetch")])["f"]
    assert (d.queue, d.pace_bps) == (queue, None)


def test_karuna_paces_with_its_default_headroom():
    policy = get_policy("karuna", {"size_thresholds": [10**6]})
    d = assign_all(policy, [flow("p", 1_250_000, stage="p2d", deadline=0.100)])["p"]
    assert d.pace_bps == pytest.approx(105e6)      # 10 Mbit in 100 ms, x 1.05


def test_karuna_p2d_without_deadline_is_sized():
    policy = get_policy("karuna", {"size_thresholds": [10**3]})
    assert assign_all(policy, [flow("p", 10, stage="p2d")])["p"].queue == 1


def test_karuna_rejects_thresholds_that_do_not_fit_below_the_top():
    with pytest.raises(UserError) as err:
        get_policy("karuna", {"size_thresholds": [1, 2, 3, 4, 5, 6, 7]})
    assert err.value.where == "karuna.size_thresholds"


def test_karuna_fit_ignores_p2d_sizes():
    policy = get_policy("karuna", num_queues=3)
    policy.fit([10, 20, 10**9, 10**9], ["kv_fetch", "collective", "p2d", "p2d"])
    assert policy.thresholds == [20]


def test_karuna_repaces_on_ticks_beyond_the_tolerance():
    sched = Scheduler(get_policy("karuna", {"size_thresholds": [], "pace_headroom": 1.0}), LINKS)
    p = flow("p", 1_250_000, stage="p2d", deadline=0.100)
    sched.add_flow(p, 0.0)
    assert p.pace_bps == pytest.approx(100e6)
    assert sched.tick(0.004) == []                    # needs 104.2 Mbit/s: within 5 %
    sched.report_bytes("p", 625_000)                  # on track: 5 Mbit in 50 ms left
    assert sched.tick(0.050) == []
    changes = sched.tick(0.075)                       # fell behind: needs 200 Mbit/s
    assert [(c.new_queue, c.reason) for c in changes] == [(0, "pace")]
    assert p.pace_bps == pytest.approx(200e6)
    assert [c.pace_bps for c in sched.tick(0.0999)] == [None]  # line rate needed now


def test_karuna_reevaluates_only_on_ticks():
    policy = get_policy("karuna", {"size_thresholds": []})
    view = SchedulerView(LINKS)
    f = flow("p", 1_250_000, stage="p2d", deadline=0.1)
    view.add(f)
    f.queue, f.pace_bps = 0, 1.0
    assert policy.reevaluate(view, Trigger("progress", request_id="r-p")) == {}
    assert list(policy.reevaluate(view, Trigger(TICK))) == ["p"]


@pytest.mark.parametrize("seed", range(5))
def test_edf_incremental_ranking_matches_a_full_sort(seed):
    """Random arrivals and completions: after every event each active flow sits
    in queue min(dense deadline rank, N-1) computed from scratch."""
    import random
    rng = random.Random(seed)
    sched = Scheduler(get_policy("edf", num_queues=4), LINKS)
    active = []
    for step in range(300):
        if active and rng.random() < 0.45:
            sched.complete_flow(active.pop(rng.randrange(len(active))).flow_id, step)
        else:
            rid = rng.randrange(12)
            deadline = None if rid == 0 else rid % 7 * 0.1   # ties across requests
            f = flow(f"f{step}", rid=f"r{rid}", deadline=deadline)
            sched.add_flow(f, step)
            active.append(f)
        deadlines = sorted({f.deadline for f in active if f.deadline is not None})
        for f in active:
            want = 3 if f.deadline is None else min(deadlines.index(f.deadline), 3)
            assert f.queue == want, (step, f.flow_id)

"""MFS decisions, table-driven: given flows, time and view, the expected queues.

Links run at 10 Gbit/s = 1.25e9 bytes/s, so a flow of ``m * 1.25e7`` bytes
with 10 ms left has MLU ``m``.
"""

import pytest

from common.errors import UserError
from policies import FlowState, Scheduler, SchedulerView, get_policy
from policies.mfs import MfsPolicy

RATE = 10e9
LINKS = {"up": RATE, "down": RATE, "other": RATE}
BYTES_PER_MLU = 1.25e7   # remaining bytes giving MLU 1 with 10 ms left


def p2d(fid, mlu, rid="r1", deadline=0.010, path=("up",)):
    return FlowState(fid, rid, "p2d", int(round(mlu * BYTES_PER_MLU)), deadline=deadline,
                     path=path)


def rli_flow(fid, layer, rid="r1", stage="kv_fetch"):
    return FlowState(fid, rid, stage, 10**6, layer=layer, path=("up",), deadline=0.010)


def view_of(flows, now=0.0, progress=None):
    view = SchedulerView(LINKS)
    for flow in flows:
        view.add(flow)
    view.progress.update(progress or {})
    view.now = now
    return view


@pytest.mark.parametrize("flow, progress, queue, reason", [
    (p2d("f", 0.10), {}, 6, "initial"),                   # deferred
    (p2d("f", 0.25), {}, 5, "initial"),                   # threshold itself promotes
    (p2d("f", 0.30), {}, 5, "initial"),
    (p2d("f", 0.60), {}, 4, "initial"),
    (p2d("f", 0.80), {}, 2, "initial"),
    (p2d("f", 0.95), {}, 0, "initial"),
    (p2d("f", 1.00), {}, 0, "initial"),                   # exactly line rate: still feasible
    (p2d("f", 1.50), {}, 7, "scavenger"),                 # infeasible even at line rate
    (p2d("f", 0.01, deadline=-0.001), {}, 7, "scavenger"),  # deadline already passed
    (FlowState("f", "r1", "p2d", 10**6, path=("up",)), {}, 6, "initial"),  # no deadline
    (rli_flow("f", 3), {"r1": 3}, 1, "initial"),          # RLI 0: GPU waits now
    (rli_flow("f", 1), {"r1": 3}, 1, "initial"),          # negative RLI counts as 0
    (rli_flow("f", 4), {"r1": 3}, 3, "initial"),          # RLI 1
    (rli_flow("f", 5), {"r1": 3}, 4, "initial"),          # RLI 2
    (rli_flow("f", 6), {"r1": 3}, 4, "initial"),          # RLI 3
    (rli_flow("f", 7), {"r1": 3}, 5, "initial"),          # RLI 4
    (rli_flow("f", 40), {"r1": 3}, 5, "initial"),
    (rli_flow("f", 0, stage="collective"), {}, 3, "initial"),  # queued: RLI 1
    (rli_flow("f", 0), {"r1": 0}, 1, "initial"),          # admitted: the GPU waits now
    (rli_flow("f", 2, stage="collective"), {}, 4, "initial"),  # queued: RLI 3, rli2
    (rli_flow("f", None), {}, 6, "initial"),              # no consuming layer: other
    (FlowState("f", "r1", "other", 10**6, path=("up",)), {}, 6, "initial"),
])
def test_mfs_initial_queue(flow, progress, queue, reason):
    decision = MfsPolicy().assign(flow, view_of([flow], progress=progress))
    assert (decision.queue, decision.reason) == (queue, reason)


def test_a_queued_request_can_count_as_executing_its_first_layer():
    flow = rli_flow("f", 0)
    assert MfsPolicy({"queued_layer": 0}).assign(flow, view_of([flow])).queue == 1   # rli0


def test_promoted_as_laxity_shrinks_with_time():
    policy = MfsPolicy()
    sched = Scheduler(policy, LINKS)
    flow = p2d("f", 0.3, deadline=0.010)           # MLU 0.3 now
    assert sched.add_flow(flow, 0.0)[0].new_queue == 5
    # Nothing is sent, so MLU = 3 ms / time left: 0.51, 0.77, 0.94, 0.98, 1.2.
    expected = [(0.0041, 4), (0.0061, 2), (0.0068, 0), (0.00695, None), (0.0075, 7)]
    for now, queue in expected:
        changes = sched.tick(now)
        assert [c.new_queue for c in changes] == ([] if queue is None else [queue]), now
    assert [c.reason for c in sched.changes] == [
        "initial", "promotion", "promotion", "promotion", "scavenger"]


def test_never_demoted_when_mlu_falls():
    sched = Scheduler(MfsPolicy(), LINKS)
    flow = p2d("f", 0.8)
    sched.add_flow(flow, 0.0)
    assert flow.queue == 2
    sched.report_bytes("f", flow.size_bytes * 0.99)  # MLU now ~0.008
    assert sched.tick(0.001) == []
    assert flow.queue == 2


def test_never_demoted_when_a_sibling_completes():
    sched = Scheduler(MfsPolicy(), LINKS)
    a, b = p2d("a", 0.3), p2d("b", 0.3)
    sched.add_flow(a, 0.0)
    sched.add_flow(b, 0.0)                           # request sum 0.6
    assert (a.queue, b.queue) == (4, 4)
    assert sched.complete_flow("b", 0.0) == []
    assert sched.tick(0.0001) == []                  # a alone: MLU ~0.3, stays in Q4
    assert a.queue == 4


def test_scavenged_flow_stays_scavenged():
    sched = Scheduler(MfsPolicy(), LINKS)
    flow = p2d("f", 1.2)
    assert [(c.new_queue, c.reason) for c in sched.add_flow(flow, 0.0)] == [(7, "scavenger")]
    sched.report_bytes("f", flow.size_bytes - 1)     # MLU now tiny
    assert sched.tick(0.001) == []
    assert flow.queue == 7


@pytest.mark.parametrize("scavenger, queue_at_start, queue_late", [
    (True, 0, 7),
    (False, 0, 0),     # without the scavenger a hopeless flow keeps the top queue
])
def test_scavenger_option(scavenger, queue_at_start, queue_late):
    sched = Scheduler(get_policy("mfs", {"scavenger": scavenger}), LINKS)
    flow = p2d("f", 0.95)
    sched.add_flow(flow, 0.0)
    assert flow.queue == queue_at_start
    sched.tick(0.005)                                # MLU 1.9
    assert flow.queue == queue_late
    assert ("scavenger" in [c.reason for c in sched.changes]) == scavenger


def test_rli_shrinks_as_layers_advance():
    sched = Scheduler(MfsPolicy(), LINKS)
    flow, bystander = rli_flow("f", 6), rli_flow("g", 6, rid="r2")
    sched.add_flow(flow, 0.0)
    sched.add_flow(bystander, 0.0)
    assert flow.queue == 5                           # RLI 6
    steps = [(3, 4, "promotion"), (4, None, None), (5, 3, "promotion"),
             (6, 1, "promotion"), (8, None, None)]  # RLI 3, 2, 1, 0, -2
    for layer, queue, reason in steps:
        changes = sched.report_progress("r1", layer, 0.001 * layer)
        got = [(c.flow_id, c.new_queue, c.reason) for c in changes]
        assert got == ([] if queue is None else [("f", queue, reason)]), layer
    assert sched.report_progress("r1", 2, 0.01) == []  # a stale report changes nothing
    assert bystander.queue == 5                      # other requests untouched


@pytest.mark.parametrize("scope, queues", [
    ("request", {"a0": 4, "a1": 4, "a2": 4, "a3": 4, "a4": 4, "x": 6, "y": 6}),
    ("flow", {"a0": 6, "a1": 6, "a2": 6, "a3": 6, "a4": 6, "x": 6, "y": 6}),
])
def test_mlu_scope(scope, queues):
    """Five 0.1-MLU flows of one request on one bottleneck sum to 0.5; a
    sibling on another path and another request's flow do not count."""
    sched = Scheduler(get_policy("mfs", {"mlu_scope": scope}), LINKS)
    flows = [p2d(f"a{i}", 0.1) for i in range(5)]
    flows += [p2d("x", 0.1, path=("other",)), p2d("y", 0.1, rid="r2")]
    for flow in flows:
        sched.add_flow(flow, 0.0)
    assert {f.flow_id: f.queue for f in flows} == queues


def test_sibling_arrival_promotes_earlier_flows():
    sched = Scheduler(MfsPolicy(), LINKS)
    sched.add_flow(p2d("a", 0.2), 0.0)               # alone: deferred
    changes = sched.add_flow(p2d("b", 0.2), 0.0)     # sum 0.4
    assert [(c.flow_id, c.old_queue, c.new_queue, c.reason) for c in changes] == [
        ("b", None, 5, "initial"), ("a", 6, 5, "promotion")]


def test_completion_and_unrelated_progress_touch_nothing():
    policy = MfsPolicy()
    sched = Scheduler(policy, LINKS)
    for flow in (p2d("a", 0.3), rli_flow("k", 5), p2d("b", 0.3, rid="r2")):
        sched.add_flow(flow, 0.0)
    assert sched.complete_flow("a", 0.001) == []
    assert sched.report_progress("r3", 4, 0.002) == []


@pytest.mark.parametrize("num_queues, scavenger, expected", [
    (8, True, {"mlu4": 0, "rli0": 1, "mlu3": 2, "rli1": 3, "rli2": 4, "mlu2": 4,
               "rli3": 5, "mlu1": 5, "mlu0": 6, "other": 6, "scavenger": 7}),
    (8, False, {"mlu4": 0, "rli0": 1, "mlu3": 2, "rli1": 3, "rli2": 4, "mlu2": 4,
                "rli3": 5, "mlu1": 5, "mlu0": 6, "other": 6}),
    (4, True, {"mlu4": 0, "rli0": 0, "mlu3": 0, "rli1": 1, "rli2": 1, "mlu2": 1,
               "rli3": 2, "mlu1": 2, "mlu0": 2, "other": 2, "scavenger": 3}),
    (2, True, {"mlu4": 0, "rli0": 0, "mlu3": 0, "rli1": 0, "rli2": 0, "mlu2": 0,
               "rli3": 0, "mlu1": 0, "mlu0": 0, "other": 0, "scavenger": 1}),
    (2, False, {"mlu4": 0, "rli0": 0, "mlu3": 0, "rli1": 0, "rli2": 1, "mlu2": 1,
                "rli3": 1, "mlu1": 1, "mlu0": 1, "other": 1}),
])
def test_layout_compresses_to_fewer_queues(num_queues, scavenger, expected):
    policy = get_policy("mfs", {"scavenger": scavenger}, num_queues=num_queues)
    assert policy.class_queue == expected


def test_scavenger_in_two_queues_still_separates():
    sched = Scheduler(get_policy("mfs", num_queues=2), LINKS)
    hopeless, fine = p2d("h", 2.0), p2d("f", 0.1, rid="r2")
    sched.add_flow(hopeless, 0.0)
    sched.add_flow(fine, 0.0)
    assert (hopeless.queue, fine.queue) == (1, 0)


@pytest.mark.parametrize("params, field", [
    ({"mlu_thresholds": [0.5, 0.25]}, "mfs.mlu_thresholds"),
    ({"mlu_thresholds": [0, 0.5]}, "mfs.mlu_thresholds"),
    ({"rli_bounds": [0, 2]}, "mfs.rli_bounds"),
    ({"mlu_scope": "link"}, "mfs.mlu_scope"),
    ({"scavenger_mlu": 0.5}, "mfs"),
    ({"layout": [["mlu4", "rli0", "mlu3", "rli1", "rli2", "mlu2", "rli3", "mlu1",
                  "mlu0", "other"]]}, "mfs"),                         # no scavenger
    ({"layout": [["mlu0"], ["mlu4", "rli0", "mlu3", "rli1", "rli2", "mlu2", "rli3",
                            "mlu1", "other"], ["scavenger"]]}, "mfs"),  # mlu0 above mlu4
    ({"layout": [["rli1", "mlu4", "mlu3", "mlu2", "mlu1", "mlu0", "other"],
                 ["rli0", "rli2", "rli3"], ["scavenger"]]}, "mfs"),      # rli1 above rli0
    ({"layout": [["mlu5"], ["scavenger"]]}, "mfs"),                      # unknown class
])
def test_bad_parameters_name_the_field(params, field):
    with pytest.raises(UserError) as err:
        get_policy("mfs", params)
    assert err.value.where == field


def test_custom_thresholds_and_layout():
    params = {"mlu_thresholds": [0.5], "rli_bounds": [1],
              "layout": [["mlu1", "rli0"], ["rli1", "mlu0", "other"], ["scavenger"]]}
    policy = get_policy("mfs", params, num_queues=3)
    view = view_of([p2d("a", 0.6), p2d("b", 0.4, rid="r2"), rli_flow("k", 0, rid="r3")],
                   progress={"r3": 0})
    assert [policy.assign(view.flows[f], view).queue for f in "abk"] == [0, 1, 0]


@pytest.mark.parametrize("scope, queue", [("request", 2), ("flow", 5)])
def test_mlu_counts_the_most_loaded_link_incast_at_the_decode_host(scope, queue):
    """h1->h7 and h2->h7 of one request, 0.4 MLU each: their uplinks are
    0.4 loaded, the decode host's downlink 0.8 (class mlu3, Q2). The
    per-flow scope sees 0.4 (class mlu1, Q5)."""
    links = {"h1-up": RATE, "h2-up": RATE, "h7-down": RATE}
    sched = Scheduler(get_policy("mfs", {"mlu_scope": scope}), links)
    flows = [p2d("a", 0.4, path=("h1-up", "h7-down")), p2d("b", 0.4, path=("h2-up", "h7-down"))]
    for flow in flows:
        sched.add_flow(flow, 0.0)
    assert [f.queue for f in flows] == [queue, queue]


def test_mlu_of_a_slow_link_in_the_middle_of_the_path():
    """The most loaded link weighs bytes by its rate: a 2.5 Gbit/s core
    link carrying the flow makes 0.1 MLU worth of bytes 0.4."""
    links = {"up": RATE, "core": RATE / 4, "down": RATE}
    sched = Scheduler(get_policy("mfs"), links)
    flow = p2d("a", 0.1, path=("up", "core", "down"))
    sched.add_flow(flow, 0.0)
    assert flow.queue == 5


def test_mlu_can_count_the_request_p2d_bytes_not_registered_yet():
    """Two P2D flows of r1 on one link, 0.4 MLU each: the first alone is
    class mlu1 (Q5); counting its declared sibling it is 0.8, mlu3 (Q2).
    Registering the sibling moves its bytes from 'declared' to the view, so
    nothing counts twice."""
    for unregistered, first_queue in ((False, 5), (True, 2)):
        sched = Scheduler(get_policy("mfs", {"mlu_unregistered": unregistered}), LINKS)
        flows = [p2d("a", 0.4), p2d("b", 0.4), p2d("other", 0.4, rid="r2")]
        sched.declare(flows)
        sched.add_flow(flows[0], 0.0)
        assert flows[0].queue == first_queue
        sched.add_flow(flows[1], 0.0)
        assert [f.queue for f in flows[:2]] == [2, 2]     # both registered: 0.8 either way
        sched.add_flow(flows[2], 0.0)
        assert flows[2].queue == 5                # r1's bytes never count for r2
    assert not get_policy("mfs").plans_ahead                 # nothing declared by default


def test_a_scavenged_p2d_flow_can_take_its_whole_request_down():
    sched = Scheduler(get_policy("mfs", {"scavenge_request": True}), LINKS)
    kv, other = rli_flow("kv", 0), rli_flow("kv2", 0, rid="r2")
    for flow in (kv, other):
        sched.add_flow(flow, 0.0)
    changes = sched.add_flow(p2d("late", 1.5), 0.0)          # infeasible even at line rate
    assert [(c.flow_id, c.new_queue, c.reason) for c in changes] == [
        ("late", 7, "scavenger"), ("kv", 7, "scavenger")]
    assert other.queue == 3                                  # r2 is not touched
    later = rli_flow("coll", 1, stage="collective")
    sched.add_flow(later, 0.0)
    assert later.queue == 7                                  # r1's later flows start there
    assert sched.report_progress("r1", 1, 0.001) == []       # and stay there
    with pytest.raises(UserError, match="scavenge_request needs the scavenger"):
        get_policy("mfs", {"scavenge_request": True, "scavenger": False})


def test_a_run_warns_when_mfs_cannot_tell_queued_requests_from_admitted_ones(tmp_path):
    from experiments.experiment import unadmitted_note
    from traces import load_trace
    from traces.scenarios import demotion_trace

    synthesized = load_trace("traces/default_workload.jsonl")
    assert unadmitted_note(synthesized, ["fair", "mfs"]) is None      # it has admit nodes
    bare = demotion_trace()                                          # no admit nodes
    assert "no 'admitted' nodes" in unadmitted_note(bare, ["mfs"])
    assert unadmitted_note(bare, ["fair"]) is None
    config = tmp_path / "p.yaml"
    config.write_text("mfs: {queued_layer: 0}\n")
    assert unadmitted_note(bare, ["mfs"], str(config)) is None

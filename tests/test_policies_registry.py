"""Finding policies by name, their parameter files, the scheduler and the CLI."""

import argparse
import sys

import pytest

import policies as policies_package
from common.errors import UserError
from policies import cli
from policies import (
    DEFAULT_CONFIG, FlowState, Scheduler, get_policy, policy_classes, read_policy_config)
from policies import registry
from policies.base import Decision, Policy
from policies.layout import level_queues
from policies.thresholds import quantile_thresholds

SIX = {"fair", "sjf", "edf", "pias", "karuna", "mfs"}


def test_the_six_policies_are_registered_with_one_line_descriptions():
    classes = policy_classes()
    assert SIX <= set(classes)
    for name, cls in classes.items():
        assert cls.name == name
        assert cls.description and "\n" not in cls.description and len(cls.description) < 90


@pytest.mark.parametrize("name", sorted(SIX))
def test_shipped_defaults_match_the_models(name):
    section = read_policy_config()[name]
    cls = policy_classes()[name]
    assert cls.Params.model_validate(section) == cls.Params()


def test_unknown_policy():
    with pytest.raises(UserError) as err:
        get_policy("lifo")
    assert err.value.where == "policy" and "mfs" in err.value.message


@pytest.mark.parametrize("name, params, where", [
    ("mfs", {"bogus": 1}, "mfs.bogus"),
    ("karuna", {"pace_headroom": 0.5}, "karuna.pace_headroom"),
    ("karuna", {"min_pace_bps": "fast"}, "karuna.min_pace_bps"),
    ("pias", {"demotion_thresholds": [10, 5]}, "pias.demotion_thresholds"),
    ("mfs", {"layout": [["mlu4"], [3]]}, "mfs.layout[1][0]"),
    ("mfs", {"tick": "0ms"}, "mfs.tick"),
    ("pias", {"tick": "soon"}, "pias.tick"),
])
def test_bad_params_name_policy_and_field(name, params, where):
    with pytest.raises(UserError) as err:
        get_policy(name, params)
    assert err.value.where == where


@pytest.mark.parametrize("name, params, tick", [
    ("fair", None, None), ("sjf", None, None), ("edf", None, None),   # ticks change nothing
    ("mfs", None, 0.001), ("pias", {"tick": "250us", "demote": "controller"}, 250e-6),
    ("pias", {"tick": "250us"}, None), ("karuna", {"tick": 0.01}, 0.01),
])
def test_tick_period_is_a_parameter_of_the_policies_that_tick(name, params, tick):
    assert get_policy(name, params).tick == (None if tick is None else pytest.approx(tick))


def test_too_few_queues():
    with pytest.raises(UserError) as err:
        get_policy("mfs", num_queues=1)
    assert "at least 2 queues" in err.value.message


def test_user_yaml_overrides_defaults_field_by_field(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("mfs:\n  mlu_scope: flow\nkaruna:\n  min_pace_bps: 10Mbps\n")
    mfs = get_policy("mfs", config=str(path))
    assert mfs.params.mlu_scope == "flow" and mfs.params.scavenger is True
    assert get_policy("karuna", config=str(path)).params.min_pace_bps == 10e6
    assert get_policy("mfs", {"scavenger": False}, config=str(path)).params.mlu_scope == "flow"


@pytest.mark.parametrize("text, where, message", [
    ("lifo: {}\n", "{path}: lifo", "unknown policy"),
    ("mfs:\n  scavenger_mlu: [1]\n", "{path}: mfs.scavenger_mlu", "number"),
    ("mfs: [1, 2]\n", "{path}", "mapping"),
    ("- mfs\n", "{path}", "expected a YAML mapping"),
    ("mfs: {a: [}\n", "{path}:1", "malformed YAML"),
])
def test_bad_user_yaml(tmp_path, text, where, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        read_policy_config(str(path))
    assert err.value.where == where.format(path=path)
    assert message in err.value.message


def test_missing_yaml():
    with pytest.raises(UserError) as err:
        read_policy_config("/nonexistent/policies.yaml")
    assert err.value.where == "/nonexistent/policies.yaml"


def test_a_dropped_in_module_is_discovered(tmp_path, monkeypatch):
    (tmp_path / "lifo.py").write_text(
        "from policies.base import Decision, Policy\n"
        "class LifoPolicy(Policy):\n"
        "    name = 'lifo'\n"
        "    description = 'a test policy'\n"
        "    def assign(self, flow, view):\n"
        "        return Decision(self.num_queues - 1, 'initial')\n")
    monkeypatch.setattr(policies_package, "__path__", [*policies_package.__path__,
                                                       str(tmp_path)])
    monkeypatch.setattr(registry, "_classes", None)
    try:
        assert "lifo" in policy_classes()
        assert get_policy("lifo", num_queues=4).num_queues == 4
    finally:
        sys.modules.pop("policies.lifo", None)
        registry._classes = None


def test_cli_lists_one_line_per_policy(capsys, tmp_path):
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["policies"])
    assert args.func(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == sorted(policy_classes())
    bad = tmp_path / "bad.yaml"
    bad.write_text("mfs: {mlu_scope: link}\n")
    args = parser.parse_args(["policies", "--config", str(bad)])
    with pytest.raises(UserError):
        args.func(args)


# -- scheduler: the calls both data planes make -------------------------------

class _Fixed(Policy):
    """Assigns the queue named in the flow's src; reevaluates to a preset dict."""
    planned = {}

    def assign(self, flow, view):
        return Decision(int(flow.src), "initial")

    def reevaluate(self, view, trigger):
        return self.planned.get(trigger.kind, {})


def test_scheduler_logs_every_change_with_time():
    policy = _Fixed(num_queues=4)
    seen = []
    sched = Scheduler(policy, {"l": 1e9}, on_change=seen.append)
    sched.add_flow(FlowState("f", "r", "other", 10, src="2", path=("l",)), 1.0)
    policy.planned = {"tick": {"f": Decision(0, "promotion")}}
    sched.tick(2.0)
    sched.tick(3.0)                                  # same decision again: no change
    assert [(c.time, c.flow_id, c.old_queue, c.new_queue, c.reason) for c in sched.changes] \
        == [(1.0, "f", None, 2, "initial"), (2.0, "f", 2, 0, "promotion")]
    assert seen == sched.changes


def test_scheduler_checks_queue_range_and_time():
    sched = Scheduler(_Fixed(num_queues=4), {"l": 1e9})
    with pytest.raises(ValueError):
        sched.add_flow(FlowState("f", "r", "other", 10, src="4", path=("l",)), 0.0)
    sched.tick(5.0)
    with pytest.raises(ValueError):
        sched.tick(4.0)


def test_view_finds_bottleneck_and_rejects_unknown_links():
    sched = Scheduler(_Fixed(num_queues=2), {"a": 100e9, "b": 25e9, "c": 100e9})
    f = FlowState("f", "r", "other", 10, src="0", path=("a", "b", "c"))
    sched.add_flow(f, 0.0)
    assert (f.bottleneck_link, f.bottleneck_rate_bps) == ("b", 25e9)
    with pytest.raises(UserError):
        sched.add_flow(FlowState("g", "r", "other", 10, src="0", path=("a", "z")), 0.0)
    with pytest.raises(ValueError):
        FlowState("h", "r", "prefill", 10)


def test_view_indexes_follow_arrivals_and_completions():
    sched = Scheduler(_Fixed(num_queues=2), {"a": 1e9, "b": 1e9})
    for fid, rid, path in [("f1", "r1", ("a",)), ("f2", "r1", ("b",)), ("f3", "r2", ("a",))]:
        sched.add_flow(FlowState(fid, rid, "p2d", 10, src="0", path=path, deadline=1.0), 0.0)
    view = sched.view
    assert [f.flow_id for f in view.request_flows_on_link("r1", "a")] == ["f1"]
    assert sorted(view.active_requests()) == ["r1", "r2"]
    version = view.requests_version
    sched.complete_flow("f3", 0.1)
    assert list(view.active_requests()) == ["r1"] and view.requests_version == version + 1
    assert sorted(f.flow_id for f in view.flows_in_stage("p2d")) == ["f1", "f2"]


# -- shared helpers ------------------------------------------------------------

@pytest.mark.parametrize("levels, queues, reserve, expected", [
    (3, 8, False, [0, 1, 2]),
    (8, 8, False, list(range(8))),
    (8, 4, False, [0, 0, 1, 1, 2, 2, 3, 3]),
    (7, 3, False, [0, 0, 0, 1, 1, 2, 2]),
    (8, 8, True, list(range(8))),
    (8, 2, True, [0] * 7 + [1]),
    (3, 8, True, [0, 1, 7]),
])
def test_level_queues(levels, queues, reserve, expected):
    assert level_queues(levels, queues, reserve) == expected


@pytest.mark.parametrize("sizes, classes, expected", [
    (range(1, 101), 4, [26, 51, 76]),
    ([5] * 10, 4, []),                               # all equal: one class
    ([1, 1, 1, 9], 2, [9]),                          # ties: the next larger size
    ([1] * 50 + [2] * 50 + [3], 4, [2, 3]),
    ([], 8, []),
])
def test_quantile_thresholds(sizes, classes, expected):
    assert quantile_thresholds(sizes, classes) == expected


def test_default_config_path_exists():
    assert DEFAULT_CONFIG.endswith("policies/policies.yaml")
    assert set(read_policy_config()) == SIX

"""What the orchestrator hands out before a replay: ports, notices, the flow table."""

import pytest

from common.errors import UserError
from experiments import replay
from experiments.bench_traces import all_to_all
from experiments.replay import DATA_PORT, FIRST_SPORT, ReplayPlan
from netmodel import routing
from netmodel.topology import load_topology
from tests.scenarios import contention_trace


@pytest.fixture(scope="module")
def tor():
    return load_topology("single_tor_8")


def test_every_flow_gets_its_own_source_port_on_its_host(tor):
    trace = all_to_all(8, iterations=3)
    plan = ReplayPlan(trace, tor)
    by_host = {}
    for entry in plan.flow_table:
        by_host.setdefault(entry["src"], []).append(entry["sport"])
        assert entry["dport"] == DATA_PORT
    for ports in by_host.values():
        assert len(set(ports)) == len(ports) and min(ports) >= FIRST_SPORT


def test_notices_go_to_the_hosts_that_wait(tor):
    plan = ReplayPlan(contention_trace(), tor)
    # a.attn0 runs on h1 and a.a2a (sent by h1) waits for it: no notice needed
    assert plan.notify["h1"] == {}
    # in an all-to-all, a rank's next step waits for flows that end on it
    plan = ReplayPlan(all_to_all(4, iterations=2), tor)
    flows_into_h2 = [n.id for n in all_to_all(4, iterations=2).nodes
                     if n.kind == "flow" and n.dst == "h2" and n.request_id == "a2a0"]
    # those flows end on h2, whose own compute node waits for them: local
    assert all(f not in plan.notify["h2"] for f in flows_into_h2)
    # h2's compute node ends on h2 and gates h2's own next flows: local too
    assert all(not targets or "h2" not in targets for targets in plan.notify["h2"].values())


def test_remote_dependencies_are_announced_to_the_waiting_host(tor):
    from experiments.bench_traces import chain

    plan = ReplayPlan(chain(8, flows=4), tor)
    # c1 is sent by h2 and waits for c0, which ends on h2: local.  c2 is sent
    # by h5 and waits for c1, which ends on h3: h3 must tell h5.
    assert plan.notify["h3"] == {"c1": ["h5"]}


def test_a_host_with_more_flows_than_ports_is_refused(tor, monkeypatch):
    monkeypatch.setattr(replay, "LAST_SPORT", FIRST_SPORT + 2)
    monkeypatch.setattr(routing, "LAST_SPORT", FIRST_SPORT + 2)
    with pytest.raises(UserError, match="sends more than 3 flows"):
        ReplayPlan(all_to_all(8, iterations=1), tor)

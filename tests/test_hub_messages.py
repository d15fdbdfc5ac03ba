"""The typed messages at the process boundaries: the hub channel (and a real
hub refusing a bad line) and the registry notices and decision pushes."""

import socket
import time

import pytest

from emulator import hub_messages as msg
from emulator.hub import Hub


@pytest.mark.parametrize("message", [
    msg.Listening(host="h1"), msg.Ready(host="h2", connect_errors=3), msg.Done(node="r0.p2d"),
    msg.Failed(node="r1.a2a", reason="connect refused"), msg.Connect(), msg.Start(t0=12.5),
    msg.Stop()])
def test_round_trip(message):
    assert msg.parse(message.encode()) == message


@pytest.mark.parametrize("line, error", [
    (b"not json\n", "malformed JSON"),
    (b'{"op": "ready"}\n', "ready.host"),
    (b'{"op": "teleport"}\n', "does not match any of the expected tags"),
    (b'{"op": "ready", "host": "h1", "connect_errors": -1}\n', "connect_errors"),
    (b'{"op": "done", "node": "x", "extra": 1}\n', "extra"),
])
def test_bad_lines_name_what_is_wrong(line, error):
    with pytest.raises(msg.HubProtocolError, match=error):
        msg.parse(line)


def _agent(hub, path, host=None, token=None):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    if host:
        sock.sendall(msg.Listening(host=host, token=token or hub.token_for(host)).encode())
    return sock


def _refusals(hub, count):
    deadline = time.monotonic() + 5
    while len(hub.refused) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return hub.refused


def test_hub_counts_a_malformed_line_and_keeps_the_good_ones(tmp_path):
    hub = Hub(str(tmp_path / "hub.sock"), {"n1": {"h1"}})
    try:
        sock = _agent(hub, str(tmp_path / "hub.sock"), "h1")
        sock.sendall(b'{"op": "done"}\n' + msg.Done(node="n1").encode())
        assert hub.wait(lambda: hub.finished == 1, timeout=5)
        assert hub.done == {"n1"} and len(_refusals(hub, 1)) == 1
        assert "done.node" in hub.refused[0]
        sock.close()
    finally:
        hub.close()


def test_the_hub_believes_an_agent_only_about_its_own_hosts_nodes(tmp_path):
    path = str(tmp_path / "hub.sock")
    hub = Hub(path, {"h1.compute": {"h1"}, "f12": {"h1", "h2"}, "h3.compute": {"h3"}})
    try:
        anonymous = _agent(hub, path)
        anonymous.sendall(msg.Done(node="f12").encode())                 # never said who it is
        forger = _agent(hub, path, "h3", token=hub.token_for("h1"))      # h1's token for h3
        forger.sendall(msg.Done(node="h3.compute").encode())
        h2 = _agent(hub, path, "h2")
        h2.sendall(msg.Done(node="h1.compute").encode()                 # not h2's node
                   + msg.Done(node="ghost").encode()                    # not in the trace
                   + msg.Done(node="f12").encode())                     # h2 receives f12: yes
        assert hub.wait(lambda: hub.finished == 1, timeout=5)
        refused = _refusals(hub, 5)      # the forger's done too: its connection is unbound
        assert hub.done == {"f12"} and len(refused) == 5, refused
        assert any("before listening" in r for r in refused)
        assert any("listening as 'h3': bad token" in r for r in refused)
        assert any("'h1.compute': not a node of 'h2'" in r for r in refused)
        assert any("unknown node 'ghost'" in r for r in refused)
        for sock in (anonymous, forger, h2):
            sock.close()
    finally:
        hub.close()


# -- the registry's messages, built by the agents and the controller ---------------------------

def test_every_notice_an_agent_builds_parses_on_the_controller():
    from controller.protocol import notice, parse_request

    for op, fields in (("arrive", {"flow_id": "r0.p2d"}), ("complete", {"flow_id": "r0.p2d"}),
                       ("progress", {"request_id": "r0", "layer": 3}),
                       ("bytes", {"flows": {"r0.p2d": 1024.0}})):
        request = parse_request(notice("token", op, **fields))
        assert request.op == op and request.token == "token"
    with pytest.raises(ValueError, match="unknown field"):
        notice("token", "arrive", flow="r0")
    with pytest.raises(ValueError, match="not a notice"):
        notice("token", "declare")


def test_the_decision_push_has_the_fields_the_agent_reads():
    from controller.protocol import DecisionPush, decision_push

    push = DecisionPush.model_validate(decision_push("r0.p2d", 2, 0xa0, None, "promotion", 1.5))
    assert (push.queue, push.tos, push.reason) == (2, 0xa0, "promotion")


def test_declare_chunks_stay_under_the_line_limit_whatever_the_ids():
    from controller.protocol import MAX_LINE, declare_chunks, encode
    # 200-character non-ASCII ids escape to 1,200 bytes each: 1,000 such
    # flows (the old fixed chunk) encoded to 2.4 MB, over the 1 MiB limit
    table = [{"flow_id": f"{i:04d}" + "é" * 196, "request_id": "ü" * 200, "bytes": 1}
             for i in range(3000)]
    chunks = list(declare_chunks(table))
    assert [e for c in chunks for e in c] == table
    assert all(len(encode({"op": "declare", "flow_table": c})) < MAX_LINE for c in chunks)
    assert len(chunks) > 3
    assert list(declare_chunks([])) == [] and list(declare_chunks(table[:1], budget=1)) == [table[:1]]

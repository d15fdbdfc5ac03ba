"""Root integration: the controller process against real Open vSwitch."""

import json
import random
import socket
import subprocess
import time

import pytest

from controller.client import RegistryClient, RegistryError
from controller.process import ControllerProcess
from netmodel.dilation import Dilation
from emulator.fabric import Fabric
from netmodel.queues import dscp_for_queue
from netmodel.topology import load_topology

pytestmark = pytest.mark.root


def flow(flow_id="f1", **changes):
    spec = dict(flow_id=flow_id, request_id="r1", stage="collective", layer=0, bytes=1_000_000,
                deadline=None, src="h1", dst="h5", proto="tcp", sport=40000, dport=7000)
    spec.update(changes)
    return spec


def dump_flows(switch):
    return subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", switch],
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def controlled_fabric(root_env, tmp_path_factory):
    topo = load_topology("leaf_spine")
    dilation = Dilation.for_topology(topo)
    out = tmp_path_factory.mktemp("controller")
    with ControllerProcess(topo.path, "mfs", out, dilation) as ctl:
        with Fabric(topo, dilation, controller=ctl.address) as fabric:
            ctl.wait_for_switches(len(topo.switches))
            client = ctl.client(host="h1")
            client.request("start", t0=time.monotonic())
            yield topo, ctl, fabric, client
            client.close()


def test_forwarding_works_through_the_controller(controlled_fabric):
    _, _, fabric, _ = controlled_fabric
    assert fabric.net.pingAll(timeout=2) == 0.0


def wait_for(pushes, predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in list(pushes) if predicate(p)]
        if found:
            return found[-1]
        time.sleep(0.02)
    return None


def test_declare_pins_ecmp_paths_only_where_a_switch_has_a_choice(controlled_fabric):
    topo, ctl, fabric, client = controlled_fabric
    reply = client.request("declare", flow_table=[flow("pin", src="h1", dst="h16")])
    assert reply["declared"] == 1 and reply["rules"] >= 1
    # leaf1 chooses between the spines: the flow's 5-tuple is pinned there,
    # forwarding only (the sender marks its packets, no switch re-marks them)
    rules = [l for l in dump_flows(topo.nodes["leaf1"].internal).splitlines() if "tp_src=40000" in l]
    assert len(rules) == 1 and "set_field" not in rules[0] and "output:" in rules[0]
    # the last leaf has one way to h16: the per-destination rule serves it
    assert "tp_src=40000" not in dump_flows(topo.nodes["leaf4"].internal)


def test_arrival_gets_its_decision_pushed_and_progress_promotes(controlled_fabric):
    topo, ctl, fabric, client = controlled_fabric
    pushes = []
    sender = ctl.client(host="h2", on_push=pushes.append)
    try:
        sender.request("declare", flow_table=[flow("later", request_id="r9", layer=3, src="h2",
                                                   dst="h3", sport=40001)])
        sender.notify("arrive", flow_id="later")
        first = wait_for(pushes, lambda p: p.get("flow_id") == "later")
        assert first is not None and first["push"] == "decision"
        # MFS: r9 has not started (queued_layer -1), so layer 3 is RLI 4
        assert first["queue"] == 5 and first["reason"] == "initial"
        assert first["tos"] == dscp_for_queue(5, 8) << 2 and first["decided_at"] > 0
        sender.notify("progress", request_id="r9", layer=3)   # the GPU now waits for it
        promoted = wait_for(pushes, lambda p: p.get("flow_id") == "later" and p["queue"] == 1)
        assert promoted is not None and promoted["reason"] == "promotion"
        assert promoted["tos"] == dscp_for_queue(1, 8) << 2
        held = sender.request("status")
        sender.notify("complete", flow_id="later")
        status = sender.request("status")
        assert status["flows"] == 0
        # r9's last flow is done: its progress and bookkeeping are released
        assert status["requests_with_progress"] == held["requests_with_progress"] - 1
        assert status["requests_unfinished"] == held["requests_unfinished"] - 1
    finally:
        sender.close()


def test_a_batch_progress_report_promotes_the_batch_and_its_requests(controlled_fabric):
    _, ctl, _, _ = controlled_fabric
    pushes = []
    sender = ctl.client(host="h5", on_push=pushes.append)
    try:
        sender.request("declare", flow_table=[
            flow("b7.L2.dispatch", request_id="b7", layer=2, stage="collective", src="h5",
                 dst="h6", sport=40011),
            flow("r71.L2.kv_fetch", request_id="r71", layer=2, stage="kv_fetch", src="h5",
                 dst="h6", sport=40012),
            flow("r99.L2.kv_fetch", request_id="r99", layer=2, stage="kv_fetch", src="h5",
                 dst="h6", sport=40013)])
        for fid in ("b7.L2.dispatch", "r71.L2.kv_fetch", "r99.L2.kv_fetch"):
            sender.notify("arrive", flow_id=fid)
            assert wait_for(pushes, lambda p, f=fid: p.get("flow_id") == f) is not None
        # the batch b7 (requests r71, r72) starts layer 2: its all-to-all and
        # r71's own KV fetch are needed now; r99 is in no batch that reported
        sender.notify("progress", request_id="b7", layer=2, members=["r71", "r72"])
        for fid in ("b7.L2.dispatch", "r71.L2.kv_fetch"):
            promoted = wait_for(pushes, lambda p, f=fid: p.get("flow_id") == f and p["queue"] == 1)
            assert promoted is not None and promoted["reason"] == "promotion", fid
        time.sleep(0.2)
        assert not [p for p in pushes if p.get("flow_id") == "r99.L2.kv_fetch" and p["queue"] == 1]
        for fid in ("b7.L2.dispatch", "r71.L2.kv_fetch", "r99.L2.kv_fetch"):
            sender.notify("complete", flow_id=fid)
    finally:
        sender.close()


def test_a_refused_notice_comes_back_as_an_error_push(controlled_fabric):
    _, ctl, _, _ = controlled_fabric
    pushes = []
    agent = ctl.client(host="h4", on_push=pushes.append)
    try:
        agent.notify("arrive", flow_id="never-declared")
        error = wait_for(pushes, lambda p: p.get("push") == "error")
        assert error["op"] == "arrive" and error["flow_id"] == "never-declared"
        assert "not declared" in error["error"]
    finally:
        agent.close()


@pytest.mark.parametrize("payload, error", [
    (b"not json\n", "malformed JSON"),
    (b"[1,2]\n", "JSON object"),
    (b'{"op": "ping"}\n', "token"),
    (b'{"token": "x", "op": "fly"}\n', "op"),
])
def test_registry_rejects_bad_requests_with_a_reason(controlled_fabric, payload, error):
    _, ctl, _, _ = controlled_fabric
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(ctl.socket_path)
        sock.sendall(payload)
        reply = json.loads(sock.makefile("rb").readline())
    assert reply["ok"] is False and error in reply["error"]


def test_a_host_token_speaks_for_its_host_only(controlled_fabric):
    from controller.protocol import host_token
    _, ctl, _, _ = controlled_fabric
    h2 = RegistryClient(ctl.socket_path, host_token(ctl.token, "h2"), host="h2")
    assert h2.request("ping")["ok"] is True
    h2.close()
    with pytest.raises(RegistryError, match="unauthenticated"):     # h2's token, hello as h5
        RegistryClient(ctl.socket_path, host_token(ctl.token, "h2"), host="h5")
    unbound = RegistryClient(ctl.socket_path, host_token(ctl.token, "h2"))
    with pytest.raises(RegistryError, match="unauthenticated"):     # no hello: no host
        unbound.request("ping")
    unbound.close()


def test_a_switch_that_is_not_the_runs_is_refused(controlled_fabric):
    _, ctl, _, client = controlled_fabric
    before = client.request("status")
    subprocess.run(["ovs-vsctl", "add-br", "intruder0", "--", "set", "bridge", "intruder0",
                    "datapath_type=netdev", "other-config:datapath-id=00000000000000fe",
                    "--", "set-controller", "intruder0", f"tcp:{ctl.address[0]}:{ctl.address[1]}"],
                   check=True)
    try:
        deadline = time.monotonic() + 15
        while client.request("status")["refused_switches"] == before["refused_switches"]:
            assert time.monotonic() < deadline, "the intruder was never refused"
            time.sleep(0.1)
        assert client.request("status")["switches"] == before["switches"]
    finally:
        subprocess.run(["ovs-vsctl", "--if-exists", "del-br", "intruder0"], check=True)


def test_registry_rejects_a_wrong_token_and_bad_declarations(controlled_fabric):
    _, ctl, _, client = controlled_fabric
    declared = client.request("status")["declared"]
    bad = RegistryClient(ctl.socket_path, "wrong-token")
    with pytest.raises(RegistryError, match="unauthenticated"):
        bad.request("ping")
    bad.close()
    with pytest.raises(RegistryError, match=r"flow_table\[0\]\.dst: unknown host 'h99'"):
        client.request("declare", flow_table=[flow("x", dst="h99")])
    with pytest.raises(RegistryError, match="bytes"):
        client.request("declare", flow_table=[flow("y", bytes=-5)])
    with pytest.raises(RegistryError, match=r"flow_table\[1\]: flow 'z' is already declared"):
        client.request("declare", flow_table=[flow("z"), flow("z", sport=40009)])
    # nothing of a refused table is kept
    assert client.request("status")["declared"] == declared


def test_controller_survives_fuzzed_requests(controlled_fabric):
    _, ctl, _, client = controlled_fabric
    rng = random.Random(7)
    good = json.dumps({"id": 1, "token": ctl.token, "op": "declare",
                       "flow_table": [flow("fz")]}).encode()
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            action = rng.random()
            pos = rng.randrange(len(data))
            if action < 0.4:
                data[pos] = rng.randrange(256)
            elif action < 0.7:
                del data[pos:pos + rng.randint(1, 10)]
            else:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 10)))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(ctl.socket_path)
            sock.sendall(bytes(data).replace(b"\n", b" ") + b"\n")
            try:
                sock.makefile("rb").readline()
            except socket.timeout:
                pytest.fail(f"no reply to fuzzed request {bytes(data)!r}")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:   # an over-long line
        sock.connect(ctl.socket_path)
        sock.sendall(b"x" * (2 << 20) + b"\n")
    assert ctl.proc.poll() is None
    assert client.request("ping")["ok"]
    status = client.request("status")
    assert len(status["switches"]) == status["expected_switches"]

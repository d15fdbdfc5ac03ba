"""Root integration: the controller process against real Open vSwitch."""

import json
import random
import socket
import subprocess
import time

import pytest

from controller.client import RegistryClient, RegistryError
from controller.process import ControllerProcess
from emulator.dilation import Dilation
from emulator.fabric import Fabric
from emulator.queues import dscp_for_queue
from emulator.topology import load_topology

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


def test_registration_installs_dscp_remarking_on_the_path(controlled_fabric):
    topo, ctl, fabric, client = controlled_fabric
    reply = client.request("register", flow=flow("mark", src="h1", dst="h16"))
    assert reply["queue"] == 1          # MFS: RLI 0 collective
    first_hop = topo.nodes["leaf1"].internal
    rules = dump_flows(first_hop)
    dscp = dscp_for_queue(reply["queue"], 8)
    assert f"tp_src=40000,tp_dst=7000 actions=set_field:{dscp}->ip_dscp" in rules
    # the other switches on the path forward the flow without re-marking
    last_hop = topo.nodes["leaf4"].internal
    assert "tp_src=40000" in dump_flows(last_hop)
    assert "set_field" not in [l for l in dump_flows(last_hop).splitlines() if "tp_src=40000" in l][0]
    client.request("complete", flow_id="mark")
    time.sleep(0.3)
    assert "tp_src=40000" not in dump_flows(first_hop)


def test_progress_promotes_and_rewrites_the_rule(controlled_fabric):
    topo, ctl, fabric, client = controlled_fabric
    pushes = []
    sender = ctl.client(host="h2", on_push=pushes.append)
    try:
        reply = sender.request("register", flow=flow("later", request_id="r9", layer=3, src="h2",
                                                     dst="h3", sport=40001))
        assert reply["queue"] == 4      # RLI 3
        sender.request("progress", request_id="r9", layer=3)   # the GPU now waits for it
        deadline = time.monotonic() + 5
        while not pushes and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pushes and pushes[-1]["queue"] == 1 and pushes[-1]["flow_id"] == "later"
        assert pushes[-1]["tos"] == dscp_for_queue(1, 8) << 2
        rules = dump_flows(topo.nodes["leaf1"].internal)
        assert f"tp_src=40001,tp_dst=7000 actions=set_field:{dscp_for_queue(1, 8)}->ip_dscp" in rules
    finally:
        sender.close()


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


def test_registry_rejects_a_wrong_token_and_unknown_hosts(controlled_fabric):
    _, ctl, _, client = controlled_fabric
    bad = RegistryClient(ctl.socket_path, "wrong-token")
    with pytest.raises(RegistryError, match="unauthenticated"):
        bad.request("ping")
    bad.close()
    with pytest.raises(RegistryError, match="unknown host 'h99'"):
        client.request("register", flow=flow("x", dst="h99"))
    with pytest.raises(RegistryError, match="bytes"):
        client.request("register", flow=flow("y", bytes=-5))
    with pytest.raises(RegistryError, match="not registered"):
        client.request("complete", flow_id="never")


def test_controller_survives_fuzzed_requests(controlled_fabric):
    _, ctl, _, client = controlled_fabric
    rng = random.Random(7)
    good = json.dumps({"token": ctl.token, "op": "register", "flow": flow("fz")}).encode()
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

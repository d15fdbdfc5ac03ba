"""Backlogged test traffic between emulated hosts with iperf3 (real kernel TCP).

Used by the fabric self-test and the integration tests: start one iperf3
server per flow on the receiver, start the clients together, and read the
receiver-side goodput from iperf3's JSON.
"""

import json
import time
from dataclasses import dataclass

BASE_PORT = 5201


@dataclass(frozen=True)
class TestFlow:
    __test__ = False      # not a pytest test class
    src: str
    dst: str
    tos: int = 0          # IP TOS byte (DSCP << 2)


@dataclass(frozen=True)
class FlowResult:
    flow: TestFlow
    goodput_bps: float    # payload bits per second seen by the receiver
    retransmits: int


def run_backlogged(fabric, flows, seconds=6.0, omit=1.0, congestion=None):
    """Run all ``flows`` at once for ``seconds`` (+``omit`` warm-up); return FlowResults."""
    servers, clients = [], []
    for i, flow in enumerate(flows):
        servers.append(fabric.popen(flow.dst, ["iperf3", "-s", "-1", "-p", BASE_PORT + i]))
    time.sleep(0.5)  # let the servers bind
    for i, flow in enumerate(flows):
        args = ["iperf3", "-c", fabric.ip(flow.dst), "-p", BASE_PORT + i, "-J",
                "-t", f"{seconds + omit:g}", "-O", f"{omit:g}", "-S", flow.tos]
        if congestion:
            args += ["-C", congestion]
        clients.append(fabric.popen(flow.src, args))
    results = []
    for flow, client in zip(flows, clients):
        out, err = client.communicate(timeout=seconds + omit + 30)
        report = json.loads(out.decode() or "{}")
        if "error" in report or client.returncode:
            raise RuntimeError(f"iperf3 {flow.src}->{flow.dst}: "
                               f"{report.get('error') or err.decode().strip()}")
        end = report["end"]
        results.append(FlowResult(flow, end["sum_received"]["bits_per_second"],
                                  int(end["sum_sent"].get("retransmits", 0))))
    for server in servers:
        server.wait(timeout=10)
    return results

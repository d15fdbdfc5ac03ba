"""Controller benchmark: how fast decisions become switch rules.

Starts the controller (MFS) and the default fabric, then as one client:
registers N collective flows (each reply waits for the switch's barrier, so
its latency is decision-to-rule), advances every request through its layers
so MFS promotes flows (each promotion is an ``OFPFC_MODIFY_STRICT`` plus a
barrier), and completes every flow (rule deletions).  Reports registration
latency p50/p99, decision-to-rule latency p50/p99 as the controller measured
it, and rule changes per second.  Numbers, not pass/fail.
"""

import json
import os
import time

import numpy as np

from controller.process import ControllerProcess
from emulator.fabric import Fabric


def run_bench(topology, dilation, out_dir, flows=2000, layers=8, requests=50, echo=print):
    hosts = [h.name for h in topology.hosts]
    with ControllerProcess(topology.path, "mfs", out_dir, dilation) as ctl:
        with Fabric(topology, dilation, controller=ctl.address):
            ctl.wait_for_switches(len(topology.switches))
            client = ctl.client(host=hosts[0])
            client.request("start", t0=time.monotonic())
            latencies = []
            begin = time.monotonic()
            for i in range(flows):
                src, dst = hosts[i % len(hosts)], hosts[(i + 1 + i // len(hosts)) % len(hosts)]
                if src == dst:
                    dst = hosts[(i + 2) % len(hosts)]
                t = time.monotonic()
                client.request("register", flow={
                    "flow_id": f"f{i}", "request_id": f"r{i % requests}", "stage": "collective",
                    "layer": i % layers, "bytes": 1_000_000, "src": src, "dst": dst,
                    "sport": 10000 + i, "dport": 7000})
                latencies.append(time.monotonic() - t)
            register_seconds = time.monotonic() - begin
            before = client.request("status")["changes"]
            begin = time.monotonic()
            for layer in range(1, layers):
                for r in range(requests):
                    client.request("progress", request_id=f"r{r}", layer=layer)
            client.request("ping")
            promote_seconds = time.monotonic() - begin
            promotions = client.request("status")["changes"] - before
            begin = time.monotonic()
            for i in range(flows):
                client.request("complete", flow_id=f"f{i}")
            complete_seconds = time.monotonic() - begin
            client.close()
    with open(os.path.join(out_dir, "controller.json"), encoding="utf-8") as handle:
        stats = json.load(handle)
    lat = np.array(latencies) * 1e3
    report = {
        "flows": flows,
        "registrations_per_second": round(flows / register_seconds, 1),
        "registration_latency_p50_ms": round(float(np.percentile(lat, 50)), 3),
        "registration_latency_p99_ms": round(float(np.percentile(lat, 99)), 3),
        "promotions": promotions,
        "rule_changes_per_second": round(promotions / promote_seconds, 1),
        "deletions_per_second": round(flows / complete_seconds, 1),
        "decision_to_rule_p50_ms": round(stats["rule_latency_p50_ms"], 3),
        "decision_to_rule_p99_ms": round(stats["rule_latency_p99_ms"], 3),
        "flow_mods": stats["flow_mods"],
        "note": "wall-clock (emulated) milliseconds; decision-to-rule runs from the scheduler's "
                "decision to the switch's barrier reply",
    }
    for key, value in report.items():
        echo(f"{key:>30}: {value}")
    with open(os.path.join(out_dir, "bench.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    return report

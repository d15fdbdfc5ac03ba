"""Replaying a trace under one scheduler on the real fabric.

For a scheduler: start the controller with that policy, build the fabric
connected to it, start one agent per host, give everyone the same time zero,
wait until every node has ended or failed, collect, tear down.  A dead agent
fails its unfinished nodes with the reason instead of hanging the run; so
does the timeout.
"""

import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from controller.process import SOCKET_ROOT, ControllerProcess, remove_socket_root
from emulator import ovs
from emulator.fabric import Fabric
from emulator.hub import Hub
from emulator.results import RunRecords, read_queue_changes, write_csv
from emulator.sampler import LinkSampler

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_PORT = 7000
START_LEAD = 0.3   # emulated seconds between 'start' and time zero


def agent_nodes(trace, host):
    """The nodes a host executes: its compute nodes and the flows it sends."""
    out = []
    for node in trace.nodes:
        if node.kind == "compute" and node.host == host:
            out.append({"id": node.id, "kind": "compute", "request_id": node.request_id,
                        "deps": list(node.deps), "duration_us": node.duration_us, "layer": node.layer})
        elif node.kind == "flow" and node.src == host:
            out.append({"id": node.id, "kind": "flow", "request_id": node.request_id,
                        "deps": list(node.deps), "dst": node.dst, "bytes": node.bytes,
                        "stage": node.stage, "layer": node.layer, "protocol": node.protocol})
    return out


class Replay:
    def __init__(self, topology, dilation, trace, scheduler, out_dir, policy_params=None,
                 policy_config=None, timeout=600.0, progress=None, sample_interval=0.2):
        self.topology, self.dilation, self.trace = topology, dilation, trace
        self.scheduler = scheduler
        self.out_dir = os.path.abspath(out_dir)
        self.policy_params, self.policy_config = policy_params, policy_config
        self.timeout = timeout
        self.progress = progress or (lambda done, total: None)
        self.sample_interval = sample_interval

    def run(self):
        os.makedirs(self.out_dir, exist_ok=True)
        flows = [n for n in self.trace.nodes if n.kind == "flow"]
        controller = ControllerProcess(
            self.topology.path, self.scheduler, self.out_dir, self.dilation,
            num_queues=self.topology.links[0].queues, policy_params=self.policy_params,
            policy_config=self.policy_config, fit_sizes=[n.bytes for n in flows],
            fit_stages=[n.stage for n in flows], link_rate_factor=self.topology.rate_factor)
        work = tempfile.mkdtemp(prefix="run-", dir=_socket_root())
        try:
            with controller:
                with Fabric(self.topology, self.dilation, controller=controller.address) as fabric:
                    controller.wait_for_switches(len(self.topology.switches))
                    result = self._replay(fabric, controller, work)
            return self._collect(result, fabric)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            remove_socket_root()

    def _replay(self, fabric, controller, work):
        trace, hosts = self.trace, [h.name for h in self.topology.hosts]
        hub = Hub(os.path.join(work, "hub.sock"), [n.id for n in trace.nodes])
        sampler = LinkSampler(fabric, self.sample_interval)
        agents, configs = {}, {}
        try:
            for host in hosts:
                configs[host] = self._agent_config(host, fabric, controller, hub, work)
                path = os.path.join(work, f"agent-{host}.json")
                with open(path, "w", encoding="utf-8") as handle:
                    json.dump(configs[host], handle)
                log = open(os.path.join(self.out_dir, f"agent-{host}.log"), "wb")
                agents[host] = fabric.popen(host, [sys.executable, "-m", "emulator.agent", path],
                                            cwd=REPO, stdout=log, stderr=log,
                                            env=dict(os.environ, PYTHONPATH=REPO))
                log.close()
            if not hub.wait(lambda: len(hub.ready_hosts) == len(hosts), 30):
                missing = sorted(set(hosts) - hub.ready_hosts)
                raise RuntimeError(f"agents not ready on {', '.join(missing)}: see agent-*.log")
            pid = ovs.vswitchd_pid()
            cpu0, drops0, log0 = ovs.process_cpu_seconds(pid), fabric.interface_drops(), ovs.log_size()
            t0 = time.monotonic() + START_LEAD
            client = controller.client()
            client.request("start", t0=t0)
            client.close()
            sampler.start(t0)
            hub.broadcast({"op": "start", "t0": t0})
            self._wait(hub, agents, configs, t0)
            wall = time.monotonic() - t0
            fidelity_raw = {
                "switch_cpu": (ovs.process_cpu_seconds(pid) - cpu0) / max(wall, 1e-9),
                "unmodelled_drops": fabric.interface_drops() - drops0 + ovs.send_errors_since(log0),
                "modelled_drops": fabric.modelled_drops(), "wall_seconds": wall}
            hub.broadcast({"op": "stop"})
            for proc in agents.values():
                try:
                    proc.wait(timeout=15)
                except Exception:  # noqa: BLE001 - the fabric kills what lingers
                    pass
        finally:
            sampler.stop()
            hub.close()
        records = []
        for host in hosts:
            path = configs[host]["out"] if host in configs else None
            if path and os.path.exists(path):
                with open(path, encoding="utf-8") as handle:
                    records += [json.loads(line) for line in handle]
        return {"t0": t0, "records": records, "failures": dict(hub.failed), "links": sampler.rows,
                "fidelity": fidelity_raw}

    def _agent_config(self, host, fabric, controller, hub, work):
        d = self.dilation
        return {
            "host": host, "ip": fabric.ip(host), "data_port": DATA_PORT,
            "peers": {h.name: h.ip for h in self.topology.hosts},
            "rate_scale": d.rate_scale, "byte_scale": d.byte_scale,
            "registry": controller.socket_path, "token": controller.token, "hub": hub.path,
            "deadlines": {r.id: r.deadline_us / 1e6 for r in self.trace.requests
                          if r.deadline_us is not None},
            "arrivals": {r.id: r.arrival_us / 1e6 for r in self.trace.requests},
            "nodes": agent_nodes(self.trace, host),
            "mtu": self.topology.host_link(host).mtu,
            "nic_rate_bps": d.emu_rate(self.topology.host_link(host).rate_bps),
            "out": os.path.join(work, f"records-{host}.jsonl"),
        }

    def _wait(self, hub, agents, configs, t0):
        total = len(hub.expected)
        deadline = t0 + self.timeout
        dead = set()
        while hub.finished < total:
            hub.wait(lambda: hub.finished >= total, 0.5)
            self.progress(hub.finished, total)
            for host, proc in agents.items():
                if proc.poll() is not None and host not in dead:
                    dead.add(host)
                    reason = f"agent on {host} exited with code {proc.returncode}"
                    for node in configs[host]["nodes"]:
                        hub.fail(node["id"], reason)
            if time.monotonic() > deadline:
                for node in hub.expected - hub.done - set(hub.failed):
                    hub.fail(node, f"timeout after {self.timeout:g} emulated seconds")
        self.progress(hub.finished, total)

    def _collect(self, result, fabric_info):
        d = self.dilation
        changes = read_queue_changes(os.path.join(self.out_dir, "queue_changes.csv"))
        run = RunRecords(self.trace, result["records"], result["t0"], d, fabric_info.routes, changes,
                         result["failures"])
        flows = run.flows()
        write_csv(flows, os.path.join(self.out_dir, "flows.csv"))
        write_csv(run.requests(), os.path.join(self.out_dir, "requests.csv"))
        write_csv(run.collectives(flows), os.path.join(self.out_dir, "collectives.csv"))
        import pandas as pd
        write_csv(pd.DataFrame(result["links"], columns=["time_us", "link", "queue", "throughput_bps",
                                                         "backlog_bytes"]),
                  os.path.join(self.out_dir, "links.csv"))
        lags = run.start_lags_us()
        fidelity = {
            "start_lag_p50_ms_emulated": float(np.percentile(lags, 50) / 1e3) if lags.size else None,
            "start_lag_p99_ms_emulated": float(np.percentile(lags, 99) / 1e3) if lags.size else None,
            "start_lag_p50_us": float(np.percentile(lags, 50) / d.factor) if lags.size else None,
            "start_lag_p99_us": float(np.percentile(lags, 99) / d.factor) if lags.size else None,
            "link_utilization": _link_utilization(result["links"], self.topology),
            "switch_cpu": round(result["fidelity"]["switch_cpu"], 4),
            "unmodelled_drops": result["fidelity"]["unmodelled_drops"],
            "modelled_drops": result["fidelity"]["modelled_drops"],
            "flows_failed": int((flows["status"] != "ok").sum()),
            "byte_mismatches": run.byte_check(),
            "udp_lost_bytes": run.udp_lost_bytes(),
            "dependency_violations": run.dependency_violations(),
            "retransmits": int(flows["retransmits"].fillna(0).sum()),
            "emulated_seconds": round(result["fidelity"]["wall_seconds"], 3),
            "datapath": fabric_info.datapath,
        }
        with open(os.path.join(self.out_dir, "fidelity.json"), "w", encoding="utf-8") as handle:
            json.dump(fidelity, handle, indent=2)
        return fidelity


def _link_utilization(rows, topology):
    """Peak sampled throughput of each directed link over its configured rate."""
    peak = {}
    for row in rows:
        key = (row["time_us"], row["link"])
        peak[key] = peak.get(key, 0) + row["throughput_bps"]
    rates = {}
    for link in topology.links:
        rates[f"{link.a}->{link.b}"] = rates[f"{link.b}->{link.a}"] = link.rate_bps
    best = {}
    for (_, link), value in peak.items():
        best[link] = max(best.get(link, 0), value / rates[link])
    return {link: round(v, 3) for link, v in sorted(best.items())}


def _socket_root():
    os.makedirs(SOCKET_ROOT, mode=0o700, exist_ok=True)
    return SOCKET_ROOT

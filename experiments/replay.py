"""Replaying a trace under one scheduler on the real fabric.

For a scheduler: start the controller with that policy, build the fabric
connected to it (or reset and reconnect one that replays share), start one
agent per host (or hand the replay to the hosts' serving agents), give
everyone the same time zero, wait until every node has ended or failed,
collect, tear down what this replay built.  A dead agent
fails its unfinished nodes with the reason instead of hanging the run; so
does the timeout.
"""

import json
import os
import shutil
import tempfile
import time


from common import ledger, measured
from common.errors import UserError
from controller.process import SOCKET_ROOT, ControllerProcess, remove_socket_root
from controller.protocol import host_token
from emulator import ovs
from emulator.agent.config import AgentConfig
from emulator.agents import Agents
from emulator.agent.host_agent import tcp_counters_path
from emulator.fabric import Fabric
from emulator.host_tuning import low_wakeup_latency
from emulator.hub import Hub
from emulator.hub_messages import Connect, Start, Stop
from netmodel.queues import tos_for_queue
from netmodel.routing import DATA_PORT, FIRST_SPORT, LAST_SPORT, source_ports
from experiments.results import RunRecords, read_queue_changes, write_csv
from traces.model import unit_of
from emulator.sampler import LinkSampler
from common.safe_files import write_json_atomic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_LEAD = 0.3   # emulated seconds between 'start' and time zero
FAULT_CHECK = 0.25  # seconds between checks for a dead agent, controller or OVS


class ReplayPlan:
    """Who runs what: each host's nodes with their source ports, who waits
    for whom across hosts, and the flow table the controller is told.

    Built (and so validated) before anything starts.
    """

    def __init__(self, trace, topology):
        self.hosts = [h.name for h in topology.hosts]
        owner = {n.id: (n.host if n.kind == "compute" else n.src) for n in trace.nodes}
        ends_at = {n.id: (n.host if n.kind == "compute" else n.dst) for n in trace.nodes}
        # who may report a node done or failed to the hub: who runs it, who receives it
        self.reporters = {n: {owner[n], ends_at[n]} for n in owner}
        self.nodes = {h: [] for h in self.hosts}
        self.notify = {h: {} for h in self.hosts}
        try:
            self.sports = source_ports((n.id, n.src) for n in trace.nodes if n.kind == "flow")
        except ValueError as err:
            raise UserError("trace", f"host {err.args[0]} sends more than "
                                     f"{LAST_SPORT - FIRST_SPORT + 1} flows; one port each is "
                                     f"needed") from None
        members = {b.id: list(b.requests) for b in trace.batches}
        for node in trace.nodes:
            host = owner[node.id]
            entry = {"id": node.id, "kind": node.kind, "request_id": node.request_id,
                     "deps": list(node.deps), "layer": node.layer}
            if node.batch:
                entry.update(batch=node.batch, members=members[node.batch])
            if node.kind == "compute":
                entry["duration_us"] = node.duration_us
            else:
                entry.update(dst=node.dst, bytes=node.bytes, stage=node.stage,
                             protocol=node.protocol, sport=self.sports[node.id])
            self.nodes[host].append(entry)
            for dep in node.deps:
                waiter, source = host, ends_at[dep]
                if waiter != source:
                    targets = self.notify[source].setdefault(dep, [])
                    if waiter not in targets:
                        targets.append(waiter)
        # A batch's flows are scheduled as the batch's, with its earliest deadline.
        deadlines = {unit: us / 1e6 for unit, us in trace.unit_deadlines_us().items()}
        self.flow_table = [
            {"flow_id": n.id, "request_id": unit_of(n), "stage": n.stage, "layer": n.layer,
             "bytes": int(n.bytes), "deadline": deadlines.get(unit_of(n)), "src": n.src,
             "dst": n.dst, "proto": n.protocol, "sport": self.sports[n.id], "dport": DATA_PORT}
            for n in trace.nodes if n.kind == "flow"]


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

    def run(self, fabric=None, agents=None):
        """Replay, collect and write the results; returns the fidelity record.

        ``fabric``: a started :class:`Fabric` (``controller=Fabric.LATER``)
        that successive replays share, reset for this one
        (:meth:`Fabric.prepare_replay`); None builds and removes a fabric of
        this replay's own.  ``agents``: the :class:`Agents` of that fabric
        (None: one agent process per host for this replay).
        """
        plan = ReplayPlan(self.trace, self.topology)     # refuses a bad trace before building
        os.makedirs(self.out_dir, exist_ok=True)
        flows = [n for n in self.trace.nodes if n.kind == "flow"]
        controller = ControllerProcess(
            self.topology.path, self.scheduler, self.out_dir, self.dilation,
            num_queues=self.topology.links[0].queues, policy_params=self.policy_params,
            policy_config=self.policy_config, fit_sizes=[n.bytes for n in flows],
            fit_stages=[n.stage for n in flows], link_rate_factor=self.topology.rate_factor)
        led = ledger.current()
        scope = led.scope("replay")
        led.add(scope, "dir", path=SOCKET_ROOT, if_empty=True)
        work = tempfile.mkdtemp(prefix="run-", dir=_socket_root())
        led.add(scope, "dir", path=work)
        try:
            with controller, low_wakeup_latency() as wakeup:
                if fabric is not None:
                    fabric.prepare_replay(controller.address)
                    rules, result = self._replay_on(fabric, agents, controller, plan, work, led)
                else:
                    led.phase("building the fabric")
                    with Fabric(self.topology, self.dilation,
                                controller=controller.address) as fabric:
                        rules, result = self._replay_on(fabric, None, controller, plan, work,
                                                        led)
            result["fidelity"].update(pinned_rules=rules, wakeup_latency=wakeup)
            led.phase("collecting")
            return self._collect(result, fabric)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            remove_socket_root()
            led.done(scope)

    def _replay_on(self, fabric, agents, controller, plan, work, led):
        """(rules pinned, raw result) of the replay on a fabric connected to
        ``controller``; ``agents`` None: one agent process per host for it."""
        controller.wait_for_switches(len(self.topology.switches))
        client = controller.client()
        try:
            rules = controller.declare(client, plan.flow_table)
        finally:
            client.close()
        led.phase("replaying")
        return rules, self._replay(fabric, agents or Agents(fabric), controller, plan, work)

    def _replay(self, fabric, starter, controller, plan, work):
        hosts = plan.hosts
        hub = Hub(os.path.join(work, "hub.sock"), plan.reporters)
        sampler = LinkSampler(fabric, self.sample_interval)
        agents, configs = {}, {}
        peer_sockets = {h: os.path.join(work, f"peer-{h}.sock") for h in hosts}
        try:
            for host in hosts:
                configs[host] = self._agent_config(host, fabric, controller, hub, plan, peer_sockets,
                                                   work)
                path = os.path.join(work, f"agent-{host}.json")
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(configs[host].model_dump_json())
                agents[host] = starter.start(host, path, configs[host].log)
            self._wait_for(hub, agents, lambda: len(hub.listening_hosts) == len(hosts), "listening")
            hub.broadcast(Connect())
            self._wait_for(hub, agents, lambda: len(hub.ready_hosts) == len(hosts), "connected")
            pid = ovs.vswitchd_pid()
            cpu0, log0 = ovs.process_cpu_seconds(pid), ovs.log_size()
            before = fabric.counters()      # they run on over a fabric that replays share
            t0 = time.monotonic() + START_LEAD
            client = controller.client()
            client.request("start", t0=t0)
            client.close()
            sampler.start(t0)
            hub.broadcast(Start(t0=t0))
            fault = self._wait(hub, agents, configs, t0, controller, pid)
            wall = time.monotonic() - t0
            after = fabric.counters()
            fidelity_raw = {
                "switch_cpu": measured.per_second(
                    measured.diff(ovs.process_cpu_seconds(pid), cpu0), wall),
                "unmodelled_drops": measured.total(
                    measured.diff(after["interface_drops"], before["interface_drops"]),
                    ovs.send_errors_since(log0)),
                "modelled_drops": measured.diff(after["modelled_drops"], before["modelled_drops"]),
                "wall_seconds": wall,
                "connect_errors": hub.connect_errors,
                "refused_hub_messages": len(hub.refused),
                "queue_bytes": (_since(after["queue_bytes"], before["queue_bytes"])
                                if fault is None else {}),
                "fault": fault}
            hub.broadcast(Stop())
            for agent in agents.values():
                if not agent.wait_done(timeout=15):
                    agent.kill()
        except BaseException:
            # an agent left running here would answer 'done' to the next replay
            for agent in agents.values():
                agent.kill()
            raise
        finally:
            sampler.stop()
            hub.close()
        records, tcp_counters = [], {}
        for host in hosts:
            path = configs[host].out if host in configs else None
            if path and os.path.exists(path):
                with open(path, encoding="utf-8") as handle:
                    records += [json.loads(line) for line in handle]
            if path and os.path.exists(tcp_counters_path(path)):
                with open(tcp_counters_path(path), encoding="utf-8") as handle:
                    for name, value in json.load(handle).items():
                        tcp_counters[name] = tcp_counters.get(name, 0) + value
        fidelity_raw["tcp_counters"] = dict(sorted(tcp_counters.items()))
        return {"t0": t0, "records": records, "failures": dict(hub.failed), "links": sampler.rows,
                "fidelity": fidelity_raw}

    @staticmethod
    def _wait_for(hub, agents, predicate, what, timeout=60):
        deadline = time.monotonic() + timeout
        while not hub.wait(predicate, 0.2):
            dead = [h for h, p in agents.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                late = sorted(set(agents) - hub.ready_hosts)
                raise RuntimeError(f"agents not {what} on {', '.join(dead or late)}: see agent-*.log")

    def _agent_config(self, host, fabric, controller, hub, plan, peer_sockets, work):
        d = self.dilation
        link = self.topology.host_link(host)
        num_queues = link.queues
        return AgentConfig(
            host=host, ip=fabric.ip(host), data_port=DATA_PORT,
            peers={h.name: h.ip for h in self.topology.hosts},
            rate_scale=d.rate_scale, byte_scale=d.byte_scale,
            registry=controller.socket_path, token=host_token(controller.token, host),
            hub=hub.path, hub_token=hub.token_for(host),
            peer_sockets=peer_sockets, notify=plan.notify[host],
            arrivals={unit: us / 1e6 for unit, us in self.trace.unit_arrivals_us().items()},
            nodes=plan.nodes[host], mtu=link.mtu, nic_rate_bps=d.emu_rate(link.rate_bps),
            provisional_tos=tos_for_queue(num_queues - 1, num_queues),
            out=os.path.join(work, f"records-{host}.jsonl"),
            log=os.path.join(self.out_dir, f"agent-{host}.log"))

    def _wait(self, hub, agents, configs, t0, controller, vswitchd):
        """Until every node finished or failed.  Checked every ``FAULT_CHECK``
        seconds: a dead agent fails its nodes; a dead controller or a stopped
        ``ovs-vswitchd`` (pid ``vswitchd``) fails every unfinished node and
        ends the replay.  Returns that fault's reason, or None."""
        total = len(hub.expected)
        deadline = t0 + self.timeout
        dead = set()
        while hub.finished < total:
            hub.wait(lambda: hub.finished >= total, FAULT_CHECK)
            self.progress(hub.finished, total)
            for host, proc in agents.items():
                if proc.poll() is not None and host not in dead:
                    dead.add(host)
                    reason = f"agent on {host} exited with code {proc.returncode}"
                    for node in configs[host].nodes:
                        hub.fail(node.id, reason)
            fault = _fabric_fault(controller, vswitchd)
            if fault is None and time.monotonic() <= deadline:
                continue
            reason = fault or f"timeout after {self.timeout:g} emulated seconds"
            for node in hub.expected - hub.done - set(hub.failed):
                hub.fail(node, reason)
            if fault is not None:
                self.progress(hub.finished, total)
                return fault
        self.progress(hub.finished, total)
        return None

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
        overheads = run.engine_overheads()
        udp_lost, udp_lossy = run.udp_losses()
        fidelity = {
            **overheads,
            # the start lag in real (trace) time: what the engine adds to every flow
            "start_lag_p50_us": _real(overheads["start_lag_p50_wall_us"], d),
            "start_lag_p99_us": _real(overheads["start_lag_p99_wall_us"], d),
            "link_utilization": _link_utilization(result["links"], self.topology),
            "switch_cpu": None if result["fidelity"]["switch_cpu"] is None
            else round(result["fidelity"]["switch_cpu"], 4),
            "unmodelled_drops": result["fidelity"]["unmodelled_drops"],
            "modelled_drops": result["fidelity"]["modelled_drops"],
            "flows_failed": int((flows["status"] != "ok").sum()),
            "byte_mismatches": run.byte_check(),
            "udp_lost_bytes": udp_lost,
            "udp_lossy_flows": udp_lossy,
            "dependency_violations": run.dependency_violations(),
            "retransmits": int(flows["retransmits"].fillna(0).sum()),
            # every host's kernel TCP counters that moved (why segments were retransmitted)
            "tcp_counters": result["fidelity"]["tcp_counters"],
            "emulated_seconds": round(result["fidelity"]["wall_seconds"], 3),
            "connect_errors": result["fidelity"]["connect_errors"],
            # agent lines the hub refused: malformed, unauthenticated, or not the host's node
            "refused_hub_messages": result["fidelity"]["refused_hub_messages"],
            "pinned_rules": result["fidelity"]["pinned_rules"],
            "wakeup_latency": result["fidelity"]["wakeup_latency"],
            "datapath": fabric_info.datapath,
            # real bytes on the wire (headers included) each egress queue sent during the run
            "queue_wire_bytes": {port: {str(q): int(b * d.byte_scale) for q, b in queues.items()}
                                 for port, queues in result["fidelity"]["queue_bytes"].items()
                                 if queues},
            "t0_monotonic": result["t0"],
            # the controller or OVS died mid-run: the results are partial
            "fault": result["fidelity"]["fault"],
        }
        fidelity["not_measured"] = measured.unmeasured(
            {k: fidelity[k] for k in ("switch_cpu", "unmodelled_drops", "modelled_drops")},
            NOT_MEASURED)
        write_json_atomic(os.path.join(self.out_dir, "fidelity.json"), fidelity)
        return fidelity


NOT_MEASURED = {      # why a fidelity counter can be null
    "switch_cpu": "ovs-vswitchd's /proc entry could not be read (it stopped or restarted)",
    "unmodelled_drops": "an interface was gone or the OVS log unreadable when counted",
    "modelled_drops": "an interface was gone when its qdiscs were counted",
}


def _fabric_fault(controller, vswitchd):
    """Why the run cannot go on (the controller or OVS died), or None."""
    if controller.proc is not None and controller.proc.poll() is not None:
        return f"run failed: the controller exited with code {controller.proc.returncode}"
    if vswitchd is not None and ovs.process_cpu_seconds(vswitchd) is None:
        return f"run failed: ovs-vswitchd (pid {vswitchd}) stopped"
    return None


def _real(wall_us, dilation):
    return None if wall_us is None else round(wall_us / dilation.factor, 4)


def _since(after, before):
    """Per-port, per-queue counter differences, zeros dropped."""
    return {port: {q: b - before.get(port, {}).get(q, 0) for q, b in queues.items()
                   if b > before.get(port, {}).get(q, 0)}
            for port, queues in after.items()}


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

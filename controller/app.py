"""The scheduling controller: an OpenFlow 1.3 app on the Ryu API (run on os-ken).

Reads top to bottom like Ryu's ``simple_switch_13``: switch features (install
the per-destination forwarding computed from the topology file), the
``add_flow`` helper, event handlers; then the flow-registry handlers that
drive the policy under test.

Enforcement, one connection per flow: before time zero the orchestrator
declares every flow of the trace with its 5-tuple, and where a switch has a
choice of equal-cost next hops the flow's ECMP path (the one the policy sees)
is pinned there with a 5-tuple rule.  At run time no OpenFlow message is on
a flow's path: the sender marks its packets, as PIAS, Karuna and pFabric
hosts do, and every egress (switch port and host NIC) classifies by DSCP
into its strict-priority queue.  Each decision (arrival, promotion,
demotion, pacing) is pushed to the sender's agent, which sets ``IP_TOS`` and
``SO_MAX_PACING_RATE`` on the flow's socket; the agent records when it
applied it, so decision-to-marking latency is measured, not assumed.

A ready flow announces itself (``arrive``) and sends its first byte once its
decision lands: a provisional marking would reorder its packets when the
decision promoted them, and TCP takes reordering for loss.

Everything the policy sees runs on the flow registry's one event-loop
thread (:mod:`controller.registry_server`): notices, decisions and ticks.
"""

import logging
import os
import threading
import time

import numpy as np

from controller.compat import (CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, app_manager,
                               ofp_event, ofproto_v1_3, set_ev_cls)
from controller.change_log import ChangeLog
from policies import get_policy
from policies.base import FlowState
from policies.scheduler import Scheduler
from controller.protocol import ProtocolError, decision_push
from controller.registry_server import RegistryServer
from controller.settings import ControllerSettings
from netmodel.queues import tos_for_queue
from netmodel.routing import Routes
from netmodel.topology import load_topology

FORWARD_PRIORITY = 10
FLOW_PRIORITY = 100
BARRIER_TIMEOUT = 5.0
IP_PROTO = {"tcp": 6, "udp": 17}
log = logging.getLogger("controller")


class FlowRecord:
    """A declared flow: its registration and the scheduler state it gets on arrival."""

    __slots__ = ("reg", "state", "arrived", "match_fields", "hops")

    def __init__(self, reg, state):
        self.reg, self.state, self.arrived = reg, state, False
        self.match_fields, self.hops = None, ()


class FlowSchedulerApp(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = ControllerSettings.read(os.environ["EMU_CONTROLLER_SETTINGS"])
        s = self.settings
        self.topology = load_topology(s.topology).scaled_rates(s.link_rate_factor)
        self.routes = Routes(self.topology)
        self.switch_of_dpid = {int(n.internal[1:]): n.name for n in self.topology.switches}
        self.datapaths = {}
        self.host_ips = {h.name: h.ip for h in self.topology.hosts}
        policy = get_policy(s.policy, s.policy_params, s.num_queues, s.policy_config)
        self.scheduler = Scheduler(policy, self.routes.directed_link_rates(), log=False)
        if s.fit_sizes:
            self.scheduler.fit(s.fit_sizes, s.fit_stages or None)
        self.tick = s.tick if s.tick is not None else policy.tick
        self.flows = {}              # flow id -> FlowRecord, declared before time zero
        self._unfinished = {}        # request id -> its declared flows not complete yet
        self.active = 0              # flows arrived and not complete
        self.t0 = None
        self.log = ChangeLog(s.out_dir)
        self.decide_latencies = []   # seconds from a notice's arrival to its decisions' push
        self._barriers = {}
        self.refused_switches = 0    # connections from datapath ids not of this run
        self._barrier_lock = threading.Lock()
        self.server = RegistryServer(s.socket_path, s.token, self)
        self.loop = self.server.loop
        self.server.start()

    # -- switches ---------------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features_handler(self, ev):
        datapath = ev.msg.datapath
        parser = datapath.ofproto_parser
        switch = self.switch_of_dpid.get(datapath.id)
        if switch is None:
            # only the run's switches (the listener is on loopback; a local
            # process claiming another datapath id is shown the door)
            log.warning("unknown switch dpid %s refused", datapath.id)
            self.refused_switches += 1
            datapath.close()
            return
        # a fabric reused across replays keeps the last controller's rules
        # (fail mode secure): start from an empty table, as a new bridge does
        ofproto = datapath.ofproto
        datapath.send_msg(parser.OFPFlowMod(datapath=datapath, table_id=ofproto.OFPTT_ALL,
                                            command=ofproto.OFPFC_DELETE,
                                            out_port=ofproto.OFPP_ANY, out_group=ofproto.OFPG_ANY))
        for ip, port in self.routes.destination_ports(switch):
            out = [parser.OFPActionOutput(port)]
            self.add_flow(datapath, FORWARD_PRIORITY, parser.OFPMatch(eth_type=0x0800, ipv4_dst=ip), out)
            self.add_flow(datapath, FORWARD_PRIORITY, parser.OFPMatch(eth_type=0x0806, arp_tpa=ip), out)

    def add_flow(self, datapath, priority, match, actions):
        ofproto, parser = datapath.ofproto, datapath.ofproto_parser
        inst = [parser.OFPInstructionActions(ofproto.OFPIT_APPLY_ACTIONS, actions)]
        mod = parser.OFPFlowMod(datapath=datapath, priority=priority, match=match, instructions=inst,
                                command=ofproto.OFPFC_ADD)
        datapath.send_msg(mod)
        self.log.flow_mods += 1

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def state_change_handler(self, ev):
        datapath = ev.datapath
        if ev.state == MAIN_DISPATCHER and datapath.id in self.switch_of_dpid:
            self.datapaths[datapath.id] = datapath
        elif ev.state == DEAD_DISPATCHER and self.datapaths.get(datapath.id) is datapath:
            # a reconnected switch may already have registered its new connection
            del self.datapaths[datapath.id]

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def barrier_reply_handler(self, ev):
        with self._barrier_lock:
            waiter = self._barriers.pop((ev.msg.datapath.id, ev.msg.xid), None)
        if waiter:
            event, sent = waiter
            self.log.rule_installed(time.monotonic() - sent)
            event.set()

    def _barrier(self, datapath, sent):
        request = datapath.ofproto_parser.OFPBarrierRequest(datapath)
        datapath.set_xid(request)
        event = threading.Event()
        with self._barrier_lock:
            self._barriers[(datapath.id, request.xid)] = (event, sent)
        datapath.send_msg(request)
        return event

    # -- paths pinned before time zero ----------------------------------------

    def _datapath(self, switch):
        dpid = int(self.topology.nodes[switch].internal[1:])
        datapath = self.datapaths.get(dpid)
        if datapath is None:
            raise ProtocolError(f"switch {switch} is not connected")
        return datapath

    def _pin_paths(self, records):
        """A 5-tuple rule wherever a flow's switch has a choice of next hop.

        Elsewhere the per-destination rule already takes the one shortest
        path, so single-path fabrics (one ToR) get no per-flow rule at all.
        """
        sent, waits, rules = time.monotonic(), {}, 0
        for record in records:
            reg = record.reg
            for switch, port in record.hops:
                if len(self.routes.next_hops(switch, reg.dst)) < 2:
                    continue
                datapath = self._datapath(switch)
                parser = datapath.ofproto_parser
                self.add_flow(datapath, FLOW_PRIORITY, parser.OFPMatch(**record.match_fields),
                              [parser.OFPActionOutput(port)])
                rules += 1
                waits[switch] = datapath
        events = [self._barrier(datapath, sent) for datapath in waits.values()]
        try:
            for event in events:
                if not event.wait(BARRIER_TIMEOUT):
                    # the declaration is refused whole: none of its flows is kept
                    raise ProtocolError("a switch did not confirm the pinned paths in time")
        finally:
            with self._barrier_lock:     # a reply that never came must not be waited for forever
                for key in [k for k, (event, _) in self._barriers.items() if event in events]:
                    del self._barriers[key]
        return rules

    # -- the flow registry (all on the registry's loop thread) ---------------------

    def now(self):
        if self.t0 is None:
            raise ProtocolError("the experiment has not started (send 'start' first)")
        return (time.monotonic() - self.t0) / self.settings.time_dilation

    def on_hello(self, request):
        # Bytes reports are needed only by policies that read them at ticks.
        return {"bytes_period": self.tick / 2 if self.tick else None}

    def on_ping(self, request):
        return {}

    def on_status(self, request):
        return {"switches": sorted(self.switch_of_dpid[d] for d in list(self.datapaths)
                                   if d in self.switch_of_dpid),
                "expected_switches": len(self.switch_of_dpid),
                "refused_switches": self.refused_switches,
                "flows": self.active, "declared": len(self.flows),
                # per-request state still held: requests with flows to come, and progress
                "requests_unfinished": len(self._unfinished),
                "requests_with_progress": len(self.scheduler.view.progress),
                "policy": self.scheduler.policy.name, "changes": self.log.changes}

    def on_declare(self, request):
        request.need("flow_table")
        records = []
        seen = set()
        for i, reg in enumerate(request.flow_table):
            where = f"flow_table[{i}]"
            for field, host in (("src", reg.src), ("dst", reg.dst)):
                if host not in self.host_ips:
                    raise ProtocolError(f"{where}.{field}: unknown host {host!r}")
            if reg.src == reg.dst:
                raise ProtocolError(f"{where}: src and dst are the same host")
            if reg.flow_id in self.flows or reg.flow_id in seen:
                raise ProtocolError(f"{where}: flow {reg.flow_id!r} is already declared")
            seen.add(reg.flow_id)
            records.append(self._record(reg))
        rules = self._pin_paths(records)
        for record in records:
            self.flows[record.reg.flow_id] = record
            rid = record.reg.request_id
            self._unfinished[rid] = self._unfinished.get(rid, 0) + 1
        self.scheduler.declare(record.state for record in records)
        self.log.registrations += len(records)
        return {"declared": len(records), "rules": rules}

    def _record(self, reg):
        src_ip, dst_ip = self.host_ips[reg.src], self.host_ips[reg.dst]
        proto = IP_PROTO[reg.proto]
        flow_hash = Routes.flow_hash(src_ip, dst_ip, proto, reg.sport, reg.dport)
        state = FlowState(reg.flow_id, reg.request_id, reg.stage, reg.bytes, layer=reg.layer,
                          deadline=reg.deadline, src=reg.src, dst=reg.dst,
                          path=self.routes.directed_path(reg.src, reg.dst, flow_hash))
        record = FlowRecord(reg, state)
        l4 = "tcp" if reg.proto == "tcp" else "udp"
        record.match_fields = {"eth_type": 0x0800, "ip_proto": proto, "ipv4_src": src_ip,
                               "ipv4_dst": dst_ip, f"{l4}_src": reg.sport, f"{l4}_dst": reg.dport}
        record.hops = self.routes.switch_hops(reg.src, reg.dst, flow_hash)
        return record

    def on_start(self, request):
        request.need("t0")
        self.t0 = request.t0
        if self.tick:
            period = self.tick * self.settings.time_dilation
            self.loop.call_at(self.t0 + period, self._tick, period)

    def on_arrive(self, request):
        request.need("flow_id")
        received = time.monotonic()
        record = self.flows.get(request.flow_id)
        if record is None:
            raise ProtocolError(f"flow {request.flow_id!r} was not declared")
        if record.arrived:
            raise ProtocolError(f"flow {request.flow_id!r} already arrived")
        record.arrived = True
        self.active += 1
        self._enforce(self.scheduler.add_flow(record.state, self.now()), received)

    def on_progress(self, request):
        request.need("request_id", "layer")
        # A request (or batch) whose flows are all done has nothing left to schedule.
        units = [u for u in (request.request_id, *(request.members or ())) if u in self._unfinished]
        if not units:
            return
        received = time.monotonic()
        self._enforce(self.scheduler.report_progress(units[0], request.layer, self.now(), units[1:]),
                      received)

    def on_bytes(self, request):
        request.need("flows")
        for flow_id, sent in request.flows.items():
            if flow_id in self.scheduler.view.flows and sent >= 0:
                self.scheduler.report_bytes(flow_id, sent)

    def on_demoted(self, request):
        request.need("flow_id", "queue", "at")
        if self.flows.get(request.flow_id) is None:
            raise ProtocolError(f"flow {request.flow_id!r} was not declared")
        # The sender's own instant, not this notice's arrival; never before the view's clock.
        at = max((request.at - self.t0) / self.settings.time_dilation, self.scheduler.view.now)
        change = self.scheduler.sender_demoted(request.flow_id, request.queue, at)
        if change is not None:
            self.log.change(change)

    def on_complete(self, request):
        request.need("flow_id")
        received = time.monotonic()
        record = self.flows.get(request.flow_id)
        if record is None or not record.arrived:
            raise ProtocolError(f"flow {request.flow_id!r} is not active")
        if request.flow_id not in self.scheduler.view.flows:
            return    # both ends may report a failed flow
        self.active -= 1
        self._enforce(self.scheduler.complete_flow(request.flow_id, self.now()), received)
        rid = record.reg.request_id
        self._unfinished[rid] -= 1
        if not self._unfinished[rid]:          # the request's last flow: forget the request
            del self._unfinished[rid]
            self.scheduler.forget_request(rid)

    def _tick(self, period):
        if self.active:
            received = time.monotonic()
            try:
                self._enforce(self.scheduler.tick(self.now()), received)
            except Exception:  # noqa: BLE001 - keep ticking; the log says why
                log.exception("tick failed")
        self.loop.call_at(max(time.monotonic(), self.t0) + period, self._tick, period)

    def _enforce(self, changes, received):
        """Push each decision to the flow's sender and log it."""
        decided = time.monotonic()
        for change in changes:
            self.log.change(change)
            reg = self.flows[change.flow_id].reg
            queues = self.settings.num_queues
            self.server.push(reg.src, decision_push(
                change.flow_id, change.new_queue, tos_for_queue(change.new_queue, queues),
                change.pace_bps, change.reason, decided,
                [(sent, q, tos_for_queue(q, queues)) for sent, q in change.demote_at]))
        if changes:
            self.decide_latencies.append(decided - received)

    def close(self):
        self.server.close()
        lat = np.array(self.decide_latencies) * 1e3
        self.log.close(self.settings.time_dilation, extra={
            "decide_latency_samples": int(lat.size),
            "decide_latency_p50_ms": float(np.percentile(lat, 50)) if lat.size else None,
            "decide_latency_p99_ms": float(np.percentile(lat, 99)) if lat.size else None,
            # per-request state still held at the end (requests whose flows all completed hold none)
            "requests_unfinished": len(self._unfinished),
            "requests_with_progress": len(self.scheduler.view.progress)})

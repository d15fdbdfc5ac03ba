"""The scheduling controller: an OpenFlow 1.3 app on the Ryu API (run on os-ken).

Reads top to bottom like Ryu's ``simple_switch_13``: switch features (install
the per-destination forwarding computed from the topology file), the
``add_flow`` helper, event handlers; then the flow-registry handlers that
drive the policy under test.

Enforcement, one connection per flow (option (a) of the controller issue):
a registered flow gets a 5-tuple rule on every switch of its path; the first
switch re-marks DSCP to the flow's queue (a ToR at a trust boundary), so the
decision holds whatever the sender set, and each egress classifies by DSCP
into its strict-priority queue.  A queue change rewrites that one rule with
``OFPFC_MODIFY_STRICT`` and pushes the new TOS (and Karuna's pacing rate) to
the sender's agent, which moves the socket's own NIC queue with ``IP_TOS``.
DSCP classification works on the userspace datapath, where OVS ignores
``set_queue`` for Linux QoS, and on the kernel datapath alike.
"""

import logging
import os
import threading
import time

from controller.compat import (CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, app_manager,
                               ofp_event, ofproto_v1_3, set_ev_cls)
from controller.change_log import ChangeLog
from controller.policies import get_policy
from controller.policies.base import FlowState
from controller.policies.scheduler import Scheduler
from controller.protocol import ProtocolError
from controller.registry_server import RegistryServer
from controller.settings import ControllerSettings
from emulator.queues import dscp_for_queue, tos_for_queue
from emulator.routing import Routes
from emulator.topology import load_topology

FORWARD_PRIORITY = 10
FLOW_PRIORITY = 100
BARRIER_TIMEOUT = 5.0
IP_PROTO = {"tcp": 6, "udp": 17}
log = logging.getLogger("controller")


class FlowRecord:
    __slots__ = ("reg", "hops", "match_fields")

    def __init__(self, reg, hops, match_fields):
        self.reg, self.hops, self.match_fields = reg, hops, match_fields


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
        self.lock = threading.RLock()
        self.flows = {}
        self.t0 = None
        self.log = ChangeLog(s.out_dir)
        self._barriers = {}
        self._stop = threading.Event()
        self.server = RegistryServer(s.socket_path, s.token, self)
        self.server.start()
        if self.tick:
            threading.Thread(target=self._tick_loop, name="tick", daemon=True).start()

    # -- switches ---------------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features_handler(self, ev):
        datapath = ev.msg.datapath
        parser = datapath.ofproto_parser
        switch = self.switch_of_dpid.get(datapath.id)
        if switch is None:
            log.warning("unknown switch dpid %s connected", datapath.id)
            return
        for ip, port in self.routes.destination_ports(switch):
            out = [parser.OFPActionOutput(port)]
            self.add_flow(datapath, FORWARD_PRIORITY, parser.OFPMatch(eth_type=0x0800, ipv4_dst=ip), out)
            self.add_flow(datapath, FORWARD_PRIORITY, parser.OFPMatch(eth_type=0x0806, arp_tpa=ip), out)

    def add_flow(self, datapath, priority, match, actions, command=None):
        ofproto, parser = datapath.ofproto, datapath.ofproto_parser
        inst = [parser.OFPInstructionActions(ofproto.OFPIT_APPLY_ACTIONS, actions)]
        mod = parser.OFPFlowMod(datapath=datapath, priority=priority, match=match, instructions=inst,
                                command=ofproto.OFPFC_ADD if command is None else command)
        datapath.send_msg(mod)
        self.log.flow_mods += 1

    def delete_flow(self, datapath, priority, match):
        ofproto, parser = datapath.ofproto, datapath.ofproto_parser
        datapath.send_msg(parser.OFPFlowMod(
            datapath=datapath, priority=priority, match=match, command=ofproto.OFPFC_DELETE_STRICT,
            out_port=ofproto.OFPP_ANY, out_group=ofproto.OFPG_ANY))
        self.log.flow_mods += 1

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def state_change_handler(self, ev):
        datapath = ev.datapath
        if ev.state == MAIN_DISPATCHER:
            self.datapaths[datapath.id] = datapath
        elif ev.state == DEAD_DISPATCHER and self.datapaths.get(datapath.id) is datapath:
            # a reconnected switch may already have registered its new connection
            del self.datapaths[datapath.id]

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def barrier_reply_handler(self, ev):
        waiter = self._barriers.pop((ev.msg.datapath.id, ev.msg.xid), None)
        if waiter:
            event, sent = waiter
            self.log.rule_installed(time.monotonic() - sent)
            event.set()

    def _barrier(self, datapath, sent):
        request = datapath.ofproto_parser.OFPBarrierRequest(datapath)
        datapath.set_xid(request)
        event = threading.Event()
        self._barriers[(datapath.id, request.xid)] = (event, sent)
        datapath.send_msg(request)
        return event

    # -- per-flow rules ---------------------------------------------------

    def _datapath(self, switch):
        dpid = int(self.topology.nodes[switch].internal[1:])
        datapath = self.datapaths.get(dpid)
        if datapath is None:
            raise ProtocolError(f"switch {switch} is not connected")
        return datapath

    def _flow_actions(self, datapath, port, queue=None):
        parser = datapath.ofproto_parser
        actions = []
        if queue is not None:   # the first hop re-marks: the controller's decision holds
            actions.append(parser.OFPActionSetField(ip_dscp=dscp_for_queue(queue, self.settings.num_queues)))
        return actions + [parser.OFPActionOutput(port)]

    def _install(self, record, queue, sent):
        waits = []
        for i, (switch, port) in enumerate(record.hops):
            datapath = self._datapath(switch)
            match = datapath.ofproto_parser.OFPMatch(**record.match_fields)
            self.add_flow(datapath, FLOW_PRIORITY, match,
                          self._flow_actions(datapath, port, queue if i == 0 else None))
            waits.append(self._barrier(datapath, sent))
        return waits

    def _remark(self, record, queue, sent):
        switch, port = record.hops[0]
        datapath = self._datapath(switch)
        match = datapath.ofproto_parser.OFPMatch(**record.match_fields)
        self.add_flow(datapath, FLOW_PRIORITY, match, self._flow_actions(datapath, port, queue),
                      command=datapath.ofproto.OFPFC_MODIFY_STRICT)
        self._barrier(datapath, sent)

    def _enforce(self, changes, skip=None):
        """Apply the scheduler's changes: switch rule, sender push, log."""
        sent = time.monotonic()
        for change in changes:
            self.log.change(change)
            if change.flow_id == skip:
                continue
            record = self.flows.get(change.flow_id)
            if record is None:
                continue
            self._remark(record, change.new_queue, sent)
            self.server.push(record.reg.src, {
                "push": "change", "flow_id": change.flow_id, "queue": change.new_queue,
                "tos": tos_for_queue(change.new_queue, self.settings.num_queues),
                "pace_bps": change.pace_bps, "reason": change.reason})

    # -- the flow registry --------------------------------------------------

    def now(self):
        if self.t0 is None:
            raise ProtocolError("the experiment has not started (send 'start' first)")
        return (time.monotonic() - self.t0) / self.settings.time_dilation

    def on_start(self, request):
        request.need("t0")
        with self.lock:
            self.t0 = request.t0

    def on_ping(self, request):
        return {}

    def on_status(self, request):
        with self.lock:
            return {"switches": sorted(self.switch_of_dpid[d] for d in self.datapaths
                                       if d in self.switch_of_dpid),
                    "expected_switches": len(self.switch_of_dpid),
                    "flows": len(self.flows), "policy": self.scheduler.policy.name,
                    "changes": self.log.changes}

    def on_register(self, request):
        request.need("flow")
        reg = request.flow
        for host in (reg.src, reg.dst):
            if host not in self.host_ips:
                raise ProtocolError(f"flow.{'src' if host == reg.src else 'dst'}: unknown host {host!r}")
        if reg.src == reg.dst:
            raise ProtocolError("flow: src and dst are the same host")
        src_ip, dst_ip = self.host_ips[reg.src], self.host_ips[reg.dst]
        proto = IP_PROTO[reg.proto]
        flow_hash = Routes.flow_hash(src_ip, dst_ip, proto, reg.sport, reg.dport)
        l4 = "tcp" if reg.proto == "tcp" else "udp"
        match_fields = {"eth_type": 0x0800, "ip_proto": proto, "ipv4_src": src_ip, "ipv4_dst": dst_ip,
                        f"{l4}_src": reg.sport, f"{l4}_dst": reg.dport}
        with self.lock:
            now = self.now()
            if reg.flow_id in self.flows:
                raise ProtocolError(f"flow {reg.flow_id!r} is already registered")
            record = FlowRecord(reg, self.routes.switch_hops(reg.src, reg.dst, flow_hash), match_fields)
            state = FlowState(reg.flow_id, reg.request_id, reg.stage, reg.bytes * 1, layer=reg.layer,
                              deadline=reg.deadline, src=reg.src, dst=reg.dst,
                              path=self.routes.directed_path(reg.src, reg.dst, flow_hash))
            changes = self.scheduler.add_flow(state, now)
            queue = changes[0].new_queue
            try:
                waits = self._install(record, queue, time.monotonic())
            except BaseException:
                self.scheduler.complete_flow(reg.flow_id, now)   # keep the two views equal
                raise
            self.flows[reg.flow_id] = record
            self.log.registrations += 1
            self._enforce(changes, skip=reg.flow_id)
        # reply once the rules are in the switches, so the flow starts marked
        for event in waits:
            if not event.wait(BARRIER_TIMEOUT):
                raise ProtocolError("switch did not confirm the flow's rules in time")
        with self.lock:   # the decision now, which a tick may have changed meanwhile
            return {"queue": state.queue, "tos": tos_for_queue(state.queue, self.settings.num_queues),
                    "pace_bps": state.pace_bps}

    def on_progress(self, request):
        request.need("request_id", "layer")
        with self.lock:
            self._enforce(self.scheduler.report_progress(request.request_id, request.layer, self.now()))

    def on_bytes(self, request):
        request.need("flows")
        with self.lock:
            for flow_id, sent in request.flows.items():
                if flow_id in self.flows and sent >= 0:
                    self.scheduler.report_bytes(flow_id, sent)

    def on_complete(self, request):
        request.need("flow_id")
        with self.lock:
            record = self.flows.pop(request.flow_id, None)
            if record is None:
                raise ProtocolError(f"flow {request.flow_id!r} is not registered")
            for switch, _ in record.hops:
                datapath = self._datapath(switch)
                self.delete_flow(datapath, FLOW_PRIORITY,
                                 datapath.ofproto_parser.OFPMatch(**record.match_fields))
            self._enforce(self.scheduler.complete_flow(request.flow_id, self.now()))

    def _tick_loop(self):
        period = self.tick * self.settings.time_dilation   # emulated seconds
        while not self._stop.wait(period):
            with self.lock:
                if self.t0 is None or not self.flows:
                    continue
                try:
                    self._enforce(self.scheduler.tick(self.now()))
                except Exception:  # noqa: BLE001 - keep ticking; the log says why
                    log.exception("tick failed")

    def close(self):
        self._stop.set()
        self.server.close()
        self.log.close(self.settings.time_dilation)

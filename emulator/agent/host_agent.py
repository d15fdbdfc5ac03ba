"""The agent of one emulated host: runs its DAG nodes, receives its flows.

One process per host, inside the host's network namespace, on one event
loop (:class:`common.reactor.Reactor`).  Its channels, all Unix sockets that
never cross the emulated data network:

* the orchestrator's hub: ``connect`` (open the flows' connections), ``start``
  (time zero), failures the orchestrator declares, ``stop``; the agent
  reports ``listening``, ``ready`` and every node that ends or fails;
* the other agents: a node that ends here is announced directly to the hosts
  whose nodes wait for it (``notify`` in the configuration), in one hop
  (failures, rare, go through the hub, which relays them to everyone);
* the controller's flow registry: ``arrive`` when a flow starts, ``progress``
  when a compute node starts a layer, ``bytes`` sent, ``demoted`` (a sender
  crossed a threshold of its decision's ``demote_at``), ``complete``; the
  controller pushes each decision (queue, TOS, pacing, demotion plan) back
  asynchronously; a flow's first byte waits for its first decision.
"""

import ctypes
import json
import os
import resource
import socket
import time

from common.reactor import LineChannel, Reactor, realtime
from controller.protocol import notice
from emulator import hub_messages as msg
from emulator.agent import netstat
from emulator.agent.transfers import FIRST_WRITE, TcpReceiver, TcpSender, zeros_file
from emulator.agent.udp_transfers import UdpReceiver, UdpSender
from common.safe_files import write_json_atomic, write_text_atomic

PR_SET_TIMERSLACK = 29
REFILL_SECONDS = 0.002
SOCKET_BUFFER = 8 << 20   # bytes: several windows at the fastest emulated rate
DECISION_TIMEOUT = 1.0   # wall seconds a ready flow waits for its first decision at most
STOP_GRACE = 5.0       # seconds for senders to see their receivers close after 'stop'


def _low_latency_process():
    """Wake timers on time (the default 50 us timer slack would delay every
    timed node), run ahead of the datapath (see :func:`common.reactor.realtime`)
    and allow a descriptor per flow connection."""
    try:
        ctypes.CDLL(None).prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    realtime()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def tcp_counters_path(out):
    """Where the agent writes its host's kernel TCP counter changes over the run."""
    return f"{out}.tcp.json"


class HostAgent:
    def __init__(self, config):
        self.config = config
        self.host, self.ip = config.host, config.ip
        self.rate_scale, self.byte_scale = config.rate_scale, config.byte_scale
        self.dilation = config.dilation
        self.nodes = {n.id: n for n in config.nodes}
        self.pending = {n.id: set(n.deps) for n in config.nodes}
        self.dependents = {}
        for node in config.nodes:
            for dep in node.deps:
                self.dependents.setdefault(dep, []).append(node.id)
        self.loop = Reactor(on_error=self._callback_failed)
        self.zeros_fd = zeros_file()
        # unsent bytes a flow keeps queued: 2 ms of the NIC's rate, 64 KiB at least
        self.refill_bytes = max(FIRST_WRITE, int(config.nic_rate_bps / 8 * REFILL_SECONDS))
        self.socket_buffer = SOCKET_BUFFER
        self.records = []
        self.senders = {}            # flow id -> TcpSender / UdpSender (connected before t0)
        self.active = {}             # flow id -> sender, from its start until it finishes
        self.awaiting = {}           # flow id -> ready instant, until its first decision lands
        self._seen = set()           # nodes known to be done or failed
        self._connecting = 0
        self.t0 = None
        self.counters_at_start = {}
        self.peers = {}              # host -> LineChannel to its agent
        self._inbound = []
        self.bytes_period = None     # real seconds between bytes reports (None: not needed)
        self._held = []              # what close() releases besides the flows' sockets

    # -- life cycle -------------------------------------------------------

    def run(self):
        _low_latency_process()
        cfg = self.config
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Set before listen() so accepted connections inherit it and their
        # first window is 10 segments; left to autotuning, it starts at
        # tcp_rmem's 87380 bytes: one 64000-byte segment per round trip.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        listener.bind((self.ip, cfg.data_port))
        listener.listen(4096)
        self.tcp_receiver = TcpReceiver(self, listener)
        datagrams = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        datagrams.bind((self.ip, cfg.data_port))
        self.udp_receiver = UdpReceiver(self, datagrams)
        peer_listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        peer_listener.bind(cfg.peer_sockets[self.host])
        peer_listener.listen(64)
        peer_listener.setblocking(False)
        self.loop.add_reader(peer_listener, self._accept_peer, peer_listener)
        self.controller = self._connect_controller()
        hub = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        hub.connect(cfg.hub)
        self.hub = LineChannel(self.loop, hub, self._hub_message, on_close=self.loop.stop)
        self._to_hub(msg.Listening(host=self.host, token=cfg.hub_token))
        self._held = [self.tcp_receiver, self.udp_receiver, peer_listener, self.controller,
                      self.hub]
        self.loop.run()
        self._write_records()

    def close(self):
        """Release what the run held: its ports, sockets, loop and buffers.
        An agent serving several replays (``--serve``) binds the same data
        port and the same flow source ports again for the next one."""
        for sender in self.senders.values():
            sender.abandon()
        for held in self._held + list(self.peers.values()) + self._inbound:
            held.close()
        self.loop.close()
        os.close(self.zeros_fd)

    def _connect_controller(self):
        """Say hello (synchronously, before the loop runs), then stream notices."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.config.registry)
        sock.sendall(json.dumps({"id": 0, "token": self.config.token, "op": "hello",
                                 "host": self.host}).encode() + b"\n")
        reply = json.loads(sock.makefile("rb").readline() or b"{}")
        if not reply.get("ok"):
            raise RuntimeError(f"controller refused hello: {reply.get('error', 'connection closed')}")
        self.bytes_period = reply.get("bytes_period")
        return LineChannel(self.loop, sock, self._controller_message)

    def _hub_message(self, line):
        message = msg.parse(line)
        if isinstance(message, msg.Connect):
            self._open_connections()
        elif isinstance(message, msg.Start):
            self._start(message.t0)
        elif isinstance(message, msg.Failed):
            self.on_failed(message.node, message.reason)
        elif isinstance(message, msg.Stop):
            self._stop(time.monotonic() + STOP_GRACE)

    def _open_connections(self):
        for host, path in self.config.peer_sockets.items():
            if host != self.host:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(path)
                self.peers[host] = LineChannel(self.loop, sock, self._peer_message)
        flows = [n for n in self.config.nodes if n.kind == "flow"]
        self._connecting = len(flows)
        for node in flows:
            sender = (UdpSender if node.protocol == "udp" else TcpSender)(self, node)
            self.senders[node.id] = sender
            sender.connect(self._connected)
        if not flows:
            self._to_hub(msg.Ready(host=self.host))

    def _connected(self, sender):
        self._connecting -= 1
        if self._connecting == 0:
            errors = sum(1 for s in self.senders.values() if s.error)
            self._to_hub(msg.Ready(host=self.host, connect_errors=errors))

    def _start(self, t0):
        self.t0 = t0
        self.counters_at_start = netstat.read_counters()
        for nid, deps in list(self.pending.items()):
            if not deps:
                self._release(nid)
        if self.bytes_period:
            self.loop.call_later(self.bytes_period * self.dilation, self._report_bytes)

    def _stop(self, deadline):
        if self.active and time.monotonic() < deadline:
            self.loop.call_later(0.01, self._stop, deadline)
            return
        for sender in self.senders.values():
            if sender.record.get("status") is None:
                sender.abandon()
        self.loop.stop()

    def _write_records(self):
        write_text_atomic(self.config.out, "".join(json.dumps(r) + "\n" for r in self.records))
        if self.t0 is not None:
            write_json_atomic(tcp_counters_path(self.config.out),
                              netstat.changed(self.counters_at_start, netstat.read_counters()))

    # -- the DAG ----------------------------------------------------------

    def dilation_bytes(self, real_bytes):
        return max(1, int(round(real_bytes / self.byte_scale)))

    def add_record(self, record):
        self.records.append(record)

    def _release(self, nid):
        node = self.nodes[nid]
        # Nothing of a request runs before it arrives, even when its
        # dependencies (e.g. the previous request on the same instance) end
        # early; nothing of a batch before its last request arrives.
        arrival = self.t0 + self.config.arrivals[node.batch or node.request_id] * self.dilation
        if time.monotonic() < arrival:
            self.loop.call_at(arrival, self._run_node, nid, arrival)
        else:
            self._run_node(nid, time.monotonic())

    def _run_node(self, nid, ready):
        node = self.nodes[nid]
        if node.kind == "compute":
            start = time.monotonic()
            if node.layer is not None:
                if node.batch:
                    self._to_controller("progress", request_id=node.batch, layer=node.layer,
                                        members=node.members)
                else:
                    self._to_controller("progress", request_id=node.request_id, layer=node.layer)
            self.loop.call_at(start + node.duration_us * 1e-6 * self.dilation,
                              self._compute_done, nid, ready, start)
            return
        sender = self.senders[nid]
        if sender.error:
            sender.record.update(ready=ready, status="failed", reason=sender.error)
            self.add_record(sender.record)
            self.node_failed(nid, sender.error)
            return
        # The first byte waits for the controller's decision: started at a
        # provisional marking, the flow's packets would reorder when the
        # decision moves them to a higher queue, and TCP would take the
        # reordering for loss.
        self.active[nid] = sender
        self.awaiting[nid] = ready
        self._to_controller("arrive", flow_id=nid)
        self.loop.call_later(DECISION_TIMEOUT, self._no_decision, nid)

    def _start_flow(self, nid, note=None):
        ready = self.awaiting.pop(nid, None)
        if ready is None:
            return
        sender = self.senders[nid]
        if note:
            sender.record["note"] = note
        sender.start(ready)

    def _no_decision(self, nid):
        if nid in self.awaiting:
            self._start_flow(nid, f"no decision within {DECISION_TIMEOUT} s: sent at the provisional queue")

    def _compute_done(self, nid, ready, start):
        self.add_record({"node_id": nid, "role": "compute", "ready": ready, "start": start,
                         "end": time.monotonic()})
        self.node_done(nid)

    def sender_finished(self, sender):
        self.active.pop(sender.node.id, None)
        self.add_record(sender.record)
        if sender.record["status"] != "ok":
            self._to_controller("complete", flow_id=sender.node.id)   # forget it
            self.node_failed(sender.node.id, sender.record["reason"])

    def sender_demoted(self, flow_id, queue, at):
        """A sender re-marked itself at a threshold of its plan: the controller's view follows."""
        self._to_controller("demoted", soon=True, flow_id=flow_id, queue=queue, at=at)

    def flow_received(self, flow_id):
        """This host received every byte of ``flow_id``: the flow node is done."""
        self.node_done(flow_id)
        self._to_controller("complete", soon=True, flow_id=flow_id)

    def node_done(self, nid):
        """Critical path first: local dependents start, then the hosts waiting
        for ``nid`` hear of it; the hub's count can wait for the loop's turn."""
        data = msg.Done(node=nid).encode()
        self.on_done(nid)
        for host in self.config.notify.get(nid, ()):
            self.peers[host].send(data)
        self.hub.send_soon(data)

    def _callback_failed(self, callback, args, exc):
        """A callback raised: the node it served fails with the error (its id
        is among the arguments), or, if none is named, every node of this host
        not finished yet; never silently, never left waiting."""
        reason = f"agent {self.host}: {getattr(callback, '__name__', 'callback')} failed: " \
                 f"{type(exc).__name__}: {exc}"
        named = [a for a in args if isinstance(a, str) and a in self.nodes]
        for nid in named or [n for n in self.nodes if n not in self._seen]:
            if nid not in self._seen:
                self.node_failed(nid, reason)

    def node_failed(self, nid, reason):
        self._to_hub(msg.Failed(node=nid, reason=reason))   # relayed to everyone
        self.on_failed(nid, reason)

    def on_done(self, nid):
        if nid in self._seen:
            return
        self._seen.add(nid)
        for child in self.dependents.get(nid, ()):
            deps = self.pending[child]
            deps.discard(nid)
            if not deps and child not in self._seen:
                self._release(child)

    def on_failed(self, nid, reason):
        """Fail ``nid`` and, transitively, every local node that depends on it."""
        todo = [nid]
        while todo:
            failed = todo.pop()
            if failed in self._seen:
                continue
            self._seen.add(failed)
            sender = self.senders.get(failed)
            if sender is not None and failed not in self.active and sender.record.get("status") is None:
                sender.abandon()
            for child in self.dependents.get(failed, ()):
                if child not in self._seen:
                    self._to_hub(msg.Failed(node=child, reason=f"dependency {failed} failed"))
                    todo.append(child)

    # -- channels -----------------------------------------------------------

    def _to_hub(self, message):
        self.hub.send(message.encode())

    def _to_controller(self, op, soon=False, **fields):
        data = notice(self.config.token, op, **fields)
        if soon:
            self.controller.send_soon(data)
        else:
            self.controller.send(data)

    def _controller_message(self, line):
        message = json.loads(line)
        if message.get("push") == "decision":
            nid = message["flow_id"]
            sender = self.senders.get(nid)
            if sender is not None:
                sender.apply(message["queue"], message["tos"], message.get("pace_bps"),
                             message.get("reason", ""), message.get("decided_at"),
                             message.get("demote_at", ()))
                if nid in self.awaiting:
                    self._start_flow(nid)
        elif message.get("push") == "error" or message.get("ok") is False:
            self.add_record({"role": "error", "error": message.get("error", "controller error"),
                             "op": message.get("op"), "flow_id": message.get("flow_id")})
            if message.get("flow_id") in self.awaiting:
                self._start_flow(message["flow_id"], f"controller: {message.get('error')}")

    def _accept_peer(self, listener):
        try:
            sock, _ = listener.accept()
        except OSError:
            return
        self._inbound.append(LineChannel(self.loop, sock, self._peer_message))

    def _peer_message(self, line):
        message = msg.parse(line)
        if isinstance(message, msg.Done):
            self.on_done(message.node)
        elif isinstance(message, msg.Failed):
            self.on_failed(message.node, message.reason)

    def _report_bytes(self):
        if self.active:
            self._to_controller("bytes", flows={
                fid: sender.bytes_out() * self.byte_scale for fid, sender in self.active.items()})
        self.loop.call_later(self.bytes_period * self.dilation, self._report_bytes)

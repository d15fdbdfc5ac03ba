"""The agent of one emulated host: runs its DAG nodes, receives its flows."""

import json
import os
import queue
import socket
import threading
import time

from controller.client import RegistryClient, RegistryError
from emulator.agent import transfers, udp_transfers
from emulator.agent.timers import TimerWheel

BYTES_REPORT_PERIOD = 0.05   # emulated seconds between bytes-sent reports


class HostAgent:
    def __init__(self, config):
        self.host = config["host"]
        self.ip = config["ip"]
        self.peers = config["peers"]
        self.data_port = config["data_port"]
        self.rate_scale = config["rate_scale"]
        self.byte_scale = config["byte_scale"]
        self.dilation = self.rate_scale / self.byte_scale
        self.deadlines = config["deadlines"]          # request -> real seconds since t0
        self.arrivals = config["arrivals"]            # request -> real seconds since t0
        self.nodes = {n["id"]: n for n in config["nodes"]}
        self.out = config["out"]
        self.mtu = config["mtu"]
        self.nic_rate_bps = config["nic_rate_bps"]    # emulated line rate of this host's NIC
        self.udp_done = set()
        self.config = config
        self.sending = {}
        self.records = []
        self._lock = threading.Lock()
        self._seen = set()                            # nodes known to be done or failed
        self.pending = {nid: set(n["deps"]) for nid, n in self.nodes.items()}
        self.dependents = {}
        for nid, node in self.nodes.items():
            for dep in node["deps"]:
                self.dependents.setdefault(dep, []).append(nid)
        self.timers = TimerWheel()
        self.stopped = threading.Event()
        self.t0 = None
        self._reports = queue.Queue()
        self._senders = []

    # -- life cycle -------------------------------------------------------

    def run(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.ip, self.data_port))
        listener.listen(1024)
        datagrams = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        datagrams.bind((self.ip, self.data_port))
        self.registry = RegistryClient(self.config["registry"], self.config["token"], host=self.host,
                                       on_push=lambda m: transfers.apply_push(self, m))
        self.hub = _HubLink(self.config["hub"], self)
        threading.Thread(target=transfers.serve_receiver, args=(self, listener), daemon=True).start()
        threading.Thread(target=udp_transfers.UdpReceiver(self, datagrams).serve, daemon=True).start()
        threading.Thread(target=self._report_bytes, daemon=True).start()
        threading.Thread(target=self._send_reports, daemon=True).start()
        self.hub.send({"op": "ready", "host": self.host})
        self.stopped.wait()
        deadline = time.monotonic() + 10
        for sender in list(self._senders):   # their records finish after the receiver's
            sender.join(max(0.0, deadline - time.monotonic()))
        listener.close()
        datagrams.close()
        self.timers.stop()
        self._write_records()

    def start(self, t0):
        self.t0 = t0
        for nid, deps in list(self.pending.items()):
            if not deps:
                self._release(nid)

    def _write_records(self):
        tmp = f"{self.out}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            for record in self.records:
                handle.write(json.dumps(record) + "\n")
        os.replace(tmp, self.out)

    # -- the DAG ----------------------------------------------------------

    def dilation_bytes(self, real_bytes):
        return max(1, int(round(real_bytes / self.byte_scale)))

    def add_record(self, record):
        with self._lock:
            self.records.append(record)

    def _release(self, nid):
        node = self.nodes[nid]
        # Nothing of a request runs before it arrives, even when its
        # dependencies (e.g. the previous request on the same instance) end early.
        arrival = self.t0 + self.arrivals[node["request_id"]] * self.dilation
        if time.monotonic() < arrival:
            self.timers.at(arrival, self._run_node, nid)
        else:
            self._run_node(nid)

    def _run_node(self, nid):
        node = self.nodes[nid]
        if node["kind"] == "compute":
            start = time.monotonic()
            if node.get("layer") is not None:
                self._report("progress", request_id=node["request_id"], layer=node["layer"])
            self.timers.at(start + node["duration_us"] * 1e-6 * self.dilation,
                           self._compute_done, nid, start)
        else:
            sender = threading.Thread(target=transfers.send_flow, args=(self, node), daemon=True)
            self._senders.append(sender)
            sender.start()

    def _compute_done(self, nid, start):
        self.add_record({"node_id": nid, "role": "compute", "start": start, "end": time.monotonic()})
        self.node_done(nid)

    def flow_received(self, flow_id):
        """This host received every byte of ``flow_id``: the flow node is done."""
        self.node_done(flow_id)
        self._report("complete", flow_id=flow_id)

    def report_abort(self, flow_id):
        """A registered flow failed at the sender: the controller forgets it."""
        self._report("complete", flow_id=flow_id)

    def node_done(self, nid):
        self.hub.send({"op": "done", "node": nid})
        self.on_done(nid)

    def node_failed(self, nid, reason):
        self.hub.send({"op": "failed", "node": nid, "reason": reason})
        self.on_failed(nid, reason)

    def on_done(self, nid):
        with self._lock:
            if nid in self._seen:
                return
            self._seen.add(nid)
            ready = []
            for child in self.dependents.get(nid, ()):
                deps = self.pending[child]
                deps.discard(nid)
                if not deps:
                    ready.append(child)
        for child in ready:
            self._release(child)

    def on_failed(self, nid, reason):
        """Fail ``nid`` and, transitively, every local node that depends on it."""
        todo = [nid]
        while todo:
            failed = todo.pop()
            with self._lock:
                if failed in self._seen:
                    continue
                self._seen.add(failed)
                children = list(self.dependents.get(failed, ()))
            for child in children:
                self.hub.send({"op": "failed", "node": child, "reason": f"dependency {failed} failed"})
                todo.append(child)

    def _report(self, op, **fields):
        """Queue a report for the controller; sent in order by one thread, so
        timers and receivers never wait on the controller."""
        self._reports.put((op, fields))

    def _send_reports(self):
        while True:
            op, fields = self._reports.get()
            try:
                self.registry.request(op, **fields)
            except (RegistryError, OSError) as err:
                self.add_record({"role": "error", "op": op, "error": str(err), **fields})

    def _report_bytes(self):
        while not self.stopped.wait(BYTES_REPORT_PERIOD):
            flows = {fid: active.bytes_out() * self.byte_scale
                     for fid, active in list(self.sending.items())}
            if flows:
                self._report("bytes", flows=flows)


class _HubLink:
    """The agent's connection to the orchestrator's hub (start, done, failed, stop)."""

    def __init__(self, path, agent):
        self.agent = agent
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def send(self, message):
        with self._lock:
            self.sock.sendall(json.dumps(message).encode() + b"\n")

    def _read(self):
        try:
            for line in self.sock.makefile("rb"):
                message = json.loads(line)
                op = message["op"]
                if op == "start":
                    self.agent.start(message["t0"])
                elif op == "done":
                    self.agent.on_done(message["node"])
                elif op == "failed":
                    self.agent.on_failed(message["node"], message.get("reason", ""))
                elif op == "stop":
                    break
        finally:
            self.agent.stopped.set()

"""Flow transfers over real kernel TCP: the sending side and the receiving side."""

import socket
import threading
import time

from emulator.agent import tcp_socket, udp_transfers, wire

CHUNK = 256 * 1024
_ZEROS = memoryview(bytes(CHUNK))


class ActiveSend:
    """A flow being sent; the controller's pushes re-mark and re-pace its socket."""

    def __init__(self, sock, emu_bytes, udp=False):
        self.sock = sock
        self.emu_bytes = emu_bytes
        self.written = 0
        self.udp = udp
        self.udp_rate_bps = None      # emulated pacing of a UDP flow (None: line rate)
        self.queues = []              # (instant, queue, reason) as applied to the socket
        self.lock = threading.Lock()

    def apply(self, agent, queue, tos, pace_bps, reason):
        """Mark and pace the socket for ``queue``; a push and the registration
        reply may race, so the first one applied wins and later ones follow."""
        with self.lock:
            tcp_socket.set_tos(self.sock, tos)
            self.pace(agent, pace_bps)
            self.queues.append((time.monotonic(), queue, reason))

    def pace(self, agent, real_bps):
        """Apply the controller's pacing rate (real bit/s, None: unpaced)."""
        rate = None if real_bps is None else real_bps / agent.rate_scale
        if self.udp:
            self.udp_rate_bps = rate
        else:
            tcp_socket.set_pacing(self.sock, rate)

    def bytes_out(self):
        """Emulated bytes that have left the socket buffer and been acknowledged."""
        if self.udp:
            return self.written
        try:
            return max(0, self.written - tcp_socket.unacked_bytes(self.sock))
        except OSError:
            return self.written


def send_flow(agent, node):
    """Register, connect, send ``node``'s bytes; for TCP wait for the receiver to close."""
    udp = node.get("protocol") == "udp"
    record = {"flow_id": node["id"], "role": "send", "ready": time.monotonic(),
              "protocol": "udp" if udp else "tcp"}
    emu_bytes = agent.dilation_bytes(node["bytes"])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    try:
        sock.bind((agent.ip, 0))
        sport = sock.getsockname()[1]
        # Known before registering, so a push that beats the reply still lands.
        active = ActiveSend(sock, emu_bytes, udp)
        agent.sending[node["id"]] = active
        reply = agent.registry.request("register", flow={
            "flow_id": node["id"], "request_id": node["request_id"], "stage": node["stage"],
            "layer": node.get("layer"), "bytes": int(node["bytes"]),
            "deadline": agent.deadlines.get(node["request_id"]),
            "src": agent.host, "dst": node["dst"], "proto": "udp" if udp else "tcp",
            "sport": sport, "dport": agent.data_port})
        record["registered"] = time.monotonic()
        if not active.queues:
            active.apply(agent, reply["queue"], reply["tos"], reply.get("pace_bps"), "initial")
        sock.connect((agent.peers[node["dst"]], agent.data_port))
        record["start"] = time.monotonic()
        if udp:
            udp_transfers.send_udp_flow(agent, node, sock, record, active)
        else:
            _send_tcp(sock, node, emu_bytes, active, record)
        record["sent_end"] = time.monotonic()
        record["queues"] = active.queues
        record["status"] = "ok"
    except Exception as err:  # noqa: BLE001 - reported as the flow's failure
        record["status"] = "failed"
        record["reason"] = f"sender {agent.host}: {type(err).__name__}: {err}"
        if "registered" in record:   # the controller must stop scheduling it
            agent.report_abort(node["id"])
    finally:
        agent.sending.pop(node["id"], None)
        sock.close()
    agent.add_record(record)
    if record["status"] != "ok":
        agent.node_failed(node["id"], record["reason"])


def _send_tcp(sock, node, emu_bytes, active, record):
    sock.sendall(wire.encode_header(node["id"], emu_bytes))
    left = emu_bytes
    while left:
        sent = sock.send(_ZEROS[:min(CHUNK, left)])
        left -= sent
        active.written += sent
    sock.shutdown(socket.SHUT_WR)
    while sock.recv(4096):   # the receiver closes once it has every byte
        pass
    record["retransmits"], _ = tcp_socket.tcp_counters(sock)
    record["bytes"] = emu_bytes


def apply_push(agent, message):
    """The controller moved a flow: re-mark (its NIC queue) and re-pace its socket."""
    active = agent.sending.get(message.get("flow_id"))
    if active is None:
        return
    try:
        active.apply(agent, message["queue"], message["tos"], message.get("pace_bps"),
                     message.get("reason", "change"))
    except OSError:
        return   # the flow just finished


def serve_receiver(agent, listener):
    """Accept flows sent to this host; one thread per connection."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_receive, args=(agent, conn), daemon=True).start()


def _receive(agent, conn):
    buffer = bytearray(CHUNK)
    flow_id, got, first = None, 0, None
    try:
        flow_id, size = wire.read_header(conn)
        while got < size:
            n = conn.recv_into(buffer, min(CHUNK, size - got))
            if not n:
                break
            if first is None:
                first = time.monotonic()
            got += n
        last = time.monotonic()
    except (OSError, ConnectionError):
        size, last = None, time.monotonic()
    finally:
        conn.close()
    if flow_id is None:
        return
    record = {"flow_id": flow_id, "role": "recv", "first_byte": first, "last_byte": last,
              "bytes_received": got}
    agent.add_record(record)
    if size is not None and got == size:
        agent.flow_received(flow_id)
    else:
        agent.node_failed(flow_id, f"receiver {agent.host}: got {got} of {size} bytes")

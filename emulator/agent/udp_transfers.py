"""Flow transfers as paced UDP datagrams, with loss accounting, on the agent's loop.

The sender paces datagrams of one MTU at the controller's pacing rate or,
when unpaced, at its NIC's emulated line rate; every datagram carries the
flow id, its sequence number and the flow's size.  Three FIN datagrams close
the flow; the receiver counts what arrived, and a flow whose FINs are all
lost ends after ``IDLE_END`` emulated seconds without datagrams.  The sender
records the bytes its socket took, the receiver those that arrived; the
difference, the loss, is reported with the flow (``experiments.results``),
not hidden: UDP does not retransmit.
"""

import socket
import struct
import time

from emulator.agent.flow_sender import FlowSender

MAGIC = b"LLMU"
DATA, FIN = 1, 2
_HEAD = struct.Struct("!4sBIQH")     # magic, kind, sequence, flow bytes, flow-id length
IP_UDP_HEADERS = 28
IDLE_END = 10.0      # emulated seconds; a starved flow may pause for long
FIN_GAP = 0.01       # emulated seconds between the three FINs
BURST = 0.0002       # emulated seconds of datagrams sent per wake-up at most


def _payload_size(mtu, flow_id):
    return mtu - IP_UDP_HEADERS - _HEAD.size - len(flow_id.encode())


class UdpSender(FlowSender):
    """The sending side of one UDP flow (a connected datagram socket)."""

    protocol = "udp"

    def __init__(self, agent, node):
        super().__init__(agent, node)
        self.rate_bps = None           # emulated pacing (None: the NIC's line rate)
        self._name = node.id.encode()
        self._chunk = _payload_size(agent.config.mtu, node.id)
        self._filler = bytes(max(self._chunk, 0))
        self._sequence, self._next, self._fins = 0, None, 0

    def connect(self, on_connected):
        try:
            if self._chunk <= 0:
                raise OSError(f"flow id too long for MTU {self.agent.config.mtu}")
            self._open(socket.SOCK_DGRAM)
            self.sock.connect((self.agent.config.peers[self.node.dst], self.agent.config.data_port))
        except OSError as err:
            self.error = f"sender {self.agent.host}: {err}"
        on_connected(self)

    def start(self, ready):
        self.record["ready"] = ready
        self.record["start"] = self._next = time.monotonic()
        self._send_due()

    def _send_due(self):
        now = time.monotonic()
        horizon = now + BURST
        head = len(self._name) + _HEAD.size + IP_UDP_HEADERS
        try:
            while self.written < self.emu_bytes and self._next <= horizon:
                # a datagram ends at the next demotion threshold: the ones after it are re-marked
                payload = min(self._chunk, self.next_threshold() - self.written)
                self.sock.send(_HEAD.pack(MAGIC, DATA, self._sequence, self.emu_bytes, len(self._name))
                               + self._name + self._filler[:payload])
                self.written += payload
                if self.plan and self.written == self.plan[0][0]:
                    self.demote()
                self._sequence += 1
                self._next += (payload + head) * 8 / (self.rate_bps or self.agent.config.nic_rate_bps)
        except BlockingIOError:
            pass   # the NIC queue is full: try again at the next pacing instant
        except OSError as err:
            self._finish("failed", f"sender {self.agent.host}: {type(err).__name__}: {err}")
            return
        if self.written < self.emu_bytes:
            self.agent.loop.call_at(max(self._next, now), self._send_due)
        else:
            self._send_fin()

    def _send_fin(self):
        try:
            self.sock.send(_HEAD.pack(MAGIC, FIN, self._sequence, self.emu_bytes, len(self._name))
                           + self._name)
        except OSError:
            pass   # a lost FIN is what the idle timeout is for
        self._fins += 1
        if self._fins < 3:
            self.agent.loop.call_later(FIN_GAP, self._send_fin)
            return
        self.record["bytes"] = self.written         # what the socket took, not the flow's size
        self.record["datagrams"] = self._sequence
        self.record["sent_end"] = time.monotonic()
        self._finish("ok")

    def _finish(self, status, reason=None):
        self.record["status"] = status
        if reason:
            self.record["reason"] = reason
        self.record["queues"] = self.queues
        self.sock.close()
        self.agent.sender_finished(self)

    def abandon(self):
        if self.sock is not None:
            self.sock.close()

    def _pace(self, emulated_bps):
        self.rate_bps = emulated_bps      # the next datagrams' spacing follows it

    def bytes_out(self):
        return self.written


class UdpReceiver:
    """Receives every UDP flow sent to this host on one socket."""

    def __init__(self, agent, sock):
        self.agent = agent
        self.sock = sock
        self.flows = {}            # flow id -> [first, last, bytes, size, datagrams]
        self.done = set()
        sock.setblocking(False)
        agent.loop.add_reader(sock, self._readable)
        agent.loop.call_later(0.5, self._expire)

    def _readable(self):
        while True:
            try:
                data = self.sock.recv(65535)
            except (BlockingIOError, OSError):
                return
            now = time.monotonic()
            if len(data) < _HEAD.size:
                continue
            magic, kind, _, size, name_len = _HEAD.unpack_from(data)
            if magic != MAGIC:
                continue
            flow_id = data[_HEAD.size:_HEAD.size + name_len].decode(errors="replace")
            if flow_id in self.done:
                continue                      # late datagrams of a flow already ended
            state = self.flows.get(flow_id)
            if state is None:
                state = self.flows[flow_id] = [None, now, 0, size, 0]
            if kind == DATA:
                state[0] = state[0] or now
                state[1] = now
                state[2] += len(data) - _HEAD.size - name_len
                state[4] += 1
                continue
            self._finish(flow_id)

    def _expire(self):
        limit = time.monotonic() - IDLE_END
        for flow_id in [f for f, s in self.flows.items() if s[1] < limit]:
            self._finish(flow_id)
        self.agent.loop.call_later(0.5, self._expire)

    def _finish(self, flow_id):
        first, last, got, _, datagrams = self.flows.pop(flow_id)
        self.done.add(flow_id)
        self.agent.add_record({"flow_id": flow_id, "role": "recv", "first_byte": first,
                               "last_byte": last, "bytes_received": got,
                               "datagrams_received": datagrams})
        self.agent.flow_received(flow_id)

    def close(self):
        self.agent.loop.remove_reader(self.sock)
        self.sock.close()

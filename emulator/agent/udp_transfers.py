"""Flow transfers as paced UDP datagrams, with loss accounting.

The sender paces datagrams of one MTU at the controller's pacing rate or,
when unpaced, at its NIC's emulated line rate; every datagram carries the
flow id, its sequence number and the flow's size.  Three FIN datagrams close
the flow; the receiver counts what arrived, and a flow whose FINs are all
lost ends after ``IDLE_END`` emulated seconds without datagrams.  Lost bytes
are reported with the flow, not hidden: UDP does not retransmit.
"""

import struct
import threading
import time


MAGIC = b"LLMU"
DATA, FIN = 1, 2
_HEAD = struct.Struct("!4sBIQH")     # magic, kind, sequence, flow bytes, flow-id length
IP_UDP_HEADERS = 28
IDLE_END = 10.0   # emulated seconds; a starved flow may pause for long


def _payload_size(mtu, flow_id):
    return mtu - IP_UDP_HEADERS - _HEAD.size - len(flow_id.encode())


def send_udp_flow(agent, node, sock, record, active):
    """Send ``node`` as paced datagrams on the connected UDP socket ``sock``."""
    name = node["id"].encode()
    size = active.emu_bytes
    chunk = _payload_size(agent.mtu, node["id"])
    filler = bytes(chunk)
    sequence, sent = 0, 0
    next_send = time.monotonic()
    while sent < size:
        payload = min(chunk, size - sent)
        rate = active.udp_rate_bps or agent.nic_rate_bps
        next_send += (payload + _HEAD.size + len(name) + IP_UDP_HEADERS) * 8 / rate
        sock.send(_HEAD.pack(MAGIC, DATA, sequence, size, len(name)) + name + filler[:payload])
        sent += payload
        active.written = sent
        sequence += 1
        delay = next_send - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    for _ in range(3):
        sock.send(_HEAD.pack(MAGIC, FIN, sequence, size, len(name)) + name)
        time.sleep(0.01)
    record["bytes"] = size
    record["datagrams"] = sequence


class UdpReceiver:
    """Receives every UDP flow sent to this host on one socket."""

    def __init__(self, agent, sock):
        self.agent = agent
        self.sock = sock
        self.flows = {}            # flow id -> [first, last, bytes, size]
        self.lock = threading.Lock()

    def serve(self):
        threading.Thread(target=self._expire, daemon=True).start()
        while True:
            try:
                data = self.sock.recv(65535)
            except OSError:
                return
            now = time.monotonic()
            if len(data) < _HEAD.size:
                continue
            magic, kind, _, size, name_len = _HEAD.unpack_from(data)
            if magic != MAGIC:
                continue
            flow_id = data[_HEAD.size:_HEAD.size + name_len].decode(errors="replace")
            payload = len(data) - _HEAD.size - name_len
            with self.lock:
                state = self.flows.get(flow_id)
                if state is None:
                    if flow_id in self.agent.udp_done:
                        continue      # late datagrams of a flow already ended
                    state = self.flows[flow_id] = [None, now, 0, size]
                if kind == DATA:
                    state[0] = state[0] or now
                    state[1] = now
                    state[2] += payload
                    continue
                del self.flows[flow_id]
                self.agent.udp_done.add(flow_id)
            self._finish(flow_id, state)

    def _expire(self):
        while True:
            time.sleep(0.5)
            limit = time.monotonic() - IDLE_END
            with self.lock:
                stale = [(f, s) for f, s in self.flows.items() if s[1] < limit]
                for flow_id, _ in stale:
                    del self.flows[flow_id]
                    self.agent.udp_done.add(flow_id)
            for flow_id, state in stale:
                self._finish(flow_id, state)

    def _finish(self, flow_id, state):
        first, last, got, size = state
        self.agent.add_record({"flow_id": flow_id, "role": "recv", "first_byte": first,
                               "last_byte": last, "bytes_received": got,
                               "lost_bytes": max(0, size - got)})
        self.agent.flow_received(flow_id)

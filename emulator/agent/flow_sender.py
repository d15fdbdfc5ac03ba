"""What every flow's sender shares, TCP or UDP: its record, its socket opened
at the flow's source port and provisional marking, and the controller's
decisions applied to that socket."""

import socket
import time

from emulator.agent import tcp_socket


class FlowSender:
    protocol = ""

    def __init__(self, agent, node):
        self.agent, self.node = agent, node
        self.emu_bytes = agent.dilation_bytes(node.bytes)
        self.written = 0
        self.queues = []              # (instant, queue, reason, decided_at) as applied
        self.record = {"flow_id": node.id, "role": "send", "protocol": self.protocol}
        self.error = None
        self.sock = None

    def _open(self, kind):
        """The flow's socket, bound to its source port, at the provisional marking."""
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((self.agent.ip, self.node.sport))
        tcp_socket.set_tos(self.sock, self.agent.config.provisional_tos)

    def apply(self, queue, tos, pace_bps, reason, decided_at):
        """Mark and pace the socket as the controller decided."""
        if self.sock is None or self.sock.fileno() < 0:
            return
        try:
            tcp_socket.set_tos(self.sock, tos)
            self._pace(None if pace_bps is None else pace_bps / self.agent.rate_scale)
        except OSError:
            return     # the flow just ended
        self.queues.append((time.monotonic(), queue, reason, decided_at))

    def _pace(self, emulated_bps):
        """Cap the flow's sending rate (emulated bit/s, None: unpaced)."""
        raise NotImplementedError

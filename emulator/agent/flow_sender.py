"""What every flow's sender shares, TCP or UDP: its record, its socket opened
at the flow's source port and provisional marking, the controller's
decisions applied to that socket, and the demotions the sender makes itself
as its bytes sent cross a decision's thresholds (``demote_at``: PIAS tags
packets at the end host, with no controller round trip)."""

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
        self.plan = []                # sender demotions to come: (emulated bytes sent, queue, tos)
        self.record = {"flow_id": node.id, "role": "send", "protocol": self.protocol}
        self.error = None
        self.sock = None

    def _open(self, kind):
        """The flow's socket, bound to its source port, at the provisional marking."""
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((self.agent.ip, self.node.sport))
        tcp_socket.set_tos(self.sock, self.agent.config.provisional_tos)

    def apply(self, queue, tos, pace_bps, reason, decided_at, demote_at=()):
        """Mark and pace the socket as the controller decided; ``demote_at``
        ``[[real bytes sent, queue, tos], ...]`` replaces the demotion plan."""
        if self.sock is None or self.sock.fileno() < 0:
            return
        try:
            tcp_socket.set_tos(self.sock, tos)
            self._pace(None if pace_bps is None else pace_bps / self.agent.rate_scale)
        except OSError:
            return     # the flow just ended
        self.queues.append((time.monotonic(), queue, reason, decided_at))
        # Thresholds scale as the flow's size does; one at or past the flow's
        # end is never crossed while it sends.
        plan = [(self.agent.dilation_bytes(sent), q, t) for sent, q, t in demote_at]
        self.plan = [step for step in plan if step[0] < self.emu_bytes]
        self._replanned()
        # The controller decided from bytes it had heard of; those the sender
        # has already written past demote now, in order, the last one standing.
        while self.plan and self.plan[0][0] <= self.written:
            self.demote()

    def _replanned(self):
        """A new plan replaced the old one: forget waiting for the old threshold."""

    def next_threshold(self):
        """Bytes to send before the next planned demotion (the flow's size if none)."""
        return self.plan[0][0] if self.plan else self.emu_bytes

    def demote(self):
        """The bytes sent reached the next threshold: re-mark the packets that
        follow and tell the controller.  Not a decision round trip, so no
        ``decided_at`` (decision-to-marking latency counts only decisions)."""
        _, queue, tos = self.plan.pop(0)
        try:
            tcp_socket.set_tos(self.sock, tos)
        except OSError:
            return
        now = time.monotonic()
        self.queues.append((now, queue, "demotion", None))
        self.agent.sender_demoted(self.node.id, queue, now)

    def _pace(self, emulated_bps):
        """Cap the flow's sending rate (emulated bit/s, None: unpaced)."""
        raise NotImplementedError

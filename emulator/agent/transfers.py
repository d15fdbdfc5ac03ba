"""Flow transfers over real kernel TCP, one connection per flow, on the agent's loop.

A flow's connection is opened before time zero (as serving engines and
NCCL keep their connections up), and its header naming the flow is sent
then, so at run time a ready flow only writes: no thread and no handshake
stand between its dependencies ending and its first byte, only the
controller's decision (see :mod:`emulator.agent.host_agent`).  Later
decisions re-mark and re-pace the socket while it sends.
"""

import os
import socket
import time

from emulator.agent import tcp_socket, wire
from emulator.agent.flow_sender import FlowSender

CHUNK = 4 << 20
FIRST_WRITE = 64 << 10
RECV_CHUNK = 1 << 20
TCP_NOTSENT_LOWAT = getattr(socket, "TCP_NOTSENT_LOWAT", 25)
_ZEROS = memoryview(bytes(FIRST_WRITE))


def zeros_file():
    """A memory file of CHUNK zero bytes: bulk data is sent from it with
    ``sendfile``, half the CPU of copying from a buffer (measured: 42 against
    86 us per MB on the development VM), and CPU is what 2 cores run short of."""
    fd = os.memfd_create("zeros", os.MFD_CLOEXEC)
    os.ftruncate(fd, CHUNK)
    return fd


class TcpSender(FlowSender):
    """The sending side of one TCP flow."""

    protocol = "tcp"

    def __init__(self, agent, node):
        super().__init__(agent, node)
        self._header = None
        self._waiting = False
        self._draining = False        # waiting for the bytes before a threshold to leave

    # -- before time zero --------------------------------------------------

    def connect(self, on_connected):
        """Open the connection and send the header; ``on_connected(self)`` after."""
        self._on_connected = on_connected
        agent = self.agent
        try:
            self._open(socket.SOCK_STREAM)
            self.sock.setsockopt(socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT, agent.refill_bytes)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, agent.socket_buffer)
            self.sock.setblocking(False)
            self.sock.connect_ex((agent.config.peers[self.node.dst], agent.config.data_port))
        except OSError as err:
            self._fail_connect(err)
            return
        self._header = wire.encode_header(self.node.id, self.emu_bytes)
        agent.loop.add_writer(self.sock, self._connected)

    def _connected(self):
        self.agent.loop.remove_writer(self.sock)
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self._fail_connect(OSError(err, f"connect to {self.node.dst}: {os.strerror(err)}"))
            return
        try:
            self.sock.send(self._header)      # a few bytes into an empty buffer
        except OSError as err:
            self._fail_connect(err)
            return
        self._on_connected(self)

    def _fail_connect(self, err):
        self.error = f"sender {self.agent.host}: connect: {err}"
        if self.sock is not None:
            self.sock.close()
        self._on_connected(self)

    # -- at run time -------------------------------------------------------

    def start(self, ready):
        self.record["ready"] = ready
        self.record["start"] = time.monotonic()
        self._write()

    def _write(self):
        """Keep about one refill of unsent bytes in the socket.

        The socket is told (``TCP_NOTSENT_LOWAT``) to wake us only when its
        unsent bytes fall under ``refill``, a couple of milliseconds of the
        NIC's rate, so a flow's bulk is copied while it drains instead of all
        at its start, when every flow ready at that instant competes for the
        CPU to get its first bytes out.  Writes stop at the next demotion
        threshold until the bytes before it have left (see ``_crossed``).
        """
        refill = self.agent.refill_bytes
        while True:
            limit = self.next_threshold()
            try:
                if not self.written:
                    self.written += self.sock.send(_ZEROS[:min(FIRST_WRITE, limit)])
                elif self.written < limit:
                    self.written += os.sendfile(self.sock.fileno(), self.agent.zeros_fd, 0,
                                                min(refill, CHUNK, limit - self.written))
            except BlockingIOError:
                pass
            except OSError as err:
                self._fail(err)
                return
            if self.written < limit or limit == self.emu_bytes or not self._crossed():
                break
        if self.written < self.emu_bytes:
            if not self._waiting:
                self.agent.loop.add_writer(self.sock, self._write)
                self._waiting = True
            return
        if self._waiting:
            self.agent.loop.remove_writer(self.sock)
            self._waiting = False
        self.record["sent_end"] = time.monotonic()
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as err:
            self._fail(err)
            return
        self.agent.loop.add_reader(self.sock, self._closed_by_receiver)

    def _replanned(self):
        if self._draining:
            self._draining = False
            try:
                self.sock.setsockopt(socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT, self.agent.refill_bytes)
            except OSError:
                pass     # the flow just ended

    def _crossed(self):
        """Whether the bytes before the next threshold have all been sent; if
        so, demote.  Until then the socket wakes us once its unsent bytes
        reach zero (``TCP_NOTSENT_LOWAT`` 1), so the packets after the
        threshold, and only those, carry the new marking."""
        try:
            unsent = tcp_socket.unsent_bytes(self.sock)
        except OSError:
            unsent = 0
        if unsent > 0:
            if not self._draining:
                self.sock.setsockopt(socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT, 1)
                self._draining = True
            return False
        if self._draining:
            self.sock.setsockopt(socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT, self.agent.refill_bytes)
            self._draining = False
        self.demote()
        return True

    def _closed_by_receiver(self):
        """The receiver closes once it has every byte; then the record is complete."""
        try:
            if self.sock.recv(4096):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self.record["retransmits"], _ = tcp_socket.tcp_counters(self.sock)
        self.record["bytes"] = self.emu_bytes
        self._finish("ok")

    def _fail(self, err):
        self.record["reason"] = f"sender {self.agent.host}: {type(err).__name__}: {err}"
        self._finish("failed")

    def _finish(self, status):
        self.record["status"] = status
        self.record["queues"] = self.queues
        self.agent.loop.remove_reader(self.sock)
        self.agent.loop.remove_writer(self.sock)
        self.sock.close()
        self.agent.sender_finished(self)

    def abandon(self):
        """The run ends (or the flow's dependency failed) before this flow could start."""
        if self.sock is not None and self.sock.fileno() >= 0:
            self.agent.loop.remove_writer(self.sock)
            self.sock.close()

    # -- controller decisions ------------------------------------------------

    def _pace(self, emulated_bps):
        tcp_socket.set_pacing(self.sock, emulated_bps)

    def bytes_out(self):
        """Emulated bytes acknowledged by the receiver so far."""
        try:
            return max(0, self.written - tcp_socket.unacked_bytes(self.sock))
        except (OSError, ValueError):
            return self.written


class TcpReceiver:
    """Accepts this host's incoming flows; each connection announces its flow.

    The payload is counted, never looked at: it is read with ``MSG_TRUNC``,
    which discards it in the kernel, so a receiver costs no copy per byte.
    """

    def __init__(self, agent, listener):
        self.agent = agent
        self.listener = listener
        self.buffer = bytearray(RECV_CHUNK)
        self.connections = []        # accepted sockets, closed with the receiver
        listener.setblocking(False)
        agent.loop.add_reader(listener, self._accept)

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except BlockingIOError:
                return
            except OSError:
                return
            conn.setblocking(False)
            self.connections.append(conn)
            _Incoming(self, conn)

    def close(self):
        self.agent.loop.remove_reader(self.listener)
        self.listener.close()
        for conn in self.connections:        # those of flows that ended are closed already
            conn.close()


class _Incoming:
    """One incoming connection: header, then exactly ``size`` payload bytes."""

    def __init__(self, receiver, conn):
        self.receiver, self.agent, self.conn = receiver, receiver.agent, conn
        self.head = bytearray()
        self.flow_id, self.size, self.got, self.first = None, None, 0, None
        self.agent.loop.add_reader(conn, self._readable)

    def _readable(self):
        try:
            if self.flow_id is None:
                self._read_header()
                if self.flow_id is None:
                    return
            while self.got < self.size:
                # MSG_TRUNC: TCP discards the bytes without copying them out
                n = self.conn.recv_into(self.receiver.buffer, min(RECV_CHUNK, self.size - self.got),
                                        socket.MSG_TRUNC)
                if not n:
                    self._end(time.monotonic())
                    return
                if self.first is None:
                    self.first = time.monotonic()
                self.got += n
        except BlockingIOError:
            return
        except (OSError, ConnectionError) as err:
            self._end(time.monotonic(), err)
            return
        self._end(time.monotonic())

    def _read_header(self):
        data = self.conn.recv(wire.HEADER_MAX - len(self.head))
        if not data:
            raise ConnectionError("connection closed inside a header")
        self.head += data
        parsed = wire.parse_header(self.head)
        if parsed is not None:
            self.flow_id, self.size, used = parsed
            self.got = len(self.head) - used
            if self.got:
                self.first = time.monotonic()

    def _end(self, last, err=None):
        self.agent.loop.remove_reader(self.conn)
        self.agent.loop.call_soon(self.conn.close)     # after what waits for this flow
        if self.flow_id is None:
            return
        self.agent.add_record({"flow_id": self.flow_id, "role": "recv", "first_byte": self.first,
                               "last_byte": last, "bytes_received": self.got})
        if err is None and self.got == self.size:
            self.agent.flow_received(self.flow_id)
        else:
            self.agent.node_failed(self.flow_id, f"receiver {self.agent.host}: got {self.got} of "
                                                 f"{self.size} bytes")

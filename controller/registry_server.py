"""The flow-registry server: JSON lines over a Unix socket, on one event loop.

It authenticates, parses and dispatches each line to a handler object with
one method per op (``on_declare(request)``...), replies, and lets the
handler push messages to the connection of a host.  Every request carrying
an ``id`` gets a reply; the runtime notices agents stream (``arrive``,
``progress``, ``bytes``, ``complete``, sent without an id) get one only when
they fail, so an agent never waits for the controller.  A malformed,
unauthenticated or failing request gets ``{"ok": false, "error": reason}``;
nothing a client sends can stop the server.

One thread runs the loop and so every handler call: the policy and its view
need no lock.
"""

import hmac
import logging
import os
import socket
import threading

from common.reactor import LineChannel, Reactor, realtime
from controller.protocol import (MAX_LINE, NOTICES, ProtocolError, encode, host_token, parse_request,
                                 request_id_of)

log = logging.getLogger(__name__)


class Connection:
    """One client connection; replies and pushes are written at once (an
    agent's flow waits for its decision, so no batching delays it)."""

    def __init__(self, server, sock):
        self.server = server
        self.host = None
        self.channel = LineChannel(server.loop, sock, lambda line: server.serve_line(line, self),
                                   on_close=lambda: server.forget(self), max_line=MAX_LINE)

    def send(self, message):
        return self.channel.send(encode(message))


class RegistryServer:
    def __init__(self, path, token, handler):
        self.token = token
        self.handler = handler
        self.hosts = {}            # host -> Connection (for pushes)
        self.path = path
        self.loop = Reactor()
        self._thread = None
        old_umask = os.umask(0o177)    # socket file: owner (root) only
        try:
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._listener.bind(path)
        finally:
            os.umask(old_umask)
        self._listener.listen(256)
        self._listener.setblocking(False)
        self.loop.add_reader(self._listener, self._accept)

    def _accept(self):
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, OSError):
                return
            Connection(self, sock)

    def serve_line(self, line, conn):
        """Handle one request line."""
        if len(line) > MAX_LINE:
            conn.send({"id": None, "ok": False, "error": f"line over {MAX_LINE} bytes"})
            return
        try:
            request = parse_request(line)
        except ProtocolError as err:
            conn.send({"id": request_id_of(line), "ok": False, "error": str(err)})
            return
        if not self._authentic(request, conn):
            conn.send({"id": request.id, "ok": False, "error": "unauthenticated: bad token"})
            conn.channel.close()
            return
        try:
            if request.op == "hello":
                request.need("host")
                conn.host = request.host
                self.hosts[request.host] = conn
                reply = self.handler.on_hello(request) or {}
            else:
                reply = getattr(self.handler, f"on_{request.op}")(request) or {}
        except ProtocolError as err:
            self._refuse(conn, request, str(err))
            return
        except Exception as err:  # noqa: BLE001 - a bad request must not kill the server
            log.exception("registry request %s failed", request.op)
            self._refuse(conn, request, f"{type(err).__name__}: {err}")
            return
        if request.id is not None or request.op not in NOTICES:
            conn.send({"id": request.id, "ok": True, **reply})

    def _authentic(self, request, conn):
        """The run's token may speak for any host (the orchestrator); a host's
        token only for its host: its ``hello`` binds the connection to it."""
        token = request.token.encode()
        if hmac.compare_digest(token, self.token.encode()):
            return True
        host = request.host if request.op == "hello" else conn.host
        if host is None or conn.host not in (None, host):
            return False
        return hmac.compare_digest(token, host_token(self.token, host).encode())

    def _refuse(self, conn, request, error):
        if request.id is None and request.op in NOTICES:
            log.warning("%s from %s refused: %s", request.op, conn.host, error)
            conn.send({"push": "error", "op": request.op, "error": error, "flow_id": request.flow_id})
        else:
            conn.send({"id": request.id, "ok": False, "error": error})

    def push(self, host, message):
        conn = self.hosts.get(host)
        return conn.send(message) if conn else False

    def forget(self, conn):
        if conn.host and self.hosts.get(conn.host) is conn:
            del self.hosts[conn.host]

    def _run(self):
        realtime()      # decisions are on every flow's critical path
        self.loop.run()

    def start(self):
        self._thread = threading.Thread(target=self._run, name="registry", daemon=True)
        self._thread.start()
        return self._thread

    def close(self):
        if self._thread is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
        self._listener.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

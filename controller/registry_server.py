"""The flow-registry server: a threaded Unix-socket JSON-lines server.

It authenticates, parses and dispatches requests to a handler object with
one method per op (``on_register(request, conn)``...), replies, and lets the
handler push messages to the connection of a host.  A malformed,
unauthenticated or failing request gets ``{"ok": false, "error": reason}``;
nothing a client sends can stop the server.
"""

import hmac
import logging
import os
import socketserver
import threading

from controller.protocol import MAX_LINE, ProtocolError, encode, parse_request, request_id_of

log = logging.getLogger(__name__)


class Connection:
    """One client connection; ``send`` is safe from any thread."""

    def __init__(self, wfile):
        self._wfile = wfile
        self._lock = threading.Lock()
        self.host = None
        self.open = True

    def send(self, message):
        with self._lock:
            if not self.open:
                return False
            try:
                self._wfile.write(encode(message))
                self._wfile.flush()
                return True
            except OSError:
                self.open = False
                return False


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        server = self.server
        conn = Connection(self.wfile)
        try:
            while True:
                line = self.rfile.readline(MAX_LINE + 1)
                if not line:
                    break
                if len(line) > MAX_LINE:
                    conn.send({"id": None, "ok": False, "error": f"line over {MAX_LINE} bytes"})
                    break
                if not line.strip():
                    continue
                if not server.serve_line(line, conn):
                    break
        except (OSError, ValueError):
            pass
        finally:
            conn.open = False
            server.forget(conn)


class RegistryServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, path, token, handler):
        self.token = token
        self.handler = handler
        self.hosts = {}            # host -> Connection (for pushes)
        self._hosts_lock = threading.Lock()
        old_umask = os.umask(0o177)    # socket file: owner (root) only
        try:
            super().__init__(path, _Handler)
        finally:
            os.umask(old_umask)
        self.path = path

    def serve_line(self, line, conn):
        """Handle one request line; False closes the connection."""
        try:
            request = parse_request(line)
        except ProtocolError as err:
            conn.send({"id": request_id_of(line), "ok": False, "error": str(err)})
            return True
        if not hmac.compare_digest(request.token.encode(), self.token.encode()):
            conn.send({"id": request.id, "ok": False, "error": "unauthenticated: bad token"})
            return False
        if request.op == "register":
            # A registration waits for the switches' barriers; on its own thread
            # it does not hold up the host's other requests (replies carry ids).
            threading.Thread(target=self._dispatch, args=(request, conn), daemon=True).start()
        else:
            self._dispatch(request, conn)
        return True

    def _dispatch(self, request, conn):
        try:
            if request.op == "hello":
                request.need("host")
                conn.host = request.host
                with self._hosts_lock:
                    self.hosts[request.host] = conn
                reply = {}
            else:
                reply = getattr(self.handler, f"on_{request.op}")(request) or {}
        except ProtocolError as err:
            conn.send({"id": request.id, "ok": False, "error": str(err)})
            return
        except Exception as err:  # noqa: BLE001 - a bad request must not kill the server
            log.exception("registry request %s failed", request.op)
            conn.send({"id": request.id, "ok": False, "error": f"{type(err).__name__}: {err}"})
            return
        conn.send({"id": request.id, "ok": True, **reply})

    def push(self, host, message):
        with self._hosts_lock:
            conn = self.hosts.get(host)
        return conn.send(message) if conn else False

    def forget(self, conn):
        with self._hosts_lock:
            if conn.host and self.hosts.get(conn.host) is conn:
                del self.hosts[conn.host]

    def start(self):
        thread = threading.Thread(target=self.serve_forever, name="registry", daemon=True)
        thread.start()
        return thread

    def close(self):
        self.shutdown()
        self.server_close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

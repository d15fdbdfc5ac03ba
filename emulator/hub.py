"""The orchestrator's hub: its control channel to the host agents.

Agents connect over a Unix socket (reachable from every namespace, never on
the emulated data network) and say ``listening``; the hub tells them to
``connect`` their flows, they say ``ready``, then receive ``start`` with time
zero and, at the end, ``stop``.  They report every node that ends (``done``)
or fails (``failed``) so the orchestrator knows when the replay is over.
Agents announce a done node directly to the agents that wait for it; a
failure, rare, is relayed by the hub to every agent.

Each agent proves which host it is: its ``listening`` carries that host's
token (an HMAC of the hub's secret, :func:`host_token`), which binds the
connection to the host.  A connection that has not, and a report about a
node its host neither runs nor receives, are refused: counted in
``refused`` with the reason, never acted on.
"""

import hashlib
import hmac
import os
import secrets
import socket
import socketserver
import struct
import threading

from emulator.hub_messages import Done, Failed, HubProtocolError, Listening, Ready, parse

SEND_TIMEOUT = 5


class _AgentHandler(socketserver.StreamRequestHandler):
    def handle(self):
        hub = self.server.hub
        # A stuck agent must not block broadcasts to everyone else (nor the
        # orchestrator's timeout): sends give up after SEND_TIMEOUT seconds.
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                                struct.pack("ll", SEND_TIMEOUT, 0))
        self.host = None
        with hub._lock:
            hub._conns.append(self)
        try:
            for line in self.rfile:
                try:
                    message = parse(line)
                except HubProtocolError as err:
                    hub.refused.append(str(err))   # counted and reported, not acted on
                    continue
                refusal = hub._check(self, message)
                if refusal:
                    hub.refused.append(refusal)
                    continue
                hub._on_message(message)
        except OSError:
            pass
        finally:
            with hub._lock:
                hub._conns.remove(self)

    def send(self, data):
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (OSError, ValueError):   # the agent is gone (ValueError: its file closed)
            pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def host_token(secret, host):
    """The token that proves an agent runs ``host``."""
    return hmac.new(secret.encode(), host.encode(), hashlib.sha256).hexdigest()


class Hub:
    def __init__(self, path, reporters):
        """``reporters``: {node id: the hosts that may report it} (a compute
        node's host; a flow's sender and receiver)."""
        self.path = path
        self.reporters = {node: set(hosts) for node, hosts in reporters.items()}
        self.expected = set(self.reporters)
        self.secret = secrets.token_hex(16)
        self.listening_hosts = set()
        self.ready_hosts = set()
        self.connect_errors = 0
        self.done = set()
        self.failed = {}                 # node -> reason
        self.refused = []                # why each agent line was refused (parse, identity, node)
        self._conns = []
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self.changed = threading.Condition(self._lock)
        old = os.umask(0o177)
        try:
            self._server = _Server(path, _AgentHandler)
        finally:
            os.umask(old)
        self._server.hub = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def token_for(self, host):
        return host_token(self.secret, host)

    def _check(self, conn, message):
        """Why ``message`` on ``conn`` is refused, or None."""
        if isinstance(message, Listening):
            if not hmac.compare_digest(message.token.encode(), self.token_for(message.host).encode()):
                return f"listening as {message.host!r}: bad token"
            if conn.host not in (None, message.host):
                return f"listening as {message.host!r} on {conn.host!r}'s connection"
            conn.host = message.host
            return None
        if conn.host is None:
            return f"{message.op} before listening with a host token"
        if isinstance(message, Ready) and message.host != conn.host:
            return f"ready for {message.host!r} from {conn.host!r}"
        if isinstance(message, (Done, Failed)):
            if message.node not in self.reporters:
                return f"{message.op} for unknown node {message.node!r} from {conn.host!r}"
            if conn.host not in self.reporters[message.node]:
                return f"{message.op} for {message.node!r}: not a node of {conn.host!r}"
        return None

    def _on_message(self, message):
        with self._lock:
            if isinstance(message, Listening):
                self.listening_hosts.add(message.host)
            elif isinstance(message, Ready):
                self.ready_hosts.add(message.host)
                self.connect_errors += message.connect_errors
            elif isinstance(message, (Done, Failed)):
                if message.node in self.done or message.node in self.failed:
                    return
                if isinstance(message, Done):
                    self.done.add(message.node)
                else:
                    self.failed[message.node] = message.reason
            self.changed.notify_all()
        if isinstance(message, Failed):
            self.broadcast(message)

    def broadcast(self, message):
        """Send a :mod:`emulator.hub_messages` message to every agent."""
        data = message.encode()
        with self._lock:
            conns = list(self._conns)
        with self._send_lock:
            for conn in conns:
                conn.send(data)

    def fail(self, node, reason):
        """The orchestrator declares a node failed (dead agent, timeout)."""
        self._on_message(Failed(node=node, reason=reason))

    @property
    def finished(self):
        return len(self.done) + len(self.failed)

    def wait(self, predicate, timeout):
        with self._lock:
            return self.changed.wait_for(predicate, timeout)

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

"""Client side of the flow registry (used by host agents and tests)."""

import itertools
import json
import queue
import socket
import threading

from controller.protocol import MAX_LINE


class RegistryError(Exception):
    """The controller refused a request (the message says why)."""


class RegistryClient:
    """A persistent connection: request/reply by id, pushes to ``on_push``.

    Thread-safe: several threads may call ``request`` at once.
    """

    def __init__(self, path, token, host=None, on_push=None, timeout=30.0):
        self.token = token
        self.timeout = timeout
        self.on_push = on_push
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(path)
        self._file = self._sock.makefile("rb")
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._waiting = {}
        self._waiting_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_loop, name="registry-client", daemon=True)
        self._reader.start()
        if host is not None:
            self.request("hello", host=host)

    def _read_loop(self):
        try:
            for line in self._file:
                message = json.loads(line)
                if "push" in message:
                    if self.on_push:
                        self.on_push(message)
                    continue
                with self._waiting_lock:
                    box = self._waiting.pop(message.get("id"), None)
                if box is not None:
                    box.put(message)
        except (OSError, ValueError):
            pass
        finally:
            with self._waiting_lock:
                for box in self._waiting.values():
                    box.put({"ok": False, "error": "connection to the controller closed"})
                self._waiting.clear()

    def send_raw(self, data):
        """Send raw bytes (tests use it to send garbage)."""
        with self._send_lock:
            self._sock.sendall(data)

    def notify(self, op, **fields):
        """Send a notice (no id: the controller replies only if it fails, as a push)."""
        self.send_raw(json.dumps({"token": self.token, "op": op, **fields},
                                 separators=(",", ":")).encode() + b"\n")

    def request(self, op, **fields):
        request_id = next(self._ids)
        box = queue.Queue(maxsize=1)
        with self._waiting_lock:
            self._waiting[request_id] = box
        line = json.dumps({"id": request_id, "token": self.token, "op": op, **fields},
                          separators=(",", ":")).encode() + b"\n"
        if len(line) > MAX_LINE:
            raise RegistryError(f"request over {MAX_LINE} bytes")
        self.send_raw(line)
        try:
            reply = box.get(timeout=self.timeout)
        except queue.Empty:
            raise RegistryError(f"no reply to {op} within {self.timeout} s") from None
        if not reply.get("ok"):
            raise RegistryError(reply.get("error", "refused"))
        return reply

    def close(self):
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

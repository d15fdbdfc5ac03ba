"""Starting, health-checking and stopping the controller process, by its PID."""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from common import ledger
from controller.client import RegistryClient, RegistryError
from controller.protocol import declare_chunks
from controller.settings import ControllerSettings
from common.safe_files import open_new

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOCKET_ROOT = "/run/llm-netsched-emu"


def remove_socket_root():
    """Remove the shared socket folder once no run uses it (it is ours)."""
    try:
        os.rmdir(SOCKET_ROOT)
    except OSError:
        pass   # still in use by another run, or already gone


def free_tcp_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ControllerProcess:
    """One controller (os-ken + our app) for one run of one policy."""

    def __init__(self, topology_path, policy, out_dir, dilation, num_queues=8, policy_params=None,
                 policy_config=None, tick=None, fit_sizes=(), fit_stages=(), link_rate_factor=1.0):
        self.out_dir = os.path.abspath(out_dir)
        self._socket_dir = None
        self._scope = None
        self.proc = None
        self.settings = dict(
            topology=os.path.abspath(topology_path), link_rate_factor=link_rate_factor, policy=policy,
            policy_params=policy_params or {}, policy_config=policy_config,
            num_queues=num_queues, rate_scale=dilation.rate_scale, byte_scale=dilation.byte_scale,
            token=secrets.token_hex(16), out_dir=self.out_dir, tick=tick,
            fit_sizes=list(fit_sizes), fit_stages=list(fit_stages))

    @property
    def address(self):
        return ("127.0.0.1", self.settings["of_port"])

    @property
    def socket_path(self):
        return self.settings["socket_path"]

    @property
    def token(self):
        return self.settings["token"]

    def start(self, timeout=30.0):
        os.makedirs(self.out_dir, exist_ok=True)
        led = ledger.current()
        self._scope = led.scope("controller")
        led.add(self._scope, "dir", path=SOCKET_ROOT, if_empty=True)
        os.makedirs(SOCKET_ROOT, mode=0o700, exist_ok=True)
        self._socket_dir = tempfile.mkdtemp(prefix="ctl-", dir=SOCKET_ROOT)
        led.add(self._scope, "dir", path=self._socket_dir)
        self.settings.update(socket_path=os.path.join(self._socket_dir, "registry.sock"),
                             of_port=free_tcp_port())
        ControllerSettings.model_validate(self.settings)
        path = os.path.join(self.out_dir, "controller_settings.json")
        with open_new(path, perms=0o600, encoding="utf-8") as handle:     # holds the token
            handle.write(ControllerSettings.model_validate(self.settings).model_dump_json(indent=2))
        self._stdout = open_new(os.path.join(self.out_dir, "controller.stdout"), "wb")
        env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen([sys.executable, "-m", "controller.launcher", path],
                                     cwd=REPO, stdout=self._stdout, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)
        led.add_process(self._scope, self.proc.pid)
        try:
            self._wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"controller exited with {self.proc.returncode}: {self._tail()}")
            if os.path.exists(self.socket_path):
                try:
                    client = RegistryClient(self.socket_path, self.token, timeout=5)
                    client.request("ping")
                    client.close()
                    return
                except (OSError, RegistryError):
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"controller not healthy after {timeout} s: {self._tail()}")

    def _tail(self):
        try:
            with open(os.path.join(self.out_dir, "controller.stdout"), "rb") as handle:
                return handle.read()[-2000:].decode(errors="replace").strip() or "(no output)"
        except OSError:
            return "(no output)"

    def client(self, host=None, on_push=None):
        return RegistryClient(self.socket_path, self.token, host=host, on_push=on_push)

    @staticmethod
    def declare(client, flow_table):
        """Declare the trace's flows (in chunks under the line limit); returns
        how many path rules the switches confirmed."""
        rules = 0
        for chunk in declare_chunks(flow_table):
            rules += client.request("declare", flow_table=chunk)["rules"]
        return rules

    def wait_for_switches(self, count, timeout=30.0):
        """Block until ``count`` switches are connected (ready for flows)."""
        client = self.client()
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if len(client.request("status")["switches"]) >= count:
                    return
                if self.proc.poll() is not None:
                    raise RuntimeError(f"controller exited: {self._tail()}")
                time.sleep(0.1)
            raise RuntimeError(f"only {len(client.request('status')['switches'])} of {count} "
                               f"switches connected to the controller after {timeout} s")
        finally:
            client.close()

    def stop(self):
        """SIGTERM the controller (by PID), SIGKILL if it lingers; remove its socket dir."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_stdout", None):
            self._stdout.close()
        if self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None
            remove_socket_root()
        if self._scope:
            ledger.current().done(self._scope)
            self._scope = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

"""Starting the host agents of a replay inside the fabric's hosts.

A replay of its own starts one agent process per host and lets it exit at
the end (``python -m emulator.agent CONFIG``).  Replays that share a fabric
share agents too (:class:`Agents` with ``serve=True``): one serving process
per host (``python -m emulator.agent --serve``) runs each replay it is sent,
which spares every replay eight Python processes importing on two cores.
Either way the processes are the fabric's, stopped with it by PID.
"""

import json
import os
import select
import subprocess
import sys

from common.safe_files import open_new

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class AgentRun:
    """One host's agent for one replay: ``poll()`` and ``returncode`` of its
    process, and :meth:`wait_done` for its records."""

    def __init__(self, proc, serving):
        self.proc, self.serving = proc, serving

    def poll(self):
        return self.proc.poll()

    @property
    def returncode(self):
        return self.proc.returncode

    def wait_done(self, timeout):
        """Until the agent has written its records (or ``timeout`` s passed);
        whether it did."""
        if not self.serving:
            try:
                self.proc.wait(timeout=timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        poller = select.poll()
        poller.register(self.proc.stdout, select.POLLIN)
        return bool(poller.poll(timeout * 1000)) and self.proc.stdout.readline() == b"done\n"

    def kill(self):
        """An agent that did not finish in time will not serve the next replay."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Agents:
    def __init__(self, fabric, serve=False):
        self.fabric, self.serve = fabric, serve
        self._serving = {}          # host -> its serving process

    def start(self, host, config_path, log_path):
        """``host``'s agent for the replay configured in ``config_path``, its
        output in ``log_path`` (a new file, created here)."""
        env = dict(os.environ, PYTHONPATH=REPO)
        if not self.serve:
            with open_new(log_path, "wb") as log:
                proc = self.fabric.popen(host, [sys.executable, "-m", "emulator.agent", config_path],
                                         cwd=REPO, stdout=log, stderr=log, env=env)
            return AgentRun(proc, serving=False)
        with open_new(log_path, "wb") as log:      # the agent writes the replay's output there
            proc = self._serving.get(host)
            if proc is None or proc.poll() is not None:
                if proc is not None:
                    _close_pipes(proc)
                # until it reads its first replay, its errors go to that replay's log
                proc = self._serving[host] = self.fabric.popen(
                    host, [sys.executable, "-m", "emulator.agent", "--serve"], cwd=REPO,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, bufsize=0)
        try:
            proc.stdin.write(json.dumps({"config": config_path, "log": log_path}).encode() + b"\n")
        except BrokenPipeError:
            pass        # it died since: the replay sees a dead agent and fails its nodes
        return AgentRun(proc, serving=True)

    def close(self):
        """End the serving processes (their stdin closes); the fabric stops
        any that lingers."""
        for proc in self._serving.values():
            try:
                proc.stdin.close()
            except OSError:
                pass
        for proc in self._serving.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            _close_pipes(proc)
        self._serving = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _close_pipes(proc):
    for pipe in (proc.stdin, proc.stdout):
        try:
            pipe.close()
        except OSError:
            pass

"""A real Dask cluster on loopback for the tests: a ``dask scheduler`` and
``dask worker`` processes, started as a user would start them and stopped
by the process groups the test created (never by name)."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

DASK = str(Path(sys.executable).with_name("dask"))


def _start(args, log):
    return subprocess.Popen([DASK, *args], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(proc):
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)     # its own session: the worker and its nanny
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def loopback_cluster(directory, workers=(None,)):
    """Yield the scheduler's address; ``workers``: one entry per worker, its
    ``--resources`` string or None."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    scheduler_file = directory / "scheduler.json"
    procs = []
    with open(directory / "dask.log", "w") as log:
        try:
            procs.append(_start(["scheduler", "--host", "127.0.0.1", "--port", "0",
                                 "--no-dashboard", "--scheduler-file", str(scheduler_file)], log))
            deadline = time.monotonic() + 60
            while not scheduler_file.exists() and time.monotonic() < deadline:
                assert procs[0].poll() is None, (directory / "dask.log").read_text()
                time.sleep(0.1)
            address = json.loads(scheduler_file.read_text())["address"]
            for resources in workers:
                procs.append(_start(["worker", address, "--nthreads", "1", "--no-dashboard",
                                     "--host", "127.0.0.1",
                                     *(["--resources", resources] if resources else [])], log))
            _wait_for_workers(address, len(workers))
            yield address
        finally:
            for proc in reversed(procs):
                _stop(proc)


def _wait_for_workers(address, count):
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(count, timeout=60)

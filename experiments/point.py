"""One sweep point as a task: everything it needs travels with it, its
results come back as files.

A :class:`Point` is what ``sweep`` and ``run --seeds`` hand to an executor
(:mod:`experiments.executor`): the topology and the trace as this point
replays them (its parameters already applied), the schedulers, the backend,
and the policy configuration's *content*.  Nothing names a file that only
the submitting machine has, so a point runs the same on any worker.

:func:`point_files` runs a point in a private temporary directory and
returns ``{relative path: bytes}``; the executor writes them into the
sweep.  A point that raises leaves nothing in the sweep.

An emulator point on a Dask worker runs in its own process
(``python -m experiments.point TASK OUT``): Mininet, the fabric's signal
handling and the run lock want a main thread and a process of their own,
and a worker thread is neither.
"""

import os
import pickle
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

from common.errors import UserError

FABRIC = "fabric"      # the Dask worker resource of machines that can run emulator points


@dataclass
class Point:
    name: str                   # its directory, relative to the sweep's
    topology: object            # netmodel Topology, parameters applied
    trace: object               # traces Trace, parameters applied
    trace_name: str             # the trace file run.json names (the submitter's path)
    schedulers: list
    backend: str                # "emulation" or "fluid"
    dilation: object = None     # emulation only
    speed: dict = None
    policy_config: str = None           # the file run.json names
    policy_config_text: str = None      # its content: what the point actually reads
    timeout: float = None
    reference: str = None
    sim_start_lag: float = 0.0          # real seconds
    run_info: dict = field(default_factory=dict)   # {"sweep": ...} or {"cell": ...}

    @property
    def needs_fabric(self):
        return self.backend == "emulation"

    def describe(self):
        return f"{self.name} ({self.backend}, {len(self.trace.requests)} requests)"


def make_point(name, topology, trace, trace_name, schedulers, backend, dilation=None, speed=None,
               policy_config=None, timeout=None, reference=None, sim_start_lag=0.0,
               run_info=None):
    """A :class:`Point` carrying the content of the ``policy_config`` file."""
    text = None
    if policy_config is not None:
        with open(policy_config, encoding="utf-8") as handle:
            text = handle.read()
    return Point(name, topology, trace, trace_name, list(schedulers), backend, dilation, speed,
                 policy_config, text, timeout, reference, sim_start_lag, dict(run_info or {}))


def run_point_in(point, out_dir, echo=print):
    """Run ``point`` into ``out_dir`` in this process; returns {scheduler: fidelity}."""
    from experiments.experiment import run_experiment

    with tempfile.TemporaryDirectory(prefix="point-config-") as private:
        config = None
        if point.policy_config_text is not None:
            config = os.path.join(private, "policies.yaml")
            with open(config, "w", encoding="utf-8") as handle:
                handle.write(point.policy_config_text)
        return run_experiment(point.topology, point.dilation, point.trace_name, point.schedulers,
                              str(out_dir), policy_config=config, timeout=point.timeout,
                              echo=echo, trace=point.trace, speed=point.speed,
                              reference=point.reference, backend=point.backend,
                              sim_start_lag=point.sim_start_lag,
                              policy_config_name=point.policy_config, **point.run_info)


def read_tree(directory):
    """{path relative to ``directory``: bytes} of every file under it."""
    files = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            files[os.path.relpath(path, directory)] = open(path, "rb").read()
    return files


def point_files(point, echo=None, own_process=False):
    """Run ``point`` in a private directory; returns its files.

    ``own_process``: run it in a child process (an emulator point on a Dask
    worker).  Raises RuntimeError with the point's one-line error if it fails.
    """
    quiet = echo or (lambda *_: None)
    with tempfile.TemporaryDirectory(prefix="point-") as work:
        out = os.path.join(work, "out")
        if not own_process:
            run_point_in(point, out, echo=quiet)
            return read_tree(out)
        task = os.path.join(work, "task.pickle")
        with open(task, "wb") as handle:
            pickle.dump(point, handle)
        proc = subprocess.run([sys.executable, "-m", "experiments.point", task, out],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            lines = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
            raise RuntimeError(f"exit {proc.returncode}: {lines[-1]}")
        return read_tree(out)


def main(argv):
    """``python -m experiments.point TASK OUT``: run a pickled point (written
    by :func:`point_files` into its own private directory) into OUT."""
    from mininet.log import setLogLevel

    task, out = argv
    with open(task, "rb") as handle:
        point = pickle.load(handle)
    setLogLevel("warning")
    try:
        run_point_in(point, out)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Where sweep points run: here, in N local processes, or on a Dask cluster.

``sweep`` and ``run --seeds`` build their points (:class:`experiments.point.Point`)
and hand them all to :class:`PointExecutor`, the one place that runs them:

* here (the default): one after another in this process;
* ``--workers N``: simulator points in N local worker processes (a Dask
  ``LocalCluster`` on loopback).  Emulator points still run here, one at a
  time: each needs the whole fabric, and the run lock allows one per machine;
* ``--cluster ADDRESS``: on a running Dask scheduler; ``--cluster
  ssh:HOST1,HOST2,...`` starts one over SSH (Dask's ``SSHCluster``: the
  scheduler on HOST1, one worker per host).  Emulator points go only to
  workers that advertise the ``fabric`` resource (root workers on prepared
  machines: ``dask worker ADDRESS --resources fabric=1``), and there each runs
  in its own process.

Each point runs in a private directory and comes back as files, written
into the sweep only when it has finished: the sweep directory holds whole
points.  A point that fails is retried once, then reported; it never sinks
the sweep.  ``SWEEP/points.json`` says, as the sweep goes and at its end,
which points are done, running or failed (and why), with an ETA.  (Not
``run.json``: that name marks a results directory, which a sweep is not.)
"""

import logging
import os
import time
from dataclasses import asdict, dataclass

from analysis.summary import dump_json
from common.errors import UserError
from common.safe_files import write_bytes_atomic, write_text_atomic
from experiments.point import FABRIC, point_files

PROGRESS_FILE = "points.json"
ATTEMPTS = 2            # a failed point is retried once
CONNECT_TIMEOUT = "10s"  # to a Dask scheduler


@dataclass
class PointStatus:
    status: str = "pending"     # pending, running, done, failed
    attempts: int = 0
    where: str = None           # "here" or the Dask worker's address
    seconds: float = None       # of its last attempt
    error: str = None           # of its last failed attempt


def parse_cluster(text):
    """("address", "tcp://...") or ("ssh", [hosts]) from ``--cluster``."""
    text = (text or "").strip()
    if text.startswith("ssh:"):
        hosts = [h.strip() for h in text[4:].split(",") if h.strip()]
        if not hosts or any(h.startswith("-") or any(c.isspace() for c in h) for h in hosts):
            raise UserError("--cluster", f"ssh: needs host names, e.g. ssh:vm1,vm2 (got {text!r})")
        return "ssh", hosts
    if not text or any(c.isspace() for c in text) or text.startswith("-"):
        raise UserError("--cluster", f"a Dask scheduler address (tcp://HOST:PORT) or "
                                     f"ssh:HOST1,HOST2 (got {text!r})")
    return "address", text if "://" in text else f"tcp://{text}"


class PointExecutor:
    """Runs points into a sweep directory (see the module's docstring)."""

    def __init__(self, workers=1, cluster=None, echo=print):
        if workers < 1:
            raise UserError("--workers", f"must be at least 1 (got {workers})")
        self.workers, self.echo = workers, echo
        self.cluster = parse_cluster(cluster) if cluster else None
        self._ssh = None        # an SSH cluster started by check(), used by run()

    @property
    def failed(self):
        """The points of the last run() that failed every attempt."""
        return [n for n, s in getattr(self, "statuses", {}).items() if s.status == "failed"]

    @property
    def runs_here(self):
        """Whether emulator points run in this process (so it needs root and the lock)."""
        return self.cluster is None

    def check(self, needs_fabric):
        """Fail now, before anything is written, if the cluster cannot be
        reached or cannot run emulator points (``needs_fabric``).  An SSH
        cluster is started here, and closed when the points have run."""
        if self.cluster is None:
            return
        if self.cluster[0] == "ssh":
            self._ssh = self._start_ssh(needs_fabric)
            return
        from distributed import Client

        try:
            with Client(self.cluster[1], timeout=CONNECT_TIMEOUT) as client:
                self._check_workers(client, needs_fabric, quiet=True)
        except OSError as error:
            raise UserError("--cluster", f"cannot reach the Dask scheduler at {self.cluster[1]}: "
                                         f"{_one_line(error)}") from None

    def run(self, points, sweep_dir):
        """Run every point; returns {name: PointStatus}.  Never raises for a
        failed point (KeyboardInterrupt and bad input found before any
        point starts do)."""
        names = [p.name for p in points]
        if len(set(names)) != len(names):
            raise ValueError("two points share a directory")
        self.sweep_dir = str(sweep_dir)
        self.statuses = {p.name: PointStatus() for p in points}
        self.started = time.monotonic()
        # a replay here draws its own progress bar; one live display at a time
        live = self.cluster is not None or not any(p.needs_fabric for p in points)
        self.bar = _Bar(len(points), self.echo, live)
        try:
            if self.cluster is None and (self.workers == 1 or all(p.needs_fabric for p in points)):
                if self.workers > 1:
                    self.echo("note: emulator points run one at a time on this machine (each "
                              "needs the whole fabric); --workers applies to simulator points")
                self._run_here(points)
            else:
                self._run_on_dask(points)
        finally:
            self.bar.close()
            self._write_progress(final=True)
        for name in self.failed:
            self.echo(f"point FAILED after {self.statuses[name].attempts} attempts: {name}: "
                      f"{self.statuses[name].error}")
        return self.statuses

    # -- here ---------------------------------------------------------------

    def _run_here(self, points):
        for point in points:
            for _ in range(ATTEMPTS):
                self._started(point.name, "here")
                began = time.monotonic()
                try:
                    # an emulator point prints its replay's progress as `run` does
                    files = point_files(point, echo=self.echo if point.needs_fabric else None)
                except Exception as error:      # noqa: BLE001 - reported, never sinks the sweep
                    self._finished(point.name, time.monotonic() - began, error=error)
                    continue
                self._finished(point.name, time.monotonic() - began, files=files)
                break

    # -- on Dask ------------------------------------------------------------

    def _run_on_dask(self, points):
        from distributed import Client, as_completed

        cluster = self._start_cluster(points)
        if cluster is None and self.cluster[0] == "ssh":
            cluster = self._ssh or self._start_ssh(any(p.needs_fabric for p in points))
            self._ssh = None
        try:
            with Client(cluster if cluster is not None else self.cluster[1],
                        timeout=CONNECT_TIMEOUT) as client:
                self._check_workers(client, any(p.needs_fabric for p in points))
                by_key = {}

                def submit(point):
                    future = client.submit(_remote_point, point, pure=False,
                                           key=f"point-{len(by_key)}-{point.name}",
                                           resources={FABRIC: 1} if point.needs_fabric else None)
                    by_key[future.key] = (point, time.monotonic())
                    return future

                pending = as_completed([submit(p) for p in points], with_results=False)
                for future in pending:
                    point, began = by_key[future.key]
                    status = self.statuses[point.name]
                    if future.status == "finished":
                        status.where, seconds, files = future.result()
                        self._finished(point.name, seconds, files=files)
                    else:
                        self._finished(point.name, time.monotonic() - began,
                                       error=future.exception())
                        if status.status == "pending":          # one retry left
                            pending.add(submit(point))
                    self._mark_running(client, by_key)
                    future.release()
        except OSError as error:
            raise UserError("--cluster", f"cannot reach the Dask scheduler: "
                                         f"{_one_line(error)}") from None
        finally:
            if cluster is not None:
                cluster.close()

    def _start_cluster(self, points):
        """A cluster this executor starts (and closes), or None to connect to one."""
        if self.cluster is None:
            from distributed import LocalCluster
            return LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                dashboard_address=None, host="127.0.0.1")
        return None

    def _start_ssh(self, needs_fabric):
        """Dask's SSHCluster: the scheduler on the first host, one worker per
        host, the project at the same path on each (prepared with `sudo make setup`)."""
        import sys

        from distributed import SSHCluster

        hosts = self.cluster[1]
        options = {"nthreads": 1}
        if needs_fabric:
            options["resources"] = {FABRIC: 1}
        spec = logging.getLogger("distributed.deploy.spec")
        level = spec.level
        spec.setLevel(logging.ERROR)      # its warning would repeat our one-line error
        try:
            return SSHCluster([hosts[0]] + hosts, worker_options=options,
                              scheduler_options={"dashboard_address": None},
                              remote_python=sys.executable)
        except Exception as error:             # noqa: BLE001 - asyncssh and Dask raise many kinds
            cause = error.__cause__ or error
            raise UserError("--cluster", f"could not start a Dask cluster over SSH on "
                                         f"{', '.join(hosts)}: {_one_line(cause)}") from None
        finally:
            spec.setLevel(level)

    def _check_workers(self, client, needs_fabric, quiet=False):
        workers = client.scheduler_info().get("workers", {})
        if not workers:
            try:
                client.wait_for_workers(1, timeout=30)
            except TimeoutError:
                raise UserError("--cluster", "the Dask scheduler has no workers (waited 30 s)") \
                    from None
            workers = client.scheduler_info().get("workers", {})
        if needs_fabric and not any(
                w.get("resources", {}).get(FABRIC) for w in workers.values()):
            raise UserError("--cluster", f"emulator points need a worker with the '{FABRIC}' "
                                         f"resource and none of the {len(workers)} has it (start "
                                         f"one as root: dask worker ADDRESS --resources {FABRIC}=1)")
        if quiet:
            return
        self.echo(f"Dask: {len(workers)} worker(s), "
                  f"{sum(1 for w in workers.values() if w.get('resources', {}).get(FABRIC))} "
                  f"with the {FABRIC} resource")

    def _mark_running(self, client, by_key):
        try:
            busy = {key for keys in client.processing().values() for key in keys}
        except Exception:                    # noqa: BLE001 - progress only
            return
        for key, (point, _) in by_key.items():
            status = self.statuses[point.name]
            if key in busy and status.status == "pending":
                status.status = "running"
        self._write_progress()

    # -- bookkeeping --------------------------------------------------------

    def _started(self, name, where):
        status = self.statuses[name]
        status.status, status.where = "running", where
        self._write_progress()

    def _finished(self, name, seconds, files=None, error=None):
        status = self.statuses[name]
        status.attempts += 1
        status.seconds = round(seconds, 3)
        if error is None:
            for relative, data in files.items():
                write_bytes_atomic(os.path.join(self.sweep_dir, name, relative), data)
            status.status, status.error = "done", None
        else:
            status.error = _one_line(error)
            status.status = "failed" if status.attempts >= ATTEMPTS else "pending"
            self.echo(f"point {name}: attempt {status.attempts} failed: {status.error}"
                      + ("" if status.status == "failed" else "; retrying"))
        self.bar.update(self.counts(), self._eta())
        self._write_progress()

    def counts(self):
        counts = {"done": 0, "running": 0, "failed": 0, "pending": 0}
        for status in self.statuses.values():
            counts[status.status] += 1
        return counts

    def _eta(self):
        counts = self.counts()
        finished = counts["done"] + counts["failed"]
        if not finished:
            return None
        left = len(self.statuses) - finished
        return (time.monotonic() - self.started) / finished * left

    def _write_progress(self, final=False):
        eta = self._eta()
        write_text_atomic(os.path.join(self.sweep_dir, PROGRESS_FILE), dump_json({
            "total": len(self.statuses), **self.counts(),
            "complete": final and self.counts()["done"] == len(self.statuses),
            "elapsed_seconds": round(time.monotonic() - self.started, 1),
            "eta_seconds": None if final or eta is None else round(eta, 1),
            "executor": self.describe(),
            "points": {name: asdict(s) for name, s in self.statuses.items()}}))

    def describe(self):
        if self.cluster is None:
            return "here" if self.workers == 1 else f"{self.workers} local workers"
        kind, where = self.cluster
        return f"ssh:{','.join(where)}" if kind == "ssh" else where


def _remote_point(point):
    """A point's task on a Dask worker: (worker address, seconds, files)."""
    from distributed import get_worker

    began = time.monotonic()
    files = point_files(point, own_process=point.needs_fabric)
    return get_worker().address, time.monotonic() - began, files


def _one_line(error):
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1] if text else ''}"[:500]


class _Bar:
    """Points done / running / failed and the ETA: a bar on a terminal, a line per point otherwise."""

    def __init__(self, total, echo, live=True):
        import sys
        self.total, self.echo, self.bar = total, echo, None
        if live and sys.stdout.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
            self.bar = Progress(TextColumn("points"), BarColumn(),
                                TextColumn("{task.completed}/{task.total} done, "
                                           "{task.fields[running]} running, "
                                           "{task.fields[failed]} failed"),
                                TimeRemainingColumn())
            self.bar.start()
            self.task = self.bar.add_task("points", total=total, running=0, failed=0)

    def update(self, counts, eta):
        if self.bar is not None:
            self.bar.update(self.task, completed=counts["done"] + counts["failed"],
                            running=counts["running"], failed=counts["failed"])
            return
        finished = counts["done"] + counts["failed"]
        self.echo(f"points: {finished}/{self.total} finished ({counts['failed']} failed), "
                  f"{counts['running']} running"
                  + ("" if eta is None else f", ETA {eta:.0f}s"))

    def close(self):
        if self.bar is not None:
            self.bar.stop()


def add_executor_options(parser):
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="run simulator points in N local processes (default 1; emulator "
                             "points always run one at a time per machine)")
    parser.add_argument("--cluster", default=None, metavar="ADDRESS|ssh:HOST,...",
                        help="run the points on a Dask cluster: a running scheduler's address, "
                             "or ssh:HOST1,HOST2 to start one over SSH (emulator points need "
                             "workers started with --resources fabric=1)")


def executor_from_args(args):
    """The executor ``--workers`` and ``--cluster`` ask for (checked: bad input fails here)."""
    if args.cluster and args.workers != 1:
        raise UserError("--workers", "give --workers or --cluster, not both (a cluster's "
                                     "workers are its own)")
    if args.cluster or args.workers != 1:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise UserError("--cluster" if args.cluster else "--workers",
                            "needs the 'distributed' package (sudo make setup)") from None
    return PointExecutor(workers=args.workers, cluster=args.cluster)

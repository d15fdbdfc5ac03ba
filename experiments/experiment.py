"""A whole experiment: one trace replayed under each scheduler, with its record.

``DIR/run.json`` holds the configuration, versions, git revision, datapath,
kernel and dilation; each scheduler's tables go to ``DIR/<scheduler>/``.
"""

import contextlib
import os
import platform
import subprocess
import sys
import time
from importlib import metadata

from common.errors import UserError
from experiments.replay import Replay
from experiments.selftest import write_json

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def versions():
    out = {"python": platform.python_version()}
    for package in ("os-ken", "pyroute2", "pandas", "plotly", "mininet"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    try:
        out["openvswitch"] = subprocess.run(["ovs-vsctl", "--version"], capture_output=True,
                                            text=True).stdout.split("\n")[0].split()[-1]
    except OSError:
        out["openvswitch"] = None
    return out


def git_revision():
    try:
        proc = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return proc.stdout.strip() + ("-dirty" if dirty else "") if proc.returncode == 0 else None
    except OSError:
        return None


class Progress:
    """Flows/nodes done over total, elapsed and ETA: a bar on a terminal, lines otherwise."""

    def __init__(self, label, echo=print):
        self.label, self.echo = label, echo
        self.start = time.monotonic()
        self.last_tenth = -1
        self.bar = None
        if sys.stdout.isatty():
            from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn, \
                TimeRemainingColumn
            self.bar = Bar(TextColumn(f"{label:>8}"), BarColumn(),
                           TextColumn("{task.completed}/{task.total} nodes"),
                           TimeElapsedColumn(), TimeRemainingColumn(), transient=False)
            self.task = None

    def __call__(self, done, total):
        if self.bar is not None:
            if self.task is None:
                self.bar.start()
                self.task = self.bar.add_task(self.label, total=total)
            self.bar.update(self.task, completed=done)
            return
        tenth = int(10 * done / max(total, 1))
        if tenth > self.last_tenth:
            self.last_tenth = tenth
            elapsed = time.monotonic() - self.start
            eta = elapsed / done * (total - done) if done else float("nan")
            self.echo(f"  {self.label}: {done}/{total} nodes, {elapsed:.0f}s elapsed, ETA {eta:.0f}s")

    def close(self):
        if self.bar is not None and self.task is not None:
            self.bar.stop()


MIN_TIMEOUT = 600.0       # emulated seconds
TIMEOUT_SLACK = 5         # x the trace's end on an idle network


def auto_timeout(trace, topology, dilation):
    """Emulated seconds after which a replay gives up on unfinished flows:
    ``TIMEOUT_SLACK`` times the end of the trace's last node on an idle
    network (compute queues included), dilated, and never under
    ``MIN_TIMEOUT``.  A fixed timeout failed the flows of a 0.75 s trace
    replayed at x800."""
    from traces.isolated import idle_end_us

    end_us = idle_end_us(trace, lambda host: topology.host_link(host).rate_bps)
    return max(MIN_TIMEOUT, TIMEOUT_SLACK * end_us * 1e-6 * dilation.factor)


def unadmitted_note(trace, schedulers, policy_config=None):
    """A warning when MFS counts queued requests (``queued_layer`` -1) on a
    trace that never says when a request is admitted (no ``admitted`` node,
    as ``trace synth`` writes): every request then looks queued until its
    first layer-0 compute starts, so its layer-0 fetches, which that compute
    waits for, are deferred as if a layer ahead.  None when that is not so."""
    if "mfs" not in schedulers or not trace.requests:
        return None
    from policies import get_policy

    if get_policy("mfs", None, 8, policy_config).params.queued_layer != -1:
        return None
    if any(getattr(n, "label", None) == "admitted" for n in trace.nodes):
        return None
    return ("note: the trace has no 'admitted' nodes, so MFS (queued_layer -1) treats each "
            "request as queued until its first layer-0 compute starts; regenerate it with "
            "'trace synth' or set 'mfs: {queued_layer: 0}' in a --policy-config file")


def run_experiment(topology, dilation, trace_path, schedulers, out_dir, policy_config=None,
                   timeout=None, echo=print, trace=None, sweep=None, speed=None, reference=None,
                   backend="emulation", sim_start_lag=0.0, cell=None, policy_config_name=None):
    """Replay ``trace_path`` under each scheduler into ``out_dir``; returns {scheduler: fidelity}.

    ``backend``: "emulation" (the fabric, as root) or "fluid" (the
    flow-level simulator, :mod:`simulator`; ``dilation`` is then ignored).
    ``cell``: {parameter: value} of a grid sweep's cell, recorded in run.json.
    ``timeout``: emulated seconds (None: :func:`auto_timeout`).
    ``policy_config_name``: the name run.json records for ``policy_config``
    (a sweep point reads a private copy of the user's file).
    """
    from policies import policy_classes
    from traces import load_trace

    known = policy_classes()
    for name in schedulers:
        if name not in known:
            raise UserError("--scheduler", f"unknown scheduler {name!r} (known: {', '.join(sorted(known))})")
    if trace is None:
        trace = load_trace(trace_path, hosts={h.name for h in topology.hosts})
    if timeout is None and backend != "fluid":
        timeout = auto_timeout(trace, topology, dilation)
    os.makedirs(out_dir, exist_ok=True)
    run_info = {
        "config": {"topology": topology.path, "trace": trace_path, "schedulers": list(schedulers),
                   "timeout": timeout,
                   "policy_config": policy_config_name or policy_config,
                   "requests": len(trace.requests), "nodes": len(trace.nodes),
                   "flows": sum(1 for n in trace.nodes if n.kind == "flow")},
        "schedulers": [],               # those that completed, in order
        "topology": topology.to_dict(),
        "dilation": dilation.to_dict() if dilation is not None else None,
        "speed": speed,                 # how the dilation and MTU were chosen, and why
        "versions": versions(),
        "git_revision": git_revision(),
        "datapath": None,
        "kernel": platform.release(),
        "backend": backend,
    }
    if backend == "fluid":
        from experiments.sim_replay import UNDILATED
        run_info["dilation"] = UNDILATED.to_dict()
        run_info["datapath"] = "fluid"
    if reference:
        run_info["reference"] = reference
    if sweep:
        run_info["sweep"] = sweep
    if cell:
        run_info["grid_cell"] = cell
    how = "the flow-level simulator" if backend == "fluid" else dilation.describe(topology)
    echo(f"replaying {trace_path}: {len(trace.requests)} requests, {len(trace.nodes)} nodes on "
         f"{topology.name}; {how}")
    note = unadmitted_note(trace, schedulers, policy_config)
    if note:
        echo(note)
        run_info["notes"] = [note]
    with contextlib.ExitStack() as stack:
        fabric = agents = None
        if backend != "fluid":
            # one fabric for every scheduler, reset between them (Replay.run)
            from common import ledger
            from emulator.agents import Agents
            from emulator.fabric import Fabric

            ledger.current().phase("building the fabric")
            fabric = stack.enter_context(Fabric(topology, dilation, controller=Fabric.LATER))
            agents = stack.enter_context(Agents(fabric, serve=True))
        return _replay_each(topology, dilation, trace, schedulers, out_dir, run_info, fabric,
                            agents, policy_config, timeout, echo, backend, sim_start_lag)


def _replay_each(topology, dilation, trace, schedulers, out_dir, run_info, fabric, agents,
                 policy_config, timeout, echo, backend, sim_start_lag):
    fidelity = {}
    for name in schedulers:
        if backend == "fluid":
            from experiments.sim_replay import SimReplay
            fidelity[name] = SimReplay(topology, trace, name, os.path.join(out_dir, name),
                                       policy_config=policy_config, start_lag=sim_start_lag).run()
            run_info["schedulers"].append(name)
            echo(f"  {name}: simulated in {fidelity[name]['wall_seconds']:.2f}s")
            write_json(os.path.join(out_dir, "run.json"), run_info)
            continue
        progress = Progress(name, echo)
        try:
            fidelity[name] = Replay(topology, dilation, trace, name, os.path.join(out_dir, name),
                                    policy_config=policy_config, timeout=timeout,
                                    progress=progress).run(fabric, agents)
        finally:
            progress.close()
        run_info["datapath"] = fidelity[name]["datapath"]
        run_info["schedulers"].append(name)
        fault = fidelity[name].get("fault")
        if fault:
            run_info.setdefault("faults", {})[name] = fault
        failed = fidelity[name]["flows_failed"]
        lossy = fidelity[name].get("udp_lossy_flows")
        echo(f"  {name}: done in {fidelity[name]['emulated_seconds']:.1f}s"
             + (f", {failed} flows FAILED (see {name}/flows.csv)" if failed else "")
             + (f", {lossy} UDP flows LOST bytes (flows.csv: reason)" if lossy else ""))
        write_json(os.path.join(out_dir, "run.json"), run_info)
        if fault:
            echo(f"  {name}: {fault}; its results are partial, the schedulers after it not run")
            break
    return fidelity

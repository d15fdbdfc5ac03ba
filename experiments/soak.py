"""Soak: one long replay with every process of the run sampled over time.

``selftest --soak`` replays a large trace (10,000 flows or more) once and,
every ``interval`` seconds, reads for each process the run's ledger names
(controller, host shells, agents), for itself and for ``ovs-vswitchd``:
open descriptors, sockets among them, threads and resident memory.  The
samples go to ``soak.csv``; ``soak.json`` compares each process's first and
last tenth of the replay's traffic (from its start time to its end).  A
leak grows with the flows replayed, so its growth from the first to the
last tenth is the figure to bound: the verdict holds when no process gains
more than ``FD_BOUND`` descriptors or threads, or more than
``RSS_BOUND_MB`` of memory.
"""

import os
import threading
import time

import pandas as pd

from common import ledger
from common.safe_files import write_json_atomic, write_text_atomic
from emulator import ovs
from experiments.replay import Replay

FD_BOUND = 8          # descriptors (or threads) a process may gain between the tenths
RSS_BOUND_MB = 64     # resident memory it may gain (allocator slack, caches, pandas)
COLUMNS = ["time_s", "process", "pid", "fds", "sockets", "threads", "rss_kb"]


def sample(pid):
    """(fds, sockets, threads, rss_kb) of a live process, or None."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
        sockets = 0
        for fd in fds:
            try:
                sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
            except OSError:
                pass
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            status = dict(line.split(":", 1) for line in handle if ":" in line)
        return (len(fds), sockets, int(status["Threads"]),
                int(status.get("VmRSS", "0 kB").split()[0]))
    except (OSError, KeyError, ValueError):
        return None


def label(pid):
    """What a process of the run is, from its command line (for the table only)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            args = [a.decode(errors="replace") for a in handle.read().split(b"\0") if a]
    except OSError:
        return None
    if "controller.launcher" in args:
        return "controller"
    if "emulator.agent" in args:
        return "agent " + os.path.basename(args[-1]).removeprefix("agent-").removesuffix(".json")
    return "node shell"


def run_soak(topology, dilation, trace, scheduler, out_dir, timeout, interval=1.0, echo=print):
    """Replay ``trace`` under ``scheduler`` into ``out_dir`` while sampling; returns soak.json's object."""
    replay = Replay(topology, dilation, trace, scheduler, out_dir, timeout=timeout)
    rows, start, stop = [], time.monotonic(), threading.Event()
    me, vswitchd = os.getpid(), ovs.vswitchd_pid()

    def sample_while_replaying():
        while not stop.is_set():
            now = round(time.monotonic() - start, 2)
            _, items, phase = ledger.read_ledger(ledger.current().path)
            if phase == "replaying":
                pids = {me: "orchestrator", vswitchd: "ovs-vswitchd"}
                pids.update({i["pid"]: None for i in items if i["kind"] == "process"})
                for pid, name in pids.items():
                    measured = sample(pid) if pid else None
                    name = name or label(pid)
                    if measured and name:
                        rows.append([now, name, pid, *measured])
            stop.wait(interval)

    # The replay runs in this (the main) thread, so that SIGTERM and Ctrl-C
    # unwind it and its fabric is removed; the sampler is the helper thread.
    sampler = threading.Thread(target=sample_while_replaying, daemon=True)
    sampler.start()
    try:
        fidelity = replay.run()
    finally:
        stop.set()
        sampler.join(10)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    write_text_atomic(os.path.join(out_dir, "soak.csv"), frame.to_csv(index=False))
    report = summarize(traffic_span(frame, fidelity["t0_monotonic"] - start,
                                    fidelity["emulated_seconds"]))
    report.update(flows=sum(1 for n in trace.nodes if n.kind == "flow"),
                  flows_failed=fidelity["flows_failed"],
                  replay_seconds=fidelity["emulated_seconds"],
                  bounds={"fds_threads": FD_BOUND, "rss_mb": RSS_BOUND_MB})
    import json
    with open(os.path.join(out_dir, "controller.json"), encoding="utf-8") as handle:
        controller = json.load(handle)
    # the controller's per-request state at the end: released as requests finish
    report["controller_requests_held"] = {k: controller.get(k) for k in
                                          ("requests_unfinished", "requests_with_progress")}
    write_json_atomic(os.path.join(out_dir, "soak.json"), report)
    return report


def traffic_span(frame, t0, seconds):
    """The samples from the replay's start (``t0``, on the samples' clock) to
    its end.  The ledger says "replaying" from before the agents connect
    until after they exit, and the tenths must compare the replay itself, not
    its start-up ramp with its teardown."""
    return frame[(frame["time_s"] >= t0) & (frame["time_s"] <= t0 + seconds)]


def summarize(frame):
    """Per process: its first and last tenth's means and the growth between them."""
    out, passed = {}, True
    if frame.empty:
        return {"processes": out, "passed": False}
    span = frame["time_s"].max() - frame["time_s"].min()
    first = frame[frame["time_s"] <= frame["time_s"].min() + span / 10]
    last = frame[frame["time_s"] >= frame["time_s"].max() - span / 10]
    for (name, pid), _ in frame.groupby(["process", "pid"]):
        a = first[(first["process"] == name) & (first["pid"] == pid)]
        b = last[(last["process"] == name) & (last["pid"] == pid)]
        if a.empty or b.empty:
            continue        # a process that did not live through the replay
        entry = {}
        for column in ("fds", "sockets", "threads", "rss_kb"):
            entry[column] = {"first": round(float(a[column].mean()), 1),
                             "last": round(float(b[column].mean()), 1),
                             "max": int(frame.loc[(frame["process"] == name) & (frame["pid"] == pid),
                                                  column].max())}
            entry[column]["growth"] = round(entry[column]["last"] - entry[column]["first"], 1)
        ok = (entry["fds"]["growth"] <= FD_BOUND and entry["threads"]["growth"] <= FD_BOUND
              and entry["rss_kb"]["growth"] <= RSS_BOUND_MB * 1024)
        entry["within_bounds"] = ok
        passed &= ok
        out[f"{name} ({pid})"] = entry
    return {"processes": out, "passed": passed}


def soak_text(report):
    """The terminal table: per process, fds / threads / RSS first -> last."""
    lines = [f"{'process':<24}{'fds':>14}{'sockets':>14}{'threads':>12}{'RSS MB':>18}  ok"]
    for name, e in report["processes"].items():
        def pair(column, scale=1):
            return f"{e[column]['first'] / scale:.0f} -> {e[column]['last'] / scale:.0f}"
        lines.append(f"{name:<24}{pair('fds'):>14}{pair('sockets'):>14}{pair('threads'):>12}"
                     f"{pair('rss_kb', 1024):>18}  {'yes' if e['within_bounds'] else 'NO'}")
    lines.append(f"{report.get('flows', '?')} flows, {report.get('flows_failed', '?')} failed; "
                 f"bounds: +{FD_BOUND} descriptors or threads, +{RSS_BOUND_MB} MB per process "
                 f"from the first to the last tenth: {'PASSED' if report['passed'] else 'FAILED'}")
    return "\n".join(lines)

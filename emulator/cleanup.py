"""``run_emulation.py cleanup``: remove what killed runs left behind, and
nothing else.

Reads every ledger in the state directory (:mod:`common.ledger`).  A ledger
whose run still lives is left alone.  For a dead run, each open scope's
items are removed: its processes (only if the pid still has the recorded
start time: a pid reused by someone else is never signalled), the OVS rows
tagged with its run id, its veth ends still in the root namespace, its
directories.  Then the ledger goes.  Safe at any time, and idempotent: what
is already gone is skipped.
"""

import contextlib
import json
import os
import shutil
import signal
import time

from common import ledger
from emulator import ovs

TERM_GRACE = 2.0    # seconds between SIGTERM and SIGKILL


def dead_ledgers():
    """(path, header, open items, last phase) of every ledger whose run is dead."""
    out = []
    directory = ledger.runs_dir()
    if not os.path.isdir(directory):
        return out
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".jsonl"):
            continue
        path = os.path.join(directory, name)
        header, items, phase = ledger.read_ledger(path)
        if header and ledger.alive(header.get("pid"), header.get("start"), header.get("boot")):
            continue
        out.append((path, header or {}, items, phase))
    return out


def cleanup(echo=print):
    """Remove what every dead run's ledger names; returns how many things went."""
    removed = 0
    for path, header, items, phase in dead_ledgers():
        run_id, boot = header.get("run"), header.get("boot")
        echo(f"run {run_id or os.path.basename(path)} ({' '.join(header.get('argv', []))}), "
             f"killed while {phase or 'starting'}:")
        same_boot = boot == ledger.boot_id()
        processes = [i for i in items if i["kind"] == "process"]
        removed += _stop_processes(processes, same_boot, echo)
        if run_id and any(i["kind"] == "ovs" for i in items):
            removed += _remove_ovs_rows(run_id, echo)
        for item in items:
            if item["kind"] == "link" and same_boot:
                removed += _remove_link(item["name"], echo)
            elif item["kind"] == "dir" and not item.get("if_empty"):
                if os.path.lexists(item["path"]):
                    shutil.rmtree(item["path"], ignore_errors=True)
                    echo(f"  removed directory {item['path']}")
                    removed += 1
        for item in items:       # shared parents, once their runs' directories are gone
            if item["kind"] == "dir" and item.get("if_empty"):
                with contextlib.suppress(OSError):
                    os.rmdir(item["path"])
        os.unlink(path)
    if not removed:
        echo("nothing to clean up")
    return removed


def _stop_processes(items, same_boot, echo):
    """SIGTERM each recorded process that is still the one recorded, then
    SIGKILL those still there after ``TERM_GRACE``."""
    if not same_boot:
        return 0     # a reboot ended them all
    ours = [(i["pid"], i["start"]) for i in items
            if i.get("start") is not None and ledger.process_start(i["pid"]) == i["start"]]
    for pid, _ in ours:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + TERM_GRACE
    while time.monotonic() < deadline and any(
            ledger.process_start(pid) == start for pid, start in ours):
        time.sleep(0.05)
    for pid, start in ours:
        if ledger.process_start(pid) == start:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        echo(f"  stopped process {pid}")
    return len(ours)


def _remove_ovs_rows(run_id, echo):
    """Delete the bridges and QoS rows tagged with ``run_id``."""
    if not ovs.ovsdb_running():
        return 0
    removed = 0
    for table in ("Bridge", "QoS"):
        found = json.loads(ovs.run(["ovs-vsctl", "--format=json", "--columns=_uuid,name"
                                    if table == "Bridge" else "--columns=_uuid",
                                    "find", table, f"external_ids:{ledger.TAG_KEY}={run_id}"]))
        for row in found.get("data", []):
            uuid = row[0][1]
            if table == "Bridge":
                ovs.run(["ovs-vsctl", "--no-wait", "--if-exists", "del-br", row[1]])
                echo(f"  removed bridge {row[1]}")
            else:
                ovs.run(["ovs-vsctl", "--no-wait", "--if-exists", "destroy", "QoS", uuid])
            removed += 1
    return removed


def _remove_link(name, echo):
    """Delete a veth end left in the root namespace (its peer goes with it)."""
    shown = ovs.run(["ip", "-j", "-d", "link", "show", "dev", name], check=False)
    try:
        kind = json.loads(shown)[0].get("linkinfo", {}).get("info_kind")
    except (ValueError, IndexError, AttributeError):
        return 0     # gone
    if kind != "veth":
        return 0     # not a veth: not one of ours
    ovs.run(["ip", "link", "del", "dev", name], check=False)
    echo(f"  removed interface {name}")
    return 1

"""What a run creates, written down before it exists, and one run at a time.

A run (any process that builds a fabric or starts a controller) keeps a
ledger: ``STATE_DIR/runs/<run id>.jsonl``, one JSON line per thing it is
about to create, appended (unbuffered) before the thing exists, or, for a
process or a randomly named directory, the instant it does:

    {"op": "run", "run": ID, "pid", "start", "boot", "argv", "time"}   first line
    {"op": "add", "scope": S, "kind": "process", "pid", "start"}      a process
    {"op": "add", "scope": S, "kind": "link", "name"}                  a veth end in the root namespace
    {"op": "add", "scope": S, "kind": "ovs", "table"}                 OVS rows tagged with the run id
    {"op": "add", "scope": S, "kind": "dir", "path"}                   a directory
    {"op": "done", "scope": S}                                         S removed what it created
    {"op": "phase", "name"}                                            where the run is

A run that ends normally closes every scope and deletes its ledger.  One
killed with SIGKILL leaves its ledger behind, and ``run_emulation.py
cleanup`` (:mod:`common.cleanup`) removes exactly what the open scopes of
dead runs name.  A run is dead when no process has its pid and start time
in this boot.  OVS rows are found by their ``external_ids`` tag
(``TAG_KEY``), set in the transaction that creates them, never by name.

The run lock (``run_lock``) is an ``flock`` on ``STATE_DIR/run.lock``: the
kernel releases it when its holder dies, so it is never stale, and the
file says who holds it.  Files here are opened with ``O_NOFOLLOW``; the
directory is root's, mode 0700.
"""

import atexit
import fcntl
import json
import os
import sys
import threading
import time

from common.errors import UserError

STATE_DIR = os.environ.get("NETSCHED_STATE_DIR", "/var/lib/llm-netsched")
TAG_KEY = "llm-netsched-run"          # external_ids key on the OVS rows a run creates
_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC


def runs_dir():
    return os.path.join(STATE_DIR, "runs")


def ensure_state_dir():
    """The state directories, root's and 0700; refused if someone else's."""
    for path in (STATE_DIR, runs_dir()):
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
        if not os.path.isdir(path) or os.path.islink(path) or info.st_uid != os.geteuid():
            raise UserError(path, "state directory is a link or not owned by this user")
        if info.st_mode & 0o077:
            os.chmod(path, 0o700)


def boot_id():
    with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
        return handle.read().strip()


def process_start(pid):
    """The process's start time (clock ticks since boot), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its end
    return int(stat[stat.rindex(")") + 2:].split()[19])


def alive(pid, start, boot):
    """Whether the process (pid, start time, boot id) still runs."""
    return boot == boot_id() and start is not None and process_start(pid) == start


class Ledger:
    """This process's ledger (``current()``); scopes are opened by the parts
    that create things and closed once they removed them."""

    def __init__(self):
        ensure_state_dir()
        self.pid, self.start, self.boot = os.getpid(), process_start(os.getpid()), boot_id()
        self.run_id = f"{self.pid}-{self.start}"
        self.path = os.path.join(runs_dir(), f"{self.run_id}.jsonl")
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | _FLAGS,
                           0o600)
        self._open_scopes = set()
        self._next_scope = 0
        self._write({"op": "run", "run": self.run_id, "pid": self.pid, "start": self.start,
                     "boot": self.boot, "argv": sys.argv, "time": time.time()})

    def _write(self, record):
        # one write(2) per line on an O_APPEND descriptor: a SIGKILL leaves whole lines
        os.write(self._fd, (json.dumps(record) + "\n").encode())

    def scope(self, name):
        """A new scope's id (``name`` and a counter)."""
        self._next_scope += 1
        scope = f"{name}-{self._next_scope}"
        self._open_scopes.add(scope)
        return scope

    def add(self, scope, kind, **item):
        self._write({"op": "add", "scope": scope, "kind": kind, **item})

    def add_process(self, scope, pid):
        self.add(scope, "process", pid=pid, start=process_start(pid))

    def done(self, scope):
        """Everything ``scope`` created is gone."""
        if scope in self._open_scopes:
            self._write({"op": "done", "scope": scope})
            self._open_scopes.discard(scope)

    def phase(self, name):
        self._write({"op": "phase", "name": name, "time": time.time()})

    def close(self):
        """At exit: the ledger goes if every scope was closed, else it stays for cleanup."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        if not self._open_scopes:
            os.unlink(self.path)


_current = None
_current_lock = threading.Lock()


def current():
    """This process's ledger, created on first use (and closed at exit)."""
    global _current
    with _current_lock:          # a replay thread and its caller may both ask first
        if _current is None or _current.pid != os.getpid():
            _current = Ledger()
            atexit.register(_current.close)
        return _current


def read_ledger(path):
    """(the run's header, its items still open, the last phase) of a ledger file."""
    header, items, done, phase = None, [], set(), None
    with open(os.open(path, os.O_RDONLY | _FLAGS), encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue          # a line cut by a crash of the machine: nothing to act on
            op = record.get("op")
            if op == "run":
                header = record
            elif op == "add":
                items.append(record)
            elif op == "done":
                done.add(record.get("scope"))
            elif op == "phase":
                phase = record.get("name")
    return header, [i for i in items if i.get("scope") not in done], phase


# -- the run lock ----------------------------------------------------------------

_lock_fd = None
_lock_holds = 0     # run_lock() calls not yet matched by release_run_lock()


def run_lock():
    """Take the machine's run lock for this process, or refuse with who holds
    it.  Holds are counted: taking it again only counts, and the lock is
    released when every hold is (``release_run_lock``) or the process ends."""
    global _lock_fd, _lock_holds
    if _lock_fd is not None:
        _lock_holds += 1
        return
    ensure_state_dir()
    path = os.path.join(STATE_DIR, "run.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | _FLAGS, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 4096).decode(errors="replace").strip()
        os.close(fd)
        try:
            who = json.loads(holder)
            since = time.strftime("%H:%M:%S", time.localtime(who["time"]))
            who = f"pid {who['pid']} ({' '.join(who['argv'])}), since {since}"
        except (ValueError, KeyError, TypeError):
            who = "another process"
        raise UserError("run lock", f"another run is using the fabric: {who}; one run at a "
                                    "time per machine") from None
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "argv": sys.argv, "time": time.time()}).encode())
    _lock_fd, _lock_holds = fd, 1


def release_run_lock():
    """Give back one hold; the last one unlocks (a fabric built inside a
    long-lived process, e.g. a test session, must not keep the machine)."""
    global _lock_fd, _lock_holds
    if _lock_fd is None:
        return
    _lock_holds -= 1
    if _lock_holds <= 0:
        os.close(_lock_fd)
        _lock_fd, _lock_holds = None, 0

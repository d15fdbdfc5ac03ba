"""Open vSwitch: the daemon's health, its socket buffers, and per-switch calls.

With the userspace datapath (``datapath_type=netdev``) ``ovs-vswitchd``
transmits on every port through one AF_PACKET socket that it opens at its
first transmission, sized by ``net.core.wmem_default`` at that moment.  When
a shaped port's qdisc holds a backlog that socket fills, OVS logs
``error sending Ethernet packet ... Resource temporarily unavailable`` and
drops packets outside the modelled queue.  So before any fabric is built we
make sure the socket buffers are large, and that the daemon's existing
packet sockets (if any) were opened with them; otherwise OVS must be
restarted, which we do only when it carries no bridges.

Every call is an argument list; nothing goes through a shell.
"""

import os
import re
import subprocess
import time

from common.errors import UserError

SOCKET_BUFFER = 16 * 2**20
SYSCTLS = ("net.core.wmem_default", "net.core.rmem_default",
           "net.core.wmem_max", "net.core.rmem_max")
OVS_CTL = "/usr/share/openvswitch/scripts/ovs-ctl"
RUN_DIR = "/var/run/openvswitch"
LOG_FILE = "/var/log/openvswitch/ovs-vswitchd.log"
SEND_ERROR = "error sending Ethernet packet"


def run(args, check=True, timeout=30, **kwargs):
    """Run an argument list, returning its stdout; a failure raises RuntimeError."""
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): "
                           f"{proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def _sysctl_path(name):
    return "/proc/sys/" + name.replace(".", "/")


def read_sysctl(name):
    with open(_sysctl_path(name), encoding="ascii") as handle:
        return int(handle.read().split()[0])


def ensure_socket_buffers(size=SOCKET_BUFFER):
    """Raise the default and maximum socket buffers to ``size`` (never lower them)."""
    for name in SYSCTLS:
        if read_sysctl(name) < size:
            with open(_sysctl_path(name), "w", encoding="ascii") as handle:
                handle.write(str(size))


def vswitchd_pid():
    """PID of the running ovs-vswitchd, or None."""
    try:
        with open(os.path.join(RUN_DIR, "ovs-vswitchd.pid"), encoding="ascii") as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def ovsdb_running():
    try:
        with open(os.path.join(RUN_DIR, "ovsdb-server.pid"), encoding="ascii") as handle:
            os.kill(int(handle.read().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def packet_socket_sndbufs(pid):
    """Send-buffer sizes of the AF_PACKET sockets that process ``pid`` holds."""
    out = run(["ss", "-0", "-a", "-m", "-p", "-n"], check=False)
    sizes, lines = [], out.splitlines()
    for i, line in enumerate(lines):
        if f"pid={pid}," not in line:
            continue
        # ss prints skmem on the same line or the next one
        text = line + (lines[i + 1] if i + 1 < len(lines) else "")
        found = re.search(r"skmem:\(.*?tb(\d+)", text)
        if found:
            sizes.append(int(found.group(1)))
    return sizes


def bridges():
    return [b for b in run(["ovs-vsctl", "list-br"]).split() if b]


def start_ovs():
    run([OVS_CTL, "start", "--system-id=random"], timeout=120)


def ensure_vswitchd(size=SOCKET_BUFFER):
    """Make sure OVS runs with packet sockets of at least ``size`` bytes.

    Returns a short description of what was found or done.
    """
    if not os.path.exists(OVS_CTL):
        raise UserError("Open vSwitch", "not installed (run: sudo make setup)")
    ensure_socket_buffers(size)
    pid = vswitchd_pid()
    if pid is None or not ovsdb_running():
        start_ovs()
        return "started Open vSwitch"
    small = [s for s in packet_socket_sndbufs(pid) if s < size]
    if not small:
        return "Open vSwitch already running with large socket buffers"
    existing = bridges()
    if existing:
        raise UserError(
            "Open vSwitch",
            f"ovs-vswitchd (pid {pid}) opened its packet sockets with {min(small)}-byte "
            f"buffers and carries bridges {', '.join(existing)}; restarting it would "
            "disturb them. Remove those bridges or restart OVS yourself after "
            f"'sysctl -w net.core.wmem_default={size}'")
    run([OVS_CTL, "restart", "--system-id=random"], timeout=120)
    return "restarted Open vSwitch to enlarge its socket buffers"


def process_cpu_seconds(pid):
    """User+system CPU seconds used so far by process ``pid`` (all threads);
    None when it cannot be read (no such process)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def log_size():
    """The OVS log's size now (None: unreadable, so its errors cannot be counted)."""
    try:
        return os.path.getsize(LOG_FILE)
    except OSError:
        return None


def send_errors_since(offset):
    """OVS packet-send failures logged since byte ``offset`` of its log.

    OVS keeps no counter for these; it logs them, rate-limited.  We count the
    logged lines plus the suppressed messages that netdev_linux reports
    ("Dropped N log messages"), which covers its other warnings too, so the
    number can only err upwards while the run is up.  (Poll-loop CPU notices
    are not counted: they are not drops.)
    """
    if offset is None:
        return None
    try:
        with open(LOG_FILE, encoding="utf-8", errors="replace") as handle:
            handle.seek(offset)
            text = handle.read()
    except OSError:
        return None
    count = text.count(SEND_ERROR)
    count += sum(int(n) for n in re.findall(r"\|netdev_linux\|WARN\|Dropped (\d+) log messages", text))
    return count


def datapath_lost():
    """Upcalls lost by the userspace datapath ('lookups: ... lost:N' of
    dpctl/show); None when OVS does not answer."""
    try:
        out = run(["ovs-appctl", "dpctl/show"])
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        return None
    found = re.findall(r"lost:(\d+)", out)
    return sum(int(n) for n in found) if found else None


def kernel_datapath_available():
    """True when the openvswitch kernel module is loaded (then the kernel datapath is used)."""
    return os.path.exists("/sys/module/openvswitch")


def wait_for(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()

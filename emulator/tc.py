"""Installing and reading the queue plan with pyroute2 (netlink, no tc strings).

Switch ports live in the root namespace; host NICs live in the hosts'
namespaces, reached through ``/proc/<pid>/ns/net`` of the host's shell.
"""

import contextlib
import ctypes
import errno
import os
import socket
import struct

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import tcmsg

from netmodel.queues import PORT_CLASS, ROOT_HANDLE

# pyroute2 knows pfifo's options (struct tc_fifo_qopt { u32 limit; }); bfifo
# uses the same struct with the limit in bytes.
tcmsg.plugins.setdefault("bfifo", tcmsg.plugins["pfifo"])


_LIBC = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000


def _setns(fd):
    if _LIBC.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _socket_in_namespace(pid, make=IPRoute):
    """A socket (``make()``: an IPRoute by default) opened inside ``pid``'s
    network namespace.

    A socket stays bound to the namespace it was created in, so this
    thread enters the namespace, opens the socket and comes back.  (pyroute2's
    NetNS forks a copy of this whole process instead, which is slow and runs
    our signal handlers in the copy.)
    """
    if pid is None:
        return make()
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    try:
        _setns(target)
        try:
            return make()
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def open_netlink(pid=None):
    """An rtnetlink socket in the namespace of process ``pid`` (root ns if None).

    pyroute2 sockets belong to the thread that opened them: open and use
    them in the same thread; the caller closes them.
    """
    return IPRoute() if pid is None else _socket_in_namespace(pid)


@contextlib.contextmanager
def netlink(pid=None):
    """``open_netlink`` as a context manager that closes the socket."""
    sock = open_netlink(pid)
    try:
        yield sock
    finally:
        sock.close()


def link_index(ipr, ifname):
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        raise RuntimeError(f"no interface {ifname}")
    return found[0]


def _bytes_per_second(bps):
    return max(1, int(bps / 8))


def apply_port_plan(ipr, ifname, plan):
    """Replace ``ifname``'s root qdisc with the plan's HTB tree and filters."""
    index = link_index(ipr, ifname)
    with contextlib.suppress(NetlinkError):
        ipr.tc("del", index=index, root=True)
    frame = plan.quantum
    ipr.tc("add", "htb", index=index, handle=ROOT_HANDLE, default=plan.default_classid & 0xFFFF)
    rate = _bytes_per_second(plan.rate_bps)
    # burst: one frame.  HTB sends while its tokens are not negative, so an
    # idle port passes two frames back to back, then one per frame time.  A
    # bucket of "1 ms of tokens" (as before) is a burst of 1 ms of wall time,
    # i.e. of 1 ms / D of trace time, and made results depend on the
    # dilation; one frame is the same (real) bytes at every dilation, and
    # large enough to absorb the kernel's timer jitter at jumbo frames.
    burst = frame
    ipr.tc("add-class", "htb", index=index, handle=PORT_CLASS, parent=ROOT_HANDLE,
           rate=rate, ceil=rate, burst=burst, cburst=burst, mtu=frame, quantum=frame)
    for cls in plan.classes:
        ceil = _bytes_per_second(cls.ceil_bps)
        # a queue's own-rate bucket: one byte, so that the one frame
        # spend_initial_tokens sends leaves it in deficit (the ceil bucket,
        # what it borrows with, stays one frame like the port's)
        ipr.tc("add-class", "htb", index=index, handle=cls.classid, parent=PORT_CLASS,
               rate=_bytes_per_second(cls.rate_bps), ceil=ceil, prio=cls.htb_prio,
               burst=1, cburst=burst, mtu=frame, quantum=frame)
        ipr.tc("add", "bfifo", index=index, handle=cls.leaf_handle, parent=cls.classid,
               limit=cls.limit_bytes)
    for flt in plan.filters:
        ipr.tc("add-filter", "u32", index=index, parent=ROOT_HANDLE, prio=flt.pref,
               protocol=socket.ETH_P_IP if hasattr(socket, "ETH_P_IP") else 0x0800,
               target=flt.classid, keys=list(flt.keys))
    return index


def spend_initial_tokens(pid, ifname, plan, tos_of_queue):
    """Send one full frame through each queue class but Q0 of ``ifname``.

    HTB lets a class send on its own tokens ahead of every class that must
    borrow, whatever their priorities, and a new class starts with a full
    bucket: the first frame of each lower queue would leave before a higher
    queue's backlog (a demoted flow's packets overtaking its earlier ones;
    PIAS at the sender retransmitted about 80 segments per run for it).  One
    frame spends the bucket: at the plan's floor rate the class is then
    about a minute in deficit (HTB caps a deficit at 60 s), and meanwhile it
    only borrows, in priority order.  Sent before the switches have any
    rule, to a MAC nobody has: the frames go no further than the peer.
    """
    frame = plan.quantum
    sock = _socket_in_namespace(pid, lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW))
    try:
        sock.bind((ifname, 0))
        for cls in plan.classes:
            if cls.queue == 0:
                continue
            # IPv4, TOS selecting the queue, total length = the MTU, TTL 1,
            # protocol 253 (RFC 3692 experimentation), addresses 0.0.0.0
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, tos_of_queue(cls.queue), plan.mtu, 0, 0, 1,
                             253, 0, bytes(4), bytes(4))
            sock.send(_NOBODY + _NOBODY + b"\x08\x00" + ip + bytes(frame - 14 - len(ip)))
    finally:
        sock.close()


_NOBODY = bytes.fromhex("020000000000")   # a locally administered MAC no interface has


def class_tokens(pid, ifname):
    """{classid: own-rate tokens} of ``ifname``'s HTB classes, as ``tc -s``
    prints them (negative: the class is in deficit and can only borrow)."""
    import re
    import subprocess

    args = ["tc", "-s", "class", "show", "dev", ifname]
    if pid is not None:
        args = ["nsenter", "--net=/proc/%d/ns/net" % pid] + args
    text = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    tokens = {}
    for block in text.split("class htb ")[1:]:
        major, minor = block.split()[0].split(":")
        found = re.search(r"tokens: (-?\d+)", block)
        if found:
            tokens[(int(major, 16) << 16) | int(minor or "0", 16)] = int(found.group(1))
    return tokens


def remove_root_qdisc(ipr, ifname):
    """Delete the root qdisc of ``ifname`` if the interface still exists."""
    found = ipr.link_lookup(ifname=ifname)
    if found:
        try:
            ipr.tc("del", index=found[0], root=True)
        except NetlinkError as err:
            if err.code not in (errno.ENOENT, errno.EINVAL):
                raise


def class_stats(ipr, ifname):
    """Per-class counters of an interface: {classid: {bytes, packets, drops, backlog}}."""
    index = link_index(ipr, ifname)
    stats = {}
    for msg in ipr.get_classes(index=index):
        basic = msg.get_attr("TCA_STATS2") or {}
        byte_stats = basic.get_attr("TCA_STATS_BASIC") if basic else None
        queue_stats = basic.get_attr("TCA_STATS_QUEUE") if basic else None
        stats[msg["handle"]] = {
            "bytes": byte_stats["bytes"] if byte_stats else 0,
            "packets": byte_stats["packets"] if byte_stats else 0,
            "drops": queue_stats["drops"] if queue_stats else 0,
            "backlog": queue_stats["backlog"] if queue_stats else 0,
        }
    return stats


def qdisc_drops(ipr, ifname):
    """Packets dropped by the qdiscs of ``ifname`` (the modelled queues)."""
    index = link_index(ipr, ifname)
    total = 0
    for msg in ipr.get_qdiscs(index=index):
        if msg["parent"] == 0xFFFFFFFF:  # the root htb sums its children; skip it
            continue
        stats = msg.get_attr("TCA_STATS2")
        queue = stats.get_attr("TCA_STATS_QUEUE") if stats else None
        total += queue["drops"] if queue else 0
    return total


def link_drops(ipr, ifname):
    """Interface-level rx/tx drops and errors (outside the modelled queues);
    None when the interface is gone (not measured, which 0 would hide)."""
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        return None
    msg = ipr.get_links(found[0])[0]
    s = msg.get_attr("IFLA_STATS64") or msg.get_attr("IFLA_STATS")
    return int(s["rx_dropped"] + s["tx_dropped"] + s["rx_errors"] + s["tx_errors"])

"""A single-threaded event loop: epoll for sockets, a timerfd for deadlines.

The host agents and the controller's flow registry each run one.  Everything
a process does at run time (sending, receiving, timed compute, messages to
the controller and to other agents) is a callback on one thread, so nothing
waits for a thread to be created or for the GIL to pass between threads.

Why not asyncio: its timers wake through epoll's timeout, which CPython
rounds up to whole milliseconds, and a timed compute node must end within
microseconds of its deadline.  A timerfd armed at the absolute
CLOCK_MONOTONIC deadline (the clock ``time.monotonic`` reads, shared by every
network namespace) wakes the loop with nanosecond resolution.
"""

import collections
import ctypes
import heapq
import itertools
import os
import select
import time
import traceback

CLOCK_MONOTONIC = 1
TFD_NONBLOCK = os.O_NONBLOCK
TFD_CLOEXEC = os.O_CLOEXEC
TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class TimerFd:
    """A CLOCK_MONOTONIC timerfd, armed at absolute instants (ctypes: Python
    3.11 has no ``os.timerfd_create``)."""

    def __init__(self):
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._spec = _Itimerspec()

    def arm(self, when):
        """Fire at CLOCK_MONOTONIC instant ``when`` (seconds); None disarms."""
        if when is None:
            sec, nsec = 0, 0
        else:
            ns = max(1, int(when * 1e9))      # 0 would disarm: a past instant fires now
            sec, nsec = divmod(ns, 1_000_000_000)
        self._spec.it_value.tv_sec, self._spec.it_value.tv_nsec = sec, nsec
        if self._libc.timerfd_settime(self.fd, TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None) < 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")

    def drain(self):
        try:
            os.read(self.fd, 8)
        except BlockingIOError:
            pass

    def close(self):
        os.close(self.fd)


REALTIME_PRIORITY = 1


def realtime():
    """Put the calling thread in SCHED_FIFO at the lowest real-time priority.

    The replay engine's wall-clock costs do not dilate, so they must not wait
    behind the datapath: with Open vSwitch and kernel TCP saturating the 2
    cores, a woken agent or controller waited milliseconds for a CPU.  At
    priority 1 a woken loop preempts them at once (measured on the 60-request
    workload at x100: start lag p99 5.8 -> 1.2 ms, decision-to-marking p99
    2.6 -> 0.5 ms).  Loops only react to events and never spin, and the
    kernel's real-time throttling keeps 5% of each CPU for everything else.
    Returns whether it took effect (it needs root).
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
        return True
    except (OSError, AttributeError):
        return False


class TimerHandle:
    __slots__ = ("when", "callback", "args", "cancelled")

    def __init__(self, when, callback, args):
        self.when, self.callback, self.args, self.cancelled = when, callback, args, False

    def cancel(self):
        self.cancelled = True


class Reactor:
    """Callbacks on readable/writable file descriptors, at instants, and soon."""

    def __init__(self, on_error=None):
        """``on_error(callback, args, exc)``: a callback raised (default: print
        the traceback); the loop goes on either way."""
        self.on_error = on_error
        self._epoll = select.epoll()
        self._timerfd = TimerFd()
        self._wakeup = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll.register(self._timerfd.fd, select.EPOLLIN)
        self._epoll.register(self._wakeup, select.EPOLLIN)
        self._readers, self._writers = {}, {}
        self._timers = []                       # heap of (when, seq, handle)
        self._order = itertools.count()
        self._armed = None
        self._soon = collections.deque()
        self._threadsafe = collections.deque()
        self.running = False
        # One read buffer for every channel of this loop: a fresh 256 KiB
        # ``recv`` result per read cost an mmap and its page faults (measured:
        # a 130 us round trip through the registry against 72 us with this).
        self.recv_buffer = bytearray(1 << 16)
        self.recv_view = memoryview(self.recv_buffer)

    # -- scheduling ----------------------------------------------------------

    def call_soon(self, callback, *args):
        self._soon.append((callback, args))

    def call_soon_threadsafe(self, callback, *args):
        """From another thread (e.g. a signal handler's): run ``callback`` on the loop."""
        self._threadsafe.append((callback, args))
        os.eventfd_write(self._wakeup, 1)

    def call_at(self, when, callback, *args):
        handle = TimerHandle(when, callback, args)
        heapq.heappush(self._timers, (when, next(self._order), handle))
        return handle

    def call_later(self, delay, callback, *args):
        return self.call_at(time.monotonic() + delay, callback, *args)

    # -- file descriptors ----------------------------------------------------

    def add_reader(self, fd, callback, *args):
        self._set(fd, self._readers, (callback, args))

    def add_writer(self, fd, callback, *args):
        self._set(fd, self._writers, (callback, args))

    def remove_reader(self, fd):
        self._clear(fd, self._readers)

    def remove_writer(self, fd):
        self._clear(fd, self._writers)

    def _mask(self, fd):
        return (select.EPOLLIN if fd in self._readers else 0) | \
               (select.EPOLLOUT if fd in self._writers else 0)

    def _set(self, fd, table, entry):
        fd = fd if isinstance(fd, int) else fd.fileno()
        had = self._mask(fd)
        table[fd] = entry
        if had:
            self._epoll.modify(fd, self._mask(fd))
        else:
            self._epoll.register(fd, self._mask(fd))

    def _clear(self, fd, table):
        fd = fd if isinstance(fd, int) else fd.fileno()
        if table.pop(fd, None) is None:
            return
        mask = self._mask(fd)
        try:
            if mask:
                self._epoll.modify(fd, mask)
            else:
                self._epoll.unregister(fd)
        except (OSError, ValueError):
            pass   # already closed

    # -- running ---------------------------------------------------------------

    def run(self):
        """Run callbacks until :meth:`stop`."""
        self.running = True
        while self.running:
            self._run_ready()
            if not self.running:
                break
            self._arm()
            try:
                events = self._epoll.poll(0 if self._soon or self._threadsafe else -1)
            except InterruptedError:
                continue
            for fd, mask in events:
                if fd == self._timerfd.fd:
                    self._timerfd.drain()
                elif fd == self._wakeup:
                    try:
                        os.eventfd_read(self._wakeup)
                    except BlockingIOError:
                        pass
                else:
                    if mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                        self._dispatch(self._readers.get(fd))
                    if mask & (select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR):
                        self._dispatch(self._writers.get(fd))

    def stop(self):
        self.running = False

    def close(self):
        self._epoll.close()
        self._timerfd.close()
        os.close(self._wakeup)

    def _arm(self):
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        when = self._timers[0][0] if self._timers else None
        if when != self._armed:
            self._timerfd.arm(when)
            self._armed = when

    def _run_ready(self):
        while self._threadsafe:
            self._soon.append(self._threadsafe.popleft())
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            handle = heapq.heappop(self._timers)[2]
            if not handle.cancelled:
                self._soon.append((handle.callback, handle.args))
        if self._armed is not None and self._armed <= now:
            self._armed = None            # fired (or about to): re-arm for the next
        for _ in range(len(self._soon)):
            self._dispatch(self._soon.popleft())

    def _dispatch(self, entry):
        if entry is None:
            return
        callback, args = entry
        try:
            callback(*args)
        except Exception as exc:  # noqa: BLE001 - one failed callback must not stop the loop
            traceback.print_exc()
            if self.on_error is not None:
                self.on_error(callback, args, exc)


class LineChannel:
    """A non-blocking stream socket carrying JSON-lines-style messages.

    ``on_line(bytes)`` gets each complete line; ``on_close()`` runs once when
    the peer closes or the socket fails.  ``send`` writes now when the socket
    takes it and buffers the rest, so a slow peer never blocks the loop.
    """

    def __init__(self, reactor, sock, on_line, on_close=None, max_line=1 << 20):
        self.reactor, self.sock = reactor, sock
        self.on_line, self.on_close = on_line, on_close
        self.max_line = max_line
        self._in = bytearray()
        self._out = bytearray()
        self._later = bytearray()
        self.closed = False
        sock.setblocking(False)
        reactor.add_reader(sock, self._readable)

    def send(self, data):
        if self.closed:
            return False
        if self._out:
            self._out += data
            return True
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close()
            return False
        if sent < len(data):
            self._out += data[sent:]
            self.reactor.add_writer(self.sock, self._writable)
        return True

    def send_soon(self, data):
        """Send after the loop's current callbacks: for messages off the
        critical path, so what others wait for leaves first."""
        if not self._later:
            self.reactor.call_soon(self._send_later)
        self._later += data

    def _send_later(self):
        data, self._later = bytes(self._later), bytearray()
        self.send(data)

    def _writable(self):
        try:
            sent = self.sock.send(self._out)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        del self._out[:sent]
        if not self._out:
            self.reactor.remove_writer(self.sock)

    def _readable(self):
        try:
            n = self.sock.recv_into(self.reactor.recv_buffer)
        except BlockingIOError:
            return
        except OSError:
            n = 0
        if not n:
            self.close()
            return
        self._in += self.reactor.recv_view[:n]
        start = 0
        while True:
            end = self._in.find(b"\n", start)
            if end < 0:
                break
            line = bytes(self._in[start:end])
            start = end + 1
            if line.strip():
                self.on_line(line)
            if self.closed:
                return
        del self._in[:start]
        if len(self._in) > self.max_line:
            self.on_line(bytes(self._in))        # over-long: the handler refuses it
            self.close()

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.reactor.remove_reader(self.sock)
        self.reactor.remove_writer(self.sock)
        try:
            self.sock.close()
        except OSError:
            pass
        if self.on_close:
            self.on_close()

"""Per-link, per-queue throughput and backlog sampled during a run (tc class stats)."""

import os
import threading
import time

from emulator import tc


class LinkSampler:
    """Samples every egress port's queue classes every ``interval`` emulated seconds.

    Rows are in real units: throughput over the interval in bit/s, backlog in
    bytes, time in microseconds since ``t0``.
    """

    def __init__(self, fabric, interval=0.2):
        self.fabric = fabric
        self.interval = interval
        self.rows = []
        self.t0 = None
        self._stop = threading.Event()
        self._thread = None
        self._sockets = {}

    def _socket(self, port):
        pid = self.fabric._ns_pid(port.node)
        if pid not in self._sockets:
            self._sockets[pid] = tc.open_netlink(pid)
        return self._sockets[pid]

    def _read(self):
        """{(node, peer, queue): (bytes, backlog, instant read)} of every egress queue."""
        out = {}
        for port in self.fabric.egress:
            stats = tc.class_stats(self._socket(port), port.ifname)
            instant = time.monotonic()
            for cls in port.plan.classes:
                s = stats.get(cls.classid, {})
                out[(port.node, port.peer, cls.queue)] = (s.get("bytes", 0), s.get("backlog", 0), instant)
        return out

    def start(self, t0):
        self.t0 = t0
        self._thread = threading.Thread(target=self._run, name="link-sampler", daemon=True)
        self._thread.start()

    def _run(self):
        # Reading every port's classes through pyroute2 costs about a fifth of
        # a core at 5 reads a second; at SCHED_IDLE it only takes CPU that
        # the agents, the controller and Open vSwitch leave unused (each
        # sample records its own instant, so a late one is still exact).
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except (OSError, AttributeError):
            pass
        try:
            last = self._read()
            while not self._stop.wait(self.interval):
                current = self._read()
                self._rows(last, current)
                last = current
        finally:
            for sock in self._sockets.values():
                sock.close()
            self._sockets = {}

    def _rows(self, last, current):
        d = self.fabric.dilation
        for (node, peer, queue), (count, backlog, instant) in current.items():
            before, _, then = last.get((node, peer, queue), (0, 0, instant))
            if count == before and backlog == 0:
                continue   # keep links.csv to what moved
            span = max(instant - then, 1e-6)   # each port's own read instants
            self.rows.append({"time_us": round(d.real_time(instant - self.t0) * 1e6, 3),
                              "link": f"{node}->{peer}", "queue": queue,
                              "throughput_bps": d.real_rate((count - before) * 8 / span),
                              "backlog_bytes": d.real_bytes(backlog)})

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

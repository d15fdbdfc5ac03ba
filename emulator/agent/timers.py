"""One thread that fires callbacks at CLOCK_MONOTONIC deadlines (precise timed waits)."""

import heapq
import itertools
import threading
import time
import traceback


class TimerWheel:
    def __init__(self):
        self._heap = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="timers", daemon=True)
        self._thread.start()

    def at(self, when, callback, *args):
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._order), callback, args))
            self._cond.notify()

    def _run(self):
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = None if not self._heap else self._heap[0][0] - time.monotonic()
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _, _, callback, args = heapq.heappop(self._heap)
            try:
                callback(*args)
            except Exception:  # noqa: BLE001 - one failed callback must not stop the clock
                traceback.print_exc()

    def stop(self):
        with self._cond:
            self._stopped = True
            self._cond.notify()

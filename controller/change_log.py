"""The controller's record of every queue change and how fast it reached the switch."""

import csv
import os
import threading

import numpy as np

from common.safe_files import open_new, write_json_atomic

COLUMNS = ("time_us", "flow_id", "request_id", "old_queue", "new_queue", "reason", "pace_bps")


class ChangeLog:
    """Streams queue changes to ``queue_changes.csv`` and keeps rule latencies."""

    def __init__(self, out_dir):
        os.makedirs(out_dir, exist_ok=True)
        self.out_dir = out_dir
        self._file = open_new(os.path.join(out_dir, "queue_changes.csv"), newline="",
                              encoding="utf-8")
        self._csv = csv.writer(self._file)
        self._csv.writerow(COLUMNS)
        self._lock = threading.Lock()
        self.changes = 0
        self.flow_mods = 0
        self.registrations = 0
        self.rule_latencies = []        # emulated seconds from rules sent to barrier reply
        self.errors = 0

    def change(self, change):
        with self._lock:
            self.changes += 1
            self._csv.writerow((f"{change.time * 1e6:.3f}", change.flow_id, change.request_id,
                                "" if change.old_queue is None else change.old_queue,
                                change.new_queue, change.reason,
                                "" if change.pace_bps is None else f"{change.pace_bps:.0f}"))

    def rule_installed(self, latency):
        with self._lock:
            self.rule_latencies.append(latency)

    def stats(self, dilation=1.0, extra=None):
        lat = np.array(self.rule_latencies) if self.rule_latencies else None
        return {
            "queue_changes": self.changes,
            "registrations": self.registrations,
            "flow_mods": self.flow_mods,
            "rule_latency_samples": 0 if lat is None else int(lat.size),
            # emulated wall-clock milliseconds (what the switch experienced)
            "rule_latency_p50_ms": None if lat is None else float(np.percentile(lat, 50) * 1e3),
            "rule_latency_p99_ms": None if lat is None else float(np.percentile(lat, 99) * 1e3),
            "time_dilation": dilation,
            **(extra or {}),
        }

    def close(self, dilation=1.0, extra=None):
        with self._lock:
            if not self._file.closed:
                self._file.close()
        path = os.path.join(self.out_dir, "controller.json")
        write_json_atomic(path, self.stats(dilation, extra))

"""Keeping the machine's CPUs awake while a replay runs.

On a virtual machine an idle vCPU halts, and waking it for a timer or a
packet took 60-120 us at the median and milliseconds at p99 on the 2-core
development VM (``cpuidle`` driver ``haltpoll``).  Every timed compute node
and every flow start would carry that.  Linux's PM QoS interface
``/dev/cpu_dma_latency`` lets a process ask for a wake-up latency bound: with
0, idle CPUs poll instead of halting, for as long as the file stays open.
The kernel drops the request when the file is closed, by us or by the
process's end, so nothing outlives the run.
"""

import contextlib
import os
import struct

PM_QOS_FILE = "/dev/cpu_dma_latency"


@contextlib.contextmanager
def low_wakeup_latency(path=PM_QOS_FILE):
    """Hold a 0 us wake-up latency request; yields what was obtained (for run.json)."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as err:
        yield f"unchanged ({path}: {err.strerror})"
        return
    try:
        os.write(fd, struct.pack("i", 0))
        yield "0 us (PM QoS cpu_dma_latency: idle CPUs poll)"
    finally:
        os.close(fd)

"""The kernel's TCP counters of the agent's network namespace.

``/proc/net/netstat`` (TcpExt) and ``/proc/net/snmp`` (Tcp) are per network
namespace, so an agent sees exactly its host's counters.  Their change over a
run says *why* segments were retransmitted (timeouts, loss probes, SACK
reordering, spurious retransmissions undone by DSACK), which a per-flow
retransmit count cannot.
"""

def read_counters(paths=("/proc/net/netstat", "/proc/net/snmp"), groups=("TcpExt", "Tcp")):
    """{"Group.Name": value} for the given counter groups."""
    counters = {}
    for path in paths:
        with open(path, encoding="ascii") as handle:
            lines = handle.read().splitlines()
        for names, values in zip(lines[::2], lines[1::2]):
            group, _, names = names.partition(":")
            if group not in groups:
                continue
            for name, value in zip(names.split(), values.partition(":")[2].split()):
                counters[f"{group}.{name}"] = int(value)
    return counters


def changed(before, after):
    """The counters that moved between two readings (gauges excluded)."""
    gauges = {"Tcp.CurrEstab", "Tcp.RtoAlgorithm", "Tcp.RtoMin", "Tcp.RtoMax", "Tcp.MaxConn"}
    return {k: after[k] - before.get(k, 0) for k in sorted(after)
            if k not in gauges and after[k] != before.get(k, 0)}

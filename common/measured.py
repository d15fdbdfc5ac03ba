"""Arithmetic on counters that may not have been measured.

A counter whose source could not be read (an interface gone, the OVS log
unreadable, ``ovs-appctl`` failing) is None, never 0: "0 drops" must mean
that none were seen, not that nobody looked.  Sums and differences of
counters carry the None through; ``unmeasured`` names the ones that are None.
"""


def diff(after, before):
    return None if after is None or before is None else after - before


def total(*parts):
    return None if any(p is None for p in parts) else sum(parts)


def per_second(delta, seconds):
    return None if delta is None else delta / max(seconds, 1e-9)


def unmeasured(counters, reasons):
    """{name: reason} for every counter in ``counters`` that is None."""
    return {name: reasons[name] for name, value in counters.items() if value is None}

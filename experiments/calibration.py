"""How fast this machine class can emulate, and the automatic time dilation.

Two measured limits decide how slowly an experiment must run:

* **Fabric capacity.**  Open vSwitch's userspace datapath forwards a bounded
  number of bytes per second, shared by every bridge a packet crosses.
  ``FABRIC_CAPACITY_BPS`` is what ``selftest`` measured with every host
  sending (aggregate goodput at rate accuracy >= 0.97), per emulated MTU.
* **Engine overhead.**  Each flow start and timed node costs the replay engine
  a fixed wall-clock time (``bench``'s isolated start lag at the median).
  Dilation divides it: at dilation ``D`` it is ``overhead / D`` of trace time.

:func:`choose_speed` runs the fastest link as fast as the fabric carries,
then slows down further if the engine's overhead would exceed
``OVERHEAD_FRACTION`` of the trace's typical compute node or flow.  The
choice and its reason go into ``run.json``; ``--time-dilation``,
``--byte-scale`` and ``--emulated-rate`` override it.

The constants were measured on the 2-core development VM (docs/benchmarks.md
has the commands); on another machine, rerun them and adjust.
"""

import math
from statistics import median

from common.units import format_rate
from netmodel.dilation import Dilation

DEFAULT_MTU = 64000
# Aggregate goodput (bit/s x switch traversals) the fabric carries with every
# host sending (single_tor_8, one switch per packet).  MTU 64000: 4.9-6.8
# Gbit/s in four runs of `selftest --capacity 8 --emulated-rate 1Gbps`
# (2026-12-02); 6 is their middle.  MTU 9000: 0.8 Gbit/s, the previous
# release's measurement (300 Mbit/s links already fell to 0.89 there).
FABRIC_CAPACITY_BPS = {64000: 6.0e9, 9000: 0.8e9}
MAX_EMULATED_RATE = 1e9        # per link: above it a single flow's sender runs out of CPU
# Wall seconds: the start lag p50 under load (60-request workload at x100,
# fidelity.json), which includes the round trip for the flow's decision.
ENGINE_OVERHEAD_S = 500e-6
# Of the trace's median compute node / flow time.  Chosen by measurement:
# with it the default workload runs at x250, where `fair` gave the same
# attainment and TTFT p50 within 1% as at x1000, and x100 (12% slower
# TTFT p50) did not (docs/benchmarks.md, "Dilation invariance").
OVERHEAD_FRACTION = 0.05
NICE_STEPS = (1, 2, 2.5, 4, 5)


def _nice_below(value):
    """The largest 1/2/2.5/4/5 x 10^k not above ``value``."""
    exp = math.floor(math.log10(value))
    for step in reversed(NICE_STEPS):
        if step * 10 ** exp <= value * (1 + 1e-9):
            return step * 10 ** exp
    return 5 * 10 ** (exp - 1)


def _capacity(mtu):
    known = sorted(FABRIC_CAPACITY_BPS)
    below = [m for m in known if m <= mtu]
    return FABRIC_CAPACITY_BPS[below[-1] if below else known[0]]


def mean_switch_hops(topology):
    """Switches a packet crosses, averaged over ordered host pairs."""
    from netmodel.routing import Routes

    routes, hosts = Routes(topology), [h.name for h in topology.hosts]
    pairs = [(a, b) for a in hosts for b in hosts if a != b]
    return sum(len(routes.switch_hops(a, b)) for a, b in pairs) / max(len(pairs), 1)


def typical_time_s(trace, topology):
    """Median real duration of the trace's timed work: positive compute nodes
    and flows at their line rate (None without either)."""
    rates = {h.name: topology.host_link(h.name).rate_bps for h in topology.hosts}
    times = [n.duration_us * 1e-6 for n in trace.nodes if n.kind == "compute" and n.duration_us > 0]
    times += [n.bytes * 8 / min(rates.get(n.src, 1e11), rates.get(n.dst, 1e11))
              for n in trace.nodes if n.kind == "flow"]
    return median(times) if times else None


def choose_speed(topology, mtu, trace=None, emulated_rate=None, time_dilation=None, byte_scale=None):
    """(Dilation, record for run.json) for this topology, MTU and trace.

    Given alone, ``time_dilation`` sets the emulated rate (every byte is
    sent); with ``emulated_rate`` it sets the byte scale instead.  Given
    neither, the rate is chosen here and every byte is sent (byte scale 1,
    unless ``byte_scale`` says otherwise).
    """
    fastest = topology.max_rate_bps()
    host_rate = max(topology.host_link(h.name).rate_bps for h in topology.hosts)
    record = {"emulated_mtu": mtu, "fabric_capacity_bps": _capacity(mtu),
              "engine_overhead_wall_us": ENGINE_OVERHEAD_S * 1e6, "overhead_fraction": OVERHEAD_FRACTION}
    if emulated_rate is not None:
        rate, record["chosen_by"] = emulated_rate, "--emulated-rate"
        dilation = Dilation.for_topology(topology, rate, time_dilation, byte_scale)
    elif time_dilation is not None:
        rate, record["chosen_by"] = fastest / time_dilation, "--time-dilation"
        dilation = Dilation.for_topology(topology, rate, None, byte_scale)
    else:
        host_emulated, reason, typical = _automatic_host_rate(topology, mtu, trace, host_rate)
        if typical is not None:
            record["typical_node_real_us"] = round(typical * 1e6, 3)
        rate = fastest * host_emulated / host_rate      # the same dilation on every link
        record["chosen_by"] = "automatic" if byte_scale is None else "automatic rate, --byte-scale"
        record["reason"] = reason
        dilation = Dilation.for_topology(topology, rate, None, byte_scale)
    record["emulated_host_rate_bps"] = dilation.emu_rate(host_rate)
    record["byte_scale"] = dilation.byte_scale
    record["time_dilation"] = dilation.factor
    # A packet in flight cannot be preempted: one MTU at a host link's rate,
    # in real (trace) time, is the finest priority granularity.
    frame_bits = (mtu + 14) * 8 * dilation.byte_scale
    record["preemption_granularity_real_us"] = round(frame_bits / host_rate * 1e6, 3)
    return dilation, record


def _automatic_host_rate(topology, mtu, trace, host_rate):
    """(emulated host-link rate, reason, typical node time or None)."""
    hops = mean_switch_hops(topology)
    per_link = _capacity(mtu) / (len(topology.hosts) * max(hops, 1.0))
    host_emulated = _nice_below(min(MAX_EMULATED_RATE, per_link, host_rate))
    reason = (f"fabric capacity {format_rate(_capacity(mtu))} at MTU {mtu} over "
              f"{len(topology.hosts)} hosts x {hops:.2f} switch hops")
    typical = typical_time_s(trace, topology) if trace is not None else None
    if typical:
        needed = ENGINE_OVERHEAD_S / (OVERHEAD_FRACTION * typical)   # the least dilation
        if host_rate / host_emulated < needed:
            host_emulated = _nice_below(host_rate / needed)
            reason = (f"engine overhead {ENGINE_OVERHEAD_S * 1e6:.0f} wall us must stay under "
                      f"{OVERHEAD_FRACTION:.0%} of the trace's median node "
                      f"({typical * 1e6:.1f} real us)")
    return host_emulated, reason, typical

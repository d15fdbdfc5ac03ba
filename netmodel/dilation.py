"""Time dilation: how real fabric rates, sizes and times map onto the emulation.

Real fabrics run at 100-400 Gbit/s; a laptop-class machine forwards a few
hundred Mbit/s through Open vSwitch's userspace datapath.  The emulation
therefore scales two things and derives the third:

* ``rate_scale`` = real link rate / emulated link rate (e.g. 100 Gbit/s ->
  100 Mbit/s is 1000);
* ``byte_scale`` = real bytes / emulated bytes (1 sends every byte; 10 sends
  one byte for every ten of the trace);
* the **time dilation factor** ``D = rate_scale / byte_scale``: one real
  second lasts ``D`` emulated seconds.

A transfer of ``B`` real bytes over ``R`` real bit/s takes ``8B/R`` real
seconds; emulated it sends ``B/byte_scale`` bytes at ``R/rate_scale`` and so
lasts ``8B/R * D`` seconds, which maps back exactly.  Compute durations,
deadlines and controller ticks are multiplied by ``D``; buffers are divided by
``byte_scale`` so that queueing delays dilate by ``D`` as well.  Propagation
delay is not modelled (the kernel here has no netem); the veth+OVS latency is
measured and reported as part of fidelity instead.  Every reported time is
converted back to real units, and the mapping is recorded with the results.
"""

from dataclasses import asdict, dataclass

from common.errors import UserError
from common.units import format_rate

DEFAULT_EMULATED_RATE = 100e6  # bit/s of the fastest emulated link


@dataclass(frozen=True)
class Dilation:
    rate_scale: float
    byte_scale: float = 1.0

    def __post_init__(self):
        if not self.rate_scale > 0 or not self.byte_scale > 0:
            raise UserError("time dilation", "rate and byte scales must be positive")

    @classmethod
    def for_topology(cls, topology, emulated_rate=DEFAULT_EMULATED_RATE,
                     time_dilation=None, byte_scale=None):
        """The mapping that runs the topology's fastest link at ``emulated_rate``.

        Give at most one of ``time_dilation`` (then ``byte_scale`` follows)
        and ``byte_scale`` (then the dilation follows; default 1).
        """
        rate_scale = topology.max_rate_bps() / emulated_rate
        if time_dilation is not None and byte_scale is not None:
            raise UserError("time dilation", "give a time dilation or a byte scale, not both")
        if time_dilation is not None:
            if time_dilation <= 0:
                raise UserError("--time-dilation", "must be positive")
            byte_scale = rate_scale / time_dilation
        return cls(rate_scale, byte_scale if byte_scale is not None else 1.0)

    @property
    def factor(self):
        """Emulated seconds per real second."""
        return self.rate_scale / self.byte_scale

    def emu_rate(self, real_bps):
        return real_bps / self.rate_scale

    def real_rate(self, emu_bps):
        return emu_bps * self.rate_scale

    def emu_bytes(self, real_bytes):
        """Bytes to send for ``real_bytes`` of the trace (at least one)."""
        return max(1, int(round(real_bytes / self.byte_scale)))

    def real_bytes(self, emu_bytes):
        return emu_bytes * self.byte_scale

    def emu_time(self, real_seconds):
        return real_seconds * self.factor

    def real_time(self, emu_seconds):
        return emu_seconds / self.factor

    def to_dict(self):
        return dict(asdict(self), time_dilation=self.factor)

    def describe(self, topology):
        fastest = topology.max_rate_bps()
        return (f"{format_rate(fastest)} real -> {format_rate(self.emu_rate(fastest))} emulated; "
                f"byte scale {self.byte_scale:g}; time dilation x{self.factor:g}")

"""Inputs and outputs of the fluid simulator.

Inputs are plain records so that any source can produce them: a trace, a
DAG of a serving run, or a hand-written test.  A DAG maps onto them with
``after``: a flow or a layer-progress event may wait for other flows and
events (by id) to finish, each with a lag, e.g. "layer 5 starts 2 ms after
layer 4 started and once its KV blocks have arrived"::

    LayerProgress("r1", 5, event_id="r1/L5",
                  after=(("r1/L4", 0.002), ("r1/kv5", 0.0)))

A node starts at ``max(time, finish(dep) + lag for each dep)``.  Units:
seconds, bytes, bits per second; times are real (undilated).
"""

from dataclasses import dataclass, field
from typing import Hashable

from policies.base import STAGES


def _after(pairs):
    """Normalise ``after`` ({node id: lag} or (node id, lag) pairs) to a tuple of pairs."""
    if isinstance(pairs, dict):
        pairs = pairs.items()
    out = []
    for node, lag in pairs:
        if lag < 0:
            raise ValueError(f"dependency on {node!r} has a negative lag")
        out.append((node, float(lag)))
    return tuple(out)


@dataclass(frozen=True)
class FluidFlow:
    """A flow to replay: ``arrival`` is when it is registered and starts sending."""

    flow_id: Hashable
    request_id: Hashable
    arrival: float
    size_bytes: int
    path: tuple
    stage: str = "other"
    layer: int | None = None
    deadline: float | None = None
    src: str = ""
    dst: str = ""
    after: tuple = ()

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"flow {self.flow_id!r}: unknown stage {self.stage!r}")
        if self.size_bytes <= 0:
            raise ValueError(f"flow {self.flow_id!r}: size must be positive")
        if not self.path:
            raise ValueError(f"flow {self.flow_id!r}: a fluid flow needs a path of links")
        object.__setattr__(self, "path", tuple(self.path))
        object.__setattr__(self, "after", _after(self.after))


@dataclass(frozen=True)
class LayerProgress:
    """Request ``request_id`` starts executing prefill layer ``layer`` at ``time``.

    With ``layer`` None it is a plain event that reports nothing (e.g. the
    start of a compute node that executes no layer); others may wait for it.
    """

    request_id: Hashable
    layer: int | None
    time: float = 0.0
    event_id: Hashable = None
    after: tuple = ()
    members: tuple = ()       # a batch's report: its requests (Scheduler.report_progress)

    def __post_init__(self):
        object.__setattr__(self, "after", _after(self.after))


@dataclass
class FlowResult:
    flow_id: Hashable
    request_id: Hashable
    stage: str
    size_bytes: int
    deadline: float | None
    arrival: float | None = None      # None: never released (until cut it off)
    finish: float | None = None       # None: unfinished when the run ended
    # (time, old queue, new queue, reason); old queue None on arrival.
    queue_history: list = field(default_factory=list)

    @property
    def fct(self):
        return None if self.finish is None or self.arrival is None else self.finish - self.arrival

    @property
    def met_deadline(self):
        if self.deadline is None:
            return None
        return self.finish is not None and self.finish <= self.deadline + 1e-12

    @property
    def queues(self):
        return [new for _, _, new, _ in self.queue_history]


@dataclass
class RequestResult:
    """A request's outcome: ``finish`` is when its last flow finished, which
    for a disaggregated request is the end of its P2D transfer, i.e. its first
    token (TTFT = finish - arrival, with ``arrival`` the request's own arrival
    when given to the simulator, else its first flow's)."""

    request_id: Hashable
    arrival: float
    finish: float | None
    deadline: float | None
    scavenged: bool   # some flow of it went to the scavenger queue

    @property
    def ttft(self):
        return None if self.finish is None else self.finish - self.arrival

    @property
    def met_deadline(self):
        if self.deadline is None:
            return None
        return self.finish is not None and self.finish <= self.deadline + 1e-12


@dataclass
class FluidResult:
    flows: dict          # flow id -> FlowResult
    requests: dict       # request id -> RequestResult
    changes: list        # every QueueChange, in order
    end_time: float
    event_times: dict = field(default_factory=dict)   # event id -> when it was released

    def slo_attainment(self):
        """Fraction of requests with a deadline that met it (None if none has one)."""
        judged = [r.met_deadline for r in self.requests.values() if r.deadline is not None]
        return sum(judged) / len(judged) if judged else None

    def scavenged_ttfts(self):
        """{request id: TTFT} of requests that went to the scavenger queue."""
        return {r.request_id: r.ttft for r in self.requests.values() if r.scavenged}

"""Operations on request lists shared by every importer and by load sweeps.

Importers apply them in this order: time window (on the original timeline,
relative to the first request), sub-sampling, request-rate scaling, and
finally a shift so the first request arrives at time 0.
"""

import dataclasses

import numpy as np

from common.errors import UserError


def scale_rate(requests, factor):
    """Requests with inter-arrival times divided by ``factor``.

    ``factor`` 2 doubles the request rate (arrivals twice as dense); times are
    compressed towards the first arrival, which stays put.  Use it to sweep
    load over one trace.  Works on requests of any trace, with or without a
    DAG, since nodes are timed relative to their request's arrival.
    """
    if not factor > 0:
        raise UserError("rate scale", f"must be positive, got {factor!r}")
    if not requests:
        return []
    origin = min(r.arrival_us for r in requests)
    return [dataclasses.replace(r, arrival_us=origin + (r.arrival_us - origin) / factor)
            for r in requests]


def time_window(requests, start_us=None, end_us=None):
    """Requests arriving in ``[start, end)``, times relative to the first arrival."""
    if not requests:
        return []
    origin = min(r.arrival_us for r in requests)
    lo = -np.inf if start_us is None else start_us
    hi = np.inf if end_us is None else end_us
    return [r for r in requests if lo <= r.arrival_us - origin < hi]


def skip_requests(requests, count):
    """All but the first ``count`` requests (in arrival order), re-timed so
    the first one left arrives at 0: another window of the same trace."""
    if count < 0:
        raise UserError("--first-request", f"must be at least 0, got {count!r}")
    kept = sorted(requests, key=lambda r: r.arrival_us)[count:]
    if not kept:
        raise UserError("--first-request", f"skips all {len(requests)} requests")
    origin = kept[0].arrival_us
    return [dataclasses.replace(r, arrival_us=round(r.arrival_us - origin, 3)) for r in kept]


def subsample(requests, fraction=None, max_requests=None, seed=0):
    """A seeded random subset, in the original order.

    ``fraction`` keeps each request with that probability; ``max_requests``
    then keeps the first N (in arrival order) so a short test trace stays
    contiguous in time.
    """
    kept = list(requests)
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise UserError("--sample", f"must be in (0, 1], got {fraction!r}")
        rng = np.random.default_rng(seed)
        keep = rng.random(len(kept)) < fraction
        kept = [r for r, k in zip(kept, keep) if k]
    if max_requests is not None:
        if max_requests < 1:
            raise UserError("--max-requests", f"must be at least 1, got {max_requests!r}")
        kept = sorted(kept, key=lambda r: r.arrival_us)[:max_requests]
    return kept


def rebase(requests):
    """Requests sorted by arrival with the first at time 0."""
    if not requests:
        return []
    origin = min(r.arrival_us for r in requests)
    shifted = [dataclasses.replace(r, arrival_us=r.arrival_us - origin) for r in requests]
    return sorted(shifted, key=lambda r: r.arrival_us)


@dataclasses.dataclass
class RequestOptions:
    """The options every request importer takes."""

    window_start_us: float = None
    window_end_us: float = None
    rate_scale: float = 1.0
    sample: float = None
    max_requests: int = None
    seed: int = 0

    def apply(self, requests):
        kept = time_window(requests, self.window_start_us, self.window_end_us)
        kept = subsample(kept, self.sample, self.max_requests, self.seed)
        kept = scale_rate(kept, self.rate_scale)
        return rebase(kept)


def scale_trace_rate(trace, factor):
    """A copy of ``trace`` whose request rate is ``factor`` times higher.

    Only arrivals move: every node is timed from its request's arrival and
    the TTFT SLOs (relative to arrival) stay, so a load sweep reuses one DAG.
    """
    return dataclasses.replace(trace, requests=scale_rate(trace.requests, factor))

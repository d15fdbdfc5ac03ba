"""The highest load a scheduler sustains at a target SLO attainment.

Points are (value, attainment) of one scheduler over a sweep, attainment
None where the point is missing (those are skipped).  "Harder when higher"
parameters (request rate) ask for the largest value still meeting the
target; "easier when higher" ones (link bandwidth, SLO scale) for the
smallest.  Walking from the easiest point towards harder ones, the first
point below the target ends the search (a later recovery above it is noise,
not capacity), and the threshold is linearly interpolated between it and
the point before:

    v* = v_a + (a_a - T) * (v_b - v_a) / (a_a - a_b)

with (v_a, a_a) the last point meeting T and (v_b, a_b) the first missing it.
Bounds: "interpolated"; "censored" when every point meets T (v* is the
hardest value swept, the true threshold lies beyond it); "never" when even
the easiest point misses T (v* is None); "no_data" without any point.
"""

from dataclasses import dataclass

TARGET = 0.9


@dataclass(frozen=True)
class Threshold:
    value: float | None
    bound: str      # interpolated | censored | never | no_data

    def as_dict(self):
        return {"value": self.value, "bound": self.bound}


def sustainable_value(values, attainments, target=TARGET, harder_when_higher=True):
    points = sorted((float(v), float(a)) for v, a in zip(values, attainments) if a is not None)
    if not harder_when_higher:
        points.reverse()
    if not points:
        return Threshold(None, "no_data")
    if points[0][1] < target:
        return Threshold(None, "never")
    for (v_a, a_a), (v_b, a_b) in zip(points, points[1:]):
        if a_b < target:
            return Threshold(v_a + (a_a - target) * (v_b - v_a) / (a_a - a_b), "interpolated")
    return Threshold(points[-1][0], "censored")


def threshold_ratio(ours, theirs, harder_when_higher=True):
    """How much more load ``ours`` sustains than ``theirs`` (> 1: ours is better).

    Harder when higher: ours / theirs; easier when higher: theirs / ours.
    Returns {"ratio", "kind"}: kind "exact" when both thresholds were
    interpolated; "lower_bound" when only ours is censored (it sustains the
    whole range, so the true ratio is at least this); "upper_bound" when only
    theirs is; "undefined" (ratio None) when both are censored or either
    never meets the target or has no data.
    """
    if ours.value is None or theirs.value is None or ours.value <= 0 or theirs.value <= 0 \
            or (ours.bound == "censored" and theirs.bound == "censored"):
        return {"ratio": None, "kind": "undefined"}
    ratio = ours.value / theirs.value if harder_when_higher else theirs.value / ours.value
    if ours.bound == "censored":
        kind = "lower_bound"
    elif theirs.bound == "censored":
        kind = "upper_bound"
    else:
        kind = "exact"
    return {"ratio": ratio, "kind": kind}

"""Small statistics that give None instead of NaN or an exception on empty
input, so an empty table becomes ``null`` in summary.json, not a crash.

Percentiles use numpy's default ("linear", Hyndman & Fan type 7): the
p-th percentile of sorted x[0..n-1] is x[h] interpolated at h = (n-1)p/100.
"""

import math

import numpy as np


def finite(values):
    """Float array of the finite entries of ``values`` (NaN / <NA> dropped)."""
    array = np.asarray(values, dtype="float64") if len(values) else np.empty(0)
    return array[np.isfinite(array)]


def percentile(values, q):
    array = finite(values)
    return float(np.percentile(array, q)) if array.size else None


def mean(values):
    array = finite(values)
    return float(array.mean()) if array.size else None


def ratio(numerator, denominator):
    """numerator / denominator, None if either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    if isinstance(numerator, float) and math.isnan(numerator):
        return None
    return float(numerator) / float(denominator)


def as_json_number(value):
    """A value for JSON: NaN and infinities become None, numpy scalars Python ones."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value

"""Size thresholds: classing flows by bytes, and placing thresholds at quantiles.

K classes need K-1 ascending thresholds; a value lands in class
``bisect_right(thresholds, value)``, i.e. class i holds values in
``[t(i-1), t(i))`` and a value equal to a threshold goes to the class above.
"""

from bisect import bisect_right

from common.errors import UserError


def size_class(value, thresholds):
    return bisect_right(thresholds, value)


def quantile_thresholds(sizes, num_classes):
    """Thresholds splitting ``sizes`` into ``num_classes`` equal-count classes.

    Threshold i is the smallest size of the i-th chunk of the sorted sizes.
    Where repeated sizes make a threshold coincide with the previous one (or
    with the smallest size, which would leave class 0 empty), the next larger
    size is used instead; if there is none, fewer classes result.
    """
    ordered = sorted(sizes)
    n = len(ordered)
    thresholds = []
    last = ordered[0] if ordered else None
    for i in range(1, num_classes if ordered else 0):
        pick = ordered[i * n // num_classes]
        if pick <= last:
            above = bisect_right(ordered, last)
            if above == n:
                break
            pick = ordered[above]
        thresholds.append(pick)
        last = pick
    return thresholds


def check_threshold_count(policy, field, thresholds, num_classes):
    """At most ``num_classes - 1`` thresholds fit; say so with the field name."""
    if thresholds is not None and len(thresholds) > num_classes - 1:
        raise UserError(f"{policy}.{field}",
                        f"{len(thresholds)} thresholds need {len(thresholds) + 1} queues "
                        f"for this policy, but only {num_classes} are available")


def require_thresholds(policy, field, thresholds):
    """Thresholds must be given or fitted before the first flow arrives."""
    if thresholds is None:
        raise UserError(f"{policy}.{field}",
                        "not set: give them in the policy parameters, or call fit() "
                        "with the trace's flow sizes before the run")
    return thresholds

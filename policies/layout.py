"""Placing a policy's priority levels onto however many queues a port has.

A policy ranks flows into *levels* (0 most urgent).  With at least as many
queues as levels, level i is queue i.  With fewer, adjacent levels merge:
level i of L goes to queue ``i * N // L``, which keeps the order (a more
urgent level never lands below a less urgent one), puts the first level on
Q0 and the last on Q(N-1), and gives every queue ``floor(L/N)`` or
``ceil(L/N)`` levels.  A policy with a scavenger level reserves the last
queue for it alone and spreads the other levels over the remaining N-1
queues, because the scavenger only works if nothing else shares its queue.
"""


def level_queues(num_levels, num_queues, reserve_last=False):
    """The queue of each level, as a list indexed by level."""
    if num_levels < 1 or num_queues < 1:
        raise ValueError("need at least one level and one queue")
    if reserve_last:
        if num_queues < 2:
            raise ValueError("a reserved last queue needs at least two queues")
        head = level_queues(num_levels - 1, num_queues - 1) if num_levels > 1 else []
        return head + [num_queues - 1]
    if num_levels <= num_queues:
        return list(range(num_levels))
    return [i * num_queues // num_levels for i in range(num_levels)]

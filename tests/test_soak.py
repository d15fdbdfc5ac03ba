"""The soak's verdict: growth over the replay's traffic, not its start-up or teardown."""

import pandas as pd

from experiments.soak import COLUMNS, FD_BOUND, summarize, traffic_span


def _frame(series):
    """Samples of one process: [(time, fds)], threads 1, 100 MB."""
    return pd.DataFrame([[t, "agent h1", 7, fds, 0, 1, 100 * 1024] for t, fds in series],
                        columns=COLUMNS)


def test_a_start_up_ramp_and_a_teardown_are_not_a_leak():
    # 30 descriptors while the agents connect, 75 through the replay, 31 at exit
    frame = _frame([(4, 30), (6, 30)] + [(t, 75) for t in range(10, 101, 5)] + [(104, 31)])
    assert summarize(frame)["passed"] is False             # the whole span reads a step
    steady = summarize(traffic_span(frame, 10, 90))
    assert steady["passed"] is True
    assert steady["processes"]["agent h1 (7)"]["fds"]["growth"] == 0


def test_descriptors_that_grow_through_the_replay_are():
    frame = _frame([(t, 40 + t // 5) for t in range(10, 101, 5)])   # +1 every 5 s
    report = summarize(traffic_span(frame, 10, 90))
    assert report["processes"]["agent h1 (7)"]["fds"]["growth"] > FD_BOUND
    assert report["passed"] is False

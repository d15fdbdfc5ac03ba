"""Counters that could not be read are None with a reason, never 0."""

from common import measured
from emulator import ovs


def test_none_carries_through_sums_and_differences():
    assert measured.total(3, measured.diff(10, 4)) == 9
    assert measured.total(3, measured.diff(None, 4)) is None
    assert measured.per_second(measured.diff(5.0, None), 2.0) is None
    assert measured.unmeasured({"a": 0, "b": None}, {"a": "x", "b": "why"}) == {"b": "why"}


def test_unreadable_sources_read_as_not_measured(monkeypatch, tmp_path):
    # before: a missing log counted 0 errors and a vanished process raised
    monkeypatch.setattr(ovs, "LOG_FILE", str(tmp_path / "missing.log"))
    assert ovs.log_size() is None and ovs.send_errors_since(None) is None
    assert ovs.send_errors_since(0) is None
    assert ovs.process_cpu_seconds(None) is None and ovs.process_cpu_seconds(2**22 + 1) is None

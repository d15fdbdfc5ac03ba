import pytest

from common.errors import UserError
from common.units import format_rate, parse_duration, parse_rate, parse_size


@pytest.mark.parametrize("text, bps", [
    ("100Gbps", 100e9), ("25 Gbit/s", 25e9), ("400G", 400e9), ("10Mbps", 10e6),
    ("1.5Kibps", 1536), (1000, 1000.0), ("2e9", 2e9)])
def test_parse_rate(text, bps):
    assert parse_rate(text) == pytest.approx(bps)


@pytest.mark.parametrize("text, size", [
    ("16MiB", 16 * 2**20), ("9000", 9000), ("1.5MB", 1_500_000), (4096, 4096), ("2KiB", 2048)])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text, seconds", [("1ms", 1e-3), ("250us", 250e-6), ("2s", 2.0), (0, 0.0)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("parse, bad", [
    (parse_rate, "fast"), (parse_rate, "0Gbps"), (parse_rate, "-1G"), (parse_rate, True),
    (parse_size, "lots"), (parse_size, 0), (parse_duration, "-1ms"), (parse_rate, float("inf"))])
def test_bad_values_name_the_field(parse, bad):
    with pytest.raises(UserError) as err:
        parse(bad, "links[2].rate")
    assert err.value.where == "links[2].rate"


def test_format_rate():
    assert format_rate(100e9) == "100Gbps"
    assert format_rate(2.5e6) == "2.5Mbps"

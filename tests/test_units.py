import pytest

from archsim.units import format_quantity, parse_quantity


@pytest.mark.parametrize("text, kind, expected", [
    ("1.1 GHz", "frequency", 1.1e9),
    ("2 TB/s", "bandwidth", 2e12),
    ("100 Gb/s", "bandwidth", 12.5e9),
    ("48 KiB", "bytes", 48 * 1024),
    ("16 KB", "bytes", 16000),
    ("80 GiB", "bytes", 80 * 2 ** 30),
    ("30 us", "time", 30e-6),
    ("5 ns", "time", 5e-9),
    ("400 W", "power", 400.0),
    ("1.2 pJ", "energy", 1.2e-12),
    ("312 TFLOP/s", "flops", 312e12),
    ("2 TOPS", "flops", 2e12),
    ("1000 MT/s", "rate", 1e9),
    (3.5, "time", 3.5),
    ("7", "bytes", 7.0),
])
def test_parse(text, kind, expected):
    assert parse_quantity(text, kind) == pytest.approx(expected)


@pytest.mark.parametrize("text, kind", [
    ("2 GHz", "bandwidth"), ("fast", "frequency"), ("1 TB/s", "bytes"), (True, "bytes"), ([1], "time"),
])
def test_rejects(text, kind):
    with pytest.raises(ValueError):
        parse_quantity(text, kind)


@pytest.mark.parametrize("value, kind", [
    (float("inf"), "frequency"), (float("-inf"), "time"), (float("nan"), "bytes"),
    pytest.param(10 ** 400, "bytes", id="int-past-float-range"),
    ("1e400 GHz", "frequency"), ("1e300 PB", "bytes"), ("1e400", "number"),
])
def test_rejects_non_finite(value, kind):
    with pytest.raises(ValueError, match="finite"):
        parse_quantity(value, kind)


def test_format():
    assert format_quantity(2.039e12, "B/s") == "2.04 TB/s"
    assert format_quantity(48 * 1024, "B", binary=True) == "48 KiB"

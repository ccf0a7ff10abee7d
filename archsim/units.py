"""Physical quantities in configs: '1.1 GHz', '2 TB/s', '48 KiB', '30 us', '300 W', '1.2 pJ'.

Every quantity is returned as a float in base SI units (Hz, B/s, B, s, W, J, FLOP/s).
Bytes use B, bits use b ('Gb/s' is gigabits per second). Decimal prefixes are powers of
1000, binary prefixes (KiB, MiB, ...) powers of 1024. A bare number is taken as the base unit.
"""

from __future__ import annotations

import math
import re

_DEC = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
        "m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}
_BIN = {"Ki": 2.0 ** 10, "Mi": 2.0 ** 20, "Gi": 2.0 ** 30, "Ti": 2.0 ** 40, "Pi": 2.0 ** 50}

# unit kind -> {unit suffix (after prefix): factor to base unit}
_UNITS: dict[str, dict[str, float]] = {
    "frequency": {"Hz": 1.0},
    "bandwidth": {"B/s": 1.0, "Bps": 1.0, "b/s": 0.125, "bps": 0.125, "T/s": None},
    "bytes": {"B": 1.0, "b": 0.125, "bit": 0.125, "bits": 0.125},
    "time": {"s": 1.0, "sec": 1.0},
    "power": {"W": 1.0},
    "energy": {"J": 1.0},
    "flops": {"FLOP/s": 1.0, "FLOPS": 1.0, "OPS": 1.0, "OP/s": 1.0, "MAC/s": 2.0},
    "rate": {"/s": 1.0, "T/s": 1.0},  # transfers per second (MT/s)
}
_UNITS["bandwidth"].pop("T/s")
KINDS = tuple(_UNITS) + ("number",)

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RE = re.compile(rf"^\s*({_NUM})\s*([A-Za-zµ/]*)\s*$")


def _split_prefix(unit: str, table: dict[str, float]) -> float | None:
    for suffix, factor in sorted(table.items(), key=lambda kv: -len(kv[0])):
        if not unit.endswith(suffix):
            continue
        prefix = unit[: len(unit) - len(suffix)]
        if prefix in _BIN:
            return _BIN[prefix] * factor
        if prefix in _DEC:
            return _DEC[prefix] * factor
    return None


def parse_quantity(value, kind: str) -> float:
    """Parse `value` (a number or a string with a unit) into base SI units of `kind`.

    Raises ValueError with a short reason; callers add the file and key. The result is
    finite: '.inf', 'nan', '1e400 GHz' and '1e300 PB' (inf once scaled) are errors.
    """
    try:
        q = _parse(value, kind)
    except OverflowError:  # an integer past a float's range
        q = math.inf
    if not math.isfinite(q):
        raise ValueError(f"must be a finite number, got {value!r}")
    return q


def _parse(value, kind: str) -> float:
    if kind not in KINDS:
        raise ValueError(f"unknown quantity kind {kind!r}")
    if isinstance(value, bool):
        raise ValueError(f"expected a {kind} quantity, got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a {kind} quantity, got {type(value).__name__}")
    m = _RE.match(value)
    if not m:
        raise ValueError(f"cannot read {value!r} as a {kind} quantity")
    number, unit = float(m.group(1)), m.group(2)
    if unit == "" or kind == "number":
        if unit and kind == "number":
            raise ValueError(f"{value!r}: a plain number is expected here")
        return number
    factor = _split_prefix(unit, _UNITS[kind])
    if factor is None:
        known = ", ".join(sorted(_UNITS[kind]))
        raise ValueError(f"{value!r}: unit {unit!r} is not a {kind} unit (base units: {known})")
    return number * factor


def format_quantity(value: float, unit: str, binary: bool = False) -> str:
    """Human-readable value with an SI (or binary) prefix, e.g. 2.039e12 B/s -> '2.04 TB/s'."""
    if value == 0:
        return f"0 {unit}"
    if binary:
        steps = [("Pi", 2.0 ** 50), ("Ti", 2.0 ** 40), ("Gi", 2.0 ** 30), ("Mi", 2.0 ** 20), ("Ki", 2.0 ** 10)]
    else:
        steps = [("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3), ("", 1.0),
                 ("m", 1e-3), ("u", 1e-6), ("n", 1e-9), ("p", 1e-12)]
    for prefix, factor in steps:
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    prefix, factor = steps[-1]
    return f"{value / factor:.3g} {prefix}{unit}"

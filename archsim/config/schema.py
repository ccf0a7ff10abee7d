"""Declarative schemas for YAML blocks: types, units, ranges, defaults, unknown-key rejection.

A schema is a dict of key -> Field (or a nested dict for a sub-block). `validate` returns a
new dict with defaults filled in and quantities converted to base SI floats, or raises a
ConfigError naming the file, the dotted key path and the reason.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

from archsim.errors import ConfigError
from archsim.units import KINDS as UNIT_KINDS, parse_quantity

REQUIRED = object()
SCALAR_KINDS = ("int", "float", "str", "bool", "grid", "list", "dict", "any")
INT64_MAX = 2 ** 63 - 1
PS = 1e12  # the engines count time in integer picoseconds


@dataclass(frozen=True)
class Field:
    """One key of a schema.

    kind: 'int', 'float', 'str', 'bool', 'grid' ('420x420' -> (420, 420)), 'list', 'dict',
    'any', or a quantity kind of archsim.units ('frequency', 'bandwidth', 'bytes', 'time',
    'power', 'energy', 'flops', 'rate', 'number'). Quantities and ints are strictly positive
    unless `min` (inclusive) or `gt` (exclusive) says otherwise. Every number is finite, ints
    and sizes fit an int64, and a nonzero time or clock period is 1 ps to int64 picoseconds.
    """

    kind: str
    default: Any = REQUIRED
    doc: str = ""
    min: float | None = None
    gt: float | None = None
    max: float | None = None
    choices: tuple | None = None
    item: Any = None  # for 'list': a Field or a schema dict for each element
    nullable: bool = False

    def __post_init__(self):
        if self.kind not in SCALAR_KINDS and self.kind not in UNIT_KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


def _bounds(field: Field, value: float, file, path):
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"must be a finite number, got {value!r}", file, path)
    if field.kind in ("int", "bytes") and abs(value) > INT64_MAX:
        shown = f"{value:g}" if abs(value) < 1e300 else "a larger number"  # :g overflows past floats
        raise ConfigError(f"must fit an int64 (at most {INT64_MAX} in size), got {shown}", file, path)
    lo_gt = field.gt
    if field.min is None and field.gt is None and field.kind in UNIT_KINDS + ("int",):
        lo_gt = 0.0
    if field.min is not None and value < field.min:
        raise ConfigError(f"must be >= {field.min:g}, got {value:g}", file, path)
    if lo_gt is not None and not value > lo_gt:
        what = "positive" if lo_gt == 0 else f"> {lo_gt:g}"
        raise ConfigError(f"must be {what}, got {value:g}", file, path)
    if field.max is not None and value > field.max:
        raise ConfigError(f"must be <= {field.max:g}, got {value:g}", file, path)
    _fits(field.kind, value, file, path)


def _fits(kind: str, value: float, file, path):
    """Reject a nonzero size under 1 B, or a time or clock period that whole picoseconds (the
    engines' unit) would make 0 or overflow."""
    if value == 0 or kind not in ("time", "frequency", "bytes"):
        return
    if kind == "bytes":
        if abs(value) < 1:
            raise ConfigError(f"a nonzero size must be at least 1 B, got {value:g} B", file, path)
        return
    if kind == "time":
        ps, what, limits = abs(value) * PS, "time", f"1 ps to {INT64_MAX / PS:.3g} s"
    else:  # a clock: its period
        ps, what = PS / abs(value), "clock period"
        limits = f"{PS / INT64_MAX:.3g} Hz to {2 * PS:.3g} Hz"
    if not ps > 0.5:  # round(0.5) == 0
        raise ConfigError(f"{what} {ps:g} ps is below the simulator's 1 ps time step ({limits})", file, path)
    if not ps < 2.0 ** 63:
        raise ConfigError(f"{what} {ps:g} ps overflows the simulator's int64 picoseconds ({limits})",
                          file, path)


def _got(value) -> str:
    """`value` for a message; an int where text belongs is often YAML 1.1 reading 0x4 or 1:30."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value!r} (YAML read it as a number, as it does 0x4, 0o17, 1_000 or 1:30: quote it)"
    return repr(value)


def _from_text(value, what: str, file, path):
    """A number YAML 1.1 left as a string ('1e-300' has no dot) as a float; others unchanged."""
    if not isinstance(value, str):
        return value
    try:
        return parse_quantity(value, "number")
    except ValueError as exc:
        raise ConfigError(f"expected {what}: {exc}", file, path) from None


def parse_grid(value, file=None, path=None) -> tuple[int, int]:
    """'420x420' (or [420, 420]) -> (rows, cols), both positive."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        parts = list(value)
    elif isinstance(value, str) and "x" in value.lower():
        parts = value.lower().split("x")
    else:
        raise ConfigError(f"expected a grid like '420x420', got {_got(value)}", file, path)
    try:
        rows, cols = (int(str(p).strip()) for p in parts)
    except ValueError:
        raise ConfigError(f"expected a grid like '420x420', got {value!r}", file, path) from None
    if rows <= 0 or cols <= 0:
        raise ConfigError(f"grid sides must be positive, got {value!r}", file, path)
    return rows, cols


def validate_value(field: Field, value, file, path):
    if value is None:
        if field.nullable:
            return None
        raise ConfigError("a value is required (got null)", file, path)
    kind = field.kind
    if kind == "any":
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {value!r}", file, path)
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"expected a string, got {_got(value)}", file, path)
        if field.choices and value not in field.choices:
            raise ConfigError(f"{value!r} is not one of {', '.join(map(str, field.choices))}", file, path)
        return value
    if kind == "grid":
        return parse_grid(value, file, path)
    if kind == "dict":
        if not isinstance(value, dict):
            raise ConfigError(f"expected a mapping, got {type(value).__name__}", file, path)
        return dict(value)
    if kind == "list":
        if not isinstance(value, list):
            raise ConfigError(f"expected a list, got {type(value).__name__}", file, path)
        out = []
        for i, v in enumerate(value):
            p = f"{path}[{i}]"
            if isinstance(field.item, dict):
                out.append(validate(v, field.item, file, p))
            elif isinstance(field.item, Field):
                out.append(validate_value(field.item, v, file, p))
            else:
                out.append(v)
        return out
    if kind == "int":
        value = _from_text(value, "an integer", file, path)
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError(f"expected an integer, got {value!r}", file, path)
        if field.choices and value not in field.choices:
            raise ConfigError(f"{value!r} is not one of {', '.join(map(str, field.choices))}", file, path)
        _bounds(field, value, file, path)
        return value
    if kind == "float":
        value = _from_text(value, "a number", file, path)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"expected a number, got {value!r}", file, path)
        try:
            value = float(value)
        except OverflowError:  # an integer past a float's range
            value = math.inf
        _bounds(field, value, file, path)
        return value
    try:
        q = parse_quantity(value, kind)
    except ValueError as exc:
        raise ConfigError(str(exc), file, path) from None
    _bounds(field, q, file, path)
    return q


def validate(data, schema: dict, file=None, path: str = "") -> dict:
    """Check `data` against `schema`; return a new dict with defaults and converted values."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping, got {type(data).__name__}", file, path or None)
    for key in data:
        if key not in schema:
            close = difflib.get_close_matches(str(key), [str(k) for k in schema], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(sorted(map(str, schema))) or "none"
            raise ConfigError(f"unknown key{hint}; expected one of: {known}", file, _join(path, key))
    out = {}
    for key, spec in schema.items():
        p = _join(path, key)
        if isinstance(spec, dict):
            out[key] = validate(data.get(key, {}), spec, file, p)
            continue
        if key in data:
            out[key] = validate_value(spec, data[key], file, p)
        elif spec.default is REQUIRED:
            raise ConfigError("required key is missing", file, p)
        elif spec.default is None:
            out[key] = None
        else:
            # defaults are written like values ('48 KiB'), so they convert the same way
            out[key] = validate_value(spec, spec.default, file, p)
    return out


def describe(schema: dict, indent: int = 0) -> list[str]:
    """Lines documenting a schema (for `archsim list components`)."""
    lines = []
    for key, spec in schema.items():
        pad = "  " * indent
        if isinstance(spec, dict):
            lines.append(f"{pad}{key}:")
            lines.extend(describe(spec, indent + 1))
            continue
        default = "required" if spec.default is REQUIRED else f"default {spec.default!r}"
        lines.append(f"{pad}{key} ({spec.kind}, {default}){': ' + spec.doc if spec.doc else ''}")
    return lines

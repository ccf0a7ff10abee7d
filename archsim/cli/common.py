"""Options and output helpers shared by subcommands."""

from __future__ import annotations

import json
import math
import sys

import numpy as np


def add_set_option(parser) -> None:
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="override a config value by its dotted path (repeatable)")


def seed(text: str) -> int:
    """A --seed: a whole number 0 .. 2**63 - 1 (the generators take no negative seed)."""
    import argparse
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= v < 2 ** 63:
        raise argparse.ArgumentTypeError(f"must be 0 .. 2**63 - 1, got {v}")
    return v


def add_format_option(parser, default: str = "table") -> None:
    parser.add_argument("--format", choices=("table", "json"), default=default,
                        help="output format (default: %(default)s)")


def _plain(obj):
    """JSON-safe copy: numpy scalars and arrays to Python, tuples to lists, NaN/inf to null."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return _plain(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def to_json(obj) -> str:
    return json.dumps(_plain(obj), indent=2, sort_keys=False)


def emit_json(obj, stream=None) -> None:
    (stream or sys.stdout).write(to_json(obj) + "\n")

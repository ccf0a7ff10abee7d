"""Synthetic traffic patterns: a destination rule per source node (node = row * cols + col)."""

from __future__ import annotations

import numpy as np

from archsim.errors import ConfigError

PATTERNS = ("uniform", "transpose", "hotspot", "neighbour", "neighbor", "tornado", "bitcomp",
            "bitrev", "shuffle")

UNIFORM, FIXED, HOTSPOT = 0, 1, 2


def _bits(n: int, what: str) -> int:
    b = int(n).bit_length() - 1
    if n <= 0 or (1 << b) != n:
        raise ConfigError(f"{what} needs a power-of-two node count, got {n}", None, "traffic")
    return b


def default_hotspot(rows: int, cols: int) -> list:
    """The hotspot traffic's node when none is given: the mesh's centre."""
    return [(rows // 2) * cols + cols // 2]


def destinations(pattern, rows: int, cols: int):
    """(kind, dest) for the kernel: kind UNIFORM (random destination, the source included, as
    BookSim), FIXED (dest[n] per source) or HOTSPOT (handled by the caller)."""
    n = rows * cols
    if not isinstance(pattern, str):
        dest = np.asarray(pattern, dtype=np.int64).reshape(-1)
        if dest.shape[0] != n or dest.min() < 0 or dest.max() >= n:
            raise ConfigError(f"a destination array needs {n} entries in [0, {n})", None, "traffic")
        return FIXED, dest.astype(np.int32)
    p = pattern.lower()
    node = np.arange(n, dtype=np.int64)
    r, c = node // cols, node % cols
    if p == "uniform":
        return UNIFORM, np.zeros(n, np.int32)
    if p == "hotspot":
        return HOTSPOT, np.zeros(n, np.int32)
    if p == "transpose":
        if rows != cols:
            raise ConfigError(f"transpose needs a square mesh, got {rows}x{cols}", None, "traffic")
        return FIXED, (c * cols + r).astype(np.int32)
    if p in ("neighbour", "neighbor"):
        # each coordinate + 1, wrapping (BookSim's "neighbor")
        return FIXED, (((r + 1) % rows) * cols + (c + 1) % cols).astype(np.int32)
    if p == "tornado":
        return FIXED, (((r + (rows + 1) // 2 - 1) % rows) * cols
                       + (c + (cols + 1) // 2 - 1) % cols).astype(np.int32)
    if p == "bitcomp":
        _bits(n, "bitcomp")
        return FIXED, ((~node) & (n - 1)).astype(np.int32)
    if p == "bitrev":
        b = _bits(n, "bitrev")
        out = np.zeros(n, np.int64)
        for i in range(b):
            out |= ((node >> i) & 1) << (b - 1 - i)
        return FIXED, out.astype(np.int32)
    if p == "shuffle":
        b = _bits(n, "shuffle")
        return FIXED, (((node << 1) & (n - 1)) | (node >> (b - 1))).astype(np.int32)
    raise ConfigError(f"unknown traffic pattern {pattern!r}; known: {', '.join(PATTERNS)}",
                      None, "traffic")

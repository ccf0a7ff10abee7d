"""Front ends: address streams from a memory trace (`LD 0xADDR` / `ST 0xADDR` lines), from a
synthetic pattern, or from the jobs the system scheduler sends (weight streams, KV reads,
strided accesses)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from archsim.errors import TraceError


def parse_trace(path) -> tuple[np.ndarray, np.ndarray]:
    """Read a memory trace: one `LD ADDR` or `ST ADDR` per line (hex with 0x, or decimal).

    Returns (addresses int64, is_write int64). Blank lines and `#` comments are skipped;
    anything else malformed raises TraceError naming the file and the line.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise TraceError(f"cannot read: {exc.strerror}", p) from None
    lines = data.split(b"\n")
    addrs = np.empty(len(lines), dtype=np.int64)
    writes = np.empty(len(lines), dtype=np.int64)
    n = 0
    for no, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise TraceError(f"expected 'LD|ST ADDRESS', got {line[:60].decode(errors='replace')!r}",
                             p, f"line {no}")
        op, a = parts
        if op == b"LD":
            w = 0
        elif op == b"ST":
            w = 1
        else:
            raise TraceError(f"unknown operation {op.decode(errors='replace')!r} (expected LD or ST)",
                             p, f"line {no}")
        try:
            v = int(a, 16) if a[:2] in (b"0x", b"0X") else int(a, 10)
        except ValueError:
            raise TraceError(f"bad address {a.decode(errors='replace')!r}", p, f"line {no}") from None
        if v < 0 or v >= 1 << 62:
            raise TraceError(f"address out of range: {a.decode(errors='replace')}", p, f"line {no}")
        addrs[n] = v
        writes[n] = w
        n += 1
    if n == 0:
        raise TraceError("the trace has no requests", p)
    return addrs[:n], writes[:n]


def _python_randrange_pow2(seed: int, count: int, n: int) -> np.ndarray:
    """The values `random.Random(seed).randrange(0, n)` draws, `count` times, for n = 2**k.

    Python draws k+1 bits (the top bits of one 32-bit Mersenne-Twister output) and rejects
    values >= n; the same generator state run through numpy's MT19937 reproduces it.
    """
    k = n.bit_length()              # bits Python asks for (n.bit_length() for randbelow)
    if k > 32:
        rng = random.Random(seed)
        return np.array([rng.randrange(0, n) for _ in range(count)], dtype=np.int64)
    state = random.Random(seed).getstate()[1]
    bitgen = np.random.MT19937()
    bitgen.state = {"bit_generator": "MT19937",
                    "state": {"key": np.array(state[:624], dtype=np.uint32), "pos": state[624]}}
    out = np.empty(0, dtype=np.int64)
    need = count
    while need > 0:
        raw = bitgen.random_raw(int(need * 2.2) + 64).astype(np.uint64)
        vals = (raw >> np.uint64(32 - k)).astype(np.int64)
        vals = vals[vals < n]
        out = np.concatenate([out, vals[:need]])
        need = count - len(out)
    return out


def pattern_addresses(pattern: str, count: int, tx_bytes: int, span_bytes: int = 1 << 30,
                      seed: int = 12345, write_ratio: float = 0.0):
    """Synthetic streams. seq: 0, tx, 2tx, ...; random: uniform tx-aligned addresses in
    `span_bytes` drawn as `random.Random(seed).randrange(0, span // tx) * tx`."""
    if count <= 0:
        raise TraceError(f"--requests must be positive, got {count}", None, "requests")
    if pattern == "seq":
        addrs = np.arange(count, dtype=np.int64) * tx_bytes
    elif pattern == "random":
        n = span_bytes // tx_bytes
        if n & (n - 1) == 0:
            addrs = _python_randrange_pow2(seed, count, n) * tx_bytes
        else:
            rng = random.Random(seed)
            addrs = np.array([rng.randrange(0, n) * tx_bytes for _ in range(count)], dtype=np.int64)
    else:
        raise TraceError(f"unknown pattern {pattern!r} (expected seq or random)", None, "pattern")
    writes = np.zeros(count, dtype=np.int64)
    if write_ratio > 0:
        w = np.random.default_rng(seed + 1).random(count) < write_ratio
        writes[w] = 1
    return addrs, writes


def stream_addresses(nbytes: int, tx_bytes: int, base: int = 0, stride: int = 0,
                     elem_bytes: int = 0):
    """A job's address stream: a contiguous stream of `nbytes` (weights, KV) or, with a
    stride, `elem_bytes`-sized pieces `stride` apart (strided access), tx-aligned."""
    if nbytes < 0:
        raise TraceError(f"negative stream size {nbytes}", None, "bytes")
    if stride and elem_bytes:
        pieces = max(1, -(-int(nbytes) // int(elem_bytes)))
        per = max(1, -(-int(elem_bytes) // tx_bytes))
        starts = base + np.arange(pieces, dtype=np.int64) * int(stride)
        addrs = (starts[:, None] + np.arange(per, dtype=np.int64)[None, :] * tx_bytes).ravel()
        return (addrs // tx_bytes) * tx_bytes
    n = max(1, -(-int(nbytes) // tx_bytes))
    return base + np.arange(n, dtype=np.int64) * tx_bytes

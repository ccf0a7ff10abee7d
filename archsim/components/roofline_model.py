"""Kernel-efficiency model shared by the calibrated GPU and CPU baselines.

Closed forms only (no state), so a cost is a handful of float operations and memoises well.
The pieces, each documented in docs/baselines.md:

- Little's law for memory: a stream of `nbytes` takes `latency + nbytes / sustained` seconds
  (the first bytes arrive after one memory latency; afterwards the bytes in flight keep the
  sustained rate). The achievable bandwidth of a transfer is therefore nbytes over that time,
  which rises with size towards the sustained (STREAM-measured) rate. A requester that can
  keep only `inflight` bytes outstanding is limited to inflight / latency.
- Tensor-core GEMM: a CTA computes a tile_m x tile_n output tile over K; M and N round up to
  whole tiles (tile quantisation), tiles run in waves of one CTA per SM (wave quantisation),
  small grids split K to fill the SMs, and a tile's throughput is capped by the L2 bandwidth
  its operand intensity allows. The library's heuristic is taken to pick the fastest tile,
  small tiles only for problems too small to fill the SMs with large ones.
- Dtypes: the compute type of a matmul is its activation type (weights narrower than the
  activations are widened on the fly, as weight-only-quantised kernels do); a part without
  units for a type falls back along FALLBACK.
"""

from __future__ import annotations

import math

# bytes of one operand element of each compute type (for tile operand intensity)
COMPUTE_BYTES = {"fp32": 4.0, "tf32": 4.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
# a type the part has no units for runs on the next one (int8 without int8 tensor cores
# runs in fp16; bf16 without bf16 units is emulated in fp32)
FALLBACK = {"int1": "int8", "int2": "int8", "int3": "int8", "int4": "int8", "int5": "int8", "int6": "int8",
            "int7": "int8", "int8": "fp16", "fp8": "fp16", "bf16": "fp32", "fp16": "fp32", "tf32": "fp32"}

# CTA output tiles the GEMM library chooses among (CUTLASS/cuBLAS Ampere-class tensor-op tiles)
DEFAULT_TILES = ((256, 128), (128, 256), (128, 128), (128, 64), (64, 128), (64, 64))
# tiles below this area are used only when no large tile fills every SM (the libraries'
# heuristics keep small tiles for small problems: their per-FLOP issue and operand-load
# overheads, which this model does not price, make them slower on large ones)
LARGE_TILE = 128 * 128
# smallest K slice a split-K partition is given (one 64-deep main-loop stage per 4 warps)
MIN_SPLIT_K = 256


def compute_dtype(dtype_w: str, dtype_a: str) -> str:
    """The type a matmul computes in: the activations' type; integer activations with
    integer weights use the integer units as wide as the wider operand (int4 x int4 on int4
    units, anything wider on int8 ones)."""
    a = dtype_a or dtype_w or "fp16"
    if a.startswith("int"):
        w = dtype_w or a
        if not w.startswith("int"):
            return w
        return "int4" if max(int(w[3:]), int(a[3:])) <= 4 else "int8"
    return a


def resolve_dtype(dtype: str, peaks: dict) -> str:
    """The first type along FALLBACK that has a peak on this part (fp32 always does)."""
    seen = 0
    while peaks.get(dtype) is None:
        if dtype not in FALLBACK or seen > 8:
            return "fp32"
        dtype = FALLBACK[dtype]
        seen += 1
    return dtype


def stream_time(nbytes: float, latency_s: float, sustained_bw: float) -> float:
    """Little's law: one latency to the first bytes, then the sustained rate."""
    if nbytes <= 0:
        return 0.0
    return latency_s + nbytes / sustained_bw


def achievable_bandwidth(nbytes: float, latency_s: float, sustained_bw: float) -> float:
    """Bandwidth a transfer of `nbytes` achieves (rises with size towards `sustained_bw`)."""
    if nbytes <= 0:
        return sustained_bw
    return nbytes / stream_time(nbytes, latency_s, sustained_bw)


def inflight_bandwidth(inflight_bytes: float, latency_s: float) -> float:
    """Little's law: the rate a requester with `inflight_bytes` outstanding can sustain."""
    return inflight_bytes / latency_s


def waves(ctas: int, units: int) -> int:
    return max(1, -(-int(ctas) // int(units)))


def wave_efficiency(ctas: int, units: int) -> float:
    """Fraction of SM-time doing work when `ctas` equal CTAs run in whole waves."""
    return ctas / (waves(ctas, units) * units) if ctas > 0 else 1.0


def tile_intensity(tile_m: int, tile_n: int, elem_bytes: float) -> float:
    """FLOPs per operand byte a tile fetches per K step: 2*tm*tn / ((tm + tn) * bytes)."""
    return 2.0 * tile_m * tile_n / ((tile_m + tile_n) * elem_bytes)


def tensor_gemm_time(m: int, n: int, k: int, batch: int, *, peak: float, efficiency: float, units: int,
                     l2_bandwidth: float, elem_bytes: float, tiles=DEFAULT_TILES) -> tuple[float, tuple]:
    """Seconds of the fastest tile choice for `batch` x [m,k]x[k,n] on tensor cores.

    Each CTA's tile costs 2*tm*tn*k_slice FLOPs whether or not its rows and columns are real
    (tile quantisation); CTAs run in ceil(ctas / units) waves (wave quantisation). A grid
    smaller than the SMs splits K (split-K) down to MIN_SPLIT_K. Per-SM throughput is the
    part's sustained matmul rate, capped by the share of L2 bandwidth the tile's intensity
    needs. Returns (seconds, (tile_m, tile_n, split_k)).
    """
    if m <= 0 or n <= 0 or k <= 0:
        return 0.0, (0, 0, 1)
    per_unit = peak * efficiency / units

    def grid_of(tm, tn):
        return -(-m // tm) * -(-n // tn) * max(batch, 1)

    large = [t for t in tiles if t[0] * t[1] >= LARGE_TILE and grid_of(*t) >= units]
    best = (math.inf, (0, 0, 1))
    for tm, tn in large or tiles:
        grid = grid_of(tm, tn)
        split = 1
        if grid < units:
            split = max(1, min(units // grid, -(-k // MIN_SPLIT_K)))
        ctas = grid * split
        k_slice = -(-k // split)
        l2_cap = l2_bandwidth * tile_intensity(tm, tn, elem_bytes) / units
        rate = min(per_unit, l2_cap)
        t = waves(ctas, units) * 2.0 * tm * tn * k_slice / rate
        if t < best[0]:
            best = (t, (tm, tn, split))
    return best

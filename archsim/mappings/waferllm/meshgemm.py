"""Distributed GEMM on a P x P grid: MeshGEMM (WaferLLM section 5), SUMMA and Cannon.

All three split A[m, k], B[k, n] and C[m, n] in P x P tiles and run P compute steps; they
differ in how tiles travel between steps:
  meshgemm  cyclic shift on the interleaved ring (every step two hops at most), A along the
            rows and B along the columns, overlapped with the step's compute;
  cannon    cyclic shift between neighbours; on a mesh the tail's tile crosses the whole line;
  summa     step j's owner row/column broadcasts its tile; a new owner every step needs more
            routes than the colours allow, so tiles are relayed core by core.
MeshGEMM and Cannon first align A (row i rotated by i: the row rotated by P/2 bounds it); B is
placed pre-aligned, as weights are static. The P identical steps are simulated once.

dist-GEMM-T (C = A x B^T, for Q x K^T) shifts only B along y and, after each step, reduces
the partial C tile along x (to a root that rotates with the step).

The per-step compute follows the WaferLLM kernel: for each (k, n) of the tile, one vector FMAC
over the tile's m rows (`loop='kn'`); `loop='long'` runs the longer of the tile's sides as
the vector instead.
"""

from __future__ import annotations

from archsim.components.wafer import Program, Segment, VecOp
from archsim.mappings.waferllm.comm import (BulkRotate, CannonShift, InterleavedShift, KTreeAllreduce,
                                            Parallel, RelayBroadcast)
from archsim.mappings.waferllm.layouts import cdiv

ALGORITHMS = ("meshgemm", "cannon", "summa")


def step_compute(mt: int, kt: int, nt: int, bits: int, loop: str = "kn") -> tuple:
    if loop == "long":
        vec, count = max(mt, nt), kt * min(mt, nt)
    else:
        vec, count = mt, kt * nt
    # one task switch per step (the next step is activated when compute and shift are done)
    return (VecOp(vec, count, "fmac", bits), VecOp(1, 1, "scalar", bits))


def gemm_program(p: int, m: int, k: int, n: int, bits: int = 16, algorithm: str = "meshgemm",
                 loop: str = "kn", heads: int = 1) -> Program:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown GEMM algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")
    mt, kt, nt = cdiv(m, p), cdiv(k, p), cdiv(n, p) * heads
    a_elems, b_elems = mt * kt, kt * nt
    compute = step_compute(mt, kt, nt, bits, loop)
    segs = []
    if algorithm == "meshgemm":
        segs.append(Segment((), BulkRotate(p, p, "x", a_elems, bits), label="align"))   # every row aligns
        step = Parallel((InterleavedShift(p, p, "x", a_elems, bits), InterleavedShift(p, p, "y", b_elems, bits)))
    elif algorithm == "cannon":
        segs.append(Segment((), BulkRotate(p, p, "x", a_elems, bits), label="align"))   # every row aligns
        step = Parallel((CannonShift(p, p, "x", a_elems, bits), CannonShift(p, p, "y", b_elems, bits)))
    else:
        step = Parallel((RelayBroadcast(p, p, "x", a_elems, bits), RelayBroadcast(p, p, "y", b_elems, bits)))
    segs.append(Segment(compute, step, overlap=True, repeat=p, label=algorithm))
    return Program((p, p), tuple(segs))


def gemm_t_program(p: int, mt: int, dt: int, group: int, bits: int = 16, loop: str = "kn",
                   shift_elems: int | None = None, ring: int | None = None, seqs: int = 1,
                   rings: int | None = None) -> Program:
    """dist-GEMM-T per step: [mt x dt] x [dt x mt]^T partial scores, B shifted along y,
    then reduced along x over the `group` columns that share the contraction.

    `ring`: the rows whose B tiles meet (one sequence's rows; all p by default), so B travels
    around rings of that many rows in as many steps; `rings`: the rings of a column that
    carry keys (p // ring by default; fewer where a short batch leaves rows empty). `seqs`:
    independent products per core (sequences sharing a row when there are more than rows),
    one after another."""
    ring = p if ring is None else ring
    compute = step_compute(mt, dt, mt * seqs, bits, loop)
    shift = None
    if ring > 1:
        elems = shift_elems if shift_elems is not None else mt * dt
        shift = InterleavedShift(ring, p * (p // ring if rings is None else rings), "y", elems, bits)
    segs = [Segment(compute, shift, overlap=True, repeat=ring, label="gemm_t")]
    if group > 1:
        red = KTreeAllreduce(group, p * (p // group), "x", mt * mt * seqs, bits, k=1, root="center",
                             broadcast=False)
        segs.append(Segment((), red, repeat=ring, label="gemm_t_reduce"))
    return Program((p, p), tuple(segs))

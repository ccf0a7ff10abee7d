"""MeshGEMV (WaferLLM section 6): local GEMV on every core, then a K-tree allreduce.

The matrix W[k, n] is split in tiles over the grid; the vector is split along one axis and
replicated along the other. Each core multiplies its slice of the vector with its tile (one
vector FMAC per vector element, over the tile's row), giving a partial sum of its n-block;
the partial sums of a line are then allreduced. `allreduce='ktree'` is MeshGEMV's two-way
K-tree; `'pipeline'` is the baseline that reduces step by step toward one end and broadcasts
back (Cerebras' default GEMV), `'ktree1'` a one-level tree rooted in the middle.

`reduce_values` runs the same reduction pattern on numbers, so tests can check that the
K-tree's result equals the sum.
"""

from __future__ import annotations

import numpy as np

from archsim.components.wafer import Program, Segment, VecOp
from archsim.mappings.waferllm.comm import KTreeAllreduce, ktree_groups
from archsim.mappings.waferllm.layouts import cdiv

ALLREDUCES = ("ktree", "ktree1", "pipeline")


def allreduce(kind: str, n: int, lines: int, axis: str, elements: int, bits: int = 16, k: int = 2,
              broadcast: bool = True) -> KTreeAllreduce:
    if kind == "ktree":
        return KTreeAllreduce(n, lines, axis, elements, bits, k=k, root="center", broadcast=broadcast)
    if kind == "ktree1":
        return KTreeAllreduce(n, lines, axis, elements, bits, k=1, root="center", broadcast=broadcast)
    if kind == "pipeline":
        return KTreeAllreduce(n, lines, axis, elements, bits, k=1, root="end", broadcast=broadcast)
    raise ValueError(f"unknown allreduce {kind!r}; expected one of {', '.join(ALLREDUCES)}")


def gemv_tiles(grid, k: int, n: int, input_axis: str) -> tuple[int, int, int, int, str]:
    """(k_t, n_t, line length, lines, reduce axis) of a GEMV whose vector is split along
    `input_axis` ('y': over the rows; 'x': over the columns)."""
    rows, cols = grid
    if input_axis == "y":
        return cdiv(k, rows), cdiv(n, cols), rows, cols, "y"
    return cdiv(k, cols), cdiv(n, rows), cols, rows, "x"


def gemv_program(grid, k: int, n: int, batch: int = 1, bits: int = 16, input_axis: str = "y",
                 allreduce_kind: str = "ktree", k_levels: int = 2, heads: int = 1, parts=None) -> Program:
    """`parts`: widths of linears fused in `n` that the cores multiply one after the other (own
    tiles, own partial-sum vectors) before one allreduce carries them all."""
    k_t, n_t, line, lines, axis = gemv_tiles(grid, k, n, input_axis)
    widths = [gemv_tiles(grid, k, w, input_axis)[1] * heads for w in parts] if parts else [n_t * heads]
    compute = ()
    for w in widths:
        compute += (VecOp(w * batch, 1, "copy", bits),        # zero the partial sums
                    VecOp(w, k_t * batch, "fmac", bits))       # one FMAC per vector element
    comm = allreduce(allreduce_kind, line, lines, axis, sum(widths) * batch, bits, k_levels)
    return Program(tuple(grid), (Segment(compute, comm, label="gemv"),))


# --- the reduction pattern on values (for tests) -------------------------------------------------
def reduce_values(values: np.ndarray, k: int = 2, root: str = "center") -> tuple[np.ndarray, int, int]:
    """Run the K-tree (or pipeline) reduction on `values[n, m]` as the cores would: each chain
    stage adds the incoming partial to the receiving core's own. Returns (what every core
    holds after the broadcast, routing stages on the critical path, hops on it)."""
    vals = np.array(values, dtype=np.float64, copy=True)
    n = vals.shape[0]
    active = list(range(n))
    sizes = ktree_groups(n, k) if root == "center" else [n]
    stages = hops = 0
    for level, g in enumerate(sizes):
        groups = [active[i:i + g] for i in range(0, len(active), g)]
        if len(groups) > 1 and level == len(sizes) - 1:
            groups = [active]
        roots = []
        lvl_stages = lvl_hops = 0
        for grp in groups:
            r = len(grp) - 1 if root == "end" else len(grp) // 2
            for chain in (grp[: r + 1], grp[r:][::-1]):
                for a, b in zip(chain[:-1], chain[1:]):
                    vals[b] += vals[a]
                lvl_stages = max(lvl_stages, len(chain) - 1)
                lvl_hops = max(lvl_hops, abs(chain[-1] - chain[0]))
            roots.append(grp[r])
        stages += lvl_stages
        hops += lvl_hops
        active = roots
    total = vals[active[0]].copy()
    hops += max(active[0], n - 1 - active[0])
    return np.tile(total, (n, 1)), stages, hops

"""Programs for the non-GEMM ops of a layer, in the decode and the prefill layouts.

Decode (stage R x C; see layouts.py): norms reduce a scalar per sequence along y; attention
works per KV-head group: the group's columns hold its dims, the rows hold tokens, so q.K^T
reduces along x within the group (all the group's query heads at once, GQA without copying
K/V) and softmax and p.V reduce along y. Prefill (P x P): norms reduce per token along x;
Q x K^T is dist-GEMM-T per head over the head's columns; p x V is a MeshGEMM per head. A
batch's sequences each keep their own rows, so their attention steps only over those.
"""

from __future__ import annotations

from archsim.components.wafer import Program, Segment, VecOp
from archsim.mappings.waferllm.comm import InterleavedShift, LineBroadcast, Parallel
from archsim.mappings.waferllm.layouts import cdiv
from archsim.mappings.waferllm.meshgemm import gemm_t_program, step_compute
from archsim.mappings.waferllm.meshgemv import allreduce

# The core has no vector exp, divide or sqrt: those run as scalar loops ('map' ops, costed by the
# wafer). Decode's exp is WaferLLM's shortcut (1 + x/256) squared twice: a scale, an add and two
# squarings, dependent; prefill calls the math library's exp.
FAST_EXP_OPS = 4
# per-token norm scale: mean = sum * (1/width), + eps, then 1/sqrt
NORM_SCALE = dict(ops=2, calls=("sqrt", "recip"))
# sigmoid-type activations x / (1 + exp(-x)): negate, exp, add, multiply by the reciprocal
ACT_DECODE = dict(ops=3 + FAST_EXP_OPS, calls=("recip",))
ACT_PREFILL = dict(ops=3, calls=("exp", "recip"))


# --- decode -----------------------------------------------------------------------------------
def decode_norm(grid, width: int, batch: int, bits: int, ar: str, k: int) -> Program:
    rows, cols = grid
    e_t = cdiv(width, rows)
    s1 = Segment((VecOp(e_t, batch, "mul", bits), VecOp(e_t, batch, "sum", bits)),
                 allreduce(ar, rows, cols, "y", batch, bits, k), label="norm_sum")
    s2 = Segment((VecOp(1, batch, "map", bits, **NORM_SCALE), VecOp(e_t, 2 * batch, "mul", bits)), label="norm_scale")
    return Program(tuple(grid), (s1, s2))


def decode_elementwise(grid, width: int, batch: int, bits: int, ops: int, axis: str = "y", kind="add") -> Program:
    rows, cols = grid
    t = cdiv(width, rows if axis == "y" else cols)
    return Program(tuple(grid), (Segment((VecOp(t * batch, ops, kind, bits),), label="elementwise"),))


def decode_rope(grid, widths, batch: int, bits: int) -> Program:
    """RoPE on each rotated vector (q, k) apart: four products and a subtract and an add over
    the core's half-width pairs."""
    rows, cols = grid
    ops = tuple(VecOp(cdiv(cdiv(w, 2), cols) * batch, 6, "mul", bits) for w in widths)
    return Program(tuple(grid), (Segment(ops, label="rope"),))


def decode_activation(grid, width: int, batch: int, bits: int, gated: bool, kind: str = "sigmoid") -> Program:
    """The FFN activation on the core's share of the (column-split) FFN width: a scalar loop for
    sigmoid-type functions (SiLU, GELU's tanh form), a vector max for ReLU; gated FFNs then
    multiply by the up projection."""
    rows, cols = grid
    t = cdiv(width, cols) * batch
    ops = (VecOp(t, 1, "max", bits),) if kind == "relu" else (VecOp(t, 1, "map", bits, **ACT_DECODE),)
    if gated:
        ops += (VecOp(t, 1, "mul", bits),)
    return Program(tuple(grid), (Segment(ops, label="activation"),))


def decode_embedding(grid, width: int, batch: int, bits: int) -> Program:
    rows, cols = grid
    e_t = cdiv(width, rows)
    seg = Segment((VecOp(e_t * batch, 1, "copy", bits),),
                  LineBroadcast(cols, rows, "x", e_t * batch, root=cols - 1, bits=bits), label="embedding")
    return Program(tuple(grid), (seg,))


def decode_attention_dims(grid, heads: int, kv_heads: int, head_dim: int):
    """(query heads per KV group, columns per group, dims of the KV head per core, groups per row)."""
    rows, cols = grid
    kv_heads = max(kv_heads, 1)
    hpg = max(heads // kv_heads, 1)
    group_cols = max(cols // kv_heads, 1)
    d_c = cdiv(head_dim * kv_heads, cols)
    if group_cols * d_c < head_dim:
        # the heads' dims, dealt d_c to a core, do not fit whole heads into groups of
        # cols // kv_heads columns: each head spans the columns its dims take (some shared
        # with the next head), and its scores are reduced over them
        return hpg, cdiv(head_dim, d_c), d_c, kv_heads
    groups = max(cols // group_cols, 1)
    return hpg, group_cols, d_c, groups


def decode_qk(grid, heads, kv_heads, head_dim, s_t, batch, bits, ar, k) -> Program:
    rows, cols = grid
    hpg, group_cols, d_c, groups = decode_attention_dims(grid, heads, kv_heads, head_dim)
    compute = (VecOp(hpg * s_t * batch, 1, "copy", bits), VecOp(s_t, hpg * d_c * batch, "fmac", bits))
    comm = allreduce(ar, group_cols, rows * groups, "x", hpg * s_t * batch, bits, k) if group_cols > 1 else None
    scale = Segment((VecOp(hpg * s_t * batch, 1, "mul", bits),), label="qk_scale")    # times 1/sqrt(d)
    return Program(tuple(grid), (Segment(compute, comm, label="qk"), scale))


def decode_softmax(grid, heads, kv_heads, s_t, batch, bits, ar, k) -> Program:
    rows, cols = grid
    hpg = max(heads // max(kv_heads, 1), 1)
    v = hpg * batch
    s1 = Segment((VecOp(s_t, v, "max", bits),), allreduce(ar, rows, cols, "y", v, bits, k), label="softmax_max")
    s2 = Segment((VecOp(s_t, v, "sub", bits), VecOp(s_t, v, "map", bits, ops=FAST_EXP_OPS), VecOp(s_t, v, "sum", bits)),
                 allreduce(ar, rows, cols, "y", v, bits, k), label="softmax_sum")
    s3 = Segment((VecOp(1, v, "map", bits, calls=("recip",)), VecOp(s_t, v, "mul", bits)), label="softmax_scale")
    return Program(tuple(grid), (s1, s2, s3))


def decode_av(grid, heads, kv_heads, head_dim, s_t, batch, bits, ar, k) -> Program:
    rows, cols = grid
    hpg, group_cols, d_c, groups = decode_attention_dims(grid, heads, kv_heads, head_dim)
    compute = (VecOp(hpg * d_c * batch, 1, "copy", bits), VecOp(d_c, hpg * s_t * batch, "fmac", bits))
    comm = allreduce(ar, rows, cols, "y", hpg * d_c * batch, bits, k)
    return Program(tuple(grid), (Segment(compute, comm, label="av"),))


# --- prefill ----------------------------------------------------------------------------------
def prefill_norm(p, tokens, width, bits, ar, k) -> Program:
    mt, e_t = cdiv(tokens, p), cdiv(width, p)
    s1 = Segment((VecOp(e_t, mt, "mul", bits), VecOp(e_t, mt, "sum", bits)),
                 allreduce(ar, p, p, "x", mt, bits, k), label="norm_sum")
    s2 = Segment((VecOp(1, mt, "map", bits, **NORM_SCALE), VecOp(e_t, 2 * mt, "mul", bits)), label="norm_scale")
    return Program((p, p), (s1, s2))


def prefill_elementwise(p, tokens, width, bits, ops, kind="add") -> Program:
    mt, t = cdiv(tokens, p), cdiv(width, p)
    return Program((p, p), (Segment((VecOp(t, ops * mt, kind, bits),), label="elementwise"),))


def prefill_activation(p, tokens, width, bits, gated: bool, kind: str = "sigmoid") -> Program:
    mt, t = cdiv(tokens, p), cdiv(width, p)
    ops = (VecOp(t, mt, "max", bits),) if kind == "relu" else (VecOp(t * mt, 1, "map", bits, **ACT_PREFILL),)
    if gated:
        ops += (VecOp(t, mt, "mul", bits),)
    return Program((p, p), (Segment(ops, label="activation"),))


def prefill_head_dims(p, heads, head_dim):
    """(columns per head, dims of a head per core)."""
    gc = max(p // max(heads, 1), 1)
    return gc, cdiv(head_dim * heads, p)


def prefill_attention_rows(p: int, tokens: int, batch: int) -> tuple[int, int, int]:
    """Where a batch's prefill attention runs: each sequence keeps its own rows, so its keys
    travel around a ring of those rows only and no query meets another sequence's keys.
    Returns (rows of a sequence's ring, its tokens per core, sequences per core). A sequence
    shorter than its share of rows holds a token per row on as many rows as it has tokens,
    and its ring is those rows (the others hold none of its keys)."""
    batch = max(batch, 1)
    if batch <= p:
        ring = max(1, min(p // batch, tokens))
        return ring, cdiv(tokens, ring), 1
    return 1, tokens, cdiv(batch, p)


def _rings(p: int, ring: int, batch: int) -> int:
    """Rings of a column that carry keys: one a sequence, at most p // ring (rows beyond a
    short batch's sequences hold none)."""
    return max(1, min(max(batch, 1), p // ring))


def prefill_qk(p, tokens, batch, heads, head_dim, bits, loop) -> Program:
    gc, d_t = prefill_head_dims(p, heads, head_dim)
    ring, mt, seqs = prefill_attention_rows(p, tokens, batch)
    return gemm_t_program(p, mt, d_t, gc, bits, loop, ring=ring, seqs=seqs, rings=_rings(p, ring, batch))


def prefill_softmax(p, tokens, batch, heads, head_dim, bits, ar, k) -> Program:
    gc, _ = prefill_head_dims(p, heads, head_dim)
    ring, mt, seqs = prefill_attention_rows(p, tokens, batch)
    # scores of a query row held by one core of its head group: each ring step's mt x mt
    # block is reduced to one root, the roots taking the group's columns in turn
    local = mt * cdiv(ring, gc)
    mt *= seqs                        # query rows a core holds
    s1 = Segment((VecOp(local, mt, "max", bits),),
                 allreduce(ar, gc, p * max(p // gc, 1), "x", mt, bits, k) if gc > 1 else None, label="softmax_max")
    s2 = Segment((VecOp(local, mt, "sub", bits), VecOp(local, mt, "map", bits, calls=("exp",)),
                  VecOp(local, mt, "sum", bits)),
                 allreduce(ar, gc, p * max(p // gc, 1), "x", mt, bits, k) if gc > 1 else None, label="softmax_sum")
    s3 = Segment((VecOp(1, mt, "map", bits, calls=("recip",)), VecOp(local, mt, "mul", bits)), label="softmax_scale")
    return Program((p, p), (s1, s2, s3))


def prefill_av(p, tokens, batch, heads, head_dim, bits, loop) -> Program:
    _, d_t = prefill_head_dims(p, heads, head_dim)
    ring, mt, seqs = prefill_attention_rows(p, tokens, batch)
    compute = step_compute(mt, mt, d_t * seqs, bits, loop)
    # scores move along the row (as one sequence's whole grid would), V around the ring
    shifts = (InterleavedShift(p, p, "x", mt * mt * seqs, bits),)
    if ring > 1:
        shifts += (InterleavedShift(ring, p * _rings(p, ring, batch), "y", mt * d_t, bits),)
    return Program((p, p), (Segment(compute, Parallel(shifts), overlap=True, repeat=ring, label="av"),))

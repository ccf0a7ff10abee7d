"""Where tensors live on a core grid, per phase (WaferLLM section 4).

Decode (a stage of R rows x C columns): the hidden vector is split along the rows (E_y) and
replicated along the columns. A linear that reads a row-split vector holds W[k-block r,
n-block c] on core (r, c) and reduces along the columns' axis (y); its output is split along
the columns (x) and replicated along y. The next linear (o_proj, ffn_down) is placed
transposed, W[k-block c, n-block r], so it reads the column-split vector as is and reduces
along x: no transpose ever moves on the fabric. The KV cache of a layer holds tokens along y
and each KV head's dimensions along the columns of that head's group, so the new token's
K/V, replicated along y after the QKV allreduce, is written locally.

Prefill (P x P): activations [tokens x hidden] are split tokens along y, hidden along x; a
weight [k x n] is split in P x P tiles (MeshGEMM's layout).

Every split pads to whole tiles: `ceil(k / rows) * ceil(n / cols)` per core. Byte totals
count that padding; `check_conservation` proves each tensor's elements are all placed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from archsim.dtypes import dtype_bits

# linears that read a column-split (x) vector in the decode layout
X_INPUT = ("o_proj", "ffn_down", "expert_down", "shared_expert_down", "v_absorb")


def cdiv(a: int, b: int) -> int:
    return -(-int(a) // int(b)) if b else 0


@dataclass(frozen=True)
class Linear:
    name: str
    k: int
    n: int
    bits: int
    heads: int = 1      # per-head batched matmuls (MLA absorb)


@dataclass
class ModelShape:
    """What the mapping learns from a trace: enough to place the model."""

    layers: int = 0
    hidden: int = 0
    heads: int = 1
    kv_heads: int = 1
    head_dim: int = 0
    vocab: int = 0
    linears: list = field(default_factory=list)       # Linear of one layer
    head_linears: list = field(default_factory=list)  # lm_head (and embedding table as a linear)
    kv_bits: int = 16
    v_dim: int = 0            # V's head dim (0: as K's)
    v_in_k: bool = False      # V is part of the cached K vector (MLA's latent): stored once
    act_bits: int = 16
    input_len: int = 0
    context: int = 0          # longest kv_len seen

    @classmethod
    def from_trace(cls, trace) -> "ModelShape":
        """One pass of the model (the first decode step, else the prefill) gives the layers'
        weights and the cached K/V; every layer is placed as the largest one (DeepSeek's dense
        first layers as its MoE ones), with all of a MoE layer's experts, routed to or not."""
        s = cls()
        cols = trace.columns
        layer, names, ops = cols["layer"], cols["name"], cols["op"]
        phase, step = cols["phase"], cols["step"]
        s.layers = int(layer.max()) + 1 if len(layer) and layer.max() >= 0 else 0
        dec = phase == "decode"
        one = (dec & (step == step[dec].min())) if dec.any() else phase == "prefill"
        experts = max(trace.moe_experts(), 1)
        per_layer: dict = {}
        weights = one & (layer >= 0) & np.isin(ops, ("gemv", "gemm", "moe_gate")) & (cols["bytes_w"] > 0)
        for i in np.flatnonzero(weights):
            named = per_layer.setdefault(int(layer[i]), {})
            if names[i] not in named:
                lin = Linear(names[i], int(cols["k"][i]), int(cols["n"][i]), dtype_bits(cols["dtype_w"][i]),
                             int(cols["heads"][i]))
                named[names[i]] = (lin, experts if cols["expert"][i] >= 0 else 1)
        if per_layer:
            largest = max(per_layer.values(),
                          key=lambda d: sum(l.k * l.n * l.heads * l.bits * c for l, c in d.values()))
            s.linears = [lin for lin, copies in largest.values() for _ in range(copies)]
        qk = np.flatnonzero(one & (ops == "attention_qk"))
        if len(qk):
            i = qk[0]
            s.heads, s.kv_heads, s.head_dim = int(cols["heads"][i]), int(cols["kv_heads"][i]), int(cols["k"][i])
            s.kv_bits = dtype_bits(cols["dtype_w"][i])
            av = np.flatnonzero(one & (ops == "attention_av"))
            s.v_dim = int(cols["n"][av[0]]) if len(av) else s.head_dim
            # the trace's KV bytes per token say whether V has a cache of its own
            meta_kv = trace.meta.get("kv_bytes_per_token")
            s.v_in_k = (s.v_dim <= s.head_dim and meta_kv is not None and s.layers > 0 and
                        int(meta_kv) == s.layers * s.kv_heads * s.head_dim * s.kv_bits // 8)
        norms = np.flatnonzero((layer == 0) & (ops == "norm"))
        if len(norms):
            s.hidden = int(cols["n"][norms[0]])
            s.act_bits = dtype_bits(cols["dtype_a"][norms[0]])
        heads = np.flatnonzero(ops == "lm_head")
        if len(heads):
            i = heads[0]
            s.vocab = int(cols["n"][i])
            s.hidden = s.hidden or int(cols["k"][i])
            bits = dtype_bits(cols["dtype_w"][i])
            s.head_linears = [Linear("lm_head", s.hidden, s.vocab, bits)]
            if not trace.meta.get("tied_embeddings"):     # else one table serves both
                s.head_linears.append(Linear("embed_tokens", s.hidden, s.vocab, bits))
        kv = cols["kv_len"]
        s.context = int(kv.max()) if len(kv) else 0
        pre_qk = (phase == "prefill") & (ops == "attention_qk")
        s.input_len = int(cols["m"][pre_qk].max()) if pre_qk.any() else 0
        return s

    @property
    def kv_dims(self) -> int:
        """Cached elements per token of a KV head: K's, and V's unless V lies within K."""
        return self.head_dim + (0 if self.v_in_k else (self.v_dim or self.head_dim))

    @property
    def kv_bytes_per_token(self) -> int:
        return self.layers * self.kv_heads * self.kv_dims * self.kv_bits // 8


# --- decode layout ----------------------------------------------------------------------------
def decode_tile(lin: Linear, grid) -> tuple[int, int]:
    """(k, n) elements of a linear's weight tile on one core of a decode stage."""
    rows, cols = grid
    if lin.name in X_INPUT:
        return cdiv(lin.k, cols), cdiv(lin.n, rows) * lin.heads
    return cdiv(lin.k, rows), cdiv(lin.n, cols) * lin.heads


def decode_weight_bytes_per_core(linears, grid) -> int:
    total = 0
    for lin in linears:
        kt, nt = decode_tile(lin, grid)
        total += cdiv(kt * nt * lin.bits, 8)
    return total


def kv_dims_per_core(shape: ModelShape, cols: int) -> int:
    """Dimensions of each KV head a core holds: the head's dims over its group's columns."""
    return cdiv(shape.head_dim * shape.kv_heads, cols)


def kv_elems_per_core(shape: ModelShape, cols: int) -> int:
    """Cached elements per token a core holds: its share of K's dims, and of V's unless V
    lies within K."""
    v = 0 if shape.v_in_k else cdiv((shape.v_dim or shape.head_dim) * shape.kv_heads, cols)
    return kv_dims_per_core(shape, cols) + v


def decode_kv_bytes_per_core(shape: ModelShape, grid, tokens: int) -> int:
    """KV bytes of one layer on one core when `tokens` are spread evenly over the rows."""
    rows, cols = grid
    return cdiv(kv_elems_per_core(shape, cols) * cdiv(tokens, rows) * shape.kv_bits, 8)


def decode_kv_bytes_per_token(shape: ModelShape, grid) -> int:
    """KV bytes one token takes in the decode layout (all layers, padding included)."""
    _, cols = grid
    return shape.layers * cdiv(kv_elems_per_core(shape, cols) * cols * shape.kv_bits, 8)


def decode_buffer_bytes(shape: ModelShape, grid, batch: int = 1) -> int:
    """Working buffers of a decode core: activation slices, partial sums, receive buffers."""
    rows, cols = grid
    a = shape.act_bits
    e_t = cdiv(shape.hidden, rows)
    widest = max([decode_tile(l, grid)[1] for l in shape.linears] or [e_t])
    hpg = max(shape.heads // max(shape.kv_heads, 1), 1)
    s_t = cdiv(max(shape.context, 1), rows)
    elems = batch * (4 * e_t + 2 * widest + 2 * hpg * s_t + 2 * hpg * kv_dims_per_core(shape, cols))
    return cdiv(elems * a, 8)


# --- prefill layout ---------------------------------------------------------------------------
def prefill_weight_bytes_per_core(linears, p: int) -> int:
    return sum(cdiv(cdiv(l.k, p) * cdiv(l.n, p) * l.heads * l.bits, 8) for l in linears)


def prefill_buffer_bytes(shape: ModelShape, p: int, tokens: int) -> int:
    """Activation tiles plus MeshGEMM's send/receive tiles of the widest GEMM."""
    mt = cdiv(tokens, p)
    e_t = cdiv(shape.hidden, p)
    widest = max([cdiv(l.n, p) for l in shape.linears] or [e_t])
    deepest = max([cdiv(l.k, p) for l in shape.linears] or [e_t])
    elems = 4 * mt * e_t + mt * widest + 2 * (mt * deepest + deepest * widest)
    return cdiv(elems * shape.act_bits, 8)


def prefill_kv_bytes_per_core(shape: ModelShape, p: int, tokens: int) -> int:
    return cdiv(cdiv(tokens, p) * kv_elems_per_core(shape, p) * shape.kv_bits, 8)


# --- conservation -----------------------------------------------------------------------------
def placed_elements(k: int, n: int, rows: int, cols: int) -> int:
    """Elements of a k x n matrix that the tiles of a rows x cols grid hold (no padding):
    every (i, j) falls in exactly one tile, so this equals k * n."""
    kt, nt = cdiv(k, rows), cdiv(n, cols)
    total = 0
    for r in range(rows):
        kr = max(0, min(kt, k - r * kt))
        for c in range(cols):
            total += kr * max(0, min(nt, n - c * nt))
    return total


def check_conservation(k: int, n: int, rows: int, cols: int) -> bool:
    return placed_elements(k, n, rows, cols) == k * n

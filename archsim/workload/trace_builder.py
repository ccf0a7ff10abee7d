"""Build the per-op workload trace of one inference request batch from a ModelSpec.

Scenario: `batch` sequences, each with an `input_len`-token prompt, generating `output_len`
tokens. Rows come in execution order: the prefill pass, then decode steps 0 .. output_len-1;
within a pass the embedding, layers 0 .. L-1, final_norm and lm_head.

Passes
  prefill  phase 'prefill', step 0: one pass over the prompts; weight ops have
           m = batch * input_len; lm_head only for the last position (m = batch).
  decode   phase 'decode', step s: one new token per sequence (m = batch for weight ops)
           attending over kv_len = input_len + s + 1 positions (min(., sliding_window)).
  A weight op is 'gemv' when m == 1, else 'gemm'.

Rows of a decoder layer (`name` column)
  attn_norm, qkv_proj (fused: n = (heads + 2*kv_heads)*head_dim), rope (rope models),
  attention_qk, softmax, attention_av, o_proj, attn_residual, ffn_norm, then
  swiglu/geglu: ffn_gate_up (n = 2*ffn_dim), ffn_act, ffn_down; gelu/relu: ffn_up, ffn_act,
  ffn_down; then ffn_residual. Parallel-block models (falcon, phi-2) share attn_norm and
  have one `residual` adding both branches. Outside the layers (layer -1): embed_tokens
  (+ embed_positions for learned positions), final_norm (all tokens), lm_head.
  MoE layers replace the FFN by: moe_gate (hidden x experts router), expert_up (one row per
  chosen expert, expert = index, m = tokens routed to it), expert_act (all routed tokens),
  expert_down (per chosen expert), shared_expert_up/act/down (expert -1, every token),
  moe_combine. Routing is uniform top-k per token per layer from numpy default_rng(seed),
  or the user's `expert_choice[layers, tokens, top_k]` (layers: all layers or only the MoE
  ones; tokens: the batch*input_len prompt tokens, sequence-major, then batch tokens for
  each decode step).
  MLA (deepseek): q_a_proj, q_a_norm, q_b_proj, kv_a_proj, kv_a_norm, rope, then
    decode, absorbed: kv_b_proj is split and folded in as q_absorb (per head, q_nope x W_UK:
      k = qk_nope, n = kv_lora) and v_absorb (per head, latent output x W_UV: k = kv_lora,
      n = v_head); attention runs on the latent cache as MQA (kv_heads 1, qk k = kv_lora +
      qk_rope, av n = kv_lora), so only the cache (kv_lora + qk_rope per token) is read;
    prefill, expanded (what serving engines do, as it costs fewer FLOPs): kv_b_proj
      decompresses the prompt's latents into per-head K/V, and attention is ordinary
      multi-head attention with qk k = qk_nope + qk_rope, av n = v_head.
  A gemm row with heads > 1 (q_absorb, v_absorb) is a per-head batched matmul: m, n, k are
  per head; flops and bytes cover all heads.

Attention rows: m = query tokens per sequence, n (qk) or k (av) = kv_len, heads, kv_heads,
batch = sequences. Prefill is causal and counts only the causal scores:
flops(qk) = 2 * batch * heads * head_dim * sum_{i=1..L} min(i, window); decode counts
2 * batch * heads * head_dim * kv_len. Score matrices are counted as activation traffic
(an unfused view; a mapping that fuses attention may drop them).

Bytes (element widths from the precision, see precision.py)
  bytes_w   weights the op reads: the whole matrix per op instance (MoE: chosen experts
            only), bias included; the embedding counts only the gathered rows; lm_head
            reads vocab x hidden even when tied.
  bytes_a   activations read plus written (inputs + outputs).
  bytes_kv  KV cache: attention_qk reads K, attention_av reads V (MLA decode: the latent
            is read once, on attention_qk); qkv_proj / kv_a_proj write the new tokens'
            K/V (or latent). MLA prefill: kv_b_proj reads the prompt's latents.
Flops: 2*m*n*k for matmuls (+ m*n for a bias); per element: norm rmsnorm 4 / layernorm 7,
softmax 5, rope 3 per rotated element, activation relu 1 / gelu 8 / swiglu 5 / geglu 9 (per
output element, the gate multiply included), residual 1 per add, moe_combine 2 per routed
value. Weight-less rows carry dtype_w = dtype_a; attention rows carry the KV type.
"""

from __future__ import annotations

import numpy as np

from archsim.errors import ConfigError
from archsim.workload.model_spec import Linear, ModelSpec
from archsim.workload.precision import Precision, nbytes, parse_precision
from archsim.workload.trace import COLUMNS, SCHEMA_VERSION, Trace

NORM_FLOPS = {"rmsnorm": 4, "layernorm": 7}
ACT_FLOPS = {"relu": 1, "gelu": 8, "swiglu": 5, "geglu": 9}
SOFTMAX_FLOPS = 5
ROPE_FLOPS = 3

_INT_DEFAULTS = {"m": 0, "n": 0, "k": 0, "heads": 1, "kv_heads": 1, "kv_len": 0, "expert": -1,
                 "bytes_w": 0, "bytes_a": 0, "bytes_kv": 0, "flops": 0}
_TEMPLATE_INT = tuple(_INT_DEFAULTS)
_TEMPLATE_STR = ("op", "name", "dtype_w", "dtype_a")


class _Pass:
    """What one pass (prefill, or all decode steps at once) looks like to the row makers.

    In decode, kv-dependent values are arrays over the steps; everything else is a scalar.
    """

    def __init__(self, spec: ModelSpec, p: Precision, batch: int, q: int, prefill: bool, kv):
        self.spec, self.p, self.B, self.q, self.prefill = spec, p, batch, q, prefill
        self.T = batch * q
        w = spec.sliding_window
        if prefill:
            self.ctx = q  # prompt positions whose K/V are read
            self.kv = min(q, w) if w else q
            # causal score elements per (sequence, head): sum_{i=1..L} min(i, w)
            self.scores = q * (q + 1) // 2 if not w or w >= q else w * (w + 1) // 2 + (q - w) * w
        else:
            self.kv = np.minimum(kv, w) if w else kv
            self.ctx = self.kv
            self.scores = self.kv

    def a(self, elements):
        return nbytes(elements, self.p.act_bits)

    def row(self, op, name, **kw):
        r = {"op": op, "name": name, "dtype_a": self.p.act_dtype}
        r["dtype_w"] = kw.pop("dtype_w", self.p.act_dtype)
        r.update(kw)
        return r

    def linear(self, lin: Linear, **extra):
        m, eb, wb = self.T, self.p.embed_bits, self.p.weight_bits
        r = self.row("gemv" if m == 1 else "gemm", lin.name, m=m, k=lin.k, n=lin.n,
                     dtype_w=self.p.weight_dtype,
                     bytes_w=nbytes(lin.k * lin.n, wb) + (nbytes(lin.n, eb) if lin.bias else 0),
                     bytes_a=self.a(m * (lin.k + lin.n)),
                     flops=2 * m * lin.k * lin.n + (m * lin.n if lin.bias else 0))
        r.update(extra)
        return r

    def norm(self, name, width):
        m, s = self.T, self.spec
        return self.row("norm", name, m=m, n=width, dtype_w=self.p.embed_dtype,
                        bytes_w=nbytes(s.norm_params(width), self.p.embed_bits),
                        bytes_a=self.a(2 * m * width), flops=NORM_FLOPS[s.norm] * m * width)

    def act(self, name, m, width):
        ins = 2 if self.spec.gated else 1
        return self.row("activation", name, m=m, n=width, bytes_a=self.a((ins + 1) * m * width),
                        flops=ACT_FLOPS[self.spec.ffn_type] * m * width)

    def add(self, name, inputs=2, op="elementwise"):
        h = self.spec.hidden
        return self.row(op, name, m=self.T, n=h, bytes_a=self.a((inputs + 1) * self.T * h),
                        flops=(inputs - 1) * self.T * h)

    def rope(self, rotated_per_token):
        n = rotated_per_token
        return self.row("rope", "rope", m=self.T, n=n, bytes_a=self.a(2 * self.T * n),
                        flops=ROPE_FLOPS * self.T * n)

    def attention(self, dk, dv, kv_heads, k_elems, v_elems, cached=True):
        """qk, softmax, av rows; K/V reads go to bytes_kv when `cached`, else to bytes_a."""
        B, H, q = self.B, self.spec.heads, self.q
        s = B * H * self.scores  # score elements over the batch and heads
        kv_dt, kb = self.p.kv_dtype, self.p.kv_bits
        k_kv, v_kv = (nbytes(k_elems, kb), nbytes(v_elems, kb)) if cached else (0, 0)
        k_a, v_a = (0, 0) if cached else (k_elems, v_elems)
        common = dict(heads=H, kv_heads=kv_heads, kv_len=self.kv, dtype_w=kv_dt)
        return [
            self.row("attention_qk", "attention_qk", m=q, k=dk, n=self.kv, bytes_kv=k_kv,
                     bytes_a=self.a(B * q * H * dk + k_a + s), flops=2 * dk * s, **common),
            self.row("softmax", "softmax", m=q, n=self.kv, bytes_a=self.a(2 * s),
                     flops=SOFTMAX_FLOPS * s, **common),
            self.row("attention_av", "attention_av", m=q, k=self.kv, n=dv, bytes_kv=v_kv,
                     bytes_a=self.a(s + v_a + B * q * H * dv), flops=2 * dv * s, **common),
        ]


def _attention_block(c: _Pass, lins: dict) -> list[dict]:
    s, B = c.spec, c.B
    kb = c.p.kv_bits
    rot = s.rotary_dim or s.head_dim
    if s.mla is None:
        kvw = 2 * s.kv_heads * s.head_dim
        rows = [c.linear(lins["qkv_proj"], bytes_kv=nbytes(c.T * kvw, kb))]
        if s.position == "rope":
            rows.append(c.rope((s.heads + s.kv_heads) * rot))
        rows += c.attention(s.head_dim, s.head_dim, s.kv_heads,
                            B * c.ctx * s.kv_heads * s.head_dim, B * c.ctx * s.kv_heads * s.head_dim)
        return rows + [c.linear(lins["o_proj"])]
    a = s.mla
    latent = a.kv_lora_rank + a.qk_rope_head_dim
    if a.q_lora_rank is None:
        rows = [c.linear(lins["q_proj"])]
    else:
        rows = [c.linear(lins["q_a_proj"]), c.norm("q_a_norm", a.q_lora_rank), c.linear(lins["q_b_proj"])]
    rows += [c.linear(lins["kv_a_proj"], bytes_kv=nbytes(c.T * latent, kb)),
             c.norm("kv_a_norm", a.kv_lora_rank),
             c.rope((s.heads + 1) * a.qk_rope_head_dim)]
    H, wb = s.heads, c.p.weight_bits
    if c.prefill:
        kvb = lins["kv_b_proj"]
        rows.append(c.linear(kvb, bytes_a=c.a(c.T * kvb.n), bytes_kv=nbytes(c.T * a.kv_lora_rank, kb)))
        ctx = B * c.ctx * H
        rows += c.attention(s.head_dim, a.v_head_dim, H, ctx * s.head_dim, ctx * a.v_head_dim, cached=False)
    else:
        def absorb(name, k, n):
            return c.row("gemv" if c.T == 1 else "gemm", name, m=c.T, k=k, n=n, heads=H,
                         dtype_w=c.p.weight_dtype, bytes_w=nbytes(H * k * n, wb),
                         bytes_a=c.a(H * c.T * (k + n)), flops=2 * H * c.T * k * n)
        rows.append(absorb("q_absorb", a.qk_nope_head_dim, a.kv_lora_rank))
        rows += c.attention(latent, a.kv_lora_rank, 1, B * c.ctx * latent, 0)
        rows.append(absorb("v_absorb", a.kv_lora_rank, a.v_head_dim))
    return rows + [c.linear(lins["o_proj"])]


def _ffn_block(c: _Pass, lins: dict, moe: bool) -> tuple[list[dict], dict]:
    """FFN rows and, for MoE, the row indices after which expert_up / expert_down rows go."""
    s = c.spec
    if not moe:
        up = lins["ffn_gate_up" if s.gated else "ffn_up"]
        down = lins["ffn_down"]
        return [c.linear(up), c.act("ffn_act", c.T, down.k), c.linear(down)], {}
    e = s.moe
    routed = c.T * e.top_k
    rows = [c.row("moe_gate", "moe_gate", m=c.T, k=s.hidden, n=e.experts, dtype_w=c.p.embed_dtype,
                  bytes_w=nbytes(s.hidden * e.experts, c.p.embed_bits),
                  bytes_a=c.a(c.T * (s.hidden + e.experts)), flops=2 * c.T * s.hidden * e.experts),
            c.act("expert_act", routed, e.expert_ffn_dim)]
    anchors = {"expert_up": 0, "expert_down": 1}
    if e.shared_experts:
        down = lins["shared_expert_down"]
        rows += [c.linear(lins["shared_expert_up"]), c.act("shared_expert_act", c.T, down.k), c.linear(down)]
    inputs = routed + (c.T if e.shared_experts else 0)
    rows.append(c.row("elementwise", "moe_combine", m=c.T, n=s.hidden,
                      bytes_a=c.a((inputs + c.T) * s.hidden), flops=2 * inputs * s.hidden))
    return rows, anchors


def _layer_template(c: _Pass, layer: int) -> tuple[list[dict], dict]:
    s = c.spec
    lins = {lin.name: lin for lin in s.layer_linears(layer)}
    rows = [c.norm("attn_norm", s.hidden)] + _attention_block(c, lins)
    if not s.parallel_block:
        rows += [c.add("attn_residual"), c.norm("ffn_norm", s.hidden)]
    ffn, anchors = _ffn_block(c, lins, s.is_moe_layer(layer))
    anchors = {k: v + len(rows) for k, v in anchors.items()}
    rows += ffn
    rows.append(c.add("residual", inputs=3) if s.parallel_block else c.add("ffn_residual"))
    return rows, anchors


def _head_rows(c: _Pass) -> tuple[list[dict], list[dict]]:
    s, p = c.spec, c.p
    gathered = nbytes(c.T * s.hidden, p.embed_bits)
    pre = [c.row("embedding", "embed_tokens", m=c.T, n=s.hidden, dtype_w=p.embed_dtype,
                 bytes_w=gathered, bytes_a=c.a(c.T * s.hidden))]
    if s.position == "learned":
        pre.append(c.row("embedding", "embed_positions", m=c.T, n=s.hidden, dtype_w=p.embed_dtype,
                         bytes_w=gathered, bytes_a=c.a(3 * c.T * s.hidden), flops=c.T * s.hidden))
    post = [c.norm("final_norm", s.hidden),
            c.row("lm_head", "lm_head", m=c.B, k=s.hidden, n=s.vocab, dtype_w=p.embed_dtype,
                  bytes_w=nbytes(s.vocab * s.hidden, p.embed_bits),
                  bytes_a=c.a(c.B * (s.hidden + s.vocab)), flops=2 * c.B * s.hidden * s.vocab)]
    return pre, post


class _Codes:
    """String columns are built as integer codes (fast to copy) and decoded once at the end."""

    def __init__(self):
        self.index: dict[str, int] = {}

    def __call__(self, value: str) -> int:
        return self.index.setdefault(value, len(self.index))

    def decode(self, codes: np.ndarray) -> np.ndarray:
        table = np.empty(len(self.index), dtype=object)
        for text, code in self.index.items():
            table[code] = text
        return table[codes]


def _matrix(rows: list[dict], steps: int, codes: _Codes) -> dict:
    """Template rows -> {column: int64 [steps, rows]} (values: scalars or per-step arrays)."""
    out = {}
    for col in _TEMPLATE_INT + _TEMPLATE_STR:
        mat = np.empty((steps, len(rows)), dtype=np.int64)
        for j, r in enumerate(rows):
            mat[:, j] = codes(r[col]) if col in _TEMPLATE_STR else r.get(col, _INT_DEFAULTS[col])
        out[col] = mat
    return out


def _build_pass(c: _Pass, phase: str, steps: np.ndarray, counts_by_layer, codes: _Codes) -> dict:
    """All rows of one pass (or of every decode step), string columns as codes, in order."""
    s = c.spec
    S = len(steps)
    pre, post = _head_rows(c)
    # (template matrix, first layer index or -1, number of layers it repeats for)
    segments = [(_matrix(pre, S, codes), -1, 1)]
    anchors = {}  # layer -> {expert_up: pos, expert_down: pos} within the pass
    offset = len(pre)
    layer = 0
    while layer < s.layers:  # runs of layers of one kind share one template
        moe = s.is_moe_layer(layer)
        end = layer
        while end < s.layers and s.is_moe_layer(end) == moe:
            end += 1
        rows, anc = _layer_template(c, layer)
        segments.append((_matrix(rows, S, codes), layer, end - layer))
        for i in range(end - layer):
            anchors[layer + i] = {k: offset + i * len(rows) + v for k, v in anc.items()}
        offset += len(rows) * (end - layer)
        layer = end
    segments.append((_matrix(post, S, codes), -1, 1))
    P = offset + len(post)
    cols = {k: np.empty((S, P), dtype=np.int64) for k in _TEMPLATE_INT + _TEMPLATE_STR + ("layer",)}
    pos = 0
    for mat, first, count in segments:
        R = mat["op"].shape[1]
        for i in range(count):
            for k, v in mat.items():
                cols[k][:, pos:pos + R] = v
            cols["layer"][:, pos:pos + R] = first + i if first >= 0 else -1
            pos += R
    cols = {k: v.ravel() for k, v in cols.items()}
    cols["step"] = np.repeat(steps.astype(np.int64), P)
    if counts_by_layer:
        cols = _insert_experts(c, cols, P, anchors, counts_by_layer, codes)
    n = len(cols["op"])
    cols["phase"] = np.full(n, codes(phase), dtype=np.int64)
    cols["batch"] = np.full(n, c.B, dtype=np.int64)
    return cols


def _insert_experts(c: _Pass, cols: dict, P: int, anchors: dict, counts_by_layer: dict, codes: _Codes) -> dict:
    """Insert expert_up rows after moe_gate and expert_down rows after expert_act."""
    s, p = c.spec, c.p
    lins = {lin.name: lin for lin in s.ffn_linears(s.layers - 1)}
    gemv, gemm = codes("gemv"), codes("gemm")
    parts = []
    for lin in (lins["expert_up"], lins["expert_down"]):
        for layer, counts in counts_by_layer.items():
            idx, expert = np.nonzero(counts)
            m = counts[idx, expert].astype(np.int64)

            def full(v):
                return np.full(len(m), v, dtype=np.int64)
            parts.append({
                "at": idx * P + anchors[layer][lin.name] + 1,
                "layer": full(layer), "step": cols["step"][idx * P],
                "op": np.where(m == 1, gemv, gemm), "name": full(codes(lin.name)),
                "m": m, "n": full(lin.n), "k": full(lin.k), "heads": full(1), "kv_heads": full(1),
                "kv_len": full(0), "expert": expert.astype(np.int64),
                "dtype_w": full(codes(p.weight_dtype)), "dtype_a": full(codes(p.act_dtype)),
                "bytes_w": full(nbytes(lin.k * lin.n, p.weight_bits)
                                + (nbytes(lin.n, p.embed_bits) if lin.bias else 0)),
                "bytes_a": nbytes(m * (lin.k + lin.n), p.act_bits), "bytes_kv": full(0),
                "flops": 2 * m * lin.k * lin.n + (m * lin.n if lin.bias else 0),
            })
    at = np.concatenate([q["at"] for q in parts])
    order = np.argsort(at, kind="stable")  # same insertion point: keep the given order
    new_pos = at[order] + np.arange(len(at))  # where each inserted row lands
    old = np.ones(len(cols["op"]) + len(at), dtype=bool)
    old[new_pos] = False
    out = {}
    for k, v in cols.items():
        merged = np.empty(len(old), dtype=np.int64)
        merged[old] = v
        merged[new_pos] = np.concatenate([q[k] for q in parts])[order]
        out[k] = merged
    return out


# --- routing ---------------------------------------------------------------------------------
def _uniform_topk(rng, tokens: int, experts: int, k: int) -> np.ndarray:
    """k distinct experts per token, each k-subset equally likely (Floyd's sampling)."""
    out = np.empty((tokens, k), dtype=np.int64)
    for i, j in enumerate(range(experts - k, experts)):
        t = rng.integers(0, j + 1, size=tokens)
        if i:
            t = np.where((out[:, :i] == t[:, None]).any(axis=1), j, t)
        out[:, i] = t
    return out


def _check_choice(spec: ModelSpec, choice, tokens: int) -> np.ndarray:
    e = spec.moe
    arr = np.asarray(choice)
    want = f"[layers ({spec.layers} or {spec.moe_layers}), tokens ({tokens}), top_k ({e.top_k})]"
    if arr.ndim != 3 or arr.shape[0] not in (spec.layers, spec.moe_layers) \
            or arr.shape[1] != tokens or arr.shape[2] != e.top_k:
        raise ConfigError(f"shape {arr.shape} does not match {want}", key="expert_choice")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ConfigError(f"expected integer expert indices, got {arr.dtype}", key="expert_choice")
    if arr.size and (arr.min() < 0 or arr.max() >= e.experts):
        raise ConfigError(f"expert indices must lie in 0..{e.experts - 1}", key="expert_choice")
    return arr[spec.layers - spec.moe_layers:] if arr.shape[0] == spec.layers else arr


def _routing(spec, batch, input_len, output_len, seed, expert_choice):
    """Yield (layer, prefill counts [1, E], decode counts [steps, E]) for each MoE layer."""
    e = spec.moe
    n_pre, tokens = batch * input_len, batch * (input_len + output_len)
    user = None if expert_choice is None else _check_choice(spec, expert_choice, tokens)
    # the prompt's and the generated tokens' choices from streams of their own, so that a
    # prefill's routing does not depend on how many tokens follow it (nor decode's on the prompt)
    rng_pre, rng_dec = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    step_of = np.repeat(np.arange(output_len), batch * e.top_k) * e.experts
    for i in range(spec.moe_layers):
        ch = user[i] if user is not None else np.concatenate(
            (_uniform_topk(rng_pre, n_pre, e.experts, e.top_k),
             _uniform_topk(rng_dec, tokens - n_pre, e.experts, e.top_k)))
        pre = np.bincount(ch[:n_pre].ravel(), minlength=e.experts)[None, :]
        dec = np.bincount(step_of + ch[n_pre:].ravel(), minlength=output_len * e.experts)
        yield e.dense_layers + i, pre, dec.reshape(output_len, e.experts)


# --- entry point -----------------------------------------------------------------------------
def build_trace(model: ModelSpec, batch: int = 1, input_len: int = 128, output_len: int = 128,
                precision=None, seed: int = 0, expert_choice=None) -> Trace:
    """The op-by-op trace of prefill plus `output_len` decode steps (see the module docstring)."""
    for key, value, lo in (("batch", batch, 1), ("input_len", input_len, 0), ("output_len", output_len, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise ConfigError(f"expected an integer >= {lo}, got {value!r}", key=key)
    if input_len + output_len < 1:
        raise ConfigError("input_len + output_len must be at least 1", key="input_len")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 63:
        raise ConfigError(f"expected a whole number 0 .. 2**63 - 1, got {seed!r}", key="seed")
    if input_len + output_len > model.max_seq_len:
        raise ConfigError(f"input_len + output_len = {input_len + output_len} exceeds the model's "
                          f"max_seq_len {model.max_seq_len} (override with --set model.max_seq_len=N)",
                          model.path or model.name, "max_seq_len")
    if expert_choice is not None and model.moe is None:
        raise ConfigError(f"{model.name} has no MoE layers", key="expert_choice")
    p = parse_precision(model.default_precision if precision is None else precision)
    pre_counts, dec_counts = {}, {}
    if model.moe is not None and model.moe_layers:
        for layer, pre, dec in _routing(model, batch, input_len, output_len, seed, expert_choice):
            pre_counts[layer], dec_counts[layer] = pre, dec
    blocks, codes = [], _Codes()
    if input_len:
        c = _Pass(model, p, batch, input_len, True, None)
        blocks.append(_build_pass(c, "prefill", np.zeros(1, np.int64), pre_counts, codes))
    if output_len:
        steps = np.arange(output_len, dtype=np.int64)
        c = _Pass(model, p, batch, 1, False, input_len + steps + 1)
        blocks.append(_build_pass(c, "decode", steps, dec_counts, codes))
    cols = {}
    for k, kind in COLUMNS.items():
        col = np.concatenate([b[k] for b in blocks])
        cols[k] = codes.decode(col) if kind == "str" else col
    meta = {"model": model.name, "batch": int(batch), "input_len": int(input_len),
            "output_len": int(output_len), "precision": p.name, "seed": int(seed),
            "routing": None if model.moe is None else ("user" if expert_choice is not None else "seeded"),
            "experts": None if model.moe is None else int(model.moe.experts),
            "tied_embeddings": bool(model.tied_embeddings),
            # what a run of the trace checks capacity with (the rows see only the weights read)
            "weights_bytes": int(model.weight_bytes(p.name)),
            "kv_bytes_per_token": int(model.kv_bytes_per_token(p.name)),
            "schema_version": SCHEMA_VERSION}
    return Trace(cols, meta)

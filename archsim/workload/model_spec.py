"""Model specs: the shapes of a decoder-only transformer, read from workloads/models/*.yaml.

One file per model (file stem = model name) with the published hyper-parameters and a
`source:` naming where they come from. `params` is the published total, kept only as a
cross-check of the shapes (`param_count()` recomputes it).

The linear layers of a decoder block are listed once, by `layer_linears()`, and both the
parameter count and the trace builder read that list, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from archsim.config.loader import apply_sets, find_config, load_with_base
from archsim.config.schema import Field, validate
from archsim.errors import ConfigError
from archsim.paths import MODELS_DIR
from archsim.workload.precision import Precision, nbytes, parse_precision

GATED = ("swiglu", "geglu")

MOE_SCHEMA = {
    "experts": Field("int", doc="routed experts per MoE layer"),
    "top_k": Field("int", doc="routed experts chosen per token"),
    "shared_experts": Field("int", default=0, min=0, doc="experts every token passes through"),
    "expert_ffn_dim": Field("int", doc="intermediate size of one expert"),
    "dense_layers": Field("int", default=0, min=0, doc="the first k layers use a dense FFN (ffn_dim)"),
}

MLA_SCHEMA = {
    "q_lora_rank": Field("int", default=None, nullable=True, doc="null: uncompressed q_proj"),
    "kv_lora_rank": Field("int"),
    "qk_nope_head_dim": Field("int"),
    "qk_rope_head_dim": Field("int"),
    "v_head_dim": Field("int"),
}

MODEL_SCHEMA = {
    "name": Field("str"),
    "family": Field("str"),
    "source": Field("str", doc="config.json / paper table the numbers come from"),
    "params": Field("number", doc="published total parameter count (cross-check only)"),
    "layers": Field("int"),
    "hidden": Field("int"),
    "heads": Field("int"),
    "kv_heads": Field("int"),
    "head_dim": Field("int", doc="query/key head size; MLA: qk_nope + qk_rope"),
    "ffn_dim": Field("int", doc="dense FFN intermediate size"),
    "ffn_type": Field("str", choices=("gelu", "relu", "swiglu", "geglu")),
    "vocab": Field("int"),
    "norm": Field("str", choices=("layernorm", "rmsnorm")),
    "position": Field("str", choices=("learned", "rope", "alibi")),
    "max_seq_len": Field("int"),
    "tied_embeddings": Field("bool"),
    "bias": Field("bool", doc="linear layers have biases"),
    "parallel_block": Field("bool", doc="attention and FFN read the same norm, in parallel"),
    "default_precision": Field("str"),
    "qkv_bias": Field("bool", default=None, nullable=True, doc="biases on q/k/v only (Qwen); null: as bias"),
    "rotary_dim": Field("int", default=None, nullable=True, doc="rotated dims per head (partial RoPE)"),
    "sliding_window": Field("int", default=None, nullable=True, doc="attention window (Mistral)"),
    "moe": Field("dict", default=None, nullable=True, doc="mixture of experts, see MOE_SCHEMA"),
    "mla": Field("dict", default=None, nullable=True, doc="multi-head latent attention, see MLA_SCHEMA"),
}


@dataclass(frozen=True)
class MoESpec:
    experts: int
    top_k: int
    shared_experts: int
    expert_ffn_dim: int
    dense_layers: int


@dataclass(frozen=True)
class MLASpec:
    q_lora_rank: int | None
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int


@dataclass(frozen=True)
class Linear:
    """One weight matrix of a decoder layer: out[m, n] = x[m, k] @ W[k, n] (+ bias[n])."""
    name: str
    k: int
    n: int
    bias: bool
    count: int = 1  # identical copies (routed experts)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    source: str
    params: float
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn_dim: int
    ffn_type: str
    vocab: int
    norm: str
    position: str
    max_seq_len: int
    tied_embeddings: bool
    bias: bool
    parallel_block: bool
    default_precision: str
    qkv_bias: bool
    rotary_dim: int | None = None
    sliding_window: int | None = None
    moe: MoESpec | None = None
    mla: MLASpec | None = None
    path: str | None = None

    # --- structure -----------------------------------------------------------------------
    @property
    def gated(self) -> bool:
        return self.ffn_type in GATED

    def is_moe_layer(self, layer: int) -> bool:
        return self.moe is not None and layer >= self.moe.dense_layers

    @property
    def moe_layers(self) -> int:
        return 0 if self.moe is None else self.layers - self.moe.dense_layers

    def norm_params(self, width: int) -> int:
        return width * (2 if self.norm == "layernorm" else 1)

    def attention_linears(self) -> list[Linear]:
        h, d = self.hidden, self.head_dim
        if self.mla is None:
            qkv = (self.heads + 2 * self.kv_heads) * d
            return [Linear("qkv_proj", h, qkv, self.qkv_bias), Linear("o_proj", self.heads * d, h, self.bias)]
        a = self.mla
        qk = a.qk_nope_head_dim + a.qk_rope_head_dim
        q = ([Linear("q_proj", h, self.heads * qk, False)] if a.q_lora_rank is None else
             [Linear("q_a_proj", h, a.q_lora_rank, False),
              Linear("q_b_proj", a.q_lora_rank, self.heads * qk, False)])
        return q + [Linear("kv_a_proj", h, a.kv_lora_rank + a.qk_rope_head_dim, False),
                    Linear("kv_b_proj", a.kv_lora_rank, self.heads * (a.qk_nope_head_dim + a.v_head_dim), False),
                    Linear("o_proj", self.heads * a.v_head_dim, h, False)]

    def ffn_linears(self, layer: int) -> list[Linear]:
        h, g = self.hidden, 2 if self.gated else 1
        up = "gate_up" if self.gated else "up"
        if not self.is_moe_layer(layer):
            return [Linear(f"ffn_{up}", h, g * self.ffn_dim, self.bias),
                    Linear("ffn_down", self.ffn_dim, h, self.bias)]
        e = self.moe
        out = [Linear("expert_up", h, g * e.expert_ffn_dim, self.bias, e.experts),
               Linear("expert_down", e.expert_ffn_dim, h, self.bias, e.experts)]
        if e.shared_experts:
            f = e.shared_experts * e.expert_ffn_dim  # shared experts run as one wider MLP
            out += [Linear("shared_expert_up", h, g * f, self.bias),
                    Linear("shared_expert_down", f, h, self.bias)]
        return out

    def layer_linears(self, layer: int) -> list[Linear]:
        return self.attention_linears() + self.ffn_linears(layer)

    # --- sizes ---------------------------------------------------------------------------
    def param_breakdown(self) -> dict[str, int]:
        """Parameters by kind: 'linear' (quantised with the precision) and the 16-bit rest."""
        out = {"linear": 0, "bias": 0, "norm": 0, "router": 0,
               "embedding": self.vocab * self.hidden,
               "positions": self.max_seq_len * self.hidden if self.position == "learned" else 0,
               "lm_head": 0 if self.tied_embeddings else self.vocab * self.hidden}
        for layer in range(self.layers):
            for lin in self.layer_linears(layer):
                out["linear"] += lin.count * lin.k * lin.n
                out["bias"] += lin.count * lin.n if lin.bias else 0
            norms = self.norm_params(self.hidden) * (1 if self.parallel_block else 2)
            if self.mla is not None:
                norms += self.norm_params(self.mla.kv_lora_rank)
                norms += self.norm_params(self.mla.q_lora_rank) if self.mla.q_lora_rank else 0
            out["norm"] += norms
            if self.is_moe_layer(layer):
                out["router"] += self.hidden * self.moe.experts
        out["norm"] += self.norm_params(self.hidden)  # final norm
        return out

    def param_count(self) -> int:
        """Total parameters computed from the shapes (tied embeddings counted once)."""
        return sum(self.param_breakdown().values())

    def weight_bytes(self, precision=None) -> int:
        """Bytes of all weights: linear layers at the weight type, the rest at 16 bits."""
        p = self._precision(precision)
        parts = self.param_breakdown()
        linear = parts.pop("linear")
        return int(nbytes(linear, p.weight_bits) + nbytes(sum(parts.values()), p.embed_bits))

    def kv_elements_per_token_per_layer(self) -> int:
        """Cached values per token per layer: K and V, or MLA's latent plus its RoPE key."""
        if self.mla is not None:
            return self.mla.kv_lora_rank + self.mla.qk_rope_head_dim
        return 2 * self.kv_heads * self.head_dim

    @property
    def cached_kv_heads(self) -> int:
        """Heads the KV cache holds per layer (MLA caches one latent shared by all heads)."""
        return 1 if self.mla is not None else self.kv_heads

    def kv_bytes_per_token(self, precision=None) -> int:
        """KV-cache bytes one token adds, over all layers."""
        p = self._precision(precision)
        return int(self.layers * nbytes(self.kv_elements_per_token_per_layer(), p.kv_bits))

    def _precision(self, precision) -> Precision:
        return parse_precision(self.default_precision if precision is None else precision)

    def to_dict(self) -> dict:
        return asdict(self)


# --- loading ---------------------------------------------------------------------------------
def model_from_dict(data: dict, file=None) -> ModelSpec:
    """Validate a model mapping (as read from YAML) and build the ModelSpec."""
    d = validate(data, MODEL_SCHEMA, file)
    moe = MoESpec(**validate(d["moe"], MOE_SCHEMA, file, "moe")) if d["moe"] is not None else None
    mla = MLASpec(**validate(d["mla"], MLA_SCHEMA, file, "mla")) if d["mla"] is not None else None
    d["moe"], d["mla"] = moe, mla
    if d["qkv_bias"] is None:
        d["qkv_bias"] = d["bias"]
    _check(d, file)
    return ModelSpec(**d, path=str(file) if file is not None else None)


def _check(d: dict, file) -> None:
    def fail(key, reason):
        raise ConfigError(reason, file, key)

    if d["heads"] % d["kv_heads"]:
        fail("kv_heads", f"{d['kv_heads']} does not divide heads ({d['heads']})")
    try:
        parse_precision(d["default_precision"])
    except ConfigError as exc:
        fail("default_precision", exc.reason)
    if d["rotary_dim"] is not None:
        if d["position"] != "rope":
            fail("rotary_dim", "only meaningful with position: rope")
        if d["rotary_dim"] > d["head_dim"]:
            fail("rotary_dim", f"{d['rotary_dim']} exceeds head_dim ({d['head_dim']})")
    moe, mla = d["moe"], d["mla"]
    if moe is not None:
        if moe.top_k > moe.experts:
            fail("moe.top_k", f"{moe.top_k} exceeds experts ({moe.experts})")
        if moe.dense_layers > d["layers"]:
            fail("moe.dense_layers", f"{moe.dense_layers} exceeds layers ({d['layers']})")
    if mla is not None:
        if d["head_dim"] != mla.qk_nope_head_dim + mla.qk_rope_head_dim:
            fail("head_dim", "with mla, head_dim must be qk_nope_head_dim + qk_rope_head_dim")
        if d["bias"] or d["qkv_bias"]:
            fail("bias", "biases with MLA are not modelled")
        if d["position"] != "rope":
            fail("position", "MLA models use rope")


def load_model(name_or_path, sets=()) -> ModelSpec:
    """A bundled model by name ('llama3-8b') or a YAML path; `base:` and `--set` applied."""
    path = find_config(name_or_path, MODELS_DIR, "model")
    data = load_with_base(path, MODELS_DIR, "model")
    data = apply_sets(data, sets)
    return model_from_dict(data, file=path)


def list_models() -> list[str]:
    """Names of the bundled models."""
    return sorted(p.stem for p in Path(MODELS_DIR).glob("*.yaml"))

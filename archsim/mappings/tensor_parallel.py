"""tensor_parallel: Megatron-style tensor parallelism over `tp` GPUs joined by a `link`.

The `device` component stands for the tp GPUs (its `count` must equal tp): they run every
shard in lockstep, so a job's time is one GPU's and its energy all of theirs. Per op:

  column-parallel  qkv_proj, q_proj, q_b_proj, kv_b_proj, ffn_gate_up, ffn_up, expert_up,
                   shared_expert_up, and any other matmul not named below (a lone
                   `archsim op` GEMM): n / tp outputs per GPU, the input read whole
  row-parallel     o_proj, ffn_down, expert_down, shared_expert_down: k / tp per GPU, then a
                   ring all-reduce of the [m, n] output on the link (a job on `link`, so the
                   breakdown shows it); a MoE layer's experts leave partial sums that
                   moe_combine adds on each GPU, and one all-reduce of the combined output
                   follows it (as vLLM and Megatron reduce once per layer)
  heads split      attention_qk / softmax / attention_av, rope, q_absorb, v_absorb:
                   ceil(heads / tp) query heads and ceil(kv_heads / tp) KV heads per GPU
                   (KV heads are replicated when there are fewer than tp)
  width split      ffn_act, expert_act, shared_expert_act (the FFN width is split)
  vocab split      lm_head: vocab / tp logits per GPU, then an all-gather of the logits
  replicated       norms, residual adds, embeddings, the MoE router and combine, MLA's
                   down-projections (q_a_proj, kv_a_proj): every GPU does the whole op

An uneven split is timed by its largest shard. Memory capacity is tp x one GPU's; a KV head
held by several GPUs (fewer KV heads than tp; MLA's latent on every GPU) counts once per GPU.
"""

from __future__ import annotations

from archsim.components.base import Job
from archsim.config.schema import Field
from archsim.errors import ConfigError
from archsim.mappings.single_device import ATTENTION_OPS, op_job
from archsim.system.mapping import Mapping, Stage, register_mapping
from archsim.dtypes import dtype_bits

ROW = ("o_proj", "ffn_down", "expert_down", "shared_expert_down")
#: row-parallel ops whose partial sums moe_combine adds before the one all-reduce
COMBINED = ("expert_down", "shared_expert_down")
REPLICATED = ("q_a_proj", "kv_a_proj")  # MLA's small down-projections feed every head
WIDTH = ("ffn_act", "expert_act", "shared_expert_act")
HEAD_MATMULS = ("q_absorb", "v_absorb")


def _ceil(a: int, b: int) -> int:
    return -(-int(a) // int(b))


def _scaled(op: dict, flops: float, w: float, a: float, kv: float, **dims) -> dict:
    out = dict(op)
    out.update(flops=op["flops"] * flops, bytes_w=op["bytes_w"] * w, bytes_a=op["bytes_a"] * a,
               bytes_kv=op["bytes_kv"] * kv, **dims)
    return out


def shard(op: dict, tp: int) -> tuple[dict, str | None]:
    """One GPU's share of `op` and the collective that follows it (None, allreduce, allgather)."""
    name, kind, n, k = op["name"], op["op"], op["n"], op["k"]
    if kind in ATTENTION_OPS or name in HEAD_MATMULS:
        h = _ceil(op["heads"], tp) / op["heads"]
        kvh = _ceil(op["kv_heads"], tp) / op["kv_heads"]
        return _scaled(op, h, h, h, kvh, heads=_ceil(op["heads"], tp), kv_heads=_ceil(op["kv_heads"], tp)), None
    if kind in ("gemm", "gemv") and name in ROW:
        f = _ceil(k, tp) / k if k else 1.0
        a = (k * f + n) / (k + n) if k + n else 1.0
        return _scaled(op, f, f, a, f, k=_ceil(k, tp)), (None if name in COMBINED else "allreduce")
    if name == "moe_combine":
        return op, "allreduce"
    if kind in ("gemm", "gemv") and name not in REPLICATED or kind == "lm_head":
        f = _ceil(n, tp) / n if n else 1.0
        a = (k + n * f) / (k + n) if k + n else 1.0
        return _scaled(op, f, f, a, f, n=_ceil(n, tp)), ("allgather" if kind == "lm_head" else None)
    if name in WIDTH or kind == "rope":
        f = _ceil(n, tp) / n if n else 1.0
        return _scaled(op, f, f, f, f, n=_ceil(n, tp)), None
    return op, None


@register_mapping
class TensorParallel(Mapping):
    strategy = "tensor_parallel"
    schema = {
        "device": Field("str", doc="the GPU component (its `count` = tp GPUs in lockstep)"),
        "link": Field("str", doc="the link component the collectives run on"),
        "tp": Field("int", doc="tensor-parallel degree"),
        "fuse_attention": Field("bool", True, "run QK^T, softmax and AV as one flash-attention kernel"),
    }
    component_refs = ("memory", "offload", "device", "link")
    component_types = {"device": ("gpu",), "link": ("link",)}
    shards_over_count = True

    def __init__(self, system, params):
        super().__init__(system, params)
        device = system.components[params["device"]]
        count = getattr(device, "count", 1)
        if count != params["tp"]:
            raise ConfigError(f"tp = {params['tp']} needs {params['tp']} GPUs but `{params['device']}` has "
                              f"count {count}; set {params['device']}.count to match",
                              system.arch.file, "mapping.tp")
        # the collectives run over tp ranks; a link sized for another count would be ignored
        link = system.components[params["link"]]
        ranks = getattr(link, "params", {}).get("ranks")
        if ranks is not None and ranks != params["tp"]:
            raise ConfigError(f"the link joins {ranks} GPUs but tp = {params['tp']}; set "
                              f"{params['link']}.ranks to {params['tp']}", system.arch.file,
                              f"{params['link']}.ranks")

    def kv_stored_per_token(self, kv_bytes_per_token: float, kv_heads: int | None = None) -> float:
        # each GPU keeps ceil(kv_heads / tp) heads: fewer heads than GPUs are replicated
        tp = self.params["tp"]
        if not kv_heads:
            return kv_bytes_per_token
        return kv_bytes_per_token * tp * _ceil(kv_heads, tp) / kv_heads

    def stages(self, op: dict) -> list[Stage]:
        tp, link = self.params["tp"], self.params["link"]
        if op["op"] == "allreduce":
            return [Stage(link, self._collective("allreduce", op["bytes_a"], op["name"]))]
        part, collective = shard(op, tp)
        stages = [Stage(self.params["device"], op_job(part, self.params["fuse_attention"]))]
        if collective and tp > 1:
            message = op["m"] * op["n"] * dtype_bits(op["dtype_a"]) / 8.0  # the whole [m, n] output
            stages.append(Stage(link, self._collective(collective, message, op["name"])))
        return stages

    def _collective(self, kind: str, nbytes: float, name: str) -> Job:
        return Job(kind=kind, bytes_read=float(nbytes), extra=(("ranks", self.params["tp"]),),
                   label=f"{name}.{kind}")

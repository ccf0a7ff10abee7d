"""single_device: every op of the trace runs on one `device` component (a GPU or a CPU).

Each trace row becomes one job. Attention is fused the way FlashAttention / FlashInfer run
it (`fuse_attention`, default on): attention_qk starts one kernel, softmax and attention_av
are its continuations (`fused` jobs pay no launch), and the score matrix never reaches DRAM,
so the trace's score traffic is dropped from the bytes. The three rows keep their own jobs
so the per-op breakdown still shows QK^T, softmax and AV; the attention jobs carry the
sequences and KV heads, from which the device decides whether decode splits the KV length
(and pays a merge kernel). An `allreduce` row has nothing to
reduce on one device and is skipped.
"""

from __future__ import annotations

from archsim.components.base import Job
from archsim.config.schema import Field
from archsim.system.mapping import Mapping, Stage, register_mapping
from archsim.dtypes import dtype_bits
from archsim.workload.trace_builder import SOFTMAX_FLOPS

ATTENTION_OPS = ("attention_qk", "softmax", "attention_av")


def op_job(op: dict, fuse_attention: bool = True, share_kv: bool = False) -> Job:
    """The job of one trace row (a dict of trace columns) on one device. `share_kv` (unfused
    attention): the query heads of a KV head run as one matmul against its K or V (GQA/MQA
    rows stacked, as an NPU compiler lays them out), not one matmul per query head."""
    kind = op["op"]
    flops = float(op["flops"])
    nbytes = float(op["bytes_w"] + op["bytes_a"] + op["bytes_kv"])
    batch, extra = 1, {}
    m = int(op["m"])
    if kind in ATTENTION_OPS:
        batch = op["batch"] * op["heads"]  # per-head matmuls over every sequence
        group = op["heads"] // op["kv_heads"] if op["kv_heads"] > 0 and op["heads"] % op["kv_heads"] == 0 else 1
        if share_kv and not fuse_attention and kind != "softmax" and group > 1:
            m, batch = m * group, op["batch"] * op["kv_heads"]
        if fuse_attention:
            # the fused kernel's CTA grid (sequence x KV head) decides split-KV in decode
            extra["seqs"], extra["kv_heads"] = int(op["batch"]), int(op["kv_heads"])
            act = dtype_bits(op["dtype_a"]) / 8.0
            if kind == "softmax":
                scores, nbytes = flops / SOFTMAX_FLOPS, 0.0
                extra["exps"] = int(round(scores))
            else:
                inner = op["k"] if kind == "attention_qk" else op["n"]
                scores = flops / (2.0 * inner) if inner else 0.0
                nbytes = max(nbytes - scores * act, 0.0)  # the scores stay on chip
            if kind != "attention_qk":
                extra["fused"] = True
    elif op["heads"] > 1:  # a per-head batched matmul (MLA's absorbed projections)
        batch = op["heads"]
    return Job(kind=kind, m=m, n=int(op["n"]), k=int(op["k"]), batch=int(batch), flops=flops,
               bytes_read=nbytes, dtype_w=str(op["dtype_w"]), dtype_a=str(op["dtype_a"]),
               extra=tuple(sorted(extra.items())), label=str(op["name"]))


@register_mapping
class SingleDevice(Mapping):
    strategy = "single_device"
    schema = {
        "device": Field("str", doc="the component every op runs on"),
        "fuse_attention": Field("bool", True, "run QK^T, softmax and AV as one flash-attention kernel"),
    }
    component_refs = ("memory", "device")
    component_types = {"device": ("gpu", "cpu")}

    def stages(self, op: dict) -> list[Stage]:
        if op["op"] == "allreduce":
            return []
        return [Stage(self.params["device"], op_job(op, self.params["fuse_attention"]))]

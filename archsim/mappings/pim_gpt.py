"""pim_gpt: PIM-GPT's mapping (Wu, Wang, Lu, npj Unconventional Computing 2024).

Every matrix-vector product runs in the PIM channels: the weight matrix is partitioned over
channels and banks (each bank owns whole output neurons, stored row-major so the MACs stream
through open rows), the input vector is broadcast to each channel's global buffer, and each
global-buffer chunk of the input leaves one partial sum per neuron that the ASIC accumulates.
Attention runs in PIM too: the K cache as the matrix of QK^T and the V cache (transposed) as
the matrix of AV, one head per channel at a time; the new token's K and V are written into
the channels after the QKV projection. LayerNorm, softmax, GELU, residuals and the embedding
lookup run on the ASIC. Prompt tokens are processed one at a time (GEMM = rows of GEMV).
"""

from __future__ import annotations

import math

from archsim.components.base import Job
from archsim.config.schema import Field
from archsim.system.mapping import Mapping, Stage, register_mapping

GEMV_OPS = ("gemv", "gemm", "lm_head", "moe_gate")
ATTENTION_OPS = ("attention_qk", "attention_av")
ASIC_OPS = ("norm", "softmax", "activation", "elementwise", "embedding", "rope")


@register_mapping
class PimGpt(Mapping):
    strategy = "pim_gpt"
    schema = {
        "pim": Field("str", doc="the PIM channels component"),
        "asic": Field("str", doc="the ASIC component"),
    }
    component_refs = ("memory", "pim", "asic")
    component_types = {"pim": ("pim",), "asic": ("pim_asic",)}

    def stages(self, op: dict) -> list[Stage]:
        kind = op["op"]
        pim, asic = self.params["pim"], self.params["asic"]
        # a token-wise row's m already counts every sequence's tokens (the trace format);
        # attention rows give m per sequence, with the batch and heads apart
        rows = max(1, int(op["m"]))
        if kind in GEMV_OPS:
            job = Job(kind=kind, m=int(op["m"]), n=int(op["n"]), k=int(op["k"]), batch=1,
                      flops=float(op["flops"]), bytes_read=float(op["bytes_w"]), dtype_w=str(op["dtype_w"]),
                      dtype_a=str(op["dtype_a"]), label=str(op["name"]))
            # one partial sum per neuron for each input chunk the PIM cut the GEMV into
            chunk = int(self.system.cost(pim, job).breakdown["chunk_elems"])
            chunks = math.ceil(int(op["k"]) / max(1, chunk))
            out = [Stage(pim, job),
                   Stage(asic, Job(kind="accumulate", m=rows, n=int(op["n"]),
                                   extra=(("partials", rows * int(op["n"]) * chunks),),
                                   label=f"{op['name']}.accumulate"))]
            if int(op["bytes_kv"]) > 0:      # the new token's K and V go into the cache
                out.append(Stage(pim, Job(kind="transfer", bytes_written=float(op["bytes_kv"]),
                                          label=f"{op['name']}.kv_append")))
            return out
        if kind in ATTENTION_OPS:
            heads = max(1, int(op["heads"])) * max(1, int(op["batch"]))
            return [Stage(pim, Job(kind=kind, m=int(op["m"]), n=int(op["n"]), k=int(op["k"]), batch=heads,
                                   flops=float(op["flops"]), bytes_read=float(op["bytes_kv"]),
                                   dtype_w=str(op["dtype_w"]), dtype_a=str(op["dtype_a"]),
                                   label=str(op["name"])))]
        if kind in ASIC_OPS:
            return [Stage(asic, Job(kind=kind, m=int(op["m"]), n=int(op["n"]),
                                    batch=max(1, int(op["heads"])) * (max(1, int(op["batch"]))
                                                                       if kind == "softmax" else 1),
                                    flops=float(op["flops"]), bytes_read=float(op["bytes_a"]),
                                    label=str(op["name"])))]
        return []          # allreduce: one device, nothing to reduce

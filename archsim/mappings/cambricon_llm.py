"""cambricon_llm: Cambricon-LLM's work split (MICRO 2024, Fig. 5).

Weights live in the NAND flash, the KV cache in the NPU's DRAM (LPDDR5X).
  (1) every weight matrix-vector product (a decode step's) runs jointly on the
      flash and the NPU: the flash component plans the hardware-aware tiling, its cores
      compute their share (Read-Compute) and the rest of the matrix streams through the
      channels to the NPU, which computes that part and adds the channels' partial sums;
  (2) attention products with the KV cache run on the NPU alone;
  (3) the K/V loads from DRAM overlap the QKV GEMV of the same layer (Fig. 5: "Load K1..Kn
      from DRAM" beside "K_n+1 = X W_K"), and the new token's K/V are written back.
Prefill streams each weight matrix out of the flash to the NPU, which runs the GEMM as the
weights arrive (the slower of the two sets the time). Each weight op takes the faster path
(`_in_flash`), or the one `flash_max_m` sets. Norms, softmax,
activations and residual adds run on the NPU's vector unit; the embedding rows are read from
the flash. Every byte that crosses the flash channels also crosses the die-to-die `link`.
"""

from __future__ import annotations

import numpy as np

from archsim.components.base import Job
from archsim.config.schema import Field
from archsim.mappings.single_device import op_job
from archsim.system.mapping import PREV_OP, Mapping, Stage, group_rows, join_job, register_mapping

WEIGHT_OPS = ("gemv", "gemm", "lm_head", "moe_gate")
ATTENTION = ("attention_qk", "attention_av")


@register_mapping
class CambriconLLM(Mapping):
    strategy = "cambricon_llm"
    schema = {
        "flash": Field("str", "flash", "the nand_flash component holding the weights"),
        "npu": Field("str", "npu", "the systolic NPU"),
        "dram": Field("str", "dram", "the memory holding the KV cache"),
        "link": Field("str", None, "die-to-die link between NPU and flash (bytes accounted)", nullable=True),
        "flash_max_m": Field("int", None, "weight ops with at most this many rows compute in flash "
                                          "(default: where that is faster than streaming them to the NPU)",
                             nullable=True),
        "overlap_kv_load": Field("bool", True, "K/V loads overlap the QKV GEMV of the same layer"),
        "tiling": Field("bool", None, "override the flash's hardware-aware tiling switch", nullable=True),
        "slicing": Field("bool", None, "override the flash's read-slicing switch", nullable=True),
        "tile": Field("str", None, "override the tile shape (HxW)", nullable=True),
    }
    component_refs = ("memory", "flash", "npu", "dram", "link")
    component_types = {"flash": ("nand_flash",), "npu": ("systolic_npu",), "dram": ("dram",), "link": ("link",)}

    def weight_components(self) -> list[str]:
        return [self.params["flash"]]

    def kv_components(self) -> list[str]:
        # the LPDDR5X holds the KV cache only (Sec. III)
        return [self.params["dram"]]

    # --- K/V bytes of each layer, known when the QKV op is mapped --------------------------
    def key_columns(self, trace) -> dict:
        """A decode QKV op loads its layer's K/V cache: the bytes its step's attention reads."""
        c = trace.columns
        if not len(trace):
            return {"layer_k": np.zeros(0, np.int64), "layer_v": np.zeros(0, np.int64)}
        group, _ = group_rows({k: c[k] for k in ("phase", "step", "layer")})
        nb = c["bytes_kv"].astype(np.int64)
        k = np.zeros(group.max() + 1, np.int64)
        v = np.zeros_like(k)
        np.add.at(k, group, np.where(c["op"] == "attention_qk", nb, 0))
        np.add.at(v, group, np.where(c["op"] == "attention_av", nb, 0))
        qkv = np.isin(c["name"], ("qkv_proj", "kv_a_proj")) & (c["phase"] == "decode")
        return {"layer_k": np.where(qkv, k[group], 0), "layer_v": np.where(qkv, v[group], 0)}

    # --- the split -------------------------------------------------------------------------
    def _sink_rate(self, op) -> float | None:
        """Bytes/s of weights the NPU side takes while the flash computes: the slower of the
        die-to-die link and the NPU's GEMV over the whole matrix. The split must not stream
        more than they absorb (a faster flash bus would otherwise only queue it there)."""
        p, nbytes = self.params, float(op["bytes_w"])
        job = Job(kind="gemv", m=int(op["m"]), k=int(op["k"]), n=int(op["n"]), dtype_w=str(op["dtype_w"]),
                  dtype_a=str(op["dtype_a"]), bytes_read=nbytes, label=f"{op['name']}.npu_rate")
        times = [self.system.cost(p["npu"], job).seconds]
        if p["link"]:
            times.append(self.system.cost(p["link"], Job(kind="transfer", bytes_read=nbytes,
                                                          label=f"{op['name']}.d2d_rate")).seconds)
        slowest = max(times)
        return nbytes / slowest if nbytes > 0 and slowest > 0 else None

    def _flash_job(self, op) -> Job:
        extra = {}
        for key in ("tiling", "slicing", "tile"):
            if self.params[key] is not None:
                extra[key] = self.params[key]
        rate = self._sink_rate(op)
        if rate is not None:
            extra["sink_rate"] = rate
        return Job(kind="gemv", m=int(op["m"]), n=int(op["n"]), k=int(op["k"]), batch=1,
                   flops=float(op["flops"]), bytes_read=float(op["bytes_w"]), dtype_w=str(op["dtype_w"]),
                   dtype_a=str(op["dtype_a"]), extra=tuple(sorted(extra.items())), label=str(op["name"]))

    def _in_flash(self, op) -> bool:
        """Whether a weight op computes in the flash: m <= `flash_max_m` where it is set, else
        where that is the faster path. The cores take m vectors per page (a batched decode
        step multiplies each page by every sequence's vector), so past some m streaming the
        weights to the NPU wins (a prefill); each path is timed as its parallel stages' longest
        plus what follows them."""
        cap = self.params["flash_max_m"]
        if cap is not None:
            return int(op["m"]) <= cap
        if not self.system.components[self.params["flash"]].computes(int(op["m"]), str(op["dtype_w"]),
                                                                     str(op["dtype_a"])):
            return False
        cost = self.system.cost

        def span(stages):
            par = [cost(st.component, st.job).seconds for st in stages if st.after == (PREV_OP,)]
            tail = [cost(st.component, st.job).seconds for st in stages if st.after != (PREV_OP,)]
            return max(par, default=0.0) + sum(tail)
        return span(self._flash_stages(op)) <= span(self._stream_stages(op))

    def _flash_stages(self, op) -> list[Stage]:
        p = self.params
        flash, npu, link = p["flash"], p["npu"], p["link"]
        stages: list[Stage] = []
        fj = self._flash_job(op)
        fc = self.system.cost(flash, fj)
        npu_bytes = float(fc.breakdown.get("npu_bytes", 0.0))
        stages.append(Stage(flash, fj, after=(PREV_OP,)))
        n_npu = int(round(int(op["n"]) * npu_bytes / max(float(op["bytes_w"]), 1.0)))
        joins = [0]
        if npu_bytes > 0 and n_npu > 0:
            stages.append(Stage(npu, Job(kind="gemv", m=int(op["m"]), k=int(op["k"]), n=n_npu,
                                         dtype_w=str(op["dtype_w"]), dtype_a=str(op["dtype_a"]),
                                         bytes_read=npu_bytes, label=f"{op['name']}.npu_share"),
                                after=(PREV_OP,)))
            joins.append(len(stages) - 1)
        if link:
            stages.append(Stage(link, Job(kind="transfer", bytes_read=float(fc.breakdown.get("channel_bytes", 0.0)),
                                          label=f"{op['name']}.d2d"), after=(PREV_OP,)))
            joins.append(len(stages) - 1)
        # the NPU adds the channels' partial sums as they arrive; only the last tile's
        # (H outputs x channels) remain once the flash is done
        spec = self.system.components[flash].spec
        tile_h = int(fc.breakdown.get("tile_h", op["n"]))
        red = float(op["m"]) * min(tile_h, int(op["n"])) * spec.channels
        stages.append(Stage(npu, Job(kind="elementwise", m=int(op["m"]), n=int(op["n"]), flops=red,
                                     label=f"{op['name']}.reduce"), after=tuple(joins)))
        return stages

    def _stream_stages(self, op) -> list[Stage]:
        """The weights stream out of the flash while the NPU multiplies (a prefill)."""
        p = self.params
        flash, npu, link = p["flash"], p["npu"], p["link"]
        stages = [Stage(flash, Job(kind="read", bytes_read=float(op["bytes_w"]), label=f"{op['name']}.stream"),
                        after=(PREV_OP,))]
        joins = [0]
        if link:
            stages.append(Stage(link, Job(kind="transfer", bytes_read=float(op["bytes_w"]),
                                          label=f"{op['name']}.d2d"), after=(PREV_OP,)))
            joins.append(len(stages) - 1)
        stages.append(Stage(npu, op_job(op, fuse_attention=False), after=(PREV_OP,)))
        joins.append(len(stages) - 1)
        stages.append(Stage(npu, join_job(f"{op['name']}.join"), after=tuple(joins)))
        return stages

    def _weights_in_flash(self, op) -> list[Stage]:
        p = self.params
        dram = p["dram"]
        stages = self._flash_stages(op) if self._in_flash(op) else self._stream_stages(op)
        # KV: the QKV op writes the new tokens' K/V and (decode) loads this layer's cache
        if op["name"] in ("qkv_proj", "kv_a_proj") and dram:
            k_b, v_b = ((op.get("layer_k", 0), op.get("layer_v", 0)) if op["phase"] == "decode"
                        and p["overlap_kv_load"] else (0, 0))
            nb = float(op["bytes_kv"]) + k_b + v_b
            if nb > 0:
                last = len(stages) - 1
                stages.insert(last, Stage(dram, Job(kind="transfer", bytes_read=float(k_b + v_b),
                                                    bytes_written=float(op["bytes_kv"]), label="kv_cache"),
                                          after=(PREV_OP,)))
                # the join (now last) also waits for the KV traffic
                j = stages[-1]
                stages[-1] = Stage(j.component, j.job, after=tuple(sorted(set((j.after or ()) + (last,)))))
        return stages

    def stages(self, op: dict) -> list[Stage]:
        p = self.params
        kind = op["op"]
        if kind == "allreduce":
            return []
        if kind in WEIGHT_OPS and op["bytes_w"] > 0:
            return self._weights_in_flash(op)
        if kind == "embedding":
            rows = [Stage(p["flash"], Job(kind="read", bytes_read=float(op["bytes_w"]), label=str(op["name"])))]
            if p["link"]:
                rows.append(Stage(p["link"], Job(kind="transfer", bytes_read=float(op["bytes_w"]),
                                                 label=f"{op['name']}.d2d"), after=(PREV_OP,)))
                rows.append(Stage(p["npu"], join_job(f"{op['name']}.join"), after=(0, 1)))
            return rows
        job = op_job(op, fuse_attention=False, share_kv=True)
        if kind in ATTENTION:
            # decode: K/V were loaded during the QKV GEMV; otherwise load them here
            preloaded = op["phase"] == "decode" and p["overlap_kv_load"]
            if op["bytes_kv"] > 0 and not preloaded:
                return [Stage(p["dram"], Job(kind="transfer", bytes_read=float(op["bytes_kv"]), label="kv_cache"),
                              after=(PREV_OP,)),
                        Stage(p["npu"], job, after=(PREV_OP,)),
                        Stage(p["npu"], join_job(f"{op['name']}.join"), after=(0, 1))]
        return [Stage(p["npu"], job)]

"""instinfer: InstInfer / InstAttention (HPCA 2025) - decode attention inside a
computational SSD beside a GPU.

Prefill runs on the GPU (attention fused); the prompt's K/V go to the drive layer by layer
over PCIe peer-to-peer DMA and are programmed into the flash in the background (the next
layer's compute does not wait). Decode: the GPU runs the projections and FFN; after QKV the
new token's q, k, v vectors cross PCIe to the drive, which writes k, v and runs attention
(QK^T, softmax, PV) on its engine over the KV cache in its flash; the attention output
crosses back to the GPU for the output projection. Only q/k/v vectors and attention outputs
cross PCIe in decode.

`stats()` reports the drive's I/O as InstAttention's Table III counts it: bytes read from and
written to the flash in each phase, in all and per decoder layer (the table's figures are per
layer: its prefill write, 1.34 GB, is one layer's prompt K and V at batch 64 x 1024 tokens, as
they cross PCIe), and the peer-to-peer PCIe bytes per phase (`*_p2p_bytes`). Under SparF the
drive programs K twice (Sec. IV-C), so its flash writes are 1.5x the K/V it receives.
"""

from __future__ import annotations

import numpy as np

from archsim.components.base import Job
from archsim.config.schema import Field
from archsim.errors import CapacityError
from archsim.mappings.single_device import op_job
from archsim.system.mapping import PREV_OP, Mapping, Stage, join_job, register_mapping
from archsim.dtypes import dtype_bits

ATTENTION = ("attention_qk", "softmax", "attention_av")


@register_mapping
class InstInfer(Mapping):
    strategy = "instinfer"
    schema = {
        "gpu": Field("str", "gpu", "the GPU"),
        "csd": Field("str", "flash", "the computational SSD holding the KV cache"),
        "pcie": Field("str", "pcie", "the GPU-to-drive link (peer-to-peer DMA)"),
        "fuse_attention": Field("bool", True, "fused attention kernels on the GPU in prefill"),
    }
    device_param = "gpu"       # a single-device base arch's `device:`
    component_refs = ("memory", "gpu", "csd", "pcie")
    component_types = {"gpu": ("gpu",), "csd": ("computational_ssd",), "pcie": ("link",)}

    def weight_components(self) -> list[str]:
        return [self.params["gpu"]]

    def kv_components(self) -> list[str]:
        # the whole KV cache lives in the drive; the GPU keeps only the running layer's
        return [self.params["csd"]]

    def kv_stored_per_token(self, kv_bytes_per_token: float, kv_heads: int | None = None) -> float:
        # what the drive programs for a token: K and V, and SparF's channel-indexed K copy
        # (K is half of an MHA/GQA token's K+V, as the writes count it)
        return self.system.components[self.params["csd"]].kv_write_bytes(
            Job(kind="write", bytes_written=kv_bytes_per_token, extra=(("k_bytes", kv_bytes_per_token / 2.0),)))

    def build(self, trace):
        # a decode step's new K/V wait in the drive's DRAM until a group's tokens are there
        # (the write buffer): the tokens of a group of the model's heads
        qk = trace["op"] == "attention_qk"
        self._group = 1
        if qk.any() and self.system.components[self.params["csd"]].params["kv"]["write_buffer"]:
            i = int(np.flatnonzero(qk)[0])
            self._group = self.system.components[self.params["csd"]].group_tokens(
                int(trace["k"][i]), dtype_bits(str(trace["dtype_w"][i])) / 8.0)
        graph = super().build(trace)
        csd, pcie = self.params["csd"], self.params["pcie"]
        # bytes of each distinct (component, job) pair times its tasks in each phase
        decode = (trace["phase"][graph.op_index] == "decode").astype(np.int64) if len(graph) else np.zeros(0, np.int64)
        uses = np.zeros((len(graph.pairs), 2), np.int64)
        np.add.at(uses, (graph.pair_index, decode), 1)
        io = {f"{ph}_{rw}_bytes": 0.0 for ph in ("prefill", "decode") for rw in ("read", "write", "p2p")}
        for (comp, job), counts in zip(graph.pairs, uses.tolist()):
            if comp == pcie:
                # GPU <-> drive peer-to-peer bytes (prefill: the prompt's K/V; decode: q/k/v, outputs)
                rw = "p2p"
            elif comp == csd and job.kind in ("write", "attention_qk", "attention_av"):
                rw = "write" if job.kind == "write" else "read"
            else:
                continue
            nbytes = self.system.cost(comp, job).bytes
            for ph, k in zip(("prefill", "decode"), counts):
                io[f"{ph}_{rw}_bytes"] += nbytes * k
        attn = trace["op"] == "attention_qk"
        layers = len(np.unique(trace["layer"][attn])) if attn.any() else 0
        for key in list(io):
            io[key.replace("_bytes", "_bytes_per_layer")] = io[key] / layers if layers else 0.0
        io["layers"] = layers
        self._io = io
        self._check_write_buffer(trace)
        return graph

    def _check_write_buffer(self, trace) -> None:
        """The incomplete groups of every layer wait in the drive's DRAM at once."""
        csd = self.system.components[self.params["csd"]]
        rows = trace.select((trace["op"] == "attention_qk") & (trace["phase"] == "decode"))
        if not len(rows):
            return
        cols = ("op", "name", "m", "n", "k", "batch", "heads", "kv_heads", "kv_len", "flops", "bytes_kv",
                "dtype_w", "dtype_a")
        held = self.per_distinct(rows, cols, lambda op: csd.buffered_bytes(self._csd_job(op))).astype(np.float64)
        steps, step_of = np.unique(rows["step"], return_inverse=True)
        need = float(np.bincount(step_of, weights=held, minlength=len(steps)).max())
        if need > csd.params["dram"]:
            raise CapacityError(f"the KV write buffer needs {need / 2 ** 20:.1f} MiB (the incomplete "
                                f"groups of every layer and sequence), the drive's DRAM has "
                                f"{csd.params['dram'] / 2 ** 20:.1f} MiB", self.system.arch.file,
                                f"{self.params['csd']}.dram")

    def stats(self) -> dict:
        return {"csd_io": dict(getattr(self, "_io", {}))}

    def _csd_job(self, op: dict) -> Job:
        extra = {"heads": int(op["heads"]), "kv_heads": int(op["kv_heads"]), "kv_len": int(op["kv_len"]),
                 "kv_elem_bytes": dtype_bits(str(op["dtype_w"])) / 8.0}
        return Job(kind=str(op["op"]), m=int(op["m"]), n=int(op["n"]), k=int(op["k"]),
                   batch=int(op["batch"]) * int(op["heads"]), flops=float(op["flops"]),
                   bytes_read=float(op["bytes_kv"]), dtype_w=str(op["dtype_w"]), dtype_a=str(op["dtype_a"]),
                   extra=tuple(sorted(extra.items())), label=str(op["name"]))

    def stages(self, op: dict) -> list[Stage]:
        p = self.params
        gpu, csd, pcie = p["gpu"], p["csd"], p["pcie"]
        kind = op["op"]
        if kind == "allreduce":
            return []
        act = dtype_bits(str(op["dtype_a"])) / 8.0
        if op["phase"] == "decode":
            if kind in ATTENTION:
                st = [Stage(csd, self._csd_job(op))]
                if kind == "attention_av":
                    out = float(op["batch"]) * op["heads"] * op["m"] * op["n"] * act
                    st.append(Stage(pcie, Job(kind="transfer", bytes_read=out, label="attn_out.p2p")))
                return st
            st = [Stage(gpu, op_job(op, p["fuse_attention"]))]
            if op["name"] in ("qkv_proj", "kv_a_proj"):
                # q, k, v of the new tokens to the drive; k, v programmed there
                qkv = float(op["m"]) * op["n"] * act
                st.append(Stage(pcie, Job(kind="transfer", bytes_read=qkv, label="qkv.p2p")))
                if op["bytes_kv"] > 0:
                    # K is half of an MHA/GQA token's K+V; the drive adds its channel-indexed copy
                    k_part = float(op["bytes_kv"]) / 2.0 if op["name"] == "qkv_proj" else 0.0
                    st.append(Stage(csd, Job(kind="write", bytes_written=float(op["bytes_kv"]),
                                             extra=(("buffered_tokens", self._group), ("k_bytes", k_part)),
                                             label="kv.write"), after=(1,)))
                    # the attention waits for q to arrive, not for the write to finish
                    st.append(Stage(gpu, join_job("qkv.sent"), after=(1,)))
            return st
        # prefill: all on the GPU; K/V stream to the drive behind the compute
        job = op_job(op, p["fuse_attention"])
        if kind == "attention_qk" and op["bytes_kv"] > 0:
            kvb = float(op["bytes_kv"]) * 2.0     # K and V of this layer's prompt
            return [Stage(pcie, Job(kind="transfer", bytes_read=kvb, label="kv.p2p"), after=(PREV_OP,)),
                    Stage(csd, Job(kind="write", bytes_written=kvb, extra=(("k_bytes", kvb / 2.0),),
                                   label="kv.write"), after=(0,)),
                    Stage(gpu, job, after=(PREV_OP,))]
        return [Stage(gpu, job)]

"""flexgen: offloading baselines in the style of FlexGen (Sheng et al., ICML 2023).

One `compute` component (an NPU or a GPU) runs every op. What does not live in its memory is
brought to it before the op that needs it:
  weights   read from `weights` (a flash/SSD: page reads; a memory: a transfer), across each
            link of `weight_path`, through a staging memory (`weight_staging`: written, then
            read again, as when an NPU cannot read flash directly and weights pass through
            DRAM);
  KV cache  read from `kv` for each decode attention op across `kv_path` (and `kv_staging`);
            the new tokens' K/V are written back the same way once the QKV op has computed
            them, off the critical path (later ops wait for the compute; the write queues on
            the links and the KV tier ahead of later reads). A prefill's attention uses the K/V
            it just made, on the compute device.
All stages of one transfer run together (a pipelined stream: the slowest sets its time); the
op computes when its data is in. With `prefetch` (FlexGen's overlap of loading with compute,
double-buffered at op granularity) the next weight op's weights load while this op computes;
otherwise each op loads its own weights first.

flash_only: every op's weights stream out of `flash` and nothing else is modelled - the time
a flash alone needs to deliver a model (used by the stand-alone flash configs).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from archsim.components.base import Job
from archsim.config.schema import Field
from archsim.mappings.single_device import op_job
from archsim.system.mapping import PREFETCHED, PREV_OP, Mapping, Stage, join_job, register_mapping

WEIGHT_OPS = ("gemv", "gemm", "lm_head", "moe_gate", "embedding")
ATTENTION = ("attention_qk", "attention_av")
FLASH_TYPES = ("nand_flash", "computational_ssd")
#: parts that hold weights or a KV cache
MEMORY_TYPES = ("nand_flash", "computational_ssd", "dram", "gpu", "cpu")


@register_mapping
class FlexGen(Mapping):
    strategy = "flexgen"
    schema = {
        "compute": Field("str", doc="the component every op runs on (npu or gpu)"),
        "weights": Field("str", None, "where the weights live (null: in the compute device)", nullable=True),
        "weight_path": Field("list", [], "links the weights cross", item=Field("str")),
        "weight_staging": Field("str", None, "memory the weights pass through (written then read)", nullable=True),
        "kv": Field("str", None, "where the KV cache lives (null: in the compute device)", nullable=True),
        "kv_path": Field("list", [], "links the KV cache crosses", item=Field("str")),
        "kv_staging": Field("str", None, "memory the KV cache passes through", nullable=True),
        "prefetch": Field("bool", True, "weight loads overlap earlier ops"),
        "fuse_attention": Field("bool", True, "fused attention kernels on a GPU"),
    }
    device_param = "compute"       # a single-device base arch's `device:`
    component_refs = ("memory", "compute", "weights", "weight_path", "weight_staging", "kv",
                      "kv_path", "kv_staging")
    component_types = {"compute": ("gpu", "cpu", "systolic_npu"), "weights": MEMORY_TYPES, "kv": MEMORY_TYPES,
                       "weight_path": ("link",), "kv_path": ("link",), "weight_staging": ("dram", "cpu"),
                       "kv_staging": ("dram", "cpu")}

    def weight_components(self) -> list[str]:
        return [self.params["weights"] or self.params["compute"]]

    def kv_components(self) -> list[str]:
        return [self.params["kv"] or self.params["compute"]]

    def _is_flash(self, name: str) -> bool:
        return self.system.components[name].type_name in FLASH_TYPES

    def _move(self, source, path, staging, nbytes: float, label: str, write: bool, after) -> list[Stage]:
        """Stages that move `nbytes` between `source` and the compute device."""
        st: list[Stage] = []
        if nbytes <= 0:
            return st
        if source is not None:
            if self._is_flash(source):
                kind = "write" if write else "read"
                job = Job(kind=kind, bytes_read=0.0 if write else nbytes, bytes_written=nbytes if write else 0.0,
                          label=label)
            else:
                job = Job(kind="transfer", bytes_read=0.0 if write else nbytes,
                          bytes_written=nbytes if write else 0.0, label=label)
            st.append(Stage(source, job, after=after))
        for link in path:
            st.append(Stage(link, Job(kind="transfer", bytes_read=nbytes, label=f"{label}.{link}"), after=after))
        if staging is not None:
            st.append(Stage(staging, Job(kind="transfer", bytes_read=nbytes, bytes_written=nbytes,
                                         label=f"{label}.staging"), after=after))
        return st

    def _weighted(self, op) -> bool:
        return op["op"] in WEIGHT_OPS and op["bytes_w"] > 0 and self.params["weights"] is not None

    def key_columns(self, trace) -> dict:
        """With prefetch, two weight buffers: a weight op's weights load while the op before
        it computes, from when the one before that has computed (`next_bytes`, `next_name`
        and `next_ahead`, the rows to it, on the row that issues the load; -1, '' and 0
        elsewhere), and the first weight op loads its own (`own_weights`). Row by row (rows
        that repeat a name keep their own successors); only the op loaded for waits for it."""
        c = trace.columns
        n = len(trace)
        none = {"next_bytes": np.full(n, -1.0), "next_name": np.full(n, "", dtype=object),
                "next_ahead": np.zeros(n, np.int64), "own_weights": np.zeros(n, bool)}
        if not n or not self.params["prefetch"] or self.params["weights"] is None:
            return none
        weighted = np.isin(c["op"], WEIGHT_OPS) & (c["bytes_w"] > 0)
        rows = np.flatnonzero(weighted)
        if not len(rows):
            return none
        # weight op i+1's load starts when op i-1 has computed (its buffer is free): it is
        # issued by the first row after op i-1 that runs anything (an allreduce row runs
        # nothing here), at the latest op i; op 1's by op 0, both buffers being free
        dst = rows[1:]
        runs = np.flatnonzero(c["op"] != "allreduce")
        src = np.concatenate((rows[:1], runs[np.searchsorted(runs, rows[:-2] + 1)]))[:len(dst)]
        out = none
        out["next_bytes"][src] = c["bytes_w"][dst].astype(np.float64)
        out["next_name"][src] = c["name"][dst]
        out["next_ahead"][src] = dst - src
        out["own_weights"][rows[0]] = True
        return out

    def stages(self, op: dict) -> list[Stage]:
        p = self.params
        if op["op"] == "allreduce":
            return []
        # an NPU runs attention unfused, a KV head's query heads as one matmul
        npu = self.system.components[p["compute"]].type_name == "systolic_npu"
        job = op_job(op, p["fuse_attention"] and not npu, share_kv=npu)
        # with prefetch, a later weight op's weights stream in from this op's start (see
        # key_columns); the ops between do not wait for them, that weight op does (PREFETCHED)
        nxt = (op.get("next_bytes", -1.0), op.get("next_name", "")) if p["prefetch"] else (-1.0, "")
        st: list[Stage] = []
        waits = (PREV_OP,)
        if self._weighted(op):
            if not p["prefetch"] or op.get("own_weights", False):
                st += self._move(p["weights"], p["weight_path"], p["weight_staging"], float(op["bytes_w"]),
                                 f"{op['name']}.weights", False, (PREV_OP,))
            else:
                waits += (PREFETCHED,)
        # a prefill's attention reads the K and V its own projections just made, still on the
        # compute device: only their write-out goes to the KV tier
        own_kv = op["phase"] == "prefill" and op["op"] in ATTENTION
        kv = p["kv"] is not None and op["bytes_kv"] > 0 and not own_kv
        writes = kv and op["op"] not in ATTENTION
        if kv and not writes:
            st += self._move(p["kv"], p["kv_path"], p["kv_staging"], float(op["bytes_kv"]),
                             f"{op['name']}.kv", False, (PREV_OP,))
        own = len(st)
        # (after this op's own loads: a component serves its tasks in order)
        if nxt[0] >= 0:
            st += [replace(m, serves_ahead=int(op.get("next_ahead", 1))) for m in
                   self._move(p["weights"], p["weight_path"], p["weight_staging"], nxt[0],
                              f"{nxt[1]}.weights", False, (PREV_OP,))]
        st.append(Stage(p["compute"], job, after=tuple(range(own)) + waits))
        if writes:
            # the new tokens' K and V leave once computed; the ops after wait for the compute,
            # not for the write (it queues on the links and the KV tier, ahead of later reads)
            done = len(st) - 1
            st += self._move(p["kv"], p["kv_path"], p["kv_staging"], float(op["bytes_kv"]),
                             f"{op['name']}.kv", True, (done,))
            st.append(Stage(p["compute"], join_job(f"{op['name']}.computed"), after=(done,)))
        return st


@register_mapping
class FlashOnly(Mapping):
    strategy = "flash_only"
    schema = {"flash": Field("str", "flash", "the flash component the weights stream from")}
    component_refs = ("memory", "flash")
    component_types = {"flash": FLASH_TYPES}

    def weight_components(self) -> list[str]:
        return [self.params["flash"]]

    def kv_components(self) -> list[str]:
        return [self.params["flash"]]

    def stages(self, op: dict) -> list[Stage]:
        if op["bytes_w"] <= 0:
            return []
        return [Stage(self.params["flash"], Job(kind="read", bytes_read=float(op["bytes_w"]), label=str(op["name"])))]

"""WaferLLM (OSDI 2025) on a wafer-scale engine: the `waferllm` mapping strategy.

Prefill runs on `mesh.prefill_grid` with MeshGEMM (or SUMMA / Cannon, `mapping.gemm`) and
dist-GEMM-T for Q x K^T; decode runs on regions of `mesh.decode_grid` with MeshGEMV and its
K-tree allreduce (or the pipelined baseline, `mapping.allreduce`), the decode layout that
needs no transpose, and the shift-based KV cache (or concatenation, `mapping.kv_cache`).
Layers that do not fit one region go to the next (pipeline stages, with a hand-off between
regions and a bubble while one request is in flight); between the phases the weights and the
prompt's KV cache are reshuffled through the fabric. A lone op (`archsim op`) runs all its
parts on one grid: `mesh.op_grid`, or with `auto` the square grid fastest over them all.

Every op becomes one or more jobs on the wafer component, each carrying a `Program`: what
every core computes and which collectives the cores perform (see archsim/components/wafer.py).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from archsim.components.base import Job
from archsim.config.schema import Field
from archsim.errors import CapacityError, ConfigError
from archsim.mappings.waferllm import ops as O
from archsim.mappings.waferllm.comm import BulkRotate, EdgeFill, RegionHandoff
from archsim.mappings.waferllm.kv_cache import KVPolicy
from archsim.mappings.waferllm.layouts import (X_INPUT, ModelShape, cdiv, decode_buffer_bytes,
                                               decode_kv_bytes_per_core, decode_kv_bytes_per_token, kv_elems_per_core,
                                               decode_weight_bytes_per_core,
                                               prefill_buffer_bytes, prefill_kv_bytes_per_core,
                                               prefill_weight_bytes_per_core)
from archsim.mappings.waferllm.meshgemm import ALGORITHMS, gemm_program
from archsim.mappings.waferllm.meshgemv import ALLREDUCES, gemv_program
from archsim.mappings.waferllm.pipeline import RegionPlan, plan_regions, plan_streamed
from archsim.mappings.waferllm.reshuffle import reshuffle_program
from archsim.system.mapping import PREFETCHED, PREV_OP, Capacity, Mapping, Stage, register_mapping
from archsim.components.wafer import MIN_GRID_SIDE, Program, Segment, VecOp
from archsim.dtypes import dtype_bits
from archsim.workload.trace_builder import ACT_FLOPS

AUTO_GRID_STEP = 60      # candidate square grids for `op_grid: auto`: multiples of this


class WaferCapacity(Capacity):
    """Capacity that the mapping refines once it has seen the model's layout."""

    extra: dict = None

    def as_dict(self) -> dict:
        out = super().as_dict()
        out.update(self.extra or {})
        return out


@register_mapping
class WaferLLMMapping(Mapping):
    strategy = "waferllm"
    schema = {
        "device": Field("str", "mesh", "the wafer component that runs everything"),
        "gemm": Field("str", "meshgemm", "prefill GEMM algorithm", choices=ALGORITHMS),
        "gemm_loop": Field("str", "kn", "per-step tile loop: 'kn' (WaferLLM's kernel) or 'long'",
                           choices=("kn", "long")),
        "allreduce": Field("str", "ktree", "decode allreduce", choices=ALLREDUCES),
        "ktree_k": Field("int", 2, "levels of the K-tree allreduce"),
        "kv_cache": Field("str", "shift", "KV-cache management", choices=("shift", "concat")),
        "split_fused": Field("bool", True, "decode multiplies fused linears (q|k|v, gate|up) part by "
                             "part with one shared allreduce, as WaferLLM's decode kernel does"),
        "decode_attention": Field("str", "group", "decode attention: 'group' reduces q.K^T within each KV "
                                  "head's columns; 'row' runs one hidden-wide head across the row, as "
                                  "WaferLLM's released decode kernel does", choices=("group", "row")),
    }
    component_refs = ("memory", "device")
    component_types = {"device": ("wafer",)}

    def __init__(self, system, params):
        super().__init__(system, params)
        self.dev = params["device"]
        self.wafer = system.components[self.dev]
        if getattr(self.wafer, "type_name", "") != "wafer":
            raise ConfigError(f"component {self.dev!r} is not a wafer", system.arch.file, "mapping.device")
        self.kv = KVPolicy(params["kv_cache"])
        self.shape: ModelShape | None = None
        self.decode_plan: RegionPlan | None = None
        self.prefill_plan: RegionPlan | None = None
        self._cap: WaferCapacity | None = None
        self._standalone = False
        self._has_decode = False
        self._first_name = None
        self._op_grids: dict = {}
        self._lone_grid = None               # the one grid every part of a lone op runs on
        self._prefill_kernels: dict = {}     # prefill linear -> the kernel chosen, both costs

    # --- capacity ----------------------------------------------------------------------------
    def capacity(self, weights_bytes, kv_bytes_per_token, batch, context, kv_heads=None):
        w = self.wafer
        per_core = w.sram_bytes - int(w.core["program_bytes"])
        memory = w.usable_cores * per_core
        needed = weights_bytes + kv_bytes_per_token * batch * context
        if needed > memory:
            gib = 2.0 ** 30
            raise CapacityError(f"the workload needs {needed / gib:.2f} GiB, the wafer holds {memory / gib:.2f} GiB "
                                f"in {w.usable_cores} usable cores", self.system.arch.file, "mesh")
        rows = self.wafer.grid("decode")[0]
        tokens = self.kv.max_tokens(memory - weights_bytes, kv_bytes_per_token * max(batch, 1), rows)
        cap = WaferCapacity(weights_bytes, kv_bytes_per_token, memory, needed, tokens)
        cap.extra = {"kv_cache": self.kv.name, "layout": "bytes only (no trace seen yet)"}
        self._cap = cap
        self._batch = max(batch, 1)
        return cap

    def _refine_capacity(self):
        """Layout-exact capacity: decode-layout weights (padded tiles) on every usable core,
        program and buffers reserved, the rest holds KV in the decode layout."""
        if self._cap is None:
            return
        s, w = self._decode_shape(self.shape), self.wafer
        grid = w.grid("decode")
        cells = grid[0] * grid[1]
        per_core = w.sram_bytes - int(w.core["program_bytes"]) - decode_buffer_bytes(s, grid, self._batch)
        layer_w = decode_weight_bytes_per_core(s.linears, grid) * cells
        head_w = decode_weight_bytes_per_core(s.head_linears, grid) * cells
        weights = s.layers * layer_w + head_w
        free = w.usable_cores * per_core - weights
        per_token = decode_kv_bytes_per_token(s, grid) * self._batch
        tokens = self.kv.max_tokens(free, per_token, grid[0], s.input_len)
        bytes_tokens = int(tokens)
        if s.layers:
            # the placement the run uses, with the buffers of each context: the bytes above
            # (the buffers of the run's own context) are an upper bound
            tokens = self._longest_placeable(self.shape, self._batch, int(tokens))
        cap = self._cap
        cap.max_decode_tokens = int(tokens)
        cap.extra = {"kv_cache": self.kv.name, "decode_grid": f"{grid[0]}x{grid[1]}",
                     "max_tokens_by_bytes": bytes_tokens,
                     "placed_weights_bytes": int(weights), "kv_bytes_per_token_placed": int(per_token),
                     "usable_cores": int(w.usable_cores)}
        if self.decode_plan is not None:
            cap.extra["decode_regions"] = self.decode_plan.regions
            cap.extra["decode_busy_fraction"] = self.decode_plan.busy_fraction
        if self.prefill_plan is not None:
            cap.extra["prefill_regions"] = self.prefill_plan.regions

    # --- planning ----------------------------------------------------------------------------
    def _plan(self, trace):
        s = self.shape
        w = self.wafer
        phases = set(trace["phase"].tolist())
        file = self.system.arch.file
        batch = int(trace["batch"].max()) if len(trace) else 1
        if "decode" in phases and s.layers:
            self.decode_plan = self._decode_plan(s, batch)
        if "prefill" in phases and s.layers:
            p = min(w.grid("prefill"))
            tokens = s.input_len * batch
            free = self._room((p, p), prefill_buffer_bytes(s, p, tokens), "prefill")
            layer = prefill_weight_bytes_per_core(s.linears, p) + prefill_kv_bytes_per_core(s, p, tokens)
            head = prefill_weight_bytes_per_core(s.head_linears, p)
            wafer_free = w.usable_cores * (w.sram_bytes - int(w.core["program_bytes"]))
            self.prefill_plan = plan_streamed((p, p), s.layers, layer, head, free, w.usable_cores, wafer_free,
                                              "prefill", file)
            self._stream_bytes = prefill_weight_bytes_per_core(s.linears, p)

    def _decode_shape(self, s: ModelShape) -> ModelShape:
        """The model as the decode layout stores it: 'row' attention runs one head of all
        heads' dims, so every query head keeps its own K and V (expanded) and scores."""
        return replace(s, kv_heads=s.heads) if self.params["decode_attention"] == "row" else s

    def _decode_plan(self, s: ModelShape, batch: int) -> RegionPlan:
        """Decode layers (weights and their KV cache at `s.context`) packed into regions."""
        s = self._decode_shape(s)
        w = self.wafer
        grid = w.grid("decode")
        free = self._room(grid, decode_buffer_bytes(s, grid, batch), "decode")
        kv = decode_kv_bytes_per_core(s, grid, max(s.context, 1) * batch) if self.kv.name == "shift" else \
            cdiv(kv_elems_per_core(s, grid[1]) * (cdiv(s.input_len, grid[0]) + s.context - s.input_len)
                 * batch * s.kv_bits, 8)
        layer = decode_weight_bytes_per_core(s.linears, grid) + kv
        head = decode_weight_bytes_per_core(s.head_linears, grid)
        return plan_regions(grid, s.layers, layer, head, free, w.usable_cores, "decode", self.system.arch.file)

    def _longest_placeable(self, s: ModelShape, batch: int, upper: int) -> int:
        """The longest context (at most `upper`) whose decode layers still pack into the
        regions the wafer has room for: the layout limit the run itself enforces."""
        def fits(context: int) -> bool:
            try:
                self._decode_plan(replace(s, context=context, input_len=min(s.input_len, context)), batch)
                return True
            except CapacityError:
                return False
        if upper <= 0 or not fits(1):
            return 0
        lo, hi = 1, upper
        if fits(hi):
            return hi
        while hi - lo > 1:          # fits(lo), not fits(hi)
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid)
        return lo

    def _room(self, grid, buffers: int, phase: str) -> int:
        """Bytes a core of `grid` keeps for layers beside its program and working buffers."""
        w = self.wafer
        room = w.sram_bytes - int(w.core["program_bytes"])
        if buffers >= room:
            raise CapacityError(f"on a {grid[0]}x{grid[1]} {phase} grid a core's working buffers need {buffers} B "
                                f"and a core has {room} B beside its program, none left for a layer; use a "
                                f"larger grid, a shorter context or a smaller batch", self.system.arch.file,
                                f"{self.dev}.{phase}_grid")
        return room - buffers

    def build(self, trace):
        meta = getattr(trace, "meta", {}) or {}
        self._standalone = str(meta.get("model", "")).startswith("op:")
        self.shape = ModelShape.from_trace(trace)
        self._has_decode = bool((trace["phase"] == "decode").any()) and bool((trace["phase"] == "prefill").any())
        first = trace["layer"] == 0
        self._first_name = str(trace["name"][first][0]) if first.any() else None
        if self._standalone:
            self._lone_grid = self._pick_op_grid(trace)
        else:
            self._plan(trace)
            self._refine_capacity()
        return super().build(trace)

    def key_columns(self, trace) -> dict:
        # a region's first layer hands off, a streamed prefill's layers load weights, and a
        # concatenated cache grows every step
        cols = ("phase", "name", "layer")
        concat = self.kv.name == "concat"
        streams = self.per_distinct(trace, cols, self._streams).astype(bool)
        return {"boundary": self.per_distinct(trace, cols, self._boundary),
                "streams": streams, **self._stream_issuers(trace, streams),
                "concat_step": np.where(concat & (trace["phase"] == "decode"), trace["step"], 0)}

    def _stream_issuers(self, trace, streams) -> dict:
        """Which row issues each streamed layer's weight stream: the first row of the layer
        before, so the stream starts once the layer before that has computed and freed its
        buffer (two buffers: one computing, one loading); for layer 0, the first prefill row.
        `stream_ahead`: rows from an issuer to the layer it streams (`stream_elems`: the
        stream's elements a core); `stream_own`: a layer with no row before it streams its own."""
        n = len(trace)
        ahead, elems, own = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, bool)
        if streams.any():
            c = trace.columns
            prefill = c["phase"] == "prefill"
            firsts = np.flatnonzero(prefill & (c["name"] == self._first_name) & (c["layer"] >= 0))
            src = np.concatenate(([np.flatnonzero(prefill)[0]], firsts[:-1]))
            sel = streams[firsts]
            src, dst = src[sel], firsts[sel]
            own[dst[src == dst]] = True
            src, dst = src[src < dst], dst[src < dst]
            ahead[src] = dst - src
            elems[src] = [self._stream_elems(d) for d in c["dtype_w"][dst].tolist()]
        return {"stream_ahead": ahead, "stream_elems": elems, "stream_own": own}

    def _stream_elems(self, dtype_w) -> int:
        return cdiv(self._stream_bytes * 8, dtype_bits(dtype_w))

    def _stream_stage(self, elems: int, after: tuple, ahead: int = 0) -> Stage:
        p = min(self.wafer.grid("prefill"))
        prog = Program((p, p), (Segment((), EdgeFill(p, p, "x", elems), label="weight_stream"),))
        job = Job(kind="transfer", extra=(("program", prog),), label=f"{self._first_name}:weight_stream")
        return Stage(self.dev, job, after=after, serves_ahead=ahead)

    def _streams(self, op) -> bool:
        """A streamed prefill loads the weights of each layer past the resident ones while
        the layer before computes (see _stream_issuers)."""
        plan = self.prefill_plan
        return bool(op["phase"] == "prefill" and plan is not None and plan.streamed and not self._standalone
                    and op["name"] == self._first_name and op["layer"] >= plan.resident)

    def _boundary(self, op) -> bool:
        plan = self.decode_plan if op["phase"] == "decode" else self.prefill_plan
        if plan is None or self._standalone or plan.streamed:
            return False
        if op["name"] == self._first_name and op["layer"] >= 0:
            return plan.boundary(int(op["layer"]))
        if op["name"] == "final_norm" and plan.region_of_layer:
            return plan.head_region != plan.region_of_layer[-1]
        return False

    # --- stages ------------------------------------------------------------------------------
    def _job(self, prog: Program, op: dict, part: str = "") -> Job:
        label = f"{op['name']}{':' + part if part else ''}"
        return Job(kind=op["op"], extra=(("program", prog),), label=label)

    def stages(self, op: dict) -> list[Stage]:
        if self._standalone:
            return [Stage(self.dev, self._job(self._lone_program(op, self._lone_grid), op))]
        progs = self._programs(op, self.wafer.grid(op["phase"]))
        out = []
        if self._boundary(op):
            out.append(Stage(self.dev, self._job(self._handoff(op), op, "handoff")))
        # a streamed layer's weights load on the wafer's second lane beside the compute before
        # them, and only that layer waits for them: a stream is issued by the first op of the
        # layer before (see _stream_issuers), as the row's first stage (its last stage is
        # what the next row waits on); a layer with no row before it loads its own
        own, streamed = bool(op.get("stream_own", False)), bool(op.get("streams", False))
        ahead = int(op.get("stream_ahead", 0))
        if own or streamed or ahead:
            waits = (PREV_OP,) + ((len(out),) if own else (PREFETCHED,) if streamed else ())
            if own:
                out.append(self._stream_stage(self._stream_elems(op["dtype_w"]), ()))
            if ahead:
                # after this layer's own stream too: the streams share the grid's edge, one at a time
                out.append(self._stream_stage(int(op["stream_elems"]), waits, ahead))
            out.append(Stage(self.dev, self._job(progs[0], op), after=waits))
            progs = progs[1:]
        out += [Stage(self.dev, self._job(p, op)) for p in progs]
        if op["phase"] == "prefill" and op["op"] == "lm_head" and self._has_decode:
            out.append(Stage(self.dev, self._job(self._reshuffle(op), op, "reshuffle")))
        return out

    @staticmethod
    def _lone_phase(op) -> str:
        return "decode" if int(op["m"]) <= 1 else "prefill"

    def _lone_program(self, op: dict, grid) -> Program:
        progs = self._programs(op, grid, self._lone_phase(op))
        return progs[0] if len(progs) == 1 else Program(grid, tuple(s for p in progs for s in p.segments))

    def _pick_op_grid(self, trace) -> tuple:
        """The one grid all parts of a lone op run on (attention's QK^T, softmax and AV share
        the scores where they lie, so no part may move to a grid of its own): `op_grid`, or
        with `auto` the square grid, a multiple of AUTO_GRID_STEP, that minimises the parts'
        total time. A candidate wider than a weight matrix's side is cut to it, the same
        rule an explicit `op_grid` is held to (cores without weights would be charged)."""
        from archsim.workload.trace import COLUMNS
        cols = {c: trace.columns[c].tolist() for c in COLUMNS}
        ops = [{c: v[i] for c, v in cols.items()} for i in range(len(trace))]
        grid = self.wafer.op_grid()
        if grid is None:
            ur, uc = self.wafer.params["usable"]
            side = min([ur, uc] + [min(lim) for op in ops if (lim := self._op_grid_limit(op)) is not None])
            sides = sorted({min(p, side) for p in range(AUTO_GRID_STEP, min(ur, uc) + 1, AUTO_GRID_STEP)})
            best_t = None
            for p in sides:
                t = sum(self.system.cost(self.dev, self._job(self._lone_program(op, (p, p)), op)).seconds
                        for op in ops)
                if best_t is None or t < best_t:
                    grid, best_t = (p, p), t
        for op in ops:
            self._check_op_grid(op, grid)
            self._op_grids[str(op["name"])] = tuple(grid)
        return tuple(grid)

    def _op_grid_limit(self, op: dict):
        """(rows, cols) of cores a lone matrix op can give weights to: its weight matrix's
        sides, as the op's layout splits them, though never below the smallest grid (None:
        not a matrix op)."""
        if op["op"] not in ("gemv", "gemm", "lm_head", "moe_gate"):
            return None
        k, n = max(int(op["k"]), MIN_GRID_SIDE), max(int(op["n"]), MIN_GRID_SIDE)
        if self._lone_phase(op) == "decode":     # the vector's axis splits k, the other n
            return (n, k) if op["name"] in X_INPUT else (k, n)
        return (min(k, n),) * 2                  # MeshGEMM splits k and n over a p x p grid

    def _check_op_grid(self, op: dict, grid):
        """A lone matrix op on more rows or columns of cores than its weight matrix has rows or
        columns: the extra lines of cores hold no weights, yet they are charged for the op."""
        limit = self._op_grid_limit(op)
        if limit is None:
            return
        used = tuple(grid) if self._lone_phase(op) == "decode" else (min(grid),) * 2
        if used[0] > limit[0] or used[1] > limit[1]:
            k, n = int(op["k"]), int(op["n"])
            fit = f"{min(used[0], limit[0])}x{min(used[1], limit[1])}"
            raise ConfigError(f"a {grid[0]}x{grid[1]} grid for a {k}x{n} weight matrix (k x n) leaves cores "
                              f"without weights; use at most {fit} or auto", self.system.arch.file,
                              f"{self.dev}.op_grid")

    def _programs(self, op: dict, grid, phase: str | None = None) -> list[Program]:
        phase = phase or op["phase"]
        kind, name = op["op"], op["name"]
        bits = dtype_bits(op["dtype_a"])
        wbits = dtype_bits(op["dtype_w"])
        ar, kk, loop = self.params["allreduce"], self.params["ktree_k"], self.params["gemm_loop"]
        m, n, k = int(op["m"]), int(op["n"]), int(op["k"])
        heads, kv_heads = int(op["heads"]), int(op["kv_heads"])
        batch = max(int(op["batch"]), 1)
        if phase == "decode":
            rows, cols = grid
            if kind in ("gemv", "gemm", "lm_head", "moe_gate"):
                axis = "x" if name in X_INPUT else "y"
                progs = [gemv_program(grid, k, n, batch=m, bits=wbits, input_axis=axis,
                                      allreduce_kind=ar, k_levels=kk, heads=heads if kind == "gemm" else 1,
                                      parts=self._parts(name, n))]
                if int(op["bytes_kv"]) > 0 and self.shape is not None and self.shape.head_dim:
                    progs.append(self._kv_write(grid, m, bits))
                return progs
            if kind == "norm":
                return [O.decode_norm(grid, n, m, bits, ar, kk)]
            if kind in ("elementwise", "allreduce"):
                return [O.decode_elementwise(grid, n, m, bits, 1)]
            if kind == "rope":
                return [O.decode_rope(grid, self._rope_parts(n), m, bits)]
            if kind == "activation":
                return [O.decode_activation(grid, n, m, bits, *self._activation(op))]
            if kind == "embedding":
                return [O.decode_embedding(grid, n, m, bits)]
            if kind in ("attention_qk", "softmax", "attention_av"):
                kv_len = int(op["kv_len"])
                prompt = max(kv_len - int(op["step"]) - 1, 0) if not self._standalone else kv_len
                s_t = self.kv.tokens_on_busiest_row(rows, kv_len, prompt)
                hd = k if kind == "attention_qk" else n
                if self.params["decode_attention"] == "row":
                    # one head of all heads' dims spanning the row (K/V expanded to every query head)
                    hd, heads, kv_heads = hd * heads, 1, 1
                if kind == "attention_qk":
                    return [O.decode_qk(grid, heads, kv_heads, hd, s_t, batch * m, bits, ar, kk)]
                if kind == "softmax":
                    return [O.decode_softmax(grid, heads, kv_heads, s_t, batch * max(m, 1), bits, ar, kk)]
                return [O.decode_av(grid, heads, kv_heads, hd, s_t, batch * m, bits, ar, kk)]
            return [O.decode_elementwise(grid, max(n, 1), max(m, 1), bits, 1)]
        # prefill
        p = min(grid)
        if kind in ("gemm", "gemv", "lm_head", "moe_gate"):
            return [self._prefill_matmul(op, p, m, k, n, wbits, heads if kind == "gemm" else 1, batch)]
        if kind == "norm":
            return [O.prefill_norm(p, m, n, bits, ar, kk)]
        if kind in ("elementwise", "allreduce"):
            return [O.prefill_elementwise(p, m, n, bits, 1)]
        if kind == "rope":
            return [O.prefill_elementwise(p, m, cdiv(n, 2), bits, 6, "mul")]
        if kind == "activation":
            return [O.prefill_activation(p, m, n, bits, *self._activation(op))]
        if kind == "embedding":
            return [O.prefill_elementwise(p, m, n, bits, 1, "copy")]
        if kind == "attention_qk":
            return [O.prefill_qk(p, m, batch, heads, k, bits, loop)]
        if kind == "softmax":
            return [O.prefill_softmax(p, m, batch, heads, self._head_dim(), bits, ar, kk)]
        if kind == "attention_av":
            return [O.prefill_av(p, m, batch, heads, n, bits, loop)]
        return [O.prefill_elementwise(p, max(m, 1), max(n, 1), bits, 1)]

    def _prefill_matmul(self, op: dict, p: int, m: int, k: int, n: int, bits: int, heads: int,
                        batch: int) -> Program:
        """A prefill linear. Its rows are the prompt's tokens (MeshGEMM's case) unless there are
        no more of them than sequences: the lm_head (each sequence's last token), a one-token
        prompt, an expert few tokens chose. Those are vectors, which the decode's MeshGEMV
        multiplies all in one pass; both kernels are costed and the cheaper runs (with one row a
        MeshGEMM tile is a single row, so each of its p steps issues kt x nt one-element ops)."""
        gemm = gemm_program(p, m, k, n, bits, self.params["gemm"], self.params["gemm_loop"], heads=heads)
        if m > batch:
            return gemm
        gemv = gemv_program((p, p), k, n, batch=m, bits=bits, input_axis="y", allreduce_kind=self.params["allreduce"],
                            k_levels=self.params["ktree_k"], heads=heads)
        # one MeshGEMV per sequence is never cheaper than the m vectors in one pass: the same
        # multiplies, and one allreduce carries them all where m would each pay the tree's latency
        log, self.wafer.link_log = self.wafer.link_log, None     # a link map shows what runs only
        try:
            secs = {kernel: self.system.cost(self.dev, self._job(prog, op)).seconds
                    for kernel, prog in (("meshgemv", gemv), (self.params["gemm"], gemm))}
        finally:
            self.wafer.link_log = log
        kernel = min(secs, key=secs.get)
        key = op["name"] if int(op.get("expert", -1)) < 0 else f"{op['name']} ({m} rows)"
        self._prefill_kernels[key] = {"kernel": kernel, "rows": m,
                                      **{f"{name}_s": float(t) for name, t in secs.items()}}
        return gemv if kernel == "meshgemv" else gemm

    def _rope_parts(self, n: int) -> tuple:
        """Rotated widths of q and k (kept as separate vectors on the cores)."""
        s = self.shape
        if s is not None and s.head_dim and (s.heads + s.kv_heads) * s.head_dim == n:
            return (s.heads * s.head_dim, s.kv_heads * s.head_dim)
        return (n,)

    def _parts(self, name: str, n: int):
        """Widths of the linears fused in a decode GEMV (None: one linear)."""
        s = self.shape
        if not self.params["split_fused"] or s is None:
            return None
        if name == "qkv_proj" and s.head_dim:
            q, kv = s.heads * s.head_dim, s.kv_heads * s.head_dim
            return (q, kv, kv) if q + 2 * kv == n else None
        if name.endswith("gate_up") and n % 2 == 0:
            return (n // 2, n // 2)
        return None

    @staticmethod
    def _activation(op) -> tuple[bool, str]:
        """(gated, 'relu' | 'sigmoid') from the trace's flops per element (ACT_FLOPS)."""
        per = int(round(float(op["flops"]) / max(int(op["m"]) * int(op["n"]), 1)))
        name = {v: k for k, v in ACT_FLOPS.items()}.get(per, "swiglu")
        return name in ("swiglu", "geglu"), ("relu" if name == "relu" else "sigmoid")

    def _head_dim(self) -> int:
        return self.shape.head_dim if self.shape and self.shape.head_dim else 128

    def _kv_write(self, grid, batch, bits) -> Program:
        elems = kv_elems_per_core(self.shape, grid[1])
        comm = self.kv.step_comm(grid, elems, batch, self.shape.kv_bits)
        return Program(tuple(grid), (Segment((VecOp(elems * batch, 1, "copy", bits),), comm, label="kv_write"),))

    def _handoff(self, op) -> Program:
        if op["phase"] == "decode":
            rows, cols = self.wafer.grid("decode")
            e_t = cdiv(self.shape.hidden, rows) * max(int(op["m"]), 1)
            return Program((rows, cols), (Segment((), RegionHandoff(cols, rows, e_t), label="handoff"),))
        p = min(self.wafer.grid("prefill"))
        tile = cdiv(int(op["m"]), p) * cdiv(self.shape.hidden, p)
        return Program((p, p), (Segment((), BulkRotate(2 * p, p, "x", tile), label="handoff"),))

    def _reshuffle(self, op) -> Program:
        s = self.shape
        p = min(self.wafer.grid("prefill"))
        weights = sum(l.k * l.n * l.heads * l.bits // 8 for l in s.linears) * s.layers
        weights += sum(l.k * l.n * l.bits // 8 for l in s.head_linears)
        kv = s.kv_bytes_per_token * s.input_len * max(int(op["batch"]), 1)
        return reshuffle_program(p, weights + kv)

    # --- report ------------------------------------------------------------------------------
    def stats(self) -> dict:
        out = {"wafer": self.wafer.stats()}
        if self.decode_plan is not None:
            out["decode_pipeline"] = self.decode_plan.as_dict()
        if self.prefill_plan is not None:
            out["prefill_pipeline"] = self.prefill_plan.as_dict()
        if self._op_grids:
            out["op_grid"] = {k: f"{g[0]}x{g[1]}" for k, g in self._op_grids.items()}
        if self._prefill_kernels:
            out["prefill_kernels"] = dict(self._prefill_kernels)
        return out

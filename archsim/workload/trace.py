"""The workload trace: a table with one row per op instance (schema version 1).

Columns (all present in every trace, in this order):
  layer     int    decoder layer index; -1 for ops outside the layers (embedding, lm_head)
  phase     str    prefill | decode
  step      int    0 for prefill; the decode step index (0 .. output_len-1) for decode
  op        str    gemm | gemv | attention_qk | attention_av | softmax | norm | activation |
                   rope | moe_gate | embedding | lm_head | elementwise | allreduce
  name      str    what the op is in the model: q_proj, kv_proj, o_proj, ffn_up, ffn_down, ...
  batch     int    sequences in the batch
  m, n, k   int    out[m, n] = A[m, k] x W[k, n] (for attention: per head, see README)
  heads     int    query heads the op covers (1 for non-attention ops)
  kv_heads  int    key/value heads (GQA/MQA); 1 for non-attention ops
  kv_len    int    context length attended over (attention ops), else 0
  expert    int    MoE expert index, -1 when not an expert op
  dtype_w   str    weight / KV element type (fp32, fp16, bf16, fp8, int8, int4, int2, ...)
  dtype_a   str    activation element type
  bytes_w   int    weight bytes the op reads
  bytes_a   int    activation bytes read plus written
  bytes_kv  int    KV-cache bytes read plus written
  flops     int    floating-point (or integer) operations, a multiply-add counted as 2

batch, heads and kv_heads (<= heads) are >= 1 on every row; m and n on every row but an
allreduce; k on matmul and attention rows (element-wise rows have k = 0); kv_len on
attention_qk/av rows. A trace file's flops must agree with its matmul shapes (check_flops).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from archsim.errors import ConfigError, TraceError
from archsim.dtypes import DTYPE_BITS, dtype_bits

SCHEMA_VERSION = 1

COLUMNS: dict[str, str] = {
    "layer": "int", "phase": "str", "step": "int", "op": "str", "name": "str",
    "batch": "int", "m": "int", "n": "int", "k": "int", "heads": "int", "kv_heads": "int",
    "kv_len": "int", "expert": "int", "dtype_w": "str", "dtype_a": "str",
    "bytes_w": "int", "bytes_a": "int", "bytes_kv": "int", "flops": "int",
}
PHASES = ("prefill", "decode")
OPS = ("gemm", "gemv", "attention_qk", "attention_av", "softmax", "norm", "activation", "rope",
       "moe_gate", "embedding", "lm_head", "elementwise", "allreduce")
NON_NEGATIVE = ("step", "batch", "m", "n", "k", "heads", "kv_heads", "kv_len",
                "bytes_w", "bytes_a", "bytes_kv", "flops")
MATMUL_OPS = ("gemm", "gemv", "lm_head", "moe_gate")
ATTENTION_OPS = ("attention_qk", "attention_av")
# sizes that must be >= 1, and the ops they apply to (None: every op). Element-wise ops
# (norm, softmax, activation, rope, embedding, elementwise) have no reduction: k = 0; an
# allreduce is described by its bytes alone.
_SIZED = tuple(o for o in OPS if o != "allreduce")
POSITIVE = (("batch", None), ("heads", None), ("kv_heads", None),
            ("m", _SIZED), ("n", _SIZED), ("k", MATMUL_OPS + ATTENTION_OPS), ("kv_len", ATTENTION_OPS))
SCENARIO_KEYS = ("batch", "input_len", "output_len")
FLOPS_RTOL = 1e-6


@dataclass
class Trace:
    """Columnar op table plus metadata (model, scenario, seed, schema_version)."""

    columns: dict
    meta: dict = field(default_factory=dict)
    source: str | None = None      # the file it was read from, for provenance

    def __post_init__(self):
        self.meta.setdefault("schema_version", SCHEMA_VERSION)

    def __len__(self) -> int:
        return len(self.columns["op"]) if "op" in self.columns else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def row(self, i: int) -> dict:
        return {c: (self.columns[c][i].item() if hasattr(self.columns[c][i], "item") else self.columns[c][i])
                for c in COLUMNS}

    def select(self, mask) -> "Trace":
        return Trace({c: v[mask] for c, v in self.columns.items()}, dict(self.meta))

    @classmethod
    def from_rows(cls, rows: list[dict], meta: dict | None = None) -> "Trace":
        cols = {}
        for c, kind in COLUMNS.items():
            values = [r[c] for r in rows]
            cols[c] = np.array(values, dtype=np.int64 if kind == "int" else object) if values else \
                np.zeros(0, dtype=np.int64 if kind == "int" else object)
        t = cls(cols, dict(meta or {}))
        t.validate()
        return t

    def validate(self, source: str = "trace", first_line: int | None = None) -> None:
        """Raise TraceError (naming the column and first bad row) if the table is malformed.

        `first_line`: the file line of row 0 (CSV), so that messages name the line."""
        missing = [c for c in COLUMNS if c not in self.columns]
        if missing:
            raise TraceError(f"missing column(s): {', '.join(missing)}", source, missing[0])
        version = int(self.meta.get("schema_version", SCHEMA_VERSION))
        if version > SCHEMA_VERSION:
            raise TraceError(f"schema_version {version} is newer than this archsim reads ({SCHEMA_VERSION})",
                             source, "schema_version")
        n = len(self.columns["op"])
        for c, kind in COLUMNS.items():
            col = np.asarray(self.columns[c])
            if len(col) != n:
                raise TraceError(f"has {len(col)} rows, expected {n}", source, c)
            if kind == "int":
                try:
                    self.columns[c] = col.astype(np.int64)
                except (TypeError, ValueError):
                    raise TraceError("expected integers", source, c) from None
            elif col.dtype != object or not all(type(v) is str for v in col.tolist()):
                self.columns[c] = col.astype(str).astype(object)
        where = (lambda i: f"line {first_line + i}") if first_line is not None else (lambda i: f"row {i}")
        for c in NON_NEGATIVE:
            bad = np.nonzero(self.columns[c] < 0)[0]
            if len(bad):
                raise TraceError(f"negative value {self.columns[c][bad[0]]} in {where(bad[0])}", source, c)
        for c, outside in (("layer", "the layers"), ("expert", "the experts")):
            bad = np.nonzero(self.columns[c] < -1)[0]
            if len(bad):
                raise TraceError(f"{where(bad[0])}: {c} = {self.columns[c][bad[0]]}; expected an "
                                 f"index >= 0, or -1 for an op outside {outside}", source, c)
        for c, allowed in (("phase", PHASES), ("op", OPS)):
            unknown = set(self.columns[c].tolist()) - set(allowed)
            if unknown:
                first = next(i for i, v in enumerate(self.columns[c].tolist()) if v in unknown)
                raise TraceError(f"{where(first)}: {self.columns[c][first]!r} is not one of {', '.join(allowed)}",
                                 source, c)
        op, code = self.columns["op"], self._op_codes()
        for c, ops in POSITIVE:
            bad = self.columns[c] < 1
            if ops is not None:
                bad &= np.isin(code, [OPS.index(o) for o in ops])
            if bad.any():
                i = int(np.argmax(bad))
                applies = "" if ops is None else f" in a {op[i]} row"
                raise TraceError(f"{where(i)}: {c} = {self.columns[c][i]} must be at least 1{applies}", source, c)
        bad = self.columns["kv_heads"] > self.columns["heads"]
        if bad.any():
            i = int(np.argmax(bad))
            raise TraceError(f"{where(i)}: kv_heads = {self.columns['kv_heads'][i]} exceeds heads = "
                             f"{self.columns['heads'][i]}", source, "kv_heads")
        self._check_order(source, where)
        for c in ("dtype_w", "dtype_a"):
            for dtype in dict.fromkeys(self.columns[c].tolist()):
                try:
                    dtype_bits(dtype)
                except ConfigError:
                    i = self.columns[c].tolist().index(dtype)
                    floats = ", ".join(d for d in DTYPE_BITS if not d.startswith("int"))
                    raise TraceError(f"{where(i)}: unknown element type {dtype!r}; expected {floats} "
                                     f"or int1 .. int8", source, c) from None

    def _check_order(self, source, where) -> None:
        """Rows run in file order, and the prefill's end and each step's are read from them,
        so they must be in execution order: the prefill (step 0) before the decode, decode steps
        0, 1, 2, .. in turn, and within a step the layers in order (rows outside the layers,
        layer -1, only before the first layer's rows or after the last's)."""
        phase, step, layer = self.columns["phase"], self.columns["step"], self.columns["layer"]
        n = len(phase)
        if n == 0:
            return
        dec = phase == "decode"

        def bad(mask, why, col):
            i = int(np.argmax(mask))
            raise TraceError(f"{where(i)}: {why}; rows must be in execution order", source, col)

        if (dec[:-1] & ~dec[1:]).any():
            bad(np.r_[False, dec[:-1] & ~dec[1:]], "a prefill row after a decode row", "phase")
        if (~dec & (step != 0)).any():
            bad(~dec & (step != 0), f"a prefill row with step {int(step[np.argmax(~dec & (step != 0))])} "
                "(the prefill is step 0)", "step")
        if dec.any():
            ds = step[dec]
            jump = np.r_[ds[0] != 0, (ds[1:] != ds[:-1]) & (ds[1:] != ds[:-1] + 1)]
            if jump.any():
                k = int(np.argmax(jump))
                at = np.zeros(n, bool)
                at[np.flatnonzero(dec)[k]] = True
                prev = "none" if k == 0 else str(int(ds[k - 1]))
                bad(at, f"decode step {int(ds[k])} follows step {prev} (steps run 0, 1, 2, ..)", "step")
        # within a (phase, step) group: layers never go back, and -1 rows sit at its ends
        new_group = np.r_[True, (phase[1:] != phase[:-1]) | (step[1:] != step[:-1])]
        gid = np.cumsum(new_group) - 1
        inside = layer >= 0
        last_layer = np.maximum.accumulate(np.where(inside, layer, -1) + gid * (1 << 40)) - gid * (1 << 40)
        prev_last = np.r_[-1, last_layer[:-1]]
        prev_last[new_group] = -1
        back = inside & (layer < prev_last)
        if back.any():
            i = int(np.argmax(back))
            bad(back, f"layer {int(layer[i])} after layer {int(prev_last[i])} in the same step", "layer")
        # a -1 row between two layered rows of one group
        last_in = np.full(int(gid[-1]) + 1, -1)
        np.maximum.at(last_in, gid[inside], np.flatnonzero(inside))
        mid = ~inside & (prev_last >= 0) & (np.arange(n) < last_in[gid])
        if mid.any():
            bad(mid, "a row outside the layers (layer -1) between two layers' rows", "layer")

    def cached_kv_heads(self) -> int | None:
        """Heads the KV cache holds: the decode attention's KV heads (MLA's latent: 1), else
        the prefill's; None without attention rows. MLA caches one latent (its kv_a_proj
        row) whatever heads its prefill attention, which is not absorbed, names."""
        if (self.columns["name"] == "kv_a_proj").any():
            return 1
        qk = self.columns["op"] == "attention_qk"
        for sel in (qk & (self.columns["phase"] == "decode"), qk):
            if sel.any():
                return int(self.columns["kv_heads"][sel].max())
        return None

    def step_weight_bytes(self, gathers: bool = True) -> float:
        """The weight bytes one step reads (a step passes every layer once): the most over the
        first step of each phase. `gathers=False` leaves out embedding rows, whose bytes are
        the rows gathered (one per token, repeats included), not a part of the table."""
        out = 0.0
        keep = np.ones(len(self), bool) if gathers else self.columns["op"] != "embedding"
        for ph in dict.fromkeys(self.columns["phase"].tolist()):
            sel = self.columns["phase"] == ph
            sel &= self.columns["step"] == self.columns["step"][sel].min()
            out = max(out, float(self.columns["bytes_w"][sel & keep].sum()))
        return out

    def moe_experts(self, source: str = "trace") -> int:
        """Routed experts per MoE layer (0 for a dense model): the meta's `experts`, else one
        more than the highest expert index the rows name (a trace need not route to all)."""
        seen = int(self.columns["expert"].max()) + 1 if len(self) else 0
        if "experts" not in self.meta or self.meta["experts"] is None:
            return max(seen, 0)
        v = self.meta["experts"]
        try:
            ok = not isinstance(v, bool) and int(v) == float(v) >= max(seen, 1)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise TraceError(f"experts must be an integer >= {max(seen, 1)} (the rows name expert "
                             f"{seen - 1}), got {v!r}" if seen > 0 else
                             f"experts must be a positive integer, got {v!r}", source, "meta.experts")
        return int(v)

    def check_meta_weights(self, source: str = "trace") -> None:
        """The meta line's weights_bytes (what the capacity check uses) must cover what the
        rows read in one step, or a model too big for the machine would pass it."""
        if "weights_bytes" not in self.meta or not len(self):
            return
        weights, step = float(self.meta["weights_bytes"]), self.step_weight_bytes(gathers=False)
        if step > weights * (1 + 1e-9):
            raise TraceError(f"weights_bytes {weights:.6g} is less than the {step:.6g} bytes of "
                             "weights one step of the rows reads", source, "meta.weights_bytes")

    def _op_codes(self) -> np.ndarray:
        """The op column as indices into OPS (integer compares are far faster than string ones)."""
        index = {o: i for i, o in enumerate(OPS)}
        return np.array([index[o] for o in self.columns["op"].tolist()], dtype=np.int8)

    def check_flops(self, source: str = "trace", first_line: int | None = None) -> None:
        """Raise TraceError if a row's flops contradict its shape: a matmul row does 2*m*n*k
        per head (plus up to m*n per head for a bias), an attention row at most
        2*batch*heads*m*n*k (the full score matrix; causal prefill counts fewer).

        Trace files are held to this; traces built in code may give a component its own cost."""
        c = {k: self.columns[k].astype(np.float64) for k in ("batch", "m", "n", "k", "heads", "flops")}
        op, code = self.columns["op"], self._op_codes()
        mm = np.isin(code, [OPS.index(o) for o in MATMUL_OPS])
        att = np.isin(code, [OPS.index(o) for o in ATTENTION_OPS])
        dense = 2 * c["m"] * c["n"] * c["k"] * c["heads"]
        low = np.where(mm, dense, 0.0)
        high = np.where(mm, dense + c["m"] * c["n"] * c["heads"], np.where(att, dense * c["batch"], np.inf))
        bad = (c["flops"] < low * (1 - FLOPS_RTOL)) | (c["flops"] > high * (1 + FLOPS_RTOL))
        if bad.any():
            i = int(np.argmax(bad))
            where = f"line {first_line + i}" if first_line is not None else f"row {i}"
            expect = (f"2*m*n*k*heads = {low[i]:.6g} (up to {high[i]:.6g} with a bias)" if mm[i] else
                      f"at most 2*batch*heads*m*n*k = {high[i]:.6g}")
            raise TraceError(f"{where}: flops = {self.columns['flops'][i]} does not match the {op[i]} shape "
                             f"(m={self.columns['m'][i]}, n={self.columns['n'][i]}, k={self.columns['k'][i]}): "
                             f"expected {expect}", source, "flops")

    def scenario(self, source: str = "trace") -> dict:
        """batch, input_len and output_len of the run the trace records: from the meta, else
        from the rows as the trace builder writes them (None where neither tells).

        Rows: batch is the batch column; input_len the query tokens (m) of the prefill
        attention_qk rows, or, without a prefill, kv_len - step - 1 of the decode ones;
        output_len the number of decode steps."""
        if not len(self):
            raise TraceError("has no op rows: nothing to simulate", source)
        phase, op = self.columns["phase"], self.columns["op"]

        def one(values):
            values = np.unique(values)
            return int(values[0]) if len(values) == 1 else None
        pre, dec = phase == "prefill", phase == "decode"
        qk = op == "attention_qk"
        batches = np.unique(self.columns["batch"])
        if len(batches) > 1:
            i = int(np.argmax(self.columns["batch"] != self.columns["batch"][0]))
            raise TraceError(f"row {i} has batch {int(self.columns['batch'][i])}, row 0 "
                             f"{int(self.columns['batch'][0])}: a run has one batch", source, "batch")
        tied = self.meta.get("tied_embeddings")
        if tied is not None and not isinstance(tied, bool):
            raise TraceError(f"must be true or false, got {tied!r}", source, "meta.tied_embeddings")
        if pre.any():
            input_len = one(self.columns["m"][pre & qk])
        else:
            sel = dec & qk
            input_len = one(self.columns["kv_len"][sel] - self.columns["step"][sel] - 1)
        rows = {"batch": one(self.columns["batch"]), "input_len": input_len,
                "output_len": len(np.unique(self.columns["step"][dec]))}
        what = {"batch": "the batch column", "input_len": "the attention_qk rows",
                "output_len": "the decode steps"}
        out = {}
        for key in SCENARIO_KEYS:
            if key not in self.meta:
                out[key] = rows[key]
                continue
            v, lo = self.meta[key], 1 if key == "batch" else 0
            try:
                ok = not isinstance(v, bool) and int(v) == float(v) >= lo
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise TraceError(f"{key} must be an integer >= {lo}, got {v!r}", source, f"meta.{key}")
            v = int(v)
            if rows[key] is not None and rows[key] != v:
                raise TraceError(f"{key} = {v} disagrees with the rows ({what[key]} say {rows[key]})",
                                 source, f"meta.{key}")
            out[key] = v
        return out

    # --- totals used by results and tests ----------------------------------------------
    def total(self, column: str, phase: str | None = None) -> int:
        col = self.columns[column]
        if phase is not None:
            col = col[self.columns["phase"] == phase]
        return int(np.sum(col))

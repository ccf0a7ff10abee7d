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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from archsim.errors import TraceError

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


@dataclass
class Trace:
    """Columnar op table plus metadata (model, scenario, seed, schema_version)."""

    columns: dict
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.meta.setdefault("schema_version", SCHEMA_VERSION)

    def __len__(self) -> int:
        return len(self.columns["op"]) if "op" in self.columns else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def row(self, i: int) -> dict:
        return {c: (self.columns[c][i].item() if hasattr(self.columns[c][i], "item") else self.columns[c][i])
                for c in COLUMNS}

    def rows(self):
        """Every row as a dict of Python values (columns converted once, not per cell)."""
        names = list(COLUMNS)
        for values in zip(*(self.columns[c].tolist() for c in names)):
            yield dict(zip(names, values))

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

    def validate(self, source: str = "trace") -> None:
        """Raise TraceError (naming the column and first bad row) if the table is malformed."""
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
        for c in NON_NEGATIVE:
            bad = np.nonzero(self.columns[c] < 0)[0]
            if len(bad):
                raise TraceError(f"negative value {self.columns[c][bad[0]]} in row {bad[0]}", source, c)
        for c, allowed in (("phase", PHASES), ("op", OPS)):
            unknown = set(self.columns[c].tolist()) - set(allowed)
            if unknown:
                first = next(i for i, v in enumerate(self.columns[c].tolist()) if v in unknown)
                raise TraceError(f"row {first}: {self.columns[c][first]!r} is not one of {', '.join(allowed)}",
                                 source, c)

    # --- totals used by results and tests ----------------------------------------------
    def total(self, column: str, phase: str | None = None) -> int:
        col = self.columns[column]
        if phase is not None:
            col = col[self.columns["phase"] == phase]
        return int(np.sum(col))

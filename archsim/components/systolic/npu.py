"""`systolic_npu`: a rows x cols systolic PE array with SRAM buffers and a vector unit.

Matrix jobs (gemm, gemv, lm_head, attention_qk, attention_av, moe_gate) run on the array
through the cycle-level kernel (kernel.simulate_gemm); `fidelity='analytic'` uses the
closed form. Element-wise jobs (softmax, norm, activation, rope, elementwise, embedding) run
on the vector unit. The NPU holds no model state: operands arrive from whatever memory the
mapping names (its own jobs), so the array's DRAM interface is unlimited by default
(`dram_words_per_cycle: 0`); set it to study an NPU alone, as SCALE-Sim does.

Job shapes (out[m, n] = A[m, k] x W[k, n], repeated `batch` times back to back):
  gemm/gemv/lm_head/moe_gate: m, k, n as in the trace; batch = independent instances.
  attention_qk / attention_av: per (sequence, head) instance: m query tokens, k = head_dim
  (qk) or kv_len (av), n = kv_len (qk) or head_dim (av); batch = sequences x heads.
Element types: `macs_per_pe` gives MACs one PE retires per cycle per dtype (an INT8
dot-product PE takes several); the K dimension is shortened by that factor. The MACs run in
the activations' type when it is floating point (w8a16: fp16), else in integers as wide as
the wider operand (`mac_dtype`).
"""

from __future__ import annotations

import math

from archsim.components.base import Component, Cost, Job, register
from archsim.components.systolic.kernel import (DF_CODE, DATAFLOWS, MAX_SIDE, closed_form_cycles,
                                                fold_counts, map_gemm, simulate_gemm)
from archsim.components.systolic.vector import vector_cycles
from archsim.config.schema import Field
from archsim.dtypes import DTYPE_BITS
from archsim.errors import ConfigError

MATRIX_KINDS = ("gemm", "gemv", "lm_head", "attention_qk", "attention_av", "moe_gate")
VECTOR_KINDS = ("softmax", "norm", "activation", "rope", "elementwise", "embedding")

ELEM_BYTES = {**{k: v / 8 for k, v in DTYPE_BITS.items()}, **{f"int{b}": b / 8 for b in range(8, 0, -1)}}


def elem_bytes(dtype: str) -> float:
    return ELEM_BYTES.get(dtype, 2)


@register
class SystolicNPU(Component):
    """A systolic PE array NPU (os/ws/is dataflows) with SRAM buffers and a vector unit."""

    type_name = "systolic_npu"
    schema = {
        "rows": Field("int", 128, "PE array rows", max=MAX_SIDE),
        "cols": Field("int", 128, "PE array columns", max=MAX_SIDE),
        "dataflow": Field("str", "os", "os | ws | is | auto (fewest cycles per job)",
                          choices=DATAFLOWS + ("auto",)),
        "clock": Field("frequency", 1e9, "array and vector-unit clock"),
        "macs_per_pe": Field("dict", {"int8": 1, "fp16": 1, "bf16": 1, "fp32": 1},
                             "MACs one PE retires per cycle, per element type of the weights"),
        "ifmap_sram": Field("bytes", 512 * 1024.0, "input (A) buffer, double-buffered"),
        "filter_sram": Field("bytes", 512 * 1024.0, "weight (W) buffer, double-buffered"),
        "ofmap_sram": Field("bytes", 256 * 1024.0, "output buffer (reference: outputs drain without stalls, as SCALE-Sim's)"),
        "dram_words_per_cycle": Field("float", 0.0, "array-side DRAM interface, values per cycle (0 = unlimited)", min=0),
        "vector_lanes": Field("int", 16, "SIMD lanes of the vector / special-function unit"),
        "vector_latency": Field("int", 8, "vector pipeline depth (cycles)", min=0),
        "job_overhead": Field("int", 0, "fixed cycles per job (instruction issue, sync)", min=0),
        # Defaults: Horowitz, "Computing's energy problem", ISSCC 2014 (45 nm): 8-bit multiply
        # 0.2 pJ + add 0.03 pJ; FP16 multiply 1.1 pJ + add 0.4 pJ; 64-bit read of an 8 KB
        # SRAM 10 pJ (1.25 pJ/B); a vector op taken as one FP16 add (0.4 pJ).
        "energy": {
            "mac_int8": Field("energy", 0.23e-12, "one INT8 MAC (J)", min=0),
            "mac_fp16": Field("energy", 1.5e-12, "one FP16/BF16 MAC (J)", min=0),
            "sram_byte": Field("energy", 1.25e-12, "one SRAM byte read or written (J)", min=0),
            "vector_op": Field("energy", 0.4e-12, "one vector-unit operation (J)", min=0),
        },
        "static_power": Field("power", 0.0, "leakage and clock while the system runs", min=0),
    }

    def __init__(self, name, params, file=None):
        super().__init__(name, params, file)
        if not params["macs_per_pe"]:
            raise ConfigError("needs the MACs per PE of at least one element type", file, f"{name}.macs_per_pe")
        for dt, v in params["macs_per_pe"].items():
            if dt not in ELEM_BYTES:
                raise ConfigError(f"unknown element type {dt!r}; known: {', '.join(ELEM_BYTES)}", file,
                                  f"{name}.macs_per_pe.{dt}")
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"must be a positive integer, got {v!r}", file, f"{name}.macs_per_pe.{dt}")
        bw = params["dram_words_per_cycle"]
        if bw != int(bw):
            # the array's DRAM interface moves whole words each cycle
            raise ConfigError(f"must be a whole number of words per cycle (0 = unlimited), got {bw}",
                              file, f"{name}.dram_words_per_cycle")
        self.rows = params["rows"]
        self.cols = params["cols"]

    def roofs(self) -> tuple[list, list]:
        # a MAC is two operations
        peak = 2.0 * self.rows * self.cols * self.clock_hz
        return [], [(f"{self.name}.{t}", peak * v) for t, v in self.params["macs_per_pe"].items()]

    @property
    def static_power_w(self) -> float:
        return self.params["static_power"]

    # --- the array ------------------------------------------------------------------------
    def pe_lanes(self, dtype: str) -> int:
        table = self.params["macs_per_pe"]
        return int(table.get(dtype, table.get("fp16", 1)))

    def mac_dtype(self, dtype_w: str, dtype_a: str | None = None) -> str:
        """The type the MACs run in. With floating-point activations, theirs: narrower weights
        are widened as they enter the array, so w8a16 and w4a16 run at the fp16 rate. With
        integer activations, integer MACs as wide as the wider operand, at the rate
        `macs_per_pe` gives that width, else at int8's (int4 weights on int8 PEs)."""
        a = dtype_a or dtype_w
        if not a.startswith("int"):
            return a
        if not dtype_w.startswith("int"):
            return dtype_w
        width = f"int{int(round(8 * max(elem_bytes(dtype_w), elem_bytes(a))))}"
        return width if width in self.params["macs_per_pe"] else "int8"

    def choose_dataflow(self, m: int, k: int, n: int, lanes: int) -> str:
        df = self.params["dataflow"]
        if df != "auto":
            return df
        return min(DATAFLOWS, key=lambda d: (closed_form_cycles(d, self.rows, self.cols, m, k, n, lanes), d))

    def gemm(self, m: int, k: int, n: int, dtype: str = "int8", fidelity: str = "cycle",
             dataflow: str | None = None, dtype_a: str | None = None) -> dict:
        """One GEMM instance on the array: cycles and counters. `dtype` is the weights' type,
        `dtype_a` the activations' (default: the same)."""
        dtype_a = dtype_a or dtype
        lanes = self.pe_lanes(self.mac_dtype(dtype, dtype_a))
        df = dataflow or self.choose_dataflow(m, k, n, lanes)
        sr, sc, t = map_gemm(df, m, k, n, lanes)
        macs = m * k * n
        ba, bw_ = elem_bytes(dtype_a), elem_bytes(dtype)
        if fidelity == "analytic":
            cyc = closed_form_cycles(df, self.rows, self.cols, m, k, n, lanes) + 1
            return {"dataflow": df, "cycles": cyc, "macs": macs,
                    "sram_bytes": self._sram_bytes(df, m, k, n, lanes, ba, bw_), "stall_cycles": 0}
        half_a = int(self.params["ifmap_sram"] / 2 / elem_bytes(dtype_a))
        half_w = int(self.params["filter_sram"] / 2 / elem_bytes(dtype))
        for key, half, dt in (("ifmap_sram", half_a, dtype_a), ("filter_sram", half_w, dtype)):
            if half < 1:   # a buffer half must hold at least one value to stage a tile
                raise ConfigError(f"{self.params[key]:g} B holds no {dt} value in each half of its "
                                  f"double buffer; at least {2 * elem_bytes(dt):g} B needed", self.file,
                                  f"{self.name}.{key}")
        bw = self.params["dram_words_per_cycle"]
        out = simulate_gemm(self.rows, self.cols, DF_CODE[df], sr, sc, t, int(math.ceil(bw)), half_a, half_w,
                            lanes)
        return {"dataflow": df, "cycles": int(out[1]), "macs": macs,
                "sram_bytes": (int(out[4]) + int(out[6])) * ba + int(out[5]) * bw_,
                "stall_cycles": int(out[9]),
                "scalesim_total": int(out[0]), "folds": int(out[2])}

    def _sram_bytes(self, df: str, m: int, k: int, n: int, lanes: int, ba: float, bw: float) -> float:
        """SRAM traffic of the folds, in closed form (what the cycle kernel counts): the
        streamed operand is re-read once per fold of the other side, the stationary one read
        once, partial sums written once per fold along K (K in words of `lanes` values)."""
        sr, sc, _ = map_gemm(df, m, k, n, lanes)
        fr, fc = fold_counts(self.rows, self.cols, sr, sc)
        kv = -(-k // lanes) * lanes            # K as the words the PEs read
        if df == "os":
            a, w, out = fc * m * kv, fr * kv * n, m * n
        elif df == "ws":
            a, w, out = fc * m * kv, kv * n, fr * m * n
        else:
            a, w, out = kv * m, fc * n * kv, fr * m * n
        return (a + out) * ba + w * bw

    # --- the component interface ------------------------------------------------------------
    def cost(self, job: Job, fidelity: str = "cycle") -> Cost:
        clock = self.clock_hz
        e = self.params["energy"]
        over = self.params["job_overhead"]
        if job.kind in MATRIX_KINDS:
            if min(job.m, job.k, job.n) <= 0:
                return Cost(0.0, 0)
            r = self.gemm(job.m, job.k, job.n, job.dtype_w, fidelity, dtype_a=job.dtype_a)
            reps = max(1, job.batch)
            cycles = r["cycles"] * reps + over
            integer = self.mac_dtype(job.dtype_w, job.dtype_a).startswith("int")
            mac_e = e["mac_int8"] if integer else e["mac_fp16"]
            energy = reps * (r["macs"] * mac_e + r["sram_bytes"] * e["sram_byte"])
            return Cost(cycles / clock, cycles, energy * 1e12, job.bytes_read + job.bytes_written,
                        {"dataflow": r["dataflow"], "macs": r["macs"] * reps, "array_cycles": r["cycles"] * reps})
        if job.kind in VECTOR_KINDS:
            ops = job.flops if job.flops > 0 else (job.bytes_read + job.bytes_written)
            cycles = vector_cycles(ops, self.params["vector_lanes"], self.params["vector_latency"]) + over
            energy = ops * e["vector_op"] + (job.bytes_read + job.bytes_written) * e["sram_byte"]
            return Cost(cycles / clock, cycles, energy * 1e12, job.bytes_read + job.bytes_written,
                        {"vector_ops": ops})
        raise self.unsupported(job)

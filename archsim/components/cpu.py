"""A multicore CPU as a calibrated analytical baseline (type: cpu).

    seconds = op_overhead + max(compute, memory)
    compute = FLOPs / (active_cores * flops_per_cycle[type] * clock * efficiency)
    memory  = latency + bytes / bandwidth(threads)
    bandwidth(threads) = min(stream_bandwidth,
                             active_cores * outstanding_misses * line / latency)   (Little's law)

`active_cores = min(threads, cores)`: SMT threads (up to `threads_per_core` a core) share a
core's SIMD units and its miss buffers, so they add neither FLOPs nor bytes in flight. A GEMV
is therefore memory-bound with a per-thread bandwidth limit (one thread reaches only what its
core's fill buffers keep in flight), a GEMM compute-bound at the measured library
efficiency. Peak rates per type come from the cores' SIMD width and FMA pipes at the all-core
SIMD clock; a type without native arithmetic widens along roofline_model.FALLBACK (fp16 on a
core without fp16 FMAs runs as fp32). The `cycle` fidelity equals `analytic`. See docs/baselines.md.
"""

from __future__ import annotations

from archsim.components import roofline_model as rm
from archsim.components.base import Component, Cost, Job, register
from archsim.config.schema import Field
from archsim.errors import ConfigError

CPU_TYPES = ("fp32", "fp16", "bf16", "int8")
KINDS = ("gemm", "gemv", "lm_head", "moe_gate", "attention_qk", "attention_av", "softmax", "norm",
         "activation", "rope", "elementwise", "embedding", "transfer")


@register
class CPU(Component):
    type_name = "cpu"
    schema = {
        "cores": Field("int", doc="physical cores"),
        "threads": Field("int", None, "worker threads, 1 to cores x threads_per_core (default: one per core)",
                         nullable=True),
        "threads_per_core": Field("int", 1, "hardware threads per core (SMT); the extra threads add nothing"),
        "clock": Field("frequency", doc="all-core clock under SIMD load (cycles are counted at it)"),
        "flops_per_cycle": {t: Field("float", None, f"{t} operations per cycle per core "
                                     "(null: no native arithmetic)", nullable=True, gt=0) for t in CPU_TYPES},
        "matmul_efficiency": Field("float", doc="GEMM throughput / peak of a tuned BLAS", gt=0, max=1),
        "cache": {
            "l1d": Field("bytes", doc="L1 data cache per core (reference: caches are not modelled; operands stream at stream_bandwidth)"),
            "l2": Field("bytes", doc="L2 per core (reference, as l1d)"),
            "l3": Field("bytes", doc="last-level cache, shared (reference, as l1d)"),
        },
        "memory": Field("bytes", doc="DRAM capacity"),
        "memory_channels": Field("int", doc="DRAM channels (reference: memory_bandwidth and stream_bandwidth give the rates)"),
        "memory_bandwidth": Field("bandwidth", doc="peak DRAM bandwidth (channels x rate)"),
        "stream_bandwidth": Field("bandwidth", doc="STREAM-measured sustained bandwidth"),
        "memory_latency": Field("time", doc="idle DRAM load latency"),
        "outstanding_misses": Field("int", doc="cache-line misses one core keeps in flight"),
        "line_bytes": Field("int", 64, "cache line size"),
        "op_overhead": Field("time", 0.0, "per-op thread synchronisation cost", min=0),
        "tdp": Field("power", doc="package power limit (checked: static_power must be below it)"),
        "static_power": Field("power", doc="idle package power, charged over wall time"),
        "energy": {
            "flop": Field("energy", doc="dynamic energy per fp32 SIMD FLOP"),
            "dram_byte": Field("energy", doc="dynamic energy per DRAM byte"),
        },
    }

    def __init__(self, name, params, file=None):
        super().__init__(name, params, file)
        p = params
        if p["flops_per_cycle"]["fp32"] is None:
            raise ConfigError("a CPU needs an fp32 rate", file, f"{name}.flops_per_cycle.fp32")
        if p["stream_bandwidth"] > p["memory_bandwidth"]:
            raise ConfigError("the sustained bandwidth exceeds the peak memory_bandwidth",
                              file, f"{name}.stream_bandwidth")
        if p["static_power"] >= p["tdp"]:
            raise ConfigError("static power must be below the TDP", file, f"{name}.static_power")
        threads = p["threads"] if p["threads"] is not None else p["cores"]
        # more threads than hardware threads would be silently clamped to the cores
        hw = p["cores"] * p["threads_per_core"]
        if threads > hw:
            raise ConfigError(f"{threads} threads exceed the {hw} hardware threads ({p['cores']} cores x "
                              f"{p['threads_per_core']} threads_per_core); use 1 to {hw}", file, f"{name}.threads")
        self.active_cores = min(threads, p["cores"])
        self.rates = {t: (v * self.active_cores * p["clock"] if v else None)
                      for t, v in p["flops_per_cycle"].items()}

    @property
    def memory_bytes(self) -> float:
        return self.params["memory"]

    def roofs(self) -> tuple[list, list]:
        return ([(f"{self.name}.memory_bandwidth", self.params["memory_bandwidth"])],
                [(f"{self.name}.{t}", v) for t, v in self.rates.items() if v])

    @property
    def static_power_w(self) -> float:
        return self.params["static_power"]

    def achievable_dram_bandwidth(self, nbytes: float) -> float:
        """Bandwidth a stream of `nbytes` achieves with this many threads (DRAM model plug-in)."""
        p = self.params
        inflight = self.active_cores * p["outstanding_misses"] * p["line_bytes"]
        sustained = min(p["stream_bandwidth"], rm.inflight_bandwidth(inflight, p["memory_latency"]))
        return rm.achievable_bandwidth(nbytes, p["memory_latency"], sustained)

    def cost(self, job: Job, fidelity: str = "cycle") -> Cost:
        if fidelity not in ("cycle", "analytic"):
            raise ValueError(f"unknown fidelity {fidelity!r}")
        if job.kind not in KINDS:
            raise self.unsupported(job)
        p = self.params
        flops = float(job.flops or 2.0 * job.m * job.n * job.k * max(job.batch, 1))
        dtype = rm.resolve_dtype(rm.compute_dtype(job.dtype_w, job.dtype_a), self.rates)
        rate = self.rates[dtype] * p["matmul_efficiency"]
        compute = flops / rate
        nbytes = float(job.bytes_read + job.bytes_written)
        memory = nbytes / self.achievable_dram_bandwidth(nbytes) if nbytes > 0 else 0.0
        overhead = p["op_overhead"]
        seconds = overhead + max(compute, memory)
        # each type draws the same power at its own peak rate
        flop_e = p["energy"]["flop"] * self.rates["fp32"] / self.rates[dtype]
        energy = flops * flop_e + nbytes * p["energy"]["dram_byte"]
        return Cost(seconds, int(round(seconds * p["clock"])), energy * 1e12, nbytes,
                    {"compute": compute, "memory": memory, "overhead": overhead})

"""A GPU as a calibrated analytical baseline (type: gpu).

Every job is one kernel (or, with `fused`, the continuation of the previous one):

    seconds = launch + max(compute, memory)                   (software: cuda_graphs)
    seconds = max(host_interval, launch + max(compute, memory))   (software: eager)
    memory  = bytes / achievable_dram_bandwidth(bytes)   (Little's law: latency + bytes/STREAM)
    compute = tensor-core GEMM with tile and wave quantisation (roofline_model), or the CUDA
              cores for skinny matmuls, elementwise work and softmax (exp on the SFUs)

Peak rates are datasheet figures; `matmul_efficiency` (best-shape cuBLAS over peak: clocks
under the power limit, issue overheads), `stream_bandwidth`, `dram_latency` and
`l2_bandwidth` come from published measurements or whitepapers named in the arch YAML.
This is a calibrated closed-form baseline, not a simulation of the SMs.
`achievable_dram_bandwidth` is where the cycle-level DRAM model plugs in: at `cycle` fidelity
a part with a `dram:` block takes its sustained rate from it, else (and at `analytic`) from
`stream_bandwidth`. Energy: pJ per FLOP by unit and type, pJ per DRAM byte, and a static
(idle) power charged over wall time. `software` names the stack that launches the kernels
and sets the per-kernel dead time (`launch_overhead`) and, for eager launching, the host's
issue interval (`host_interval`) from published measurements (SOFTWARE_PRESETS); either may
be set explicitly. `count` identical GPUs run every job in lockstep
(tensor-parallel shards): time is one GPU's, energy, bytes, memory and static power are all
of them. See docs/baselines.md.
"""

from __future__ import annotations

from archsim.components import roofline_model as rm
from archsim.components.base import Component, Cost, Job, register
from archsim.config.schema import Field
from archsim.errors import ConfigError

PEAK_TYPES = ("fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4")
MATMUL_KINDS = ("gemm", "gemv", "lm_head", "moe_gate")
ATTENTION_KINDS = ("attention_qk", "attention_av")
STREAM_KINDS = ("norm", "activation", "rope", "elementwise", "embedding", "transfer")
# query rows a flash-attention CTA owns (FlashAttention-2 forward, head dim 64-128)
ATTENTION_Q_TILE = 128
# smallest KV chunk a split-KV decode CTA is given (FlashDecoding / FlashInfer partition sizes)
MIN_KV_CHUNK = 256

# Per-kernel costs of the software stack that launches the kernels (docs/baselines.md).
# launch_overhead: GPU time per kernel in which no useful work is done (grid launch, block
#   setup and teardown, the gap to the next kernel). Hazy Research, "Look Ma, No Bubbles!"
#   (2025), measured on an H100: ~1.3 us per kernel replayed from a CUDA graph, ~2.1 us per
#   kernel launched on a stream. Carried over to the other parts (no per-part measurement).
# host_interval: host time to issue one modelled kernel when the framework launches eagerly
#   from Python; the GPU idles when its kernels are shorter. Derived from PyTorch's gpt-fast
#   post (2023): Llama-2-7B fp16 batch 1 on an A100-80GB runs at 25.5 tokens/s uncompiled
#   ("heavily CPU overhead bound"): 39.2 ms per step over the 355 kernels archsim models for
#   that step; all but lm_head (0.15 ms) are shorter than the interval, so it is
#   (39.2 - 0.15) ms / 354 = 110 us. It stands for the several PyTorch ops one modelled
#   kernel is in eager code, on that host's CPU.
SOFTWARE_PRESETS = {
    "cuda_graphs": {"launch_overhead": 1.3e-6, "host_interval": 0.0},
    "eager": {"launch_overhead": 2.1e-6, "host_interval": 110e-6},
}


def peak_schema(doc: str) -> dict:
    return {t: Field("flops", None, f"{doc} {t} (null: no units for this type)", nullable=True)
            for t in PEAK_TYPES}


@register
class GPU(Component):
    type_name = "gpu"
    schema = {
        "count": Field("int", 1, "identical GPUs running every job in lockstep (tensor-parallel shards)"),
        "sms": Field("int", doc="streaming multiprocessors"),
        "clock": Field("frequency", doc="boost clock (cycles are counted at it)"),
        "peak": peak_schema("dense peak rate:"),
        "matmul_efficiency": Field("float", doc="best-shape GEMM throughput / peak (measured)", gt=0, max=1),
        "sfu_per_sm_per_clock": Field("int", 16, "exp2 results per SM per clock (special-function units)"),
        "memory": Field("bytes", doc="device memory capacity per GPU"),
        "memory_bandwidth": Field("bandwidth", doc="peak DRAM bandwidth (datasheet)"),
        "stream_bandwidth": Field("bandwidth", doc="sustained DRAM bandwidth (measured)"),
        "dram_latency": Field("time", doc="load-to-use latency of a DRAM access"),
        "dram": {
            # at cycle fidelity, sustained bandwidth comes from the cycle-level DRAM model
            "standard": Field("str", None, "DRAM standard (archsim dram STANDARD); null: use "
                              "stream_bandwidth", nullable=True),
            "channels": Field("int", 1, "independent channels (stacks x channels per stack)"),
            "tck_ps": Field("float", None, "command clock period override, ps (a part clocked "
                            "below the standard's data rate)", nullable=True, gt=0),
            "mapping": Field("str", "RoCoBaRaBgCh", "address mapping", choices=("RoBaRaCoCh", "RoCoBaRaBgCh")),
        },
        "l2_bandwidth": Field("bandwidth", doc="L2-to-SM bandwidth"),
        "software": Field("str", "cuda_graphs", "stack launching the kernels: cuda_graphs (replayed "
                          "graph) or eager (Python launches each kernel)", choices=tuple(SOFTWARE_PRESETS)),
        "launch_overhead": Field("time", None, "GPU dead time per kernel (null: the software preset)",
                                 nullable=True, min=0.0),
        "host_interval": Field("time", None, "host time to issue one kernel; the GPU waits for it "
                               "(null: the software preset)", nullable=True, min=0.0),
        "tdp": Field("power", doc="board power limit (checked: static_power must be below it)"),
        "static_power": Field("power", doc="idle board power, charged over wall time"),
        "energy": {
            "tensor_flop": Field("energy", doc="dynamic energy per fp16 tensor FLOP"),
            "vector_flop": Field("energy", doc="dynamic energy per fp32 CUDA-core FLOP"),
            "dram_byte": Field("energy", doc="dynamic energy per DRAM byte"),
        },
        "interconnect": {
            "nvlink": Field("bandwidth", None, "NVLink bandwidth, both directions (informational; "
                            "collectives run on a `link` component)", nullable=True),
            "pcie": Field("bandwidth", None, "host link bandwidth, both directions (informational; host transfers run on a `link` component)", nullable=True),
        },
    }

    def __init__(self, name, params, file=None):
        super().__init__(name, params, file)
        p = params
        if p["peak"]["fp32"] is None:
            raise ConfigError("a GPU needs an fp32 peak (its CUDA cores)", file, f"{name}.peak.fp32")
        if p["stream_bandwidth"] > p["memory_bandwidth"]:
            raise ConfigError("the sustained bandwidth exceeds the peak memory_bandwidth",
                              file, f"{name}.stream_bandwidth")
        if p["dram"]["standard"]:
            from archsim.components.dram.api import check_dram_params
            check_dram_params(p["dram"], None, file, f"{name}.dram")
        self._dram_peak_checked = False
        if p["static_power"] >= p["tdp"]:
            raise ConfigError("static power must be below the TDP", file, f"{name}.static_power")
        preset = SOFTWARE_PRESETS[p["software"]]
        for key in ("launch_overhead", "host_interval"):
            if p[key] is None:
                p[key] = preset[key]
        self._fidelity = "cycle"
        self.peaks = dict(p["peak"])
        self.count = p["count"]
        self._sfu_rate = p["sms"] * p["sfu_per_sm_per_clock"] * p["clock"]

    # --- public interface -----------------------------------------------------------------
    @property
    def memory_bytes(self) -> float:
        return self.params["memory"] * self.count

    @property
    def static_power_w(self) -> float:
        return self.params["static_power"] * self.count

    def sustained_bandwidth(self, nbytes: float) -> float:
        """Steady-state DRAM bandwidth for a stream of `nbytes`: the cycle-level DRAM model at
        cycle fidelity when `dram.standard` is set, else the measured `stream_bandwidth`."""
        p = self.params
        d = p["dram"]
        if self._fidelity != "cycle" or not d["standard"]:
            return p["stream_bandwidth"]
        from archsim.components.dram.api import check_dram_params, steady_cost
        if not self._dram_peak_checked:
            # the model replaces the measured bandwidth here: it may not outrun the declared peak
            # (a sweep that lowers memory_bandwidth alone would otherwise change nothing)
            check_dram_params(d, p["memory_bandwidth"], self.file, f"{self.name}.dram")
            self._dram_peak_checked = True
        overrides = (("tCK_ps", d["tck_ps"]),) if d["tck_ps"] else ()
        # the controller's steady state (refreshes included); a kernel's first bytes wait one
        # DRAM latency on top (achievable_dram_bandwidth)
        return steady_cost(d["standard"], d["channels"], "seq", overrides=overrides, mapping=d["mapping"])[0]

    def achievable_dram_bandwidth(self, nbytes: float) -> float:
        """Bandwidth a kernel streaming `nbytes` achieves: one DRAM latency, then the sustained rate."""
        p = self.params
        return rm.achievable_bandwidth(nbytes, p["dram_latency"], self.sustained_bandwidth(nbytes))

    def cost(self, job: Job, fidelity: str = "cycle") -> Cost:
        if fidelity not in ("cycle", "analytic"):
            raise ValueError(f"unknown fidelity {fidelity!r}")
        self._fidelity = fidelity
        kind = job.kind
        if kind == "elementwise" and not (job.flops or job.bytes_read or job.bytes_written or job.m or job.n):
            # a join point of a mapping's stages: no kernel runs
            return Cost(0.0, 0)
        extra_s, extra_bytes = 0.0, 0.0
        if kind in MATMUL_KINDS:
            compute, flop_j = self._matmul(job)
        elif kind in ATTENTION_KINDS:
            compute, flop_j = self._attention(job)
            if kind == "attention_qk" and not job.get("fused"):
                extra_s, extra_bytes = self._split_kv_merge(job)
        elif kind == "softmax":
            compute, flop_j = self._softmax(job)
        elif kind in STREAM_KINDS:
            compute, flop_j = self._vector(job.flops)
        else:
            raise self.unsupported(job)
        nbytes = float(job.bytes_read + job.bytes_written)
        memory = nbytes / self.achievable_dram_bandwidth(nbytes) if nbytes > 0 else 0.0
        busy = max(compute, memory) + extra_s
        if job.get("fused"):  # a continuation of the kernel before it: no launch, no host issue
            seconds = busy
        else:
            seconds = max(self.params["host_interval"], self.params["launch_overhead"] + busy)
        overhead = seconds - busy
        nbytes += extra_bytes
        energy_j = flop_j + nbytes * self.params["energy"]["dram_byte"]
        return Cost(seconds, int(round(seconds * self.params["clock"])), energy_j * 1e12 * self.count,
                    nbytes * self.count, {"compute": compute, "memory": memory, "overhead": overhead})

    # --- compute models -------------------------------------------------------------------
    def roofs(self) -> tuple[list, list]:
        p = self.params
        bw = [(f"{self.name}.memory_bandwidth", p["memory_bandwidth"] * self.count)]
        if p.get("l2_bandwidth"):
            bw.append((f"{self.name}.l2_bandwidth", p["l2_bandwidth"] * self.count))
        return bw, [(f"{self.name}.peak.{t}", v * self.count) for t, v in self.peaks.items() if v]

    def _vector(self, flops: float) -> tuple[float, float]:
        """CUDA cores at the fp32 FMA rate."""
        return flops / self.peaks["fp32"], flops * self.params["energy"]["vector_flop"]

    def _units(self, job: Job) -> tuple[str, float, float]:
        """(compute type, its peak, energy per FLOP) for a matmul-like job."""
        dtype = rm.resolve_dtype(rm.compute_dtype(job.dtype_w, job.dtype_a), self.peaks)
        peak = self.peaks[dtype]
        e = self.params["energy"]
        if dtype == "fp32":
            return dtype, peak, e["vector_flop"]
        # every tensor type draws the same power at its own peak rate
        ref = self.peaks["fp16"] or self.peaks["bf16"] or peak
        return dtype, peak, e["tensor_flop"] * ref / peak

    def _matmul(self, job: Job) -> tuple[float, float]:
        p = self.params
        m, n, k, batch = job.m, job.n, job.k, max(job.batch, 1)
        flops = job.flops or 2.0 * m * n * k * batch
        dtype, peak, flop_e = self._units(job)
        tiled, _ = rm.tensor_gemm_time(m, n, k, batch, peak=peak, efficiency=p["matmul_efficiency"],
                                       units=p["sms"], l2_bandwidth=p["l2_bandwidth"],
                                       elem_bytes=rm.COMPUTE_BYTES.get(dtype, 2.0))
        vector, vector_j = self._vector(flops)
        if vector < tiled or m == 0:  # skinny (GEMV-like) shapes run on the CUDA cores
            return vector, vector_j
        return tiled, flops * flop_e

    def _attention(self, job: Job) -> tuple[float, float]:
        """Flash-attention matmul part: CTAs own ATTENTION_Q_TILE query rows of one head."""
        p = self.params
        flops = float(job.flops)
        dtype, peak, flop_e = self._units(job)
        q_tiles = -(-max(job.m, 1) // ATTENTION_Q_TILE)
        ctas = q_tiles * max(job.batch, 1)
        padding = q_tiles * ATTENTION_Q_TILE / max(job.m, 1)
        tiled = flops * padding / (peak * p["matmul_efficiency"] * rm.wave_efficiency(ctas, p["sms"]))
        vector, vector_j = self._vector(flops)
        if vector < tiled:  # decode: one query row per head, no tile worth filling
            return vector, vector_j
        return tiled, flops * flop_e

    def _split_kv_merge(self, job: Job) -> tuple[float, float]:
        """Decode attention with too few (sequence, KV head) CTAs to fill the SMs splits the KV
        length over more CTAs (FlashDecoding, FlashInfer) so the KV stream runs at full
        bandwidth, and pays a second kernel that merges the partial outputs: its launch, one
        DRAM latency and the fp32 partials (output row and log-sum-exp per head and split)
        written and read back. Returns (seconds, bytes) of that merge kernel."""
        seqs, kv_heads = job.get("seqs"), job.get("kv_heads")
        if not seqs or not kv_heads or job.m > 1:
            return 0.0, 0.0
        p = self.params
        groups = int(seqs) * int(kv_heads)
        splits = min(-(-p["sms"] // groups), max(1, int(job.n) // MIN_KV_CHUNK))
        if groups >= p["sms"] or splits <= 1:
            return 0.0, 0.0
        heads = max(job.batch, 1)  # query heads over all sequences
        nbytes = 2.0 * splits * heads * (job.k + 1) * 4.0
        return p["launch_overhead"] + rm.stream_time(nbytes, p["dram_latency"],
                                                     self.sustained_bandwidth(nbytes)), nbytes

    def _softmax(self, job: Job) -> tuple[float, float]:
        """Per score: one exp on the SFUs, the other FLOPs one CUDA-core op each (not FMAs)."""
        exps = float(job.get("exps", 0))
        other = max(float(job.flops) - exps, 0.0)
        seconds = other / (self.peaks["fp32"] / 2.0) + exps / self._sfu_rate
        return seconds, float(job.flops) * self.params["energy"]["vector_flop"]

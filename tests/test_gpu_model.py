"""The GPU baseline: its kernel-efficiency pieces on hand-made jobs, power under TDP, config
errors, the software presets, the three A100 cases of validation/ recomputed by hand from the
model's pieces (a check of the pieces, not the validation: `archsim validate` runs those end
to end), and one independent published measurement (gpt-fast) as a check of the model."""

import math

import pytest

from archsim.api import run_case
from archsim.components import roofline_model as rm
from archsim.components.base import Job
from archsim.components.gpu import SOFTWARE_PRESETS
from archsim.errors import ConfigError
from archsim.system.arch import load_arch
from archsim.system.simulate import Scenario, run
from archsim.system.system import System

GPUS = ("a100", "h100", "t4", "a6000", "v100")
GiB = 2.0 ** 30


# The hand calculations below use the measured stream bandwidth (the closed form); the
# cycle-level DRAM model's bandwidth is held against it in test_dram_model_agrees_with_measurement.
CLOSED_FORM = ["gpu.dram.standard=null"]


@pytest.fixture(scope="module")
def a100():
    return System(load_arch("a100", CLOSED_FORM)).components["gpu"]


def gemm(m, n, k, dtype="fp16", kind="gemm", batch=1, extra=()):
    w = 1 if dtype == "int8" else 2
    return Job(kind, m=m, n=n, k=k, batch=batch, flops=2.0 * m * n * k * batch,
               bytes_read=float(k * n * w + m * (k + n) * 2) * batch, dtype_w=dtype, dtype_a=dtype, extra=extra)


def test_datasheet_numbers(a100):
    p = a100.params
    assert a100.memory_bytes == 80 * GiB
    assert p["memory_bandwidth"] == pytest.approx(2.039e12)
    assert p["peak"]["fp16"] == pytest.approx(312e12)
    assert p["tdp"] == 400
    assert p["clock"] == pytest.approx(1.41e9)


def test_littles_law_bandwidth_rises_with_size(a100):
    p = a100.params
    sizes = [4e3, 64e3, 1e6, 16e6, 256e6, 4e9]
    bws = [a100.achievable_dram_bandwidth(s) for s in sizes]
    assert all(a < b for a, b in zip(bws, bws[1:]))
    assert bws[-1] == pytest.approx(p["stream_bandwidth"], rel=1e-3)
    # a transfer as large as bandwidth x latency gets exactly half the sustained rate
    half = p["stream_bandwidth"] * p["dram_latency"]
    assert a100.achievable_dram_bandwidth(half) == pytest.approx(p["stream_bandwidth"] / 2)
    assert rm.inflight_bandwidth(12 * 64, 90e-9) == pytest.approx(8.533e9, rel=1e-3)


def test_gemv_is_memory_bound(a100):
    c = a100.cost(gemm(1, 8192, 8192, kind="gemv"))
    p = a100.params
    assert c.breakdown["memory"] > 5 * c.breakdown["compute"]
    expect = p["launch_overhead"] + p["dram_latency"] + (8192 * 8192 * 2 + 2 * 16384) / p["stream_bandwidth"]
    assert c.seconds == pytest.approx(expect)
    assert c.cycles == round(c.seconds * p["clock"])


def test_large_gemm_runs_at_measured_efficiency(a100):
    # 108 x 4 tiles of 128x128 fill whole waves: the rate is the measured best-shape rate
    c = a100.cost(gemm(128 * 108, 512, 8192))
    rate = 2.0 * 128 * 108 * 512 * 8192 / c.breakdown["compute"]
    assert rate == pytest.approx(312e12 * 0.859, rel=1e-6)
    assert c.breakdown["compute"] > c.breakdown["memory"]


def test_tile_quantisation_rounds_m_up(a100):
    t128 = a100.cost(gemm(128 * 54, 4096, 4096)).breakdown["compute"]
    t129 = a100.cost(gemm(128 * 54 + 1, 4096, 4096)).breakdown["compute"]
    assert t129 > 1.01 * t128  # one extra row costs a whole extra row of tiles


def test_wave_quantisation(a100):
    # 108 tiles: one wave; 109 tiles: two waves of 128x128 tiles (or a worse tile choice)
    one = a100.cost(gemm(128 * 108, 128, 16384)).breakdown["compute"]
    two = a100.cost(gemm(128 * 109, 128, 16384)).breakdown["compute"]
    assert two > 1.5 * one
    assert rm.waves(109, 108) == 2 and rm.wave_efficiency(216, 108) == 1.0
    assert rm.wave_efficiency(109, 108) == pytest.approx(109 / 216)


def test_split_k_fills_the_sms_for_small_grids():
    t, (tm, tn, split) = rm.tensor_gemm_time(64, 256, 16384, 1, peak=312e12, efficiency=0.859, units=108,
                                             l2_bandwidth=7.22e12, elem_bytes=2)
    assert split > 1 and t < 2.0 * 64 * 256 * 16384 / (312e12 * 0.859 / 108)


def test_precision_units_and_fallbacks():
    a100 = System(load_arch("a100")).components["gpu"]
    v100 = System(load_arch("v100")).components["gpu"]
    big = (4096, 4096, 4096)
    assert a100.cost(gemm(*big, dtype="int8")).breakdown["compute"] == pytest.approx(
        a100.cost(gemm(*big, dtype="fp16")).breakdown["compute"] / 2)
    # V100 has no int8 tensor cores (falls back to fp16) and no bf16 (falls back to fp32)
    assert v100.cost(gemm(*big, dtype="int8")).breakdown["compute"] == pytest.approx(
        v100.cost(gemm(*big, dtype="fp16")).breakdown["compute"])
    assert v100.cost(gemm(*big, dtype="bf16")).breakdown["compute"] > 5 * v100.cost(gemm(*big)).breakdown["compute"]
    # weight-only quantisation computes in the activation type
    assert rm.compute_dtype("int4", "fp16") == "fp16" and rm.compute_dtype("int2", "int8") == "int8"


def test_attention_continuations_pay_no_launch(a100):
    qk = Job("attention_qk", m=4096, n=4096, k=128, batch=32, flops=2.0 * 128 * 32 * 4096 * 4097 / 2,
             bytes_read=3e7)
    av = Job("attention_av", m=4096, n=128, k=4096, batch=32, flops=qk.flops, bytes_read=3e7, extra=(("fused", True),))
    assert a100.cost(qk).breakdown["overhead"] > 0 and a100.cost(av).breakdown["overhead"] == 0
    sm = Job("softmax", m=4096, n=4096, batch=32, flops=5.0 * 32 * 4096 * 4097 / 2,
             extra=(("exps", 32 * 4096 * 4097 // 2), ("fused", True)))
    c = a100.cost(sm)
    exps = 32 * 4096 * 4097 // 2
    assert c.seconds == pytest.approx(4 * exps / (19.5e12 / 2) + exps / (108 * 16 * 1.41e9), rel=1e-3)


def test_unknown_kind_is_a_config_error(a100):
    with pytest.raises(ConfigError, match="cannot run"):
        a100.cost(Job("allreduce", bytes_read=1e6))


def test_cycle_fidelity_equals_analytic_without_a_dram_model(a100):
    j = gemm(512, 4096, 4096)
    assert a100.cost(j, "cycle") == a100.cost(j, "analytic")


@pytest.mark.parametrize("name", ["a100", "h100"])
def test_dram_model_agrees_with_measurement(name):
    """Cycle fidelity takes HBM bandwidth from the DRAM model: within 5% of the measured figure."""
    gpu = System(load_arch(name)).components["gpu"]
    gpu.cost(gemm(1, 4096, 4096, kind="gemv"), "cycle")
    modelled = gpu.sustained_bandwidth(64 * 2 ** 20)
    assert modelled == pytest.approx(gpu.params["stream_bandwidth"], rel=0.05)
    assert modelled < gpu.params["memory_bandwidth"]


@pytest.mark.parametrize("name", GPUS)
def test_power_stays_under_tdp(name):
    gpu = System(load_arch(name)).components["gpu"]
    jobs = [gemm(8192, 8192, 8192), gemm(8192, 8192, 8192, dtype="int8"), gemm(1, 16384, 16384, kind="gemv"),
            gemm(64, 16384, 16384), Job("elementwise", m=1 << 24, n=1, flops=2.0 * (1 << 24), bytes_read=1e8),
            Job("softmax", m=4096, n=4096, batch=32, flops=5.0 * 2 ** 29, extra=(("exps", 2 ** 29),))]
    for j in jobs:
        c = gpu.cost(j)
        watts = c.energy_pj * 1e-12 / c.seconds + gpu.static_power_w
        assert 0 < watts <= gpu.params["tdp"] * 1.0001, (name, j.kind, watts)
    assert gpu.memory_bytes > 0 and gpu.params["peak"]["fp16"]


def test_count_scales_energy_memory_and_static_power():
    one = System(load_arch("a100")).components["gpu"]
    eight = System(load_arch("a100x8")).components["gpu"]
    j = gemm(4096, 4096, 4096)
    assert eight.cost(j).seconds == one.cost(j).seconds
    assert eight.cost(j).energy_pj == pytest.approx(8 * one.cost(j).energy_pj)
    assert eight.memory_bytes == 8 * one.memory_bytes and eight.static_power_w == 8 * one.static_power_w


def test_count_needs_a_mapping_that_shards():
    # on one device every job would run whole while memory and energy counted eight GPUs
    with pytest.raises(ConfigError) as e:
        System(load_arch("a100", ["gpu.count=8"]))
    assert "gpu.count" in str(e.value) and "tensor_parallel" in str(e.value)


@pytest.mark.parametrize("key,value,reason", [
    ("gpu.matmul_efficiency", "1.5", "must be <= 1"),
    ("gpu.stream_bandwidth", "3 TB/s", "exceeds the peak"),
    ("gpu.sms", "0", "must be positive"),
    ("gpu.clock", "fast", "cannot read"),
    ("gpu.static_power", "500 W", "below the TDP"),
])
def test_bad_values_name_file_and_key(key, value, reason):
    with pytest.raises(ConfigError) as e:
        System(load_arch("a100", [f"{key}={value}"]))
    assert reason in str(e.value) and "a100.yaml" in str(e.value) and key in str(e.value)


def test_software_presets_set_the_per_kernel_costs():
    graphs = System(load_arch("a100")).components["gpu"].params
    assert graphs["software"] == "cuda_graphs"
    assert graphs["launch_overhead"] == pytest.approx(1.3e-6) and graphs["host_interval"] == 0.0
    eager = System(load_arch("a100", ["gpu.software=eager"])).components["gpu"].params
    assert eager["launch_overhead"] == pytest.approx(2.1e-6) and eager["host_interval"] == pytest.approx(110e-6)
    # an explicit value wins over the preset
    mine = System(load_arch("a100", ["gpu.software=eager", "gpu.host_interval=20 us"])).components["gpu"].params
    assert mine["host_interval"] == pytest.approx(20e-6) and mine["launch_overhead"] == pytest.approx(2.1e-6)
    assert System(load_arch("t4")).components["gpu"].params["software"] == "eager"
    assert set(SOFTWARE_PRESETS) == {"cuda_graphs", "eager"}


def test_unknown_software_is_a_config_error():
    with pytest.raises(ConfigError) as e:
        System(load_arch("a100", ["gpu.software=tensorrt"]))
    assert "gpu.software" in str(e.value) and "a100.yaml" in str(e.value)


def test_eager_kernels_wait_for_the_host():
    gpu = System(load_arch("a100", ["gpu.software=eager"])).components["gpu"]
    p = gpu.params
    tiny = Job("norm", m=1, n=4096, flops=16384, bytes_read=24576)
    assert gpu.cost(tiny).seconds == pytest.approx(p["host_interval"])  # host-bound: the GPU idles
    big = gemm(1, 32768, 32768, kind="gemv")                            # 1.2 ms: the host runs ahead
    c = gpu.cost(big)
    assert c.seconds == pytest.approx(p["launch_overhead"] + c.breakdown["memory"])
    fused = Job("attention_av", m=1, n=128, k=4096, batch=32, flops=1e6, bytes_read=1e3, extra=(("fused", True),))
    assert gpu.cost(fused).seconds < 1e-6  # a continuation of a kernel is not issued again


def decode_attention(kv_len, seqs=1, heads=32, kv_heads=8, d=128):
    kv = 2.0 * seqs * kv_len * kv_heads * d
    return Job("attention_qk", m=1, n=kv_len, k=d, batch=seqs * heads, flops=2.0 * seqs * heads * d * kv_len,
               bytes_read=kv, extra=(("kv_heads", kv_heads), ("seqs", seqs)))


def test_decode_attention_splits_kv_and_pays_a_merge_kernel(a100):
    p = a100.params
    long = a100.cost(decode_attention(4096))        # 8 CTAs for 108 SMs: split, then merge
    unsplit = 2.0 * 4096 * 8 * 128 / a100.achievable_dram_bandwidth(2.0 * 4096 * 8 * 128)
    merge = long.seconds - p["launch_overhead"] - unsplit
    splits = min(-(-108 // 8), 4096 // 256)          # enough splits to fill the SMs: 14
    partials = 2 * splits * 32 * (128 + 1) * 4       # fp32 output rows + log-sum-exp, written and read
    assert merge == pytest.approx(p["launch_overhead"] + p["dram_latency"] + partials / p["stream_bandwidth"])
    # a short context has nothing to split; enough (sequence, KV head) CTAs fill the SMs alone
    short = a100.cost(decode_attention(200))
    assert short.seconds == pytest.approx(p["launch_overhead"] + short.breakdown["memory"])
    wide = a100.cost(decode_attention(4096, seqs=16))
    assert wide.seconds == pytest.approx(p["launch_overhead"] + wide.breakdown["memory"])


# --- an independent check: gpt-fast (PyTorch blog "GPT, Fast", Nov 2023, and its README) --------
# Llama-2-7B, batch 1, prompt "Hello, my name is" (6 tokens), 200 new tokens, on an A100-80GB
# power-limited to 330 W: 104.9 tokens/s compiled (torch.compile, CUDA graphs), 25.5 tokens/s
# uncompiled. Not a validation case and not used to set any compiled-path constant; the eager
# figure sets the eager preset's host_interval (so the eager check is a consistency check).
# Tolerance, fixed before running: the project's GPU decode accuracy target, 15%.
# 200 new tokens: the prefill's first and 199 decode steps
GPTFAST = {"batch": 1, "input_len": 6, "output_len": 199}


@pytest.fixture(scope="module")
def gptfast_compiled():
    return run_case("a100", "llama2-7b", GPTFAST)["end_to_end"]["tokens_per_s"]


def test_gptfast_compiled_is_an_upper_bound(gptfast_compiled):
    # the model leaves costs out (see docs/baselines.md) and adds none it cannot source, so it
    # must not predict slower than the measurement
    assert gptfast_compiled >= 104.9


@pytest.mark.xfail(strict=True, reason="known residual: the model is ~18% fast on gpt-fast's compiled "
                   "Llama-2-7B (124.0 vs 104.9 tokens/s); docs/baselines.md, 'The decode miss'")
def test_gptfast_compiled_within_tolerance(gptfast_compiled):
    assert gptfast_compiled == pytest.approx(104.9, rel=0.15)


def test_gptfast_eager_reproduces_its_calibration():
    got = run_case("a100", "llama2-7b", GPTFAST, sets=["gpu.software=eager"])["end_to_end"]["tokens_per_s"]
    assert got == pytest.approx(25.5, rel=0.01)


# --- the three A100 cases of the development set, recomputed by hand from the pieces ------------
# Llama-3-8B: 32 layers, hidden 4096, 32 heads, 8 KV heads, head_dim 128, FFN 14336, vocab 128256.
L, H, HEADS, KVH, D, F, V = 32, 4096, 32, 8, 128, 14336, 128256
LAUNCH, LAT, BW = 1.3e-6, 330e-9, 1.80e12          # a100.yaml (cuda_graphs preset)
RATE = 312e12 * 0.859                               # measured matmul rate


def test_a100_gemv_32k_by_hand(a100):
    # [1,32K]x[32K,32K] fp16: all weight bytes stream once; one kernel
    k = n = 32768
    by_hand = LAUNCH + LAT + (k * n * 2 + 2 * (k + n)) / BW
    got = a100.cost(Job("gemv", m=1, n=n, k=k, flops=2.0 * k * n, bytes_read=k * n * 2 + 2 * (k + n))).seconds
    assert got == pytest.approx(by_hand, rel=1e-9)
    assert by_hand == pytest.approx(1.1948e-3, rel=1e-3)    # published (WaferLLM Table 6): 1.231e-3 s


@pytest.fixture(scope="module")
def a100_run():
    from archsim.workload.model_spec import load_model
    return run(load_arch("a100", CLOSED_FORM), load_model("llama3-8b"),
               Scenario(batch=1, input_len=4096, output_len=1, precision="fp16")).summary


def test_a100_decode_by_hand(a100_run):
    # One decode step at kv_len 4097: every kernel is memory-bound, so the step is
    # sum(bytes) / sustained bandwidth + a launch per kernel + a DRAM latency per stream,
    # + per layer a split-KV merge kernel (8 KV heads cannot fill 108 SMs): launch + latency.
    layer_w = 2 * H * (HEADS + 2 * KVH) * D + 2 * H * H + 2 * H * 2 * F + 2 * F * H
    kv = 2 * 2 * 4097 * KVH * D                   # K and V read, fp16
    weights = L * layer_w + 2 * V * H             # lm_head reads vocab x hidden
    kernels = 1 + L * 11 + 2                      # embed, 11 kernels per layer, final norm, lm_head
    streams = kernels + L                         # attention streams K, then V
    merges = L * (LAUNCH + LAT)
    by_hand = (weights + L * kv) / BW + kernels * LAUNCH + streams * LAT + merges
    got = a100_run["decode"]["seconds"]
    assert got == pytest.approx(by_hand, rel=0.01)  # the rest: activations, norm weights, KV writes
    assert 1.0 / got == pytest.approx(107.6, rel=0.005)  # published (WaferLLM Table 4): 78.9 tokens/s


def test_a100_prefill_by_hand(a100_run):
    T = 4096
    # projections: each GEMM at the measured rate over its wave efficiency (128x128 tiles, 108 SMs)
    gemms = [(T, HEADS * D + 2 * KVH * D, H), (T, H, H), (T, 2 * F, H), (T, H, F)]
    t_gemm = 0.0
    for m, n, k in gemms:
        tiles = math.ceil(m / 128) * math.ceil(n / 128)
        t_gemm += 2.0 * m * n * k / (RATE * rm.wave_efficiency(tiles, 108))
    # causal flash attention: QK^T and AV on tensor cores (q-blocks of 128 rows per head),
    # the softmax's 4 CUDA-core ops and one SFU exp per score
    scores = HEADS * T * (T + 1) // 2
    t_attn = 2 * (2.0 * D * scores) / (RATE * rm.wave_efficiency(32 * HEADS, 108))
    t_soft = 4 * scores / (19.5e12 / 2) + scores / (108 * 16 * 1.41e9)
    # memory-bound elementwise kernels (bytes read + written, fp16)
    elem = (2 * 2 * T * H            # two rmsnorms
            + 2 * T * (HEADS + KVH) * D  # rope
            + 2 * 2 * 3 * T * H      # two residual adds
            + 3 * T * F) * 2         # SwiGLU: gate and up in, product out
    per_layer = t_gemm + t_attn + t_soft + elem / BW
    by_hand = L * per_layer
    got = a100_run["prefill"]["seconds"]
    assert got == pytest.approx(by_hand, rel=0.02)   # the rest: lm_head, embedding, latencies
    assert T / got == pytest.approx(15810, rel=0.005)  # published (WaferLLM Table 3): 13988.3 tokens/s


def test_a_join_point_runs_no_kernel():
    # a mapping's join of stages is not a kernel: it cost a 1.3 us launch on the GPU
    from archsim.system.arch import load_arch
    from archsim.system.mapping import join_job
    from archsim.system.system import System
    gpu = System(load_arch("a6000")).components["gpu"]
    assert gpu.cost(join_job("x.sent")).seconds == 0

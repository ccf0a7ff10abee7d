"""The CPU baseline: memory-bound GEMV with a per-thread (Little's law) bandwidth limit,
compute-bound GEMM at the library efficiency, `cpu.threads`, dtype fallbacks, power, errors."""

import pytest

from archsim.components.base import Job
from archsim.errors import ConfigError
from archsim.system.arch import load_arch
from archsim.system.simulate import Scenario, run
from archsim.system.system import System

CPUS = ("xeon-gold-6154", "neoverse-n1")


def cpu(name="xeon-gold-6154", *sets):
    return System(load_arch(name, list(sets))).components["cpu"]


def gemv(k=8192, n=8192, dtype="fp32"):
    w = {"fp32": 4, "fp16": 2, "int8": 1}[dtype]
    return Job("gemv", m=1, n=n, k=k, flops=2.0 * k * n, bytes_read=float(k * n * w), dtype_w=dtype, dtype_a=dtype)


def gemm(m=2048, n=2048, k=2048, dtype="fp32"):
    return Job("gemm", m=m, n=n, k=k, flops=2.0 * m * n * k, bytes_read=4.0 * (m * k + k * n + m * n),
               dtype_w=dtype, dtype_a=dtype)


def test_gemv_one_thread_is_limited_by_its_fill_buffers():
    c1 = cpu("xeon-gold-6154", "cpu.threads=1")
    per_thread = 12 * 64 / 90e-9                      # 12 L1D fill buffers in flight per 90 ns
    job = gemv()
    assert c1.cost(job).seconds == pytest.approx(90e-9 + job.bytes_read / per_thread)
    assert c1.cost(job).breakdown["memory"] > 10 * c1.cost(job).breakdown["compute"]


def test_gemv_all_threads_reach_stream_bandwidth():
    c = cpu()
    job = gemv()
    assert c.cost(job).seconds == pytest.approx(90e-9 + job.bytes_read / 99.5e9)
    # bandwidth grows with threads until the memory channels saturate
    times = [cpu("xeon-gold-6154", f"cpu.threads={t}").cost(job).seconds for t in (1, 2, 4, 8, 12, 18)]
    assert all(a >= b for a, b in zip(times, times[1:]))
    assert times[0] / times[-1] == pytest.approx(99.5e9 / (12 * 64 / 90e-9), rel=1e-3)


def test_smt_threads_add_nothing():
    job = gemm()
    smt = cpu("xeon-gold-6154", "cpu.threads_per_core=2", "cpu.threads=36")
    assert smt.cost(job).seconds == cpu().cost(job).seconds


@pytest.mark.parametrize("name, sets, limit", [("neoverse-n1", ["cpu.threads=81"], 80),
                                               ("neoverse-n1", ["cpu.threads=1000"], 80),
                                               ("xeon-gold-6154", ["cpu.threads_per_core=2", "cpu.threads=37"], 36)])
def test_more_threads_than_hardware_threads_is_an_error(name, sets, limit):
    # they would be clamped to the cores and run as if the thread count were the core count
    with pytest.raises(ConfigError) as e:
        cpu(name, *sets)
    msg = str(e.value)
    assert "cpu.threads" in msg and f"{name}.yaml" in msg and f"{limit} hardware threads" in msg
    assert cpu("neoverse-n1", "cpu.threads=80").active_cores == 80


def test_gemm_is_compute_bound_at_library_efficiency():
    c = cpu()
    job = gemm()
    rate = 18 * 64 * 2.7e9 * 0.85
    assert c.cost(job).breakdown["compute"] == pytest.approx(job.flops / rate)
    assert c.cost(job).seconds == pytest.approx(job.flops / rate)
    one = cpu("xeon-gold-6154", "cpu.threads=1").cost(job).seconds
    assert one == pytest.approx(18 * c.cost(job).seconds)
    assert c.cost(job).cycles == round(c.cost(job).seconds * 2.7e9)


def test_narrow_types():
    skx, n1 = cpu(), cpu("neoverse-n1")
    # Skylake-SP has no fp16 arithmetic: fp16 computes at the fp32 rate; N1 has fp16 FMAs
    assert skx.cost(gemm(dtype="fp16")).breakdown["compute"] == skx.cost(gemm()).breakdown["compute"]
    assert n1.cost(gemm(dtype="fp16")).breakdown["compute"] == pytest.approx(n1.cost(gemm()).breakdown["compute"] / 2)
    assert n1.cost(gemm(dtype="int8")).breakdown["compute"] == pytest.approx(n1.cost(gemm()).breakdown["compute"] / 4)


@pytest.mark.parametrize("name", CPUS)
def test_a_peak_gemm_draws_the_package_tdp(name):
    # the energy per FLOP is what the package TDP leaves over idle at the SIMD rate: a
    # compute-bound GEMM draws the TDP (the DIMMs' power is outside the package)
    c = cpu(name)
    cost = c.cost(gemm(m=4096, k=4096, n=4096))
    dimm = cost.bytes * c.params["energy"]["dram_byte"]
    watts = (cost.energy_pj * 1e-12 - dimm) / cost.seconds + c.static_power_w
    assert watts == pytest.approx(c.params["tdp"], rel=0.01)


@pytest.mark.parametrize("name", CPUS)
def test_power_stays_under_tdp(name):
    # the package's power: the DIMMs' (per DRAM byte) is drawn outside it
    c = cpu(name)
    for job in (gemm(), gemm(dtype="int8"), gemv(), gemv(dtype="int8")):
        cost = c.cost(job)
        dimm = cost.bytes * c.params["energy"]["dram_byte"]
        watts = (cost.energy_pj * 1e-12 - dimm) / cost.seconds + c.static_power_w
        assert 0 < watts <= c.params["tdp"] * 1.0001, (name, job.kind, watts)


@pytest.mark.parametrize("name", CPUS)
def test_runs_a_model_end_to_end(name):
    from archsim.workload.model_spec import load_model
    s = run(load_arch(name, ["cpu.threads=4"]), load_model("gpt2-small"),
            Scenario(batch=1, input_len=32, output_len=2, precision="fp32")).summary
    assert s["decode"]["tokens_per_s"] > 0 and s["prefill"]["tokens_per_s"] > 0
    assert s["breakdown"]["cpu"]["energy_j"] > 0


def test_unknown_kind_and_bad_threads():
    with pytest.raises(ConfigError, match="cannot run"):
        cpu().cost(Job("allreduce", bytes_read=1.0))
    with pytest.raises(ConfigError) as e:
        cpu("xeon-gold-6154", "cpu.threads=0")
    assert "cpu.threads" in str(e.value) and "xeon-gold-6154.yaml" in str(e.value)
    with pytest.raises(ConfigError, match="exceeds the peak"):
        cpu("xeon-gold-6154", "cpu.stream_bandwidth=200 GB/s")

"""Megatron-style tensor parallelism on a100x8: the sharding rules, the ring all-reduce on the
NVLink `link` component, capacity, and configuration errors."""

import pytest

from archsim.components.base import Job
from archsim.errors import ConfigError
from archsim.mappings.tensor_parallel import shard
from archsim.system.arch import load_arch
from archsim.system.simulate import Scenario, run
from archsim.system.system import System

GiB = 2.0 ** 30


def row(**kw):
    r = {"layer": 0, "phase": "decode", "step": 0, "op": "gemv", "name": "x", "batch": 1, "m": 1, "n": 0,
         "k": 0, "heads": 1, "kv_heads": 1, "kv_len": 0, "expert": -1, "dtype_w": "fp16", "dtype_a": "fp16",
         "bytes_w": 0, "bytes_a": 0, "bytes_kv": 0, "flops": 0}
    r.update(kw)
    return r


def linear(name, m, k, n):
    return row(op="gemv" if m == 1 else "gemm", name=name, m=m, k=k, n=n, bytes_w=2 * k * n,
               bytes_a=2 * m * (k + n), flops=2 * m * k * n)


@pytest.fixture(scope="module")
def tp8():
    return System(load_arch("a100x8"))


def test_column_parallel_splits_outputs():
    part, coll = shard(linear("qkv_proj", 1, 4096, 6144), 8)
    assert part["n"] == 768 and coll is None
    assert part["bytes_w"] == 2 * 4096 * 6144 / 8 and part["flops"] == 2 * 4096 * 6144 / 8
    assert part["bytes_a"] == pytest.approx(2 * (4096 + 768))  # the input is read whole
    assert shard(linear("gemm", 64, 4096, 4096), 8)[0]["n"] == 512     # a lone matmul splits too
    mla_down = linear("kv_a_proj", 1, 7168, 576)
    assert shard(mla_down, 8) == (mla_down, None)                      # feeds every head: replicated


def test_row_parallel_splits_inputs_then_allreduces(tp8):
    op = linear("o_proj", 1, 4096, 4096)
    part, coll = shard(op, 8)
    assert part["k"] == 512 and coll == "allreduce"
    stages = tp8.mapping.stages(op)
    assert [s.component for s in stages] == ["gpu", "nvlink"]
    ar = stages[1].job
    assert ar.kind == "allreduce" and ar.bytes_read == 2 * 4096 and ar.get("ranks") == 8


def test_a_moe_layer_reduces_once_after_combining_its_experts(tp8):
    # each expert's down-projection leaves a partial sum; moe_combine adds them on every GPU
    # and one all-reduce of the combined [m, hidden] output follows
    down = dict(linear("expert_down", 1, 14336, 4096), expert=3)
    part, coll = shard(down, 8)
    assert part["k"] == 14336 // 8 and coll is None
    assert [s.component for s in tp8.mapping.stages(down)] == ["gpu"]
    combine = row(op="elementwise", name="moe_combine", m=2, n=4096, bytes_a=2 * 6 * 4096)
    stages = tp8.mapping.stages(combine)
    assert [s.component for s in stages] == ["gpu", "nvlink"]
    assert stages[1].job.kind == "allreduce" and stages[1].job.bytes_read == 2 * 2 * 4096


def test_heads_split_and_kv_heads_replicate_when_fewer_than_tp():
    qk = row(op="attention_qk", name="attention_qk", m=1, n=4097, k=128, heads=32, kv_heads=8, kv_len=4097,
             bytes_kv=2 * 4097 * 8 * 128, bytes_a=100, flops=2 * 128 * 32 * 4097)
    part, coll = shard(qk, 8)
    assert (part["heads"], part["kv_heads"], coll) == (4, 1, None)
    assert part["bytes_kv"] == pytest.approx(qk["bytes_kv"] / 8) and part["flops"] == pytest.approx(qk["flops"] / 8)
    part16, _ = shard(qk, 16)     # 8 KV heads over 16 GPUs: each GPU still holds a whole KV head
    assert part16["kv_heads"] == 1 and part16["bytes_kv"] == pytest.approx(qk["bytes_kv"] / 8)


def test_norms_are_replicated_and_lm_head_gathers():
    norm = row(op="norm", name="attn_norm", n=4096, bytes_a=16384, flops=16384)
    assert shard(norm, 8) == (norm, None)
    part, coll = shard(row(op="lm_head", name="lm_head", k=4096, n=128256, bytes_w=2 * 4096 * 128256), 8)
    assert part["n"] == 16032 and coll == "allgather"


def test_ring_allreduce_cost_by_hand(tp8):
    link = tp8.components["nvlink"]
    size = 32 * 2 ** 20
    c = link.cost(Job("allreduce", bytes_read=size, extra=(("ranks", 8),)))
    by_hand = 3.6e-6 + 2 * 7 * 0.4e-6 + 2 * 7 / 8 * size / 300e9
    assert c.seconds == pytest.approx(by_hand)
    assert c.breakdown["overhead"] == pytest.approx(3.6e-6 + 14 * 0.4e-6)
    assert link.cost(Job("allreduce", bytes_read=size, extra=(("ranks", 1),))).seconds == 0


def test_capacity_is_tp_times_one_gpu(tp8):
    cap = tp8.mapping.capacity(16e9, 131072, 1, 4097)
    assert cap.memory_bytes == 8 * 80 * GiB


def test_tp_must_match_the_gpu_count():
    with pytest.raises(ConfigError) as e:
        System(load_arch("a100x8", ["mapping.tp=4"]))
    assert "mapping.tp" in str(e.value) and "gpu.count" in str(e.value)
    System(load_arch("a100x8", ["mapping.tp=4", "gpu.count=4", "nvlink.ranks=4"]))


@pytest.mark.parametrize("ranks", [3, 16])
def test_link_ranks_must_match_tp(ranks):
    # the collectives run over tp GPUs; another rank count on the link would be ignored
    with pytest.raises(ConfigError) as e:
        System(load_arch("a100x8", [f"nvlink.ranks={ranks}"]))
    assert "nvlink.ranks" in str(e.value) and "tp = 8" in str(e.value) and "a100x8.yaml" in str(e.value)
    with pytest.raises(ConfigError, match="nvlink.ranks"):
        System(load_arch("a100x8", ["mapping.tp=4", "gpu.count=4"]))


def test_unknown_link_reference_is_an_error():
    with pytest.raises(ConfigError, match="mapping.link"):
        load_arch("a100x8", ["mapping.link=nvswitch"])


def test_decode_end_to_end_shows_the_allreduces():
    from archsim.workload.model_spec import load_model
    model = load_model("llama3-8b")
    scen = Scenario(batch=1, input_len=512, output_len=2, precision="fp16")
    tp = run(load_arch("a100x8"), model, scen).summary
    one = run(load_arch("a100"), model, scen).summary
    link = tp["breakdown"]["nvlink"]
    assert link["jobs"] == 3 * (2 * 32 + 1)             # per pass: 2 all-reduces a layer + the logits gather
    assert link["seconds"] > 0 and link["bytes"] > 0
    assert one["decode"]["tokens_per_s"] < tp["decode"]["tokens_per_s"] < 8 * one["decode"]["tokens_per_s"]
    assert tp["breakdown"]["gpu"]["energy_j"] > 0


def test_kv_heads_fewer_than_gpus_are_stored_on_every_gpu():
    # falcon-7b caches one KV head: each of the 8 GPUs keeps all of it, so the cache a token
    # adds is 8x the model's (the capacity was counted as if the GPUs split it)
    from archsim.api import simulate_case
    scen = {"batch": 1, "input_len": 64, "output_len": 1}
    cap = simulate_case("a100x8", "falcon-7b", scen, fidelity="analytic").summary["capacity"]
    assert cap["kv_stored_bytes_per_token"] == 8 * cap["kv_bytes_per_token"]
    llama = simulate_case("a100x8", "llama3-8b", scen, fidelity="analytic").summary["capacity"]
    assert "kv_stored_bytes_per_token" not in llama          # 8 KV heads over 8 GPUs: split


def test_a_prefill_only_mla_trace_caches_one_latent(tmp_path):
    # without decode rows the trace's cached heads fell back to the prefill attention's 128
    # (MLA's prefill is not absorbed): 8x the capacity of the same model run directly
    from archsim.api import simulate_case
    from archsim.workload.model_spec import load_model
    from archsim.workload.trace_builder import build_trace
    from archsim.workload.trace_io import read_trace, write_trace
    scen = {"batch": 1, "input_len": 16, "output_len": 0}
    direct = simulate_case("a100x8", "deepseek-r1", scen, ["model.layers=4"], fidelity="analytic").summary["capacity"]
    path = tmp_path / "mla.csv"
    write_trace(build_trace(load_model("deepseek-r1", ["layers=4"]), batch=1, input_len=16, output_len=0), path)
    traced = simulate_case("a100x8", None, {}, fidelity="analytic", trace=read_trace(path)).summary["capacity"]
    assert traced["max_decode_tokens"] == direct["max_decode_tokens"]
    assert traced.get("kv_stored_bytes_per_token") == direct.get("kv_stored_bytes_per_token")

"""InstInfer: decode attention in the drive; bytes on flash and PCIe add up."""

import pytest

from archsim.api import simulate_case
from archsim.workload.model_spec import load_model

SCEN = {"batch": 4, "input_len": 64, "output_len": 4, "precision": "fp16"}


def test_dense_kv_reads_match_the_trace():
    spec = load_model("opt-6.7b")
    r = simulate_case("a6000-instcsd", "opt-6.7b", SCEN, sets=["flash.kv.attention=dense"])
    s = r.summary
    B, H, L, hd = 4, spec.heads, spec.layers, spec.head_dim
    reads = 0
    for step in range(4):
        kv_len = 64 + step + 1
        in_flash = (kv_len // 16) * 16                           # the incomplete group is in DRAM (Fig. 11)
        reads += 2 * B * H * L * in_flash * hd * 2               # K and V of the context's complete groups
    writes = (64 + 4) * B * L * 2 * H * hd * 2                    # prompt + one token per step
    # flash bytes = KV groups read by the engine + KV programmed
    assert s["breakdown"]["flash"]["bytes"] == pytest.approx(reads + writes, rel=1e-9)
    # PCIe carries the prompt's K/V, then only q/k/v vectors and attention outputs
    pcie = writes - 4 * B * L * 2 * H * hd * 2                    # the prompt's K/V
    pcie += 4 * L * (B * 3 * H * hd * 2 + B * H * hd * 2)         # qkv up, attention output down
    assert s["breakdown"]["pcie"]["bytes"] == pytest.approx(pcie, rel=1e-9)


def test_sparf_reads_less_than_dense_at_long_context():
    scen = {"batch": 2, "input_len": 1024, "output_len": 2, "precision": "fp16"}
    dense = simulate_case("a6000-instcsd", "opt-6.7b", scen, sets=["flash.kv.attention=dense"]).summary
    sparf = simulate_case("a6000-instcsd", "opt-6.7b", scen, sets=["flash.kv.attention=sparf"]).summary
    # SparF reads about half the token groups plus the K channels it picks
    read = lambda s: s["stats"]["mapping"]["csd_io"]["decode_read_bytes"]
    ratio = read(sparf) / read(dense)
    assert 0.5 < ratio < 0.9


def test_flexgen_ssd_moves_the_kv_over_pcie():
    s = simulate_case("a6000-flexgen-ssd", "opt-6.7b", SCEN).summary
    b = s["breakdown"]
    # the same KV bytes cross the SSD link and the GPU link
    assert b["ssd_link"]["bytes"] == pytest.approx(b["pcie_gpu"]["bytes"])
    assert b["flash"]["bytes"] == pytest.approx(b["ssd_link"]["bytes"])


def test_csd_io_is_counted_per_phase_and_per_layer():
    spec = load_model("opt-6.7b")
    s = simulate_case("a6000-instcsd", "opt-6.7b", SCEN, sets=["flash.kv.attention=dense"]).summary
    io = s["stats"]["mapping"]["csd_io"]
    B, H, L, hd = 4, spec.heads, spec.layers, spec.head_dim
    assert io["layers"] == L
    # Table III's rows: the prompt's K and V written in prefill, the context read in decode
    assert io["prefill_write_bytes_per_layer"] == pytest.approx(B * 64 * 2 * H * hd * 2)
    reads = sum(2 * B * H * ((64 + t + 1) // 16 * 16) * hd * 2 for t in range(4))
    assert io["decode_read_bytes_per_layer"] == pytest.approx(reads)
    # without the DRAM group buffer every context token comes from the flash
    nobuf = simulate_case("a6000-instcsd", "opt-6.7b", SCEN,
                          sets=["flash.kv.attention=dense", "flash.kv.write_buffer=false"]).summary
    full = sum(2 * B * H * (64 + t + 1) * hd * 2 for t in range(4))
    assert nobuf["stats"]["mapping"]["csd_io"]["decode_read_bytes_per_layer"] == pytest.approx(full)
    # PCIe per phase: the prompt's K/V; then q/k/v up and the attention output down
    assert io["prefill_p2p_bytes"] == pytest.approx(L * B * 64 * 2 * H * hd * 2)
    assert io["decode_p2p_bytes"] == pytest.approx(4 * L * B * 4 * H * hd * 2)
    assert io["decode_write_bytes"] == pytest.approx(L * 4 * B * 2 * H * hd * 2)
    assert io["prefill_read_bytes"] == 0
    total = sum(io[f"{ph}_{rw}_bytes"] for ph in ("prefill", "decode") for rw in ("read", "write"))
    assert total == pytest.approx(s["breakdown"]["flash"]["bytes"])


def test_channel_groups_are_sized_to_the_context():
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    csd = System(load_arch("a6000-instcsd")).components["flash"]
    # a 4 KB group holds 2048 FP16 entries: 2 channels x 1K tokens for long contexts,
    # 8 x 256 for short ones
    assert csd.channels_per_group(128, 1500, 2.0) == 2
    assert csd.channels_per_group(128, 600, 2.0) == 4
    assert csd.channels_per_group(128, 64, 2.0) == 8
    from archsim.cli.main import main
    assert main(["run", "a6000-instcsd", "gpt2-small", "--set", "flash.kv.channels_per_group=oops"]) == 2


def test_scattered_groups_send_their_valid_bytes_only():
    """A group not yet full sends only its tokens (its page is still sensed), as the bytes
    the job reports count: the bus was timed on whole 4 KB groups."""
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    from archsim.workload.trace_builder import build_trace
    system = System(load_arch("a6000-instcsd"))
    trace = build_trace(load_model("opt-13b"), batch=1, input_len=64, output_len=2, precision="fp16")
    g = system.mapping.build(trace)
    csd = system.components["flash"]
    jobs = [j for c, j in g.pairs if c == "flash" and j.kind == "attention_qk"]
    assert jobs
    for job in jobs:
        r = csd.kv_read(job)
        assert r["scattered"] and r["bytes"] < 0.5 * r["groups"] * r["group_bytes"]   # 64 tokens: part-full
        c = csd.cost(job)
        full = csd.stream_seconds(r["groups"] * r["group_bytes"], page_bytes=int(r["group_bytes"]))
        assert c.breakdown["flash_s"] < full["seconds"]
        assert c.breakdown["channel_bytes"] == c.bytes == r["bytes"]


def test_sparf_reads_half_the_token_groups_and_the_touched_channel_pages():
    from math import comb
    spec = load_model("opt-6.7b")
    scen = {"batch": 2, "input_len": 1024, "output_len": 3, "precision": "fp16"}
    io = simulate_case("a6000-instcsd", "opt-6.7b", scen).summary["stats"]["mapping"]["csd_io"]
    B, H, hd = 2, spec.heads, spec.head_dim
    # Sec. IV-C: r = 16 of 128 channels; a 2-channel x 1K-token page is read if one of its
    # channels is picked; half the 16-token K and V groups survive the group-level step
    touched = (hd // 2) * (1 - comb(hd - 2, 16) / comb(hd, 16))
    reads = 0.0
    for t in range(3):
        n = (1024 + t + 1) // 16 * 16
        reads += 0.5 * 2 * B * H * n * hd * 2 + B * H * touched * 2 * n * 2
    assert io["decode_read_bytes_per_layer"] == pytest.approx(reads, rel=1e-9)


def test_sparf_programs_k_twice():
    spec = load_model("opt-6.7b")
    B, H, L, hd = 4, spec.heads, spec.layers, spec.head_dim
    io = simulate_case("a6000-instcsd", "opt-6.7b", SCEN).summary["stats"]["mapping"]["csd_io"]
    kv = B * 2 * H * hd * 2                                       # one token's K and V, one layer
    # token-indexed K and V plus the channel-indexed copy of K; PCIe carries K and V once
    assert io["prefill_write_bytes"] == pytest.approx(1.5 * L * 64 * kv)
    assert io["decode_write_bytes"] == pytest.approx(1.5 * L * 4 * kv)
    assert io["prefill_p2p_bytes"] == pytest.approx(L * 64 * kv)



def test_capacity_counts_the_bytes_the_drive_programs():
    # SparF stores K twice: a token takes 1.5x the model's K+V on the drive, and the longest
    # context is counted from that
    r = simulate_case("a6000-instcsd", "opt-13b", dict(SCEN, batch=1)).summary["capacity"]
    assert r["kv_stored_bytes_per_token"] == 1.5 * r["kv_bytes_per_token"]
    drive = 2 * 2 ** 40                                   # the drive's 2 TiB
    assert r["max_decode_tokens"] == drive // r["kv_stored_bytes_per_token"]
    dense = simulate_case("a6000-instcsd", "opt-13b", dict(SCEN, batch=1),
                          ["flash.kv.attention=dense"]).summary["capacity"]
    assert "kv_stored_bytes_per_token" not in dense
    assert dense["max_decode_tokens"] == drive // dense["kv_bytes_per_token"]


@pytest.mark.parametrize("sets, key, reason", [
    (["flash.kv.channels_per_group=100"], "flash.kv.channels_per_group", "do not divide a head's 128 channels"),
    (["flash.kv.channels_per_group=256"], "flash.kv.channels_per_group", "do not divide a head's 128 channels"),
    (["flash.kv.group_tokens=100000"], "flash.kv.group_tokens", "at most 16 tokens fit"),
    (["flash.kv.group_tokens=17", "flash.kv.attention=dense"], "flash.kv.group_tokens", "at most 16 tokens fit"),
    (["flash.kv.group_bytes=128 B"], "flash.kv.group_bytes", "256 B needed"),
])
def test_kv_group_geometry_must_fit(sets, key, reason):
    # a group that cannot hold its tokens, or channel groups that leave channels out, would
    # read fewer pages than the cache has
    from archsim.cli.main import main
    from archsim.errors import ConfigError
    with pytest.raises(ConfigError) as e:
        simulate_case("a6000-instcsd", "opt-6.7b", {**SCEN, "output_len": 1}, sets=sets)
    assert key in str(e.value) and reason in str(e.value)
    assert main(["run", "a6000-instcsd", "opt-6.7b", "--input-len", "16", "--output-len", "1",
                 *[a for s in sets for a in ("--set", s)]]) == 2


def test_group_tokens_auto_fills_the_group():
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    csd = System(load_arch("a6000-instcsd")).components["flash"]
    assert csd.group_tokens(128, 2.0) == 16          # the paper's 16 tokens x 128 x FP16 = 4 KB
    assert csd.group_tokens(256, 2.0) == 8           # a larger head: fewer tokens per group
    assert csd.group_tokens(128, 4.0) == 8
    # a model with 256-channel heads runs (its groups hold 8 tokens)
    s = simulate_case("a6000-instcsd", "gemma-2b", {**SCEN, "output_len": 1}).summary
    assert s["decode"]["tokens_per_s"] > 0


def test_kv_groups_that_fit_still_run():
    for sets in (["flash.kv.channels_per_group=4"], ["flash.kv.group_tokens=8"], ["flash.kv.channels_per_group=128"]):
        s = simulate_case("a6000-instcsd", "opt-6.7b", {**SCEN, "output_len": 1}, sets=sets).summary
        assert s["decode"]["tokens_per_s"] > 0


def test_the_first_token_does_not_wait_for_the_background_kv_writes():
    # the drive programs the prompt's KV behind the prefill: TTFT is the GPU's (the prefill's
    # lm_head), and the decode's time runs from there, its overlap with the writes included
    scen = {"batch": 1, "input_len": 128, "output_len": 4}
    csd = simulate_case("a6000-instcsd", "gpt2-medium", scen)
    gpu = simulate_case("a6000", "gpt2-medium", scen).summary
    s, tl = csd.summary, csd.timeline
    assert s["ttft_s"] == pytest.approx(gpu["ttft_s"])
    pre = tl["phase"] == "prefill"
    assert tl["finish_ps"][pre].max() > s["ttft_s"] * 1e12            # writes run past it
    dec = tl["phase"] == "decode"
    assert tl["start_ps"][dec].min() >= s["ttft_s"] * 1e12 * (1 - 1e-9)
    assert s["prefill"]["seconds"] + s["decode"]["seconds"] == pytest.approx(tl["finish_ps"].max() / 1e12)


def test_flexgen_prefill_writes_the_prompts_kv_and_reads_none_back():
    # the prefill's attention uses the K and V its projections just made on the GPU; the SSD
    # sees them once, written, and the decode reads them back
    spec = load_model("gpt2-medium")
    scen = {"batch": 1, "input_len": 128, "output_len": 1}
    res = simulate_case("a6000-flexgen-ssd", "gpt2-medium", scen)
    tl = res.timeline
    pre = (tl["phase"] == "prefill") & (tl["component"] == "flash")
    assert float(tl["bytes"][pre].sum()) == pytest.approx(spec.kv_bytes_per_token("fp16") * 128, rel=0.01)


def test_flexgen_writes_the_new_kv_after_computing_it_without_holding_the_gpu():
    import numpy as np
    res = simulate_case("a6000-flexgen-ssd", "gpt2-medium", {"batch": 1, "input_len": 64, "output_len": 2})
    tl = res.timeline
    step = (tl["phase"] == "decode") & (tl["step"] == 1) & (tl["layer"] == 2)
    qkv = step & (tl["name"] == "qkv_proj")
    gpu = np.nonzero(qkv & (tl["component"] == "gpu") & (tl["bytes"] > 0))[0][0]
    write = np.nonzero(qkv & (tl["component"] == "flash"))[0][0]
    assert tl["start_ps"][write] >= tl["finish_ps"][gpu]            # K, V exist before they are written
    o_proj = np.nonzero(step & (tl["name"] == "o_proj"))[0][0]
    # the GPU goes on to the attention once its reads are in: never waits for the program itself
    qk_read = np.nonzero(step & (tl["name"] == "attention_qk") & (tl["component"] == "flash"))[0][0]
    assert tl["start_ps"][qk_read] >= tl["finish_ps"][write]         # the drive serves them in turn
    assert tl["start_ps"][o_proj] > tl["finish_ps"][qk_read]


def test_a_csd_refuses_the_die_compute_sections_it_does_not_use():
    # the engine sits at the controller: in-flash GEMV settings would be silently inert
    from archsim.errors import ConfigError
    for key in ("flash.tiling.enabled=false", "flash.compute.macs_per_cycle=8", "flash.ecc.enabled=false",
                "flash.slicing.enabled=false"):
        with pytest.raises(ConfigError, match="unknown key"):
            simulate_case("a6000-instcsd", "gpt2-medium", {"batch": 1, "input_len": 16, "output_len": 1}, [key])


def test_the_write_buffer_must_fit_the_drives_dram():
    # OPT-13B, batch 64, 1024 + 20: at the worst step 15 tokens of each of 64 x 40 streams wait
    # in every one of 40 layers, K and V and SparF's K copy: 1125 MiB
    from archsim.errors import CapacityError
    scen = {"batch": 64, "input_len": 1024, "output_len": 20}
    simulate_case("a6000-instcsd", "opt-13b", scen, fidelity="analytic")
    with pytest.raises(CapacityError, match="1125.0 MiB"):
        simulate_case("a6000-instcsd", "opt-13b", scen, ["flash.dram=1 GiB"], fidelity="analytic")


@pytest.mark.parametrize("arch, weights", [("cambricon-flexgen-ssd", "flash"), ("cambricon-flexgen-dram", "dram")])
def test_flexgen_prefetch_keeps_each_rows_successor_when_names_repeat(arch, weights):
    # a user trace may name several ops alike; each still prefetches its own successor's
    # weights (rows were matched by name, so every "fc" took the last one's successor)
    from archsim.workload.trace import Trace

    def trace(unique):
        rows = []
        for i, n in enumerate([16384, 256, 16384, 256, 16384, 256]):
            k = 4096
            rows.append({"layer": 0, "phase": "decode", "step": 0, "op": "gemv",
                         "name": f"fc{i}" if unique else "fc", "batch": 1, "m": 1, "n": n, "k": k,
                         "heads": 1, "kv_heads": 1, "kv_len": 0, "expert": -1, "dtype_w": "int8",
                         "dtype_a": "int8", "bytes_w": k * n, "bytes_a": k + n, "bytes_kv": 0,
                         "flops": 2 * k * n})
        return Trace.from_rows(rows, {"model": "user", "precision": "int8"})

    scen = {"batch": 1, "input_len": 1, "output_len": 1}
    out = [simulate_case(arch, None, scen, trace=trace(u)).summary for u in (True, False)]
    assert out[0]["decode"]["seconds"] == out[1]["decode"]["seconds"]
    # every weight read once (the repeated names read some twice)
    assert out[0]["breakdown"][weights]["bytes"] == out[1]["breakdown"][weights]["bytes"] == sum(
        4096 * n for n in [16384, 256] * 3)


def test_a_decode_steps_kv_write_pays_its_share_of_a_group_program():
    # with the write buffer a new token's K/V wait in the drive's DRAM and a group of 16 is
    # programmed once: a step does not hold the drive for a whole page program (460 us a layer
    # before every attention), and the bytes programmed are the same
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    from archsim.workload.trace_builder import build_trace
    system = System(load_arch("a6000-instcsd"))
    trace = build_trace(load_model("opt-6.7b"), batch=1, input_len=16, output_len=2, precision="fp16")
    g = system.mapping.build(trace)
    csd = system.components["flash"]
    writes = [j for c, j in zip(g.components, g.jobs) if c == "flash" and j.kind == "write" and j.get("buffered_tokens")]
    assert writes and all(j.get("buffered_tokens") == 16 for j in writes)
    j = writes[0]
    from dataclasses import replace
    off = System(load_arch("a6000-instcsd", ["flash.kv.write_buffer=false"]))
    whole = off.components["flash"].cost(replace(j, extra=tuple((k, v) for k, v in j.extra if k != "buffered_tokens")))
    share = csd.cost(j)
    assert share.bytes == whole.bytes and share.seconds < 0.2 * whole.seconds
    assert not any(j.get("buffered_tokens", 1) > 1 for c, j in zip(*(lambda gg: (gg.components, gg.jobs))(off.mapping.build(trace))))


def test_staged_kv_writes_hold_the_drive_for_their_share_of_a_program_stream():
    # the drive programs staged KV as one stream: a layer's 72 pages (GPT-2 small, batch 8,
    # 32 tokens, SparF) on 64 planes took two 450 us rounds as if alone (924 us against 544 us
    # for 63 pages), and 12 layers of them held the first decode step: batch 8 decoded slower
    # than batch 7
    from archsim.components.base import Job
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    csd = System(load_arch("a6000-instcsd")).components["flash"]
    page = csd.spec.page_size
    t63, t72 = (csd.cost(Job(kind="write", bytes_written=float(p * page))).seconds for p in (63, 72))
    assert t72 / t63 == pytest.approx(72 / 63, rel=1e-6)
    tps = [simulate_case("a6000-instcsd", "gpt2-small", {"batch": b, "input_len": 32, "output_len": 4}).summary
           ["decode"]["tokens_per_s"] for b in (7, 8)]
    assert tps[1] > tps[0]


def test_sparf_senses_a_page_once_for_all_its_kept_groups():
    """A 16 KB page holds four 4 KB groups of a head: it is sensed when the group-level step
    keeps any of them (15/16 of the pages at half retention), then only the kept groups
    cross the bus. Each kept group cost a sense of its own (twice dense's senses), which
    made SparF slower than dense attention."""
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    from archsim.workload.trace_builder import build_trace
    system = System(load_arch("a6000-instcsd"))
    spec = load_model("opt-6.7b")
    trace = build_trace(spec, batch=1, input_len=1024, output_len=2, precision="fp16")
    csd = system.components["flash"]
    av = [j for c, j in system.mapping.build(trace).pairs if c == "flash" and j.kind == "attention_av"]
    assert av
    r = csd.kv_read(av[0])                    # 1024 tokens in the flash: 64 groups, 16 pages a head
    assert r["groups"] == spec.heads * 64 // 2
    assert r["scattered"] == spec.heads * 16 * 15 / 16
    c = csd.cost(av[0])
    per_group = csd.stream_seconds(r["groups"] * 4096, page_bytes=4096)["seconds"]
    assert c.breakdown["flash_s"] < per_group
    # past the prompt's K/V programs (SparF's K twice), SparF decodes faster than dense
    scen = {"batch": 64, "input_len": 1024, "output_len": 16, "precision": "fp16"}
    tps = {a: simulate_case("a6000-instcsd", "opt-13b", scen, sets=[f"flash.kv.attention={a}"],
                            fidelity="analytic").summary["decode"]["tokens_per_s"] for a in ("sparf", "dense")}
    assert tps["sparf"] > tps["dense"]

"""PIM bank MAC units, the PIM GEMV mapping, and the PIM-GPT machine."""

import numpy as np
import pytest

from archsim.components.dram.pim import PimSpec, gemv_tiles, pim_gemv


@pytest.mark.parametrize("k,n", [(768, 2304), (3072, 768), (1600, 50257), (64, 65), (16, 1), (2050, 129)])
def test_gemv_tiles_cover_the_matrix_once(k, n):
    """Bytes in = bytes out: every weight is placed exactly once, every output produced once."""
    tiles = gemv_tiles(k, n, 8, 16, 1024)
    cover = np.zeros((n, k), dtype=np.int8) if n * k < 5e6 else None
    assert int((tiles[:, 3] * tiles[:, 5]).sum()) * 2 == k * n * 2
    if cover is not None:
        for ch, bank, n0, cnt, k0, kc in tiles:
            cover[n0:n0 + cnt, k0:k0 + kc] += 1
        assert (cover == 1).all()
    outs = {}
    for ch, bank, n0, cnt, k0, kc in tiles:
        for j in range(n0, n0 + cnt):
            outs[j] = outs.get(j, 0) + kc
    assert sorted(outs) == list(range(n)) and set(outs.values()) == {k}


def test_gemv_cost_scales_and_counts_commands():
    s = PimSpec()
    small = pim_gemv(s, 768, 768)
    big = pim_gemv(s, 768, 3072)
    assert big["seconds"] > 3 * small["seconds"]
    c = big["commands"]
    # 16 weights per MAC per bank, 128 banks
    assert c["MACAB"] == 8 * 3072 // 128 * 768 // 16
    assert c["WRGB"] == 8 * 768 * 2 // 32
    # row-major tiles: one activation per 2 KB row of a bank's weights
    assert c["ACTAB"] <= 8 * (-(-3072 // 128 * 768 * 2 // 2048) + 2)
    assert big["energy_pj"] > small["energy_pj"] > 0
    # MAC-bound: at least one all-bank MAC per ns per channel
    assert big["seconds"] >= c["MACAB"] / 8 * 1e-9


def test_pim_internal_bandwidth_beats_the_pins():
    s = PimSpec()
    r = pim_gemv(s, 4096, 4096)
    internal = r["weight_bytes"] / r["seconds"]
    pins = 8 * 32e9           # 8 x16 channels at 16 Gb/s
    assert internal > 4 * pins


def test_pim_gpt_runs_through_archsim_run():
    from archsim.api import simulate_case
    res = simulate_case("pim-gpt", "gpt2-small", {"batch": 1, "input_len": 16, "output_len": 4})
    s = res.summary
    assert s["decode"]["tokens_per_s"] > 1000
    assert set(s["breakdown"]) == {"pim", "asic"}
    assert s["breakdown"]["pim"]["seconds"] > s["breakdown"]["asic"]["seconds"]
    assert s["decode"]["energy_j_per_token"] > 0


def test_pim_gpt_counts_a_batch_once():
    # a token-wise trace row's m already holds every sequence's tokens: a batch of B runs
    # B GEMVs per weight matrix (no reuse across the batch in the banks), not B squared
    from archsim.api import simulate_case
    one, two = (simulate_case("pim-gpt", "gpt2-small", {"batch": b, "input_len": 16, "output_len": 2}).summary
                for b in (1, 2))
    assert two["tpot_s"] == pytest.approx(2 * one["tpot_s"], rel=0.03)
    assert two["breakdown"]["pim"]["bytes"] == pytest.approx(2 * one["breakdown"]["pim"]["bytes"], rel=0.01)
    assert two["decode"]["tokens_per_s"] == pytest.approx(one["decode"]["tokens_per_s"], rel=0.03)


def test_row_switch_waits_on_the_last_mac_not_on_the_readout():
    """One 2 KB row per neuron, no refresh: the next ACTAB follows the last MACAB by tRTP + tRP
    (RDMAC reads the MAC latches, not the array, so it overlaps the switch), and the first
    activation overlaps the global-buffer load."""
    from archsim.components.dram.pim import _pim_channel
    from archsim.components.dram.standards import get_standard
    from archsim.components.dram.timing import compiled
    tt = compiled(get_standard("gddr6-16000")).timing_ticks
    ccd, rcd, rtp, rp = tt["nCCDS"], tt["nRCDRD"], tt["nRTP"], tt["nRP"]
    t_mac, t_pipe, neurons, macs = ccd, 8, 4, 64
    cnt = np.zeros(5, dtype=np.int64)
    ticks = _pim_channel(neurons, np.array([1024], dtype=np.int64), 1024, 16, t_mac, rcd, tt["nRAS"], rp,
                         tt["nRC"], rtp, ccd, tt["nCL"], tt["nBL"], t_pipe, tt["nRFC"], 1 << 40, cnt)
    first_mac = max(64 * ccd, rcd)                          # 64 WRGBs of 32 B, ACTAB at tick 0
    period = (macs - 1) * t_mac + rtp + rp + rcd            # last MAC -> PREA -> ACTAB -> MAC
    assert (macs - 1) * t_mac + rtp >= tt["nRAS"] - rcd     # tRAS is not the binding rule here
    expect = first_mac + (neurons - 1) * period + (macs - 1) * t_mac + t_pipe + tt["nCL"] + tt["nBL"]
    assert ticks == expect
    assert list(cnt) == [neurons, neurons * macs, 64, neurons, 0]


@pytest.mark.parametrize("k,n", [(768, 3072), (1600, 6400), (2048, 8192), (8192, 2048), (1600, 50257)])
def test_row_hit_rate_is_the_papers(k, n):
    """PIM-GPT reports a row-hit rate of about 98% from its mapping (a bank's weights fill whole
    2 KB rows before the next activation); the best possible is one ACTAB per 64 columns."""
    c = pim_gemv(PimSpec(), k, n)["commands"]
    hit = 1 - c["ACTAB"] / c["MACAB"]
    assert 0.98 <= hit <= 63 / 64


def test_a_machine_precision_applies_when_the_scenario_names_none():
    """`mapping.precision` (t4: fp32, PyTorch's default dtype) decides the run's precision unless
    the scenario names one; PIM-GPT runs BF16 (its MACs)."""
    from archsim.api import run_case
    from archsim.sweep.cases import resolve_case
    scen = {"batch": 1, "input_len": 8, "output_len": 2}
    fp32 = run_case("t4", "gpt2-small", scen)
    fp16 = run_case("t4", "gpt2-small", dict(scen, precision="fp16"))
    assert fp32["scenario"]["precision"] == "fp32" and fp16["scenario"]["precision"] == "fp16"
    assert fp32["capacity"]["weights_bytes"] == 2 * fp16["capacity"]["weights_bytes"]
    assert run_case("pim-gpt", "gpt2-small", scen)["scenario"]["precision"] == "bf16"
    # with no mapping precision the model's default stands
    assert run_case("t4", "gpt2-small", scen, sets=("mapping.precision=null",))["scenario"]["precision"] == "fp16"
    case = {"arch": "t4", "model": "gpt2-small", "scenario": scen, "sets": {}, "fidelity": "cycle"}
    assert resolve_case(case)["scenario"]["precision"] == "fp32"


def test_a_bad_mapping_precision_names_the_key():
    from archsim.errors import ConfigError
    from archsim.system.arch import load_arch
    with pytest.raises(ConfigError) as exc:
        load_arch("t4", ("mapping.precision=fp7",))
    assert "mapping.precision" in str(exc.value) and "t4.yaml" in str(exc.value)


@pytest.mark.parametrize("sets,key,words", [
    (("pim.standard=ddr4-2400",), "pim.standard", "gddr6-16000, hbm2-2000, hbm2e-3200, hbm3-6400"),
    (("pim.standard=lpddr5-6400",), "pim.standard", "PIM standards"),
    (("pim.global_buffer=1 B",), "pim.global_buffer", ">= 2"),
    (("pim.channels=100000",), "pim.channels", "1024")], ids=["ddr4", "lpddr5", "buffer", "channels"])
def test_a_pim_part_it_cannot_model_is_refused(sets, key, words):
    from archsim.api import run_case
    from archsim.errors import ConfigError
    with pytest.raises(ConfigError) as exc:
        run_case("pim-gpt", "gpt2-small", {"batch": 1, "input_len": 4, "output_len": 1}, sets=sets)
    assert f"pim-gpt.yaml: {key}:" in str(exc.value) and words in str(exc.value)


def test_pim_runs_only_the_precisions_of_its_bf16_macs():
    """The bank MACs multiply BF16 (fp16 has the same 2-byte element); any other weight or
    activation type is refused rather than run at 2 bytes."""
    from archsim.api import run_case
    from archsim.errors import ConfigError
    scen = {"batch": 1, "input_len": 4, "output_len": 1}
    bf16 = run_case("pim-gpt", "gpt2-small", scen)
    fp16 = run_case("pim-gpt", "gpt2-small", dict(scen, precision="fp16"))
    assert fp16["decode"]["tokens_per_s"] == bf16["decode"]["tokens_per_s"]
    for precision, dtype in (("fp32", "fp32"), ("int8", "int8"), ("w4a16", "int4"), ("fp8", "fp8")):
        with pytest.raises(ConfigError) as exc:
            run_case("pim-gpt", "gpt2-small", dict(scen, precision=precision))
        msg = str(exc.value)
        assert "precision" in msg and f"are {dtype}" in msg and "bf16 or fp16" in msg


def test_attention_charges_the_heads_each_channel_runs():
    """Heads are dealt round the channels: 9 heads on 8 channels take two rounds, but the
    commands (bytes, MAC energy) are those of 9 heads, not of 16."""
    from archsim.components.base import Job
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    pim = System(load_arch("pim-gpt")).components["pim"]
    cost = {h: pim.cost(Job(kind="attention_qk", m=1, k=64, n=128, batch=h, dtype_w="bf16",
                            dtype_a="bf16")) for h in (8, 9, 16)}
    assert cost[9].seconds == cost[16].seconds == 2 * cost[8].seconds
    assert cost[9].bytes == 9 * 128 * 64 * 2 and cost[16].bytes == 2 * cost[8].bytes
    assert cost[8].energy_pj < cost[9].energy_pj < cost[16].energy_pj


def test_a_prompts_attention_is_causal():
    """Prompt tokens run one at a time, token i over the i + 1 positions up to it: QK^T, AV
    and the softmax cost the sum of those contexts, not m rows of the whole prompt."""
    from archsim.components.base import Job
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    s = System(load_arch("pim-gpt"))
    pim, asic = s.components["pim"], s.components["asic"]
    m, hd = 16, 64
    full = pim.cost(Job(kind="attention_qk", m=m, k=hd, n=m, batch=8, dtype_w="bf16", dtype_a="bf16"))
    rows = sum(pim.cost(Job(kind="attention_qk", m=1, k=hd, n=c, batch=8, dtype_w="bf16",
                            dtype_a="bf16")).seconds for c in range(1, m + 1))
    assert full.seconds == pytest.approx(rows)
    av = pim.cost(Job(kind="attention_av", m=m, k=m, n=hd, batch=8, dtype_w="bf16", dtype_a="bf16"))
    assert av.bytes == pytest.approx(8 * hd * 2 * sum(range(1, m + 1)))
    sm = asic.cost(Job(kind="softmax", m=m, n=m, batch=12))
    assert sm.breakdown["ops"] == 5 * 12 * m * (m + 1) // 2


def test_a_larger_global_buffer_is_never_slower():
    # a chunk's buffer writes wait before its first MAC; the input may be cut in halves or
    # quarters of the buffer where that is faster, so a larger buffer can do what a smaller one does
    from dataclasses import replace
    from archsim.components.dram.pim import PimSpec, pim_gemv
    base = PimSpec(standard="gddr6-16000", channels=8, mac_lanes=16, mac_clock_hz=1e9, mac_pipeline=4,
                   gb_bytes=2048, act_pj=0, mac_ab_pj=0, rd_pj=0, wr_pj=0, io_pj_per_bit=0, background_mw=0)
    for k, n in ((8192, 2048), (4096, 1024), (1000, 300)):
        t = [pim_gemv(replace(base, gb_bytes=gb), k, n)["ticks"] for gb in (1024, 2048, 4096, 8192)]
        assert t == sorted(t, reverse=True), (k, n, t)


def test_a_kv_write_opens_rows_only_in_the_channels_it_reaches():
    # 64 B (one token's K of one head at 16 bits x 32 dims) reaches two channels: two column
    # writes and two row activations, not one of each in all eight
    from archsim.components.dram.pim import pim_write
    s = PimSpec()
    io = 32 * 8 * s.io_pj_per_bit
    assert pim_write(s, 64)["energy_pj"] == pytest.approx(2 * (s.wr_pj + io) + 2 * s.act_pj)
    full = pim_write(s, 32 * 8 * 3)                           # three writes in every channel
    assert full["energy_pj"] == pytest.approx(24 * (s.wr_pj + io) + 8 * s.act_pj)
    assert pim_write(s, 64)["seconds"] < full["seconds"]
    assert pim_write(s, 0) == {"seconds": 0.0, "ticks": 0, "energy_pj": 0.0}

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

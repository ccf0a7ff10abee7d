"""Systolic NPU: the cycle-level kernel against hand counts, a PE-grid reference, the closed
form and SCALE-Sim v3's measured totals."""

import numpy as np
import pytest

from archsim.components.systolic.kernel import (DF_CODE, closed_form_cycles, fold_counts,
                                                fold_period, fold_profile, map_gemm, simulate_gemm)

BIG = 1 << 40

# SCALE-Sim v3 "total cycles" (shared/peers/README.md): (array, dataflow, M, K, N) -> cycles
SCALESIM = [
    (128, "os", 1, 4096, 4096, 139199), (128, "os", 128, 4096, 4096, 139199),
    (128, "os", 512, 512, 512, 12255), (128, "ws", 1, 4096, 4096, 392191),
    (128, "ws", 128, 4096, 4096, 522239), (128, "ws", 512, 512, 512, 14303),
    (32, "os", 1, 4096, 4096, 532223), (32, "os", 128, 4096, 4096, 2128895),
    (32, "os", 512, 512, 512, 146943), (32, "ws", 1, 4096, 4096, 1556479),
    (32, "ws", 128, 4096, 4096, 3637247), (32, "ws", 512, 512, 512, 155135),
]


def run(rows, cols, df, m, k, n, lanes=1, bw=0, half=BIG):
    sr, sc, t = map_gemm(df, m, k, n, lanes)
    return simulate_gemm(rows, cols, DF_CODE[df], sr, sc, t, bw, half, half)


@pytest.mark.parametrize("rows,df,m,k,n,ref", SCALESIM)
def test_scalesim_totals(rows, df, m, k, n, ref):
    out = run(rows, rows, df, m, k, n)
    assert out[0] == ref                       # equal, not just within 1%
    assert out[3] == m * k * n                 # every MAC happened once


def test_fold_counts_by_hand():
    # 4x4 array, os, M=10 K=3 N=6: ceil(10/4)=3 row folds x ceil(6/4)=2 col folds;
    # each fold: K + R + C - 2 = 3 + 4 + 4 - 2 = 9 cycles -> 6 x 9 - 1 = 53
    out = run(4, 4, "os", 10, 3, 6)
    assert out[2] == 6 and fold_counts(4, 4, 10, 6) == (3, 2)
    assert out[0] == 53
    # ws on 4x4: Sr = K = 9 -> 3 row folds, Sc = N = 5 -> 2 col folds, T = M = 2;
    # fold = 2R + C + T - 2 = 8 + 4 + 2 - 2 = 12 -> 6 x 12 - 1 = 71
    out = run(4, 4, "ws", 2, 9, 5)
    assert out[2] == 6 and out[0] == 71
    # is on 2x3: Sr = K = 3 -> 2, Sc = M = 4 -> 2, T = N = 5; fold = 4 + 3 + 5 - 2 = 10
    out = run(2, 3, "is", 4, 3, 5)
    assert out[2] == 4 and out[0] == 39


def test_sram_counts_by_hand():
    # os: every A element is read once per column fold, every W element once per row fold
    m, k, n = 10, 3, 6
    out = run(4, 4, "os", m, k, n)
    assert out[4] == m * k * 2 and out[5] == k * n * 3 and out[6] == m * n
    # ws: W read once (preload), A once per column fold, one psum per (M, N, row fold)
    m, k, n = 2, 9, 5
    out = run(4, 4, "ws", m, k, n)
    assert out[5] == k * n and out[4] == m * k * 2 and out[6] == m * n * 3


def _pe_grid_os(a, w, rows, cols):
    """Reference: a PE grid stepped cycle by cycle with registers (os, one fold).

    A enters from the left skewed by row, W from the top skewed by column; each PE
    multiplies what it holds and passes A right and W down. Returns (out, last MAC cycle)."""
    m, k = a.shape
    n = w.shape[1]
    ah = np.zeros((rows, cols))
    wv = np.zeros((rows, cols))
    av = np.zeros((rows, cols), bool)
    wvalid = np.zeros((rows, cols), bool)
    acc = np.zeros((rows, cols))
    last = -1
    for cyc in range(k + rows + cols):
        ah[:, 1:] = ah[:, :-1].copy(); av[:, 1:] = av[:, :-1].copy()
        wv[1:, :] = wv[:-1, :].copy(); wvalid[1:, :] = wvalid[:-1, :].copy()
        for r in range(rows):
            j = cyc - r
            ok = r < m and 0 <= j < k
            ah[r, 0] = a[r, j] if ok else 0.0
            av[r, 0] = ok
        for c in range(cols):
            j = cyc - c
            ok = c < n and 0 <= j < k
            wv[0, c] = w[j, c] if ok else 0.0
            wvalid[0, c] = ok
        both = av & wvalid
        if both.any():
            last = cyc
        acc += np.where(both, ah * wv, 0.0)
    return acc[:m, :n], last


def test_pe_grid_reference_matches_wavefront():
    rng = np.random.default_rng(0)
    rows, cols, m, k, n = 3, 4, 3, 5, 2
    a = rng.integers(-3, 4, (m, k)).astype(float)
    w = rng.integers(-3, 4, (k, n)).astype(float)
    out, last = _pe_grid_os(a, w, rows, cols)
    assert np.array_equal(out, a @ w)
    # the last real MAC is at PE (m-1, n-1), operand k-1
    assert last == (m - 1) + (n - 1) + (k - 1)
    period, macs, *_ = fold_profile(rows, cols, m, n, k, DF_CODE["os"])
    assert macs == m * n * k
    # the fold retires when the padded wavefront leaves PE (rows-1, cols-1)
    assert period == (rows - 1) + (cols - 1) + (k - 1) + 1 == fold_period("os", rows, cols, k)


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_kernel_agrees_with_closed_form(df):
    rng = np.random.default_rng(7)
    for _ in range(60):
        rows, cols = (int(x) for x in rng.integers(1, 20, 2))
        m, k, n = (int(x) for x in rng.integers(1, 90, 3))
        lanes = int(rng.choice([1, 2, 4]))
        out = run(rows, cols, df, m, k, n, lanes)
        assert out[0] == closed_form_cycles(df, rows, cols, m, k, n, lanes)
        assert out[3] == m * n * (-(-k // lanes))


def test_bandwidth_stalls_are_monotone():
    base = run(16, 16, "os", 64, 256, 256)[0]
    prev = None
    for bw in (1, 2, 8, 64, 1024):
        c = run(16, 16, "os", 64, 256, 256, bw=bw)[0]
        assert c >= base
        if prev is not None:
            assert c <= prev
        prev = c
    assert run(16, 16, "os", 64, 256, 256, bw=1)[0] > base   # one word per cycle starves it
    assert run(16, 16, "os", 64, 256, 256, bw=1 << 20)[0] == base


def test_cli(capsys):
    from archsim.cli.main import main
    import json
    assert main(["systolic", "--rows", "32", "--cols", "32", "--dataflow", "os",
                 "--gemm", "512,512,512", "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["cycles"] == 146943 and 0 < r["utilisation"] <= 1 and r["wall_s"] >= 0
    assert main(["systolic", "--gemm", "1,2"]) == 2
    assert main(["systolic", "--gemm", "4,4,4", "--dataflow", "xs"]) == 2
    assert main(["systolic", "--gemm", "0,4,4"]) == 2


@pytest.mark.parametrize("flag,value", [
    ("--bandwidth", "0.001"), ("--bandwidth", "2.5"), ("--bandwidth", "nan"), ("--bandwidth", "inf"),
    ("--filter-sram-kb", "-5"), ("--ifmap-sram-kb", "0"), ("--ifmap-sram-kb", "-1"),
    ("--ifmap-sram-kb", "nan"), ("--ifmap-sram-kb", "inf"), ("--ifmap-sram-kb", "1e300"),
    ("--gemm", "99999999999999999999,16,16"), ("--rows", "99999999999999999999"),
])
def test_cli_bad_numbers(capsys, flag, value):
    from archsim.cli.main import main
    args = ["systolic", "--rows", "8", "--cols", "8", "--gemm", "16,16,16", flag, value]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"archsim: error: {flag}: ") and len(err.splitlines()) == 1


# SCALE-Sim v3's "compute util %" for the same runs (shared/peers/README.md)
SCALESIM_UTIL = [0.74, 94.16, 66.84, 0.20, 20.09, 50.15, 3.08, 98.51, 89.20, 0.79, 50.59, 80.38]


@pytest.mark.parametrize("case,util", list(zip(SCALESIM, SCALESIM_UTIL)))
def test_scalesim_compute_util(case, util):
    from archsim.components.systolic.api import scalesim_compute_util
    rows, df, m, k, n, _ = case
    assert round(100 * scalesim_compute_util(df, rows, rows, *map_gemm(df, m, k, n)), 2) == util


@pytest.mark.parametrize("rows,gemm,closed", [
    (1, "1,10000000000,1", "9999999999 cycles"),            # one fold of 1e10 cycles
    (128, "10000000,1,10000000", "1556396484374 cycles"),   # 6e9 folds
])
def test_cli_refuses_gemms_the_kernel_would_step_for_minutes(capsys, rows, gemm, closed):
    # these once ran for minutes (the first: 243 s), as they were accepted; the refusal gives
    # the closed form's count
    from archsim.cli.main import main
    assert main(["systolic", "--rows", str(rows), "--cols", str(rows), "--gemm", gemm]) == 2
    err = capsys.readouterr().err
    assert err.startswith("archsim: error: --gemm: ") and closed in err


def test_only_the_fold_shapes_some_fold_has_are_stepped():
    # the kernel steps each distinct fold shape once: with one fold a side only the last
    # (partial) shape exists; the results match the closed form either way
    for rows, cols, df, m, k, n in ((128, 128, "os", 1, 4096, 4096), (8, 8, "ws", 16, 5, 3),
                                    (4, 8, "is", 10, 3, 20), (1, 1, "os", 1, 1000, 1)):
        out = run(rows, cols, df, m, k, n)
        assert out[0] == closed_form_cycles(df, rows, cols, m, k, n)
        assert out[11] == fold_period(df, rows, cols, map_gemm(df, m, k, n)[2])


def test_npu_dram_words_per_cycle_is_whole():
    from archsim.components.systolic import SystolicNPU
    from archsim.errors import ConfigError
    assert SystolicNPU.from_config("npu", {"dram_words_per_cycle": 4}).gemm(16, 16, 16)["cycles"] > 0
    with pytest.raises(ConfigError, match="npu.dram_words_per_cycle: must be a whole number"):
        SystolicNPU.from_config("npu", {"dram_words_per_cycle": 0.5})


def test_macs_run_in_the_activations_float_type_else_the_wider_integer():
    from archsim.components.systolic.npu import SystolicNPU
    npu = SystolicNPU.from_config("npu", {"macs_per_pe": {"int8": 4, "fp16": 1, "bf16": 1, "fp32": 1}})
    assert npu.mac_dtype("int8", "fp16") == "fp16"       # w8a16: weights widened to fp16
    assert npu.mac_dtype("int4", "bf16") == "bf16"
    assert npu.mac_dtype("int8", "int8") == "int8"
    assert npu.mac_dtype("int4", "int8") == "int8"       # no int4 rate: int8 PEs
    cyc = {p: npu.gemm(1, 4096, 4096, w, "analytic", dtype_a=a)["cycles"]
           for p, (w, a) in {"fp16": ("fp16", "fp16"), "w8a16": ("int8", "fp16"),
                             "w4a16": ("int4", "fp16"), "int8": ("int8", "int8"),
                             "w4a8": ("int4", "int8")}.items()}
    # narrower weights never make the array slower; only integer activations speed it up
    assert cyc["fp16"] == cyc["w8a16"] == cyc["w4a16"] > cyc["int8"] == cyc["w4a8"]
    npu4 = SystolicNPU.from_config("npu", {"macs_per_pe": {"int4": 8, "int8": 4, "fp16": 1}})
    assert npu4.mac_dtype("int4", "int4") == "int4"


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_sram_bytes_count_every_value_of_a_multi_lane_word(df):
    """An INT8 PE taking 4 MACs a cycle reads 4 values per K-word: the SRAM bytes (and so
    the energy) are those of the values, never below reading each input value once (the
    analytic count). Output stationary reads and writes the same values as at fp16, so half
    the bytes; ws and is fold K over the rows, so int8 also writes fewer partial sums."""
    from archsim.components.systolic.npu import SystolicNPU
    npu = SystolicNPU.from_config("npu", {"rows": 16, "cols": 16, "dataflow": df,
                                          "macs_per_pe": {"int8": 4, "fp16": 1}})
    m, k, n = 8, 256, 64
    i8 = npu.gemm(m, k, n, "int8", "cycle")["sram_bytes"]
    f16 = npu.gemm(m, k, n, "fp16", "cycle")["sram_bytes"]
    assert i8 == f16 / 2 if df == "os" else i8 < f16
    assert i8 >= m * k + k * n + m * n          # every value at least once
    # the closed form counts the folds' re-reads as the kernel does (it counted each value
    # once: prefill SRAM energy was 60x apart between fidelities)
    for dt in ("int8", "fp16"):
        for shape in ((m, k, n), (100, 1000, 300), (33, 17, 65)):
            assert npu.gemm(*shape, dt, "analytic")["sram_bytes"] == npu.gemm(*shape, dt, "cycle")["sram_bytes"]


def test_tile_fetches_count_values_of_multi_lane_words():
    """With 4 lanes a K-word tile holds 4x the values: the DRAM interface (values a cycle)
    takes 4x as long to fetch it, and the words of a buffer half are values."""
    from archsim.components.systolic.api import simulate
    one = simulate(8, 8, "os", 64, 256, 64, lanes=1, bw_words_per_cycle=4)
    four = simulate(8, 8, "os", 64, 256, 64, lanes=4, bw_words_per_cycle=4)
    assert four["dram_words"] == one["dram_words"]
    assert four["sram_reads"] == one["sram_reads"]
    # the same values over the same interface: bandwidth-bound, so the fetch time is alike
    # (counting a 4-value word as one value made the four-lane fetches 4x quicker)
    assert four["stall_cycles"] + four["elapsed_cycles"] >= 0.9 * one["dram_words"]["read"] / 4
    slow = simulate(8, 8, "os", 64, 256, 64, lanes=4, bw_words_per_cycle=1)
    assert slow["stall_cycles"] > 3 * four["stall_cycles"] > 0



def test_every_integer_width_has_its_own_bytes():
    # int3 weights are 3/8 of a byte, not the 2 bytes of an unknown type
    from archsim.components.systolic.npu import SystolicNPU
    npu = SystolicNPU.from_config("npu", {"macs_per_pe": {"int8": 4, "fp16": 1}})
    w = {b: npu.gemm(1, 4096, 4096, f"int{b}", "analytic", dtype_a="int8")["sram_bytes"] for b in range(1, 9)}
    assert all(w[b] < w[b + 1] for b in range(1, 8))
    assert w[4] - w[3] == pytest.approx(4096 * 4096 / 8)

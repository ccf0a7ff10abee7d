"""`simulate(...)`: one GEMM on one array, as `archsim systolic` runs it (SCALE-Sim's set-up)."""

from __future__ import annotations

import math
import time

from archsim.components.systolic.kernel import (DF_CODE, DATAFLOWS, MAX_SIDE, closed_form_cycles,
                                                fold_counts, map_gemm, simulate_gemm)
from archsim.errors import ConfigError

_WARM = False


def _warm() -> float:
    """Load (or compile) the kernel once, so wall_s times the simulation alone."""
    global _WARM
    if _WARM:
        return 0.0
    t0 = time.perf_counter()
    simulate_gemm(2, 2, 0, 3, 3, 3, 0, 1 << 20, 1 << 20)
    _WARM = True
    return time.perf_counter() - t0


# what the kernel may be asked to step: each distinct fold shape cycle by cycle, a cycle
# costing about as much as 32 + rows + cols PE visits (some 5e9 visits a second), then every
# fold (some 6e7 a second); past these a run takes over half a minute
MAX_PROFILE_STEPS = 1.5e11
MAX_FOLDS = 10 ** 9


def _check_work(dataflow, rows, cols, m, k, n, lanes, sr, sc, t) -> None:
    """Refuse a GEMM the cycle-level kernel would take minutes or hours to step (a fold is
    stepped cycle by cycle, then every fold is scheduled), giving its closed-form count."""
    fr, fc = fold_counts(rows, cols, sr, sc)
    # fold shapes the kernel steps: full and last, per side, where they differ
    shapes = (1 + (sr % rows != 0 and fr > 1)) * (1 + (sc % cols != 0 and fc > 1))
    period = rows + cols + t + (0 if dataflow == "os" else rows)
    if shapes * period * (32 + rows + cols) > MAX_PROFILE_STEPS or fr * fc > MAX_FOLDS:
        raise ConfigError(f"{m}x{k}x{n} would take the cycle-level kernel minutes or more "
                          f"({fr * fc} folds of {t} operands each); split the GEMM, or take the "
                          f"stall-free closed form: "
                          f"{closed_form_cycles(dataflow, rows, cols, m, k, n, lanes)} cycles",
                          key="--gemm")


def scalesim_compute_util(dataflow: str, rows: int, cols: int, sr: int, sc: int, t: int) -> float:
    """SCALE-Sim v3's 'compute util': the mean over folds of used MACs x T / (PEs x its fold
    cycle count), where it counts os folds as T+R+C-2 and ws/is folds as 2R+2C+T-3 cycles."""
    fr, fc = fold_counts(rows, cols, sr, sc)
    per = t + rows + cols - 2 if dataflow == "os" else 2 * rows + 2 * cols + t - 3
    # the folds' used PEs add up to the whole mapped matrix, sr x sc
    return sr * sc * t / (rows * cols * per) / (fr * fc)


def simulate(rows: int, cols: int, dataflow: str, m: int, k: int, n: int, lanes: int = 1,
             bw_words_per_cycle: float = 0.0, ifmap_sram_kb: float = 512, filter_sram_kb: float = 512,
             word_bytes: float = 1.0) -> dict:
    if dataflow not in DATAFLOWS:
        raise ConfigError(f"unknown dataflow {dataflow!r}; expected one of {', '.join(DATAFLOWS)}",
                           key="--dataflow")
    for name, v in (("--rows", rows), ("--cols", cols), ("--gemm M", m), ("--gemm K", k),
                    ("--gemm N", n), ("--lanes", lanes)):
        if v <= 0:
            raise ConfigError(f"must be positive, got {v}", key=name)
    # the kernel counts cycles, MACs and SRAM and DRAM words in int64
    for name, v in (("--rows", rows), ("--cols", cols)):
        if v > MAX_SIDE:
            # the kernel's time grows with the array's sides (a fold fills and drains them)
            raise ConfigError(f"must be at most {MAX_SIDE} PEs (a built array has a few "
                              f"hundred), got {v}", key=name)
    if lanes > 2**62:
        raise ConfigError(f"must be at most 2**62, got {lanes}", key="--lanes")
    if m * k * n > 2**62:
        raise ConfigError(f"M x K x N must be at most 2**62 MACs, got {m * k * n}", key="--gemm")
    if not (math.isfinite(bw_words_per_cycle) and bw_words_per_cycle >= 0
            and bw_words_per_cycle == int(bw_words_per_cycle)):
        # the DRAM interface moves whole words each cycle
        raise ConfigError(f"must be a whole number of words per cycle >= 0 (0 = unlimited), "
                          f"got {bw_words_per_cycle}", key="--bandwidth")
    halves = []
    for name, kb in (("--ifmap-sram-kb", ifmap_sram_kb), ("--filter-sram-kb", filter_sram_kb)):
        half = kb * 1024 / 2 / word_bytes if math.isfinite(kb) else 0.0
        if not 1 <= half <= 2**62:
            raise ConfigError(f"must be finite, with each half (double-buffered) holding 1 to "
                              f"2**62 words, got {kb} KiB", key=name)
        halves.append(int(half))
    sr, sc, t = map_gemm(dataflow, m, k, n, lanes)
    _check_work(dataflow, rows, cols, m, k, n, lanes, sr, sc, t)
    compile_s = _warm()
    half_a, half_w = halves
    t0 = time.perf_counter()
    out = simulate_gemm(rows, cols, DF_CODE[dataflow], sr, sc, t, int(math.ceil(bw_words_per_cycle)),
                        half_a, half_w, lanes)
    wall = time.perf_counter() - t0
    total = int(out[0])
    macs = m * k * n
    fr, fc = fold_counts(rows, cols, sr, sc)
    return {
        "cycles": total,
        "utilisation": macs / (lanes * rows * cols * (total + 1)),
        "wall_s": wall,
        "elapsed_cycles": int(out[1]),
        "closed_form_cycles": closed_form_cycles(dataflow, rows, cols, m, k, n, lanes),
        "stall_cycles": int(out[9]),
        "folds": int(out[2]), "row_folds": fr, "col_folds": fc,
        "macs": macs,
        "compute_util_scalesim": scalesim_compute_util(dataflow, rows, cols, sr, sc, t),
        "sram_reads": {"ifmap": int(out[4]), "filter": int(out[5])}, "sram_writes": int(out[6]),
        "dram_words": {"read": int(out[7]), "write": int(out[8])},
        "array": f"{rows}x{cols}", "dataflow": dataflow, "gemm": {"m": m, "k": k, "n": n},
        "compile_s": compile_s,
    }

"""Cycle-level systolic-array kernel (Numba) and its closed form.

Model. A rows x cols PE array runs a GEMM out[M, N] = A[M, K] x W[K, N] in folds. Each
dataflow maps the GEMM onto (Sr, Sc, T): Sr operand rows along the array rows, Sc along
the columns, T the streamed (temporal) dimension:
  os  (output stationary): Sr = M, Sc = N, T = K   (PE (r, c) accumulates out[r, c])
  ws  (weight stationary): Sr = K, Sc = N, T = M   (W tile pinned, A rows streamed)
  is  (input stationary):  Sr = K, Sc = M, T = N   (A tile pinned, W columns streamed)
A PE that takes `lanes` MACs per cycle (an INT8 dot-product PE) shortens K by that factor.
Folds are ceil(Sr/rows) x ceil(Sc/cols), visited column-fold outer, row-fold inner.

Within a fold, operands enter skewed: operand index j reaches PE (r, c) at local cycle
preload + r + c + j (preload = rows cycles to shift the stationary tile in for ws/is, 0 for
os). Padded (unused) rows and columns still pass the wavefront, so a fold retires when the
wavefront of its last operand has crossed PE (rows-1, cols-1): that is its period,
    os: T + rows + cols - 2          ws/is: 2*rows + cols + T - 2,
and an output is written the cycle its last MAC happens. The cycle-stepped fold simulation
below counts, cycle by cycle, the MACs, SRAM reads and writes; it is run once per distinct
fold shape (at most four) and reused.

Across folds an event loop models double-buffered SRAM fed by a DRAM interface of
`bw` words per cycle each way (0 = unlimited, SCALE-Sim's "CALC" interface): fold f+1's
tiles are fetched while fold f computes (a tile already resident is reused), outputs are
written back behind; a fold starts when the array is free and its tiles are in. Total cycles are counted
as SCALE-Sim v3 counts them: the cycle index of the last output write (stall cycles
included, the initial fill of the first fold excluded); `elapsed` adds the first cycle.

Closed form (no stalls): folds x period - 1. A test holds the kernel and the closed form
together; the benchmark holds both against SCALE-Sim v3's measured totals.
"""

from __future__ import annotations

import numba
import numpy as np

#: the longest array side simulated: a fold fills and drains the sides, so the kernel's
#: time grows with them (a 65536-row array runs in seconds; a built one has a few hundred)
MAX_SIDE = 65536

DATAFLOWS = ("os", "ws", "is")
DF_CODE = {"os": 0, "ws": 1, "is": 2}


def map_gemm(dataflow: str, m: int, k: int, n: int, lanes: int = 1) -> tuple[int, int, int]:
    """(Sr, Sc, T) of a GEMM under a dataflow; K is shortened by `lanes` MACs per PE."""
    kk = -(-int(k) // int(lanes))
    if dataflow == "os":
        return int(m), int(n), kk
    if dataflow == "ws":
        return kk, int(n), int(m)
    if dataflow == "is":
        return kk, int(m), int(n)
    raise ValueError(f"unknown dataflow {dataflow!r}")


def fold_period(dataflow: str, rows: int, cols: int, t: int) -> int:
    preload = 0 if dataflow == "os" else rows
    return preload + rows + cols + t - 2


def fold_counts(rows: int, cols: int, sr: int, sc: int) -> tuple[int, int]:
    return -(-sr // rows), -(-sc // cols)


def closed_form_cycles(dataflow: str, rows: int, cols: int, m: int, k: int, n: int, lanes: int = 1) -> int:
    """Total cycles without stalls, as SCALE-Sim counts them: folds x period - 1."""
    sr, sc, t = map_gemm(dataflow, m, k, n, lanes)
    fr, fc = fold_counts(rows, cols, sr, sc)
    return fr * fc * fold_period(dataflow, rows, cols, t) - 1


@numba.njit(cache=True)
def fold_profile(rows, cols, ru, cu, t, df):
    """Step one fold cycle by cycle. ru x cu PEs carry data; the wavefront spans the array.

    Returns (period, macs, ifmap_reads, filter_reads, ofmap_writes, peak_macs_per_cycle).
    """
    preload = 0 if df == 0 else rows
    macs = np.int64(0)
    ifr = np.int64(0)
    flr = np.int64(0)
    ofw = np.int64(0)
    peak = np.int64(0)
    cyc = np.int64(0)
    done = False
    while not done:
        active = np.int64(0)
        if cyc < preload:
            # ws / is: the stationary tile shifts in one array row per cycle
            if cyc < ru:
                if df == 1:
                    flr += cu
                else:
                    ifr += cu
        w = cyc - preload  # wavefront time inside the streaming phase
        if w >= 0:
            for r in range(ru):
                # row r is fed operand j = w - r this cycle
                j = w - r
                if j >= 0 and j < t:
                    if df == 0:
                        ifr += 1
                    elif df == 1:
                        ifr += 1
                    else:
                        flr += 1
                # PEs (r, c) with 0 <= w - r - c < t are busy
                lo = w - r - t + 1
                hi = w - r
                if lo < 0:
                    lo = 0
                if hi > cu - 1:
                    hi = cu - 1
                if hi >= lo:
                    active += hi - lo + 1
            if df == 0:
                # os: the stationary-free operand (W column c) is fed along the top edge
                for c in range(cu):
                    j = w - c
                    if j >= 0 and j < t:
                        flr += 1
                # PE (r, c) writes its output the cycle of its last MAC: r + c = w - t + 1
                s = w - t + 1
                if s >= 0:
                    lo_r = s - (cu - 1)
                    if lo_r < 0:
                        lo_r = 0
                    hi_r = s
                    if hi_r > ru - 1:
                        hi_r = ru - 1
                    if hi_r >= lo_r:
                        ofw += hi_r - lo_r + 1
            else:
                # ws / is: partial sums leave the bottom edge (row rows-1) of column c for
                # operand j = w - (rows - 1) - c
                for c in range(cu):
                    j = w - (rows - 1) - c
                    if j >= 0 and j < t:
                        ofw += 1
            # retire when operand t-1 has crossed PE (rows-1, cols-1)
            if w == (rows - 1) + (cols - 1) + (t - 1):
                done = True
        macs += active
        if active > peak:
            peak = active
        cyc += 1
    return cyc, macs, ifr, flr, ofw, peak


@numba.njit(cache=True)
def _tile_words(df, ru, cu, t):
    """Words of the two input tiles and the output tile of one fold."""
    if df == 0:          # os: A tile ru x T, W tile T x cu, out ru x cu
        return ru * t, t * cu, ru * cu
    elif df == 1:        # ws: A tile T x ru, W tile ru x cu (stationary), out T x cu
        return t * ru, ru * cu, t * cu
    else:                # is: A tile ru x cu (stationary), W tile T x ru, out T x cu
        return ru * cu, t * ru, t * cu


@numba.njit(cache=True)
def simulate_gemm(rows, cols, df, sr, sc, t, bw, ifmap_half, filter_half, lanes=1):
    """Whole-GEMM simulation: cycle-stepped fold profiles + fold-level event loop.

    bw: DRAM values per cycle (0 = unlimited). ifmap_half / filter_half: values one half of
    each double-buffered SRAM holds (a tile larger than that is re-streamed every fold).
    lanes: MACs per PE per cycle; the K dimension (t, sr or sc as mapped) is counted in
    words of `lanes` values, so input reads and fetches are counted in values as lanes x
    words (outputs are one value each).
    Returns int64[12]: total (SCALE-Sim count), elapsed, folds, macs (PE-cycles busy),
    ifmap_sram_reads, filter_sram_reads, ofmap_sram_writes (values), dram_read_values,
    dram_write_values, stall_cycles, compute_cycles (no-stall span), fold_period_full.
    """
    fr = (sr + rows - 1) // rows
    fc = (sc + cols - 1) // cols
    ru_last = sr - (fr - 1) * rows
    cu_last = sc - (fc - 1) * cols
    # profiles of the (up to) four fold shapes: [ru == rows ? 0 : 1][cu == cols ? 0 : 1]
    prof = np.zeros((2, 2, 6), dtype=np.int64)
    for a in range(2):
        ru = rows if a == 0 else ru_last
        for b in range(2):
            cu = cols if b == 0 else cu_last
            # only the shapes some fold has (full folds exist only before the last one,
            # unless the last is full too)
            if (a == 0 and fr == 1 and ru_last != rows) or (a == 1 and ru_last == rows):
                continue
            if (b == 0 and fc == 1 and cu_last != cols) or (b == 1 and cu_last == cols):
                continue
            p = fold_profile(rows, cols, ru, cu, t, df)
            for i in range(6):
                prof[a, b, i] = p[i]
    out = np.zeros(12, dtype=np.int64)
    array_free = np.int64(0)      # cycle the array can start the next fold
    dram_free = np.int64(0)       # cycle the DRAM read path is next idle
    write_free = np.int64(0)      # cycle the DRAM write path is next idle
    prev_a = -1                   # tile ids resident in the buffer halves in use
    prev_w = -1
    last_write = np.int64(-1)
    stalls = np.int64(0)
    compute = np.int64(0)
    start_prev = np.int64(0)      # start of the fold before this one
    nfold = 0
    for f_c in range(fc):
        for f_r in range(fr):
            ru = rows if f_r < fr - 1 else ru_last
            cu = cols if f_c < fc - 1 else cu_last
            a = 0 if ru == rows else 1
            b = 0 if cu == cols else 1
            period = prof[a, b, 0]
            ta, tw, to = _tile_words(df, ru, cu, t)
            # tile ids (a tile still resident from the previous fold is reused)
            if df == 0:
                id_a = f_r
                id_w = f_c
            elif df == 1:
                id_a = f_r
                id_w = f_c * fr + f_r
            else:
                id_a = f_c * fr + f_r
                id_w = f_r
            ta *= lanes
            tw *= lanes
            fetch = np.int64(0)
            if id_a != prev_a or ta > ifmap_half:
                fetch += ta
            if id_w != prev_w or tw > filter_half:
                fetch += tw
            if nfold == 0:
                # the initial fill precedes time 0 (SCALE-Sim's total excludes it)
                start = np.int64(0)
            else:
                ready = np.int64(0)
                if bw > 0 and fetch > 0:
                    # double buffering: the other half frees when the previous fold starts
                    s0 = start_prev if start_prev > dram_free else dram_free
                    ready = s0 + (fetch + bw - 1) // bw
                    dram_free = ready
                start = array_free if array_free > ready else ready
                stalls += start - array_free
            start_prev = start
            array_free = start + period
            compute += period
            last_write = array_free - 1
            if bw > 0:
                # outputs drain behind on the write path (reads and writes have a path each,
                # as SCALE-Sim gives ifmap, filter and ofmap their own interfaces)
                s1 = array_free if array_free > write_free else write_free
                write_free = s1 + (to + bw - 1) // bw
            out[3] += prof[a, b, 1]
            out[4] += prof[a, b, 2] * lanes
            out[5] += prof[a, b, 3] * lanes
            out[6] += prof[a, b, 4]
            out[7] += fetch
            out[8] += to
            prev_a = id_a
            prev_w = id_w
            nfold += 1
    out[0] = last_write
    out[1] = last_write + 1
    out[2] = fr * fc
    out[9] = stalls
    out[10] = compute
    out[11] = (0 if df == 0 else rows) + rows + cols + t - 2     # a full fold's period (fold_period)
    return out

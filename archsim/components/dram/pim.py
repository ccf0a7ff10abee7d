"""Processing in memory: a MAC unit in every bank (SK hynix AiM / Samsung HBM-PIM style).

The PIM channel runs all-bank commands under the same JEDEC timing as plain DRAM:
  WRGB   write 32 B of the input vector into the channel's global buffer (column bus, tCCD_S)
  ACTAB  open the same row in every bank (bank rules tRC, tRP; all-bank activation is a
         PIM-mode command, so the four-activate window does not apply, as in AiM)
  MACAB  every bank reads one 32 B column (16 BF16 weights) into its MAC unit, multiplies it by
         the matching 16 global-buffer elements and accumulates (tRCD after ACTAB; one per
         MAC period: lanes / MAC clock, never faster than tCCD_S)
  RDMAC  read the 16 banks' accumulators (16 x BF16 = 32 B) out over the channel (tCCD_S;
         data after CL + BL; the MAC pipeline must drain first)
  PREA   close the rows (tRAS after ACTAB, tRTP after the last MACAB: RDMAC and WRGB touch
         the MAC latches and the global buffer, not the array, so they overlap the row switch)
  REFab  every tREFI (tRFC), closing and reopening the current row around it.

A GEMV out[n] = x[k] W[k, n] is tiled (`gemv_tiles`) so that each bank owns whole output
neurons, stored row-major (a neuron's weights run along DRAM rows, so MACs stream through a
row before the next ACTAB) and the input is cut into global-buffer-sized chunks; each chunk
leaves one partial sum per neuron for the host (the PIM-GPT ASIC) to accumulate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numba as nb
import numpy as np

from archsim.components.dram.standards import get_standard
from archsim.components.dram.timing import compiled


@dataclass(frozen=True)
class PimSpec:
    standard: str = "gddr6-16000"
    channels: int = 8
    mac_lanes: int = 16               # BF16 multipliers per bank MAC unit (AiM)
    mac_clock_hz: float = 1e9         # AiM MAC clock
    mac_pipeline: int = 4             # MAC clocks from the last MAC to a readable result
    gb_bytes: int = 2048              # global buffer per channel (AiM: 2 KB)
    elem_bytes: int = 2               # BF16
    # energy (pJ), per command: ACT+PRE of one bank, one all-bank MAC (16 banks x 32 B),
    # one 32 B array read / write, I/O per bit on the channel, one REFab; background mW/channel.
    # Defaults are arch_configs/pim-gpt.yaml's figures (source [CENT] there: CENT's AiM energy).
    act_pj: float = 2951.0
    mac_ab_pj: float = 1314.0
    rd_pj: float = 548.0
    wr_pj: float = 691.0
    io_pj_per_bit: float = 5.5
    ref_pj: float = 0.0
    background_mw: float = 263.8


def gemv_tiles(k: int, n: int, channels: int, banks: int, gb_elems: int) -> np.ndarray:
    """Tiles of W[k, n]: rows (channel, bank, neuron0, neurons, k0, kc). Each bank owns a
    contiguous block of output neurons (blocks dealt round-robin over channels first, so the
    channels stay balanced); the input dimension is cut into global-buffer chunks."""
    if k <= 0 or n <= 0:
        return np.zeros((0, 6), dtype=np.int64)
    units = channels * banks
    per = -(-n // units)
    rows = []
    for u in range(units):
        n0 = u * per
        if n0 >= n:
            break
        cnt = min(per, n - n0)
        ch, bank = u % channels, u // channels
        for k0 in range(0, k, gb_elems):
            rows.append((ch, bank, n0, cnt, k0, min(gb_elems, k - k0)))
    return np.array(rows, dtype=np.int64).reshape(-1, 6)


@nb.njit(cache=True)
def _pim_channel(neurons, chunks, row_elems, lanes_per_mac, t_mac, nrcd, nras, nrp, nrc, nrtp,
                 nccds, ncl, nbl, t_pipe, nrfc, nrefi, counts):
    """Ticks one channel needs for `neurons` per bank over the input `chunks` (elements each).
    counts: [ACTAB, MACAB, WRGB, RDMAC, REFab] issued.

    Column commands (WRGB, MACAB, RDMAC) share the channel's column bus in program order;
    row commands (PREA, ACTAB, REFab) follow their own bank rules. Only MACAB reads the
    array, so a row switch waits on the last MACAB (tRTP), not on the RDMAC that reads the
    accumulators out, nor on the WRGBs that refill the global buffer: those overlap the
    precharge and the next activation."""
    never = -(1 << 40)
    act_t = -nrc                  # the first ACTAB may issue at tick 0
    pre_t = -nrp
    last_col = -nccds             # last column-bus command (the first may issue at tick 0)
    last_mac = never              # last MACAB: the last array read
    open_row = -1
    next_ref = nrefi // 2          # a job starts at a random refresh phase: half a tREFI on average
    elem = 0                      # element position in the bank's weight stream
    done = 0
    for c in range(chunks.shape[0]):
        kc = chunks[c]
        # refill the global buffer: kc elements, 32 B (16 BF16) per WRGB; the previous chunk's
        # MACs must have read it first
        for _w in range((kc + 15) // 16):
            tw = max(last_col + nccds, last_mac + 1)
            last_col = tw
            counts[2] += 1
        macs = (kc + lanes_per_mac - 1) // lanes_per_mac
        for _n in range(neurons):
            first = True
            for _m in range(macs):
                row = elem // row_elems
                now = last_col + nccds
                if row != open_row or now >= next_ref:
                    if open_row >= 0:
                        pre_t = max(act_t + nras, last_mac + nrtp)
                    if max(now, pre_t + nrp) >= next_ref:
                        tr = max(pre_t + nrp, act_t + nrc, 0)
                        pre_t = tr + nrfc - nrp     # the banks are idle after tRFC
                        next_ref += nrefi
                        counts[4] += 1
                    act_t = max(pre_t + nrp, act_t + nrc)
                    open_row = row
                    counts[0] += 1
                tm = max(last_col + nccds, act_t + nrcd)
                if not first:
                    tm = max(tm, last_mac + t_mac)
                last_mac = tm
                last_col = tm
                first = False
                counts[1] += 1
                elem += lanes_per_mac
            # read the 16 accumulators once the MAC pipeline drained
            tr = max(last_col + nccds, last_mac + t_pipe)
            last_col = tr
            done = max(done, tr + ncl + nbl)
            counts[3] += 1
    return max(last_col, done)


@lru_cache(maxsize=4096)
def pim_gemv(spec: PimSpec, k: int, n: int, channels_used: int = 0) -> dict:
    """Cycle-level cost of one GEMV on the PIM channels (all channels run in parallel; the
    busiest one sets the time). Returns seconds, ticks, command counts, energy (pJ), bytes.
    The input is cut into chunks of the global buffer, or of a half or a quarter of it where
    that is faster (a chunk's buffer writes wait before its first MAC, so a smaller first
    chunk can start the MACs sooner): a larger buffer is never slower than a smaller one."""
    gb_elems = spec.gb_bytes // spec.elem_bytes
    best = None
    for shift in range(3):
        chunk = gb_elems >> shift
        if chunk < 32 // spec.elem_bytes or (shift and chunk >= k):
            break
        r = _pim_gemv(spec, k, n, channels_used, chunk)
        if best is None or r["ticks"] < best["ticks"]:
            best = r
    return best


def _pim_gemv(spec: PimSpec, k: int, n: int, channels_used: int, gb_elems: int) -> dict:
    std = get_standard(spec.standard)
    comp = compiled(std)
    tt = comp.timing_ticks
    nch = channels_used or spec.channels
    banks = comp.nbanks
    row_elems = std.columns * std.channel_bits // 8 // spec.elem_bytes
    tile = gemv_tiles(k, n, nch, banks, gb_elems)
    tck = std.tick_ps * 1e-12
    lanes = 32 // spec.elem_bytes                    # elements per 32 B column
    t_mac = max(tt["nCCDS"], math.ceil(lanes / spec.mac_lanes / spec.mac_clock_hz / tck - 1e-9))
    t_pipe = math.ceil(spec.mac_pipeline / spec.mac_clock_hz / tck - 1e-9)
    worst, counts_all = 0, np.zeros(5, dtype=np.int64)
    per_ch = {}
    for ch in range(nch):
        sel = tile[tile[:, 0] == ch]
        if len(sel) == 0:
            continue
        neurons = int(sel[sel[:, 1] == 0][:, 3].max()) if (sel[:, 1] == 0).any() else int(sel[:, 3].max())
        chunks = np.array(sorted({(int(r[4]), int(r[5])) for r in sel}), dtype=np.int64)[:, 1]
        key = (neurons, tuple(chunks.tolist()))
        if key not in per_ch:
            cnt = np.zeros(5, dtype=np.int64)
            ticks = _pim_channel(neurons, chunks, row_elems, lanes, t_mac, tt["nRCDRD"], tt["nRAS"],
                                 tt["nRP"], tt["nRC"], tt["nRTP"], tt["nCCDS"], tt["nCL"], tt["nBL"],
                                 t_pipe, tt["nRFC"], comp.refi, cnt)
            per_ch[key] = (int(ticks), cnt)
        ticks, cnt = per_ch[key]
        worst = max(worst, ticks)
        counts_all += cnt
    seconds = worst * tck
    act, mac, wrgb, rdmac, ref = (int(x) for x in counts_all)
    e = {"activate_pj": act * banks * spec.act_pj,
         "mac_pj": mac * spec.mac_ab_pj,
         "gb_write_pj": wrgb * 32 * 8 * spec.io_pj_per_bit,        # SRAM buffer: I/O only
         "readout_pj": rdmac * (spec.rd_pj + 32 * 8 * spec.io_pj_per_bit),
         "refresh_pj": ref * spec.ref_pj,
         "background_pj": spec.background_mw * 1e-3 * seconds * 1e12 * nch}
    return {"seconds": seconds, "ticks": int(worst), "commands": {"ACTAB": act, "MACAB": mac,
            "WRGB": wrgb, "RDMAC": rdmac, "REFab": ref}, "energy_pj": float(sum(e.values())),
            "energy": e, "weight_bytes": int(k) * int(n) * spec.elem_bytes, "chunk_elems": int(gb_elems),
            "partial_sums": int(tile[:, 3].sum()) if len(tile) else 0}


def pim_write(spec: PimSpec, nbytes: int) -> dict:
    """Host writes of `nbytes` spread over the channels (KV-cache append): open a row, stream
    32 B column writes at tCCD_S, close it."""
    std = get_standard(spec.standard)
    comp = compiled(std)
    tt = comp.timing_ticks
    writes = -(-int(nbytes) // 32)                 # 32 B column writes, dealt round the channels
    per = -(-writes // spec.channels)
    ticks = tt["nRCDWR"] + per * tt["nCCDS"] + tt["nCWL"] + tt["nBL"] + tt["nWR"] + tt["nRP"] if per else 0
    seconds = ticks * std.tick_ps * 1e-12
    # each channel that gets a share opens a row for it
    e = writes * (spec.wr_pj + 32 * 8 * spec.io_pj_per_bit) + spec.act_pj * min(writes, spec.channels)
    return {"seconds": seconds, "ticks": int(ticks), "energy_pj": float(e)}

"""Compile a Standard into the integer tables the controller kernel and the checker use.

All values are in controller ticks (CK x tick_mult). A command that occupies its bus for
more than one tick is recorded at its first tick, so a constraint from a k-tick command is
lengthened by k-1 and one to a k-tick command shortened by k-1 (JEDEC timings run between
the ends of the commands). Dual-bus standards get bus-occupancy rules per bus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from archsim.components.dram.standards import (COLUMN_COMMANDS, COMMANDS, CMD, ROW_COMMANDS,
                                               Standard)
from archsim.errors import ConfigError

NCMD = len(COMMANDS)
HIST = 4   # deepest command history kept (the four-activate window)

# address mappings: fields from the least significant bit up (after the transaction offset)
MAPPINGS = {
    # row | bank | bank group | rank or pseudo-channel | column  (| channel below, interleaved)
    "RoBaRaCoCh": "col,levels,row",
    # row | column | bank | rank | bank group: consecutive lines rotate over bank groups first
    "RoCoBaRaBgCh": "bankgroup,levels_nobg,col,row",
}


@dataclass(frozen=True)
class Compiled:
    std: Standard
    nlev: int
    level_names: tuple
    level_size: np.ndarray      # [nlev] children per parent (level 0 = 1)
    level_offset: np.ndarray    # [nlev] first flat node id of each level
    n_nodes: int
    nbanks: int
    bank_path: np.ndarray       # [nbanks, nlev] flat node ids along the path
    scope_level: int            # all-bank refresh scope
    # constraints grouped by (level, preceding command)
    c_start: np.ndarray         # [nlev, NCMD+1] offsets into c_next/c_lat/c_win
    c_next: np.ndarray
    c_lat: np.ndarray
    c_win: np.ndarray
    s_start: np.ndarray         # sibling rules, same layout
    s_next: np.ndarray
    s_lat: np.ndarray
    hist_depth: np.ndarray      # [nlev, NCMD]
    has_sib: np.ndarray         # [nlev, NCMD] 1 if a sibling rule exists for this command
    flat_rules: np.ndarray      # [n, 6] level, prev, next, latency, window, sibling (checker)
    timing_ticks: dict
    read_latency: int
    refi: int
    refi_pb: int
    cmd_ticks: np.ndarray       # [NCMD] bus ticks per command
    is_row: np.ndarray          # [NCMD]
    is_col: np.ndarray
    used: np.ndarray            # [NCMD] 1 if the standard has the command
    tick_ps: float
    tx_bytes: int
    col_bits: int
    row_bits: int
    map_fields: tuple           # per mapping name: tuple of (kind, level index, bits)


def _log2(n: int, what: str) -> int:
    b = int(n).bit_length() - 1
    if n <= 0 or (1 << b) != n:
        raise ConfigError(f"{what} must be a power of two, got {n}")
    return b


def _eval(expr: str, values: dict, std: Standard) -> int:
    def sub(m):
        name = m.group(0)
        if name not in values:
            raise ConfigError(f"timing {name!r} used by a rule is not defined", std.name, "timing")
        return str(values[name])
    out = eval(re.sub(r"[A-Za-z_]\w*", sub, expr), {"__builtins__": {}})   # noqa: S307 (spec text)
    return int(out)


def standard_commands(std: Standard) -> tuple:
    base = ["ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA", "REFab"]
    if std.has_refpb:
        base.append("REFpb")
    return tuple(base)


def compile_standard(std: Standard) -> Compiled:
    std.check()
    levels = std.levels
    nlev = len(levels)
    lidx = {n: i for i, n in enumerate(levels)}
    size = np.ones(nlev, dtype=np.int64)
    for i, lv in enumerate(levels[1:], 1):
        size[i] = int(std.sizes[lv])
        if size[i] <= 0:
            raise ConfigError(f"must be positive, got {size[i]}", std.name, f"org.{lv}")
    count = np.cumprod(size)
    offset = np.zeros(nlev, dtype=np.int64)
    offset[1:] = np.cumsum(count)[:-1]
    n_nodes = int(count.sum())
    nbanks = int(count[-1])
    bank_path = np.zeros((nbanks, nlev), dtype=np.int64)
    for b in range(nbanks):
        rem = b
        idx = []
        for lvl in range(nlev - 1, 0, -1):
            idx.append(rem % size[lvl])
            rem //= size[lvl]
        idx = idx[::-1]
        flat = 0
        bank_path[b, 0] = 0
        for lvl in range(1, nlev):
            flat = flat * size[lvl] + idx[lvl - 1]
            bank_path[b, lvl] = offset[lvl] + flat

    tm = std.tick_mult
    values = {k: int(v) * tm for k, v in std.timing.items()}
    used = standard_commands(std)
    ticks = np.full(NCMD, tm, dtype=np.int64)
    for c, cyc in std.cmd_cycles.items():
        ticks[CMD[c]] = int(round(cyc * tm))

    rules = []   # (level, prev, next, lat, window, sibling)
    if std.dual_bus:
        buses = [[c for c in ROW_COMMANDS if c in used], [c for c in COLUMN_COMMANDS if c in used]]
    else:
        buses = [list(used)]
    for bus in buses:
        for p in bus:
            t = int(ticks[CMD[p]])
            if t > 1:
                rules += [(0, CMD[p], CMD[f], t, 1, 0) for f in bus]
    for (level, prev, nxt, expr, window, sibling) in std.constraints:
        if level not in lidx:
            raise ConfigError(f"rule names level {level!r}, not in {levels}", std.name, "constraints")
        nominal = _eval(expr, values, std)
        for p in prev:
            for f in nxt:
                if p not in used or f not in used:
                    continue
                lat = nominal + (int(ticks[CMD[p]]) - 1) - (int(ticks[CMD[f]]) - 1)
                rules.append((lidx[level], CMD[p], CMD[f], lat, int(window), int(bool(sibling))))

    # merge same (level, prev, next, window 1) rules: only the longest one binds
    best: dict = {}
    windowed = []
    sib: dict = {}
    for (lv, p, f, lat, w, s) in rules:
        if s:
            key = (lv, p, f)
            sib[key] = max(sib.get(key, -10**9), lat)
        elif w == 1:
            key = (lv, p, f)
            best[key] = max(best.get(key, -10**9), lat)
        else:
            windowed.append((lv, p, f, lat, w))
    normal = [(lv, p, f, lat, 1) for (lv, p, f), lat in best.items()] + windowed
    normal.sort()
    hist_depth = np.zeros((nlev, NCMD), dtype=np.int64)
    for (lv, p, f, lat, w) in normal:
        hist_depth[lv, p] = max(hist_depth[lv, p], w)
    # rules of (level, preceding command) lie at [start[lv*NCMD+p], start[lv*NCMD+p+1])
    flat_start = np.zeros(nlev * NCMD + 1, dtype=np.int64)
    s_flat_start = np.zeros(nlev * NCMD + 1, dtype=np.int64)
    cn, cl, cw, sn, sl = [], [], [], [], []
    has_sib = np.zeros((nlev, NCMD), dtype=np.int64)
    for lv in range(nlev):
        for p in range(NCMD):
            i = lv * NCMD + p
            flat_start[i] = len(cn)
            for (l2, p2, f, lat, w) in normal:
                if l2 == lv and p2 == p:
                    cn.append(f)
                    cl.append(lat)
                    cw.append(w)
            s_flat_start[i] = len(sn)
            for (l2, p2, f), lat in sorted(sib.items()):
                if l2 == lv and p2 == p:
                    sn.append(f)
                    sl.append(lat)
                    has_sib[lv, p] = 1
    flat_start[-1] = len(cn)
    s_flat_start[-1] = len(sn)
    flat_rules = np.array([(lv, p, f, lat, w, 0) for (lv, p, f, lat, w) in normal]
                          + [(lv, p, f, lat, 1, 1) for (lv, p, f), lat in sorted(sib.items())],
                          dtype=np.int64).reshape(-1, 6)

    is_row = np.zeros(NCMD, dtype=np.int64)
    is_col = np.zeros(NCMD, dtype=np.int64)
    for c in ROW_COMMANDS:
        is_row[CMD[c]] = 1
    for c in COLUMN_COMMANDS:
        is_col[CMD[c]] = 1
    used_arr = np.zeros(NCMD, dtype=np.int64)
    for c in used:
        used_arr[CMD[c]] = 1

    col_bits = _log2(std.columns, "org.columns") - _log2(std.prefetch, "org.prefetch")
    row_bits = _log2(std.rows, "org.rows")
    level_bits = [(_log2(int(size[i]), f"org.{levels[i]}")) for i in range(nlev)]
    fields = {}
    for mname, layout in MAPPINGS.items():
        out = []
        for part in layout.split(","):
            if part == "col":
                out.append(("col", -1, col_bits))
            elif part == "row":
                out.append(("row", -1, row_bits))
            elif part == "levels":
                out += [("lvl", i, level_bits[i]) for i in range(1, nlev)]
            elif part == "levels_nobg":
                out += [("lvl", i, level_bits[i]) for i in range(1, nlev) if levels[i] != "bankgroup"]
            elif part == "bankgroup":
                if "bankgroup" in lidx:
                    out.append(("lvl", lidx["bankgroup"], level_bits[lidx["bankgroup"]]))
        fields[mname] = tuple(out)

    refi = int(std.timing[std.refi_key]) * tm
    refi_pb = int(std.timing.get("nREFIpb", max(1, std.timing[std.refi_key] // nbanks))) * tm
    return Compiled(
        std=std, nlev=nlev, level_names=levels, level_size=size, level_offset=offset,
        n_nodes=n_nodes, nbanks=nbanks, bank_path=bank_path, scope_level=lidx[std.refresh_scope],
        c_start=flat_start, c_next=np.array(cn, dtype=np.int64), c_lat=np.array(cl, dtype=np.int64),
        c_win=np.array(cw, dtype=np.int64), s_start=s_flat_start, s_next=np.array(sn, dtype=np.int64),
        s_lat=np.array(sl, dtype=np.int64), hist_depth=hist_depth, has_sib=has_sib,
        flat_rules=flat_rules, timing_ticks=values, read_latency=_eval(std.read_latency, values, std),
        refi=refi, refi_pb=refi_pb, cmd_ticks=ticks, is_row=is_row, is_col=is_col, used=used_arr,
        tick_ps=std.tick_ps, tx_bytes=std.tx_bytes, col_bits=col_bits, row_bits=row_bits,
        map_fields=tuple(sorted(fields.items())))


_COMPILED: dict = {}


def compiled(std: Standard) -> Compiled:
    """Memoised compile, keyed by the standard's whole contents (its dict fields make the
    frozen dataclass unhashable, so its repr stands for it)."""
    key = repr(std)
    comp = _COMPILED.get(key)
    if comp is None:
        if len(_COMPILED) >= 64:
            _COMPILED.pop(next(iter(_COMPILED)))
        comp = _COMPILED[key] = compile_standard(std)
    return comp


def decode(comp: Compiled, addrs: np.ndarray, channels: int = 1, mapping: str = "RoBaRaCoCh",
           interleave_bits: int = 0):
    """Byte addresses -> (channel, flat bank, row, column) arrays (cache-line channel interleave)."""
    fields = dict(comp.map_fields)
    if mapping not in fields:
        raise ConfigError(f"unknown address mapping {mapping!r}; known: {', '.join(fields)}",
                          None, "mapping")
    a = np.asarray(addrs, dtype=np.int64)
    tx_off = _log2(comp.tx_bytes, "transaction size")
    if channels > 1 and channels & (channels - 1) == 0:
        cb = _log2(channels, "channels")
        shift = tx_off + interleave_bits
        ch = (a >> shift) & (channels - 1)
        low = a & ((1 << shift) - 1)
        a = ((a >> (shift + cb)) << shift) | low
    elif channels > 1:
        # any other channel count: lines dealt round-robin (modulo) over the channels
        shift = tx_off + interleave_bits
        line = a >> shift
        ch = line % channels
        a = ((line // channels) << shift) | (a & ((1 << shift) - 1))
    else:
        ch = np.zeros(len(a), dtype=np.int64)
    a = a >> tx_off
    lvl = np.zeros((comp.nlev, len(a)), dtype=np.int64)
    row = np.zeros(len(a), dtype=np.int64)
    col = np.zeros(len(a), dtype=np.int64)
    for kind, li, bits in fields[mapping]:
        part = a & ((1 << bits) - 1)
        a = a >> bits
        if kind == "col":
            col = part
        elif kind == "row":
            row = part
        else:
            lvl[li] = part
    bank = np.zeros(len(row), dtype=np.int64)
    for li in range(1, comp.nlev):
        bank = bank * comp.level_size[li] + lvl[li]
    return ch, bank, row, col

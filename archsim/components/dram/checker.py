"""An independent timing checker: replays a command log and reports every violation.

It shares nothing with the controller kernel but the Standard itself: the rules are expanded
here again from the spec text, and the check runs backwards (for each command, look up when
each constraining command last issued on each node it touches) where the kernel runs forwards
(each command pushes ready times). Bank state is checked too (ACT to an open bank, a column
command to a closed bank or to another row, a refresh with rows open), and the command buses
(one command per tick, or one row plus one column command on dual-bus parts; HBM3 column
commands and ACT on rising edges only).

Log rows: (tick, channel, command, flat bank, scope level or -1, row).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numba as nb
import numpy as np

from archsim.components.dram.standards import (COLUMN_COMMANDS, COMMANDS, ROW_COMMANDS, Standard)
from archsim.errors import ConfigError

NONE = -(1 << 40)
_I = {c: i for i, c in enumerate(COMMANDS)}


@dataclass
class Violation:
    index: int          # row of the log
    tick: int
    kind: str           # timing | state | bus
    level: str
    prev: str
    cmd: str
    required: int       # earliest legal tick (timing)
    window: int
    sibling: bool

    def __str__(self):
        if self.kind == "timing":
            rel = "sibling " if self.sibling else ""
            w = f" (window {self.window})" if self.window > 1 else ""
            return (f"log[{self.index}] tick {self.tick}: {self.cmd} after {self.prev} on the same "
                    f"{rel}{self.level}{w} needs tick >= {self.required}")
        return f"log[{self.index}] tick {self.tick}: {self.kind} violation by {self.cmd}: {self.prev}"


def rule_tables(std: Standard):
    """Expand the spec's rules: dense [level, prev, next] latency tables in ticks for window-1,
    four-activate-window and sibling rules (NONE where no rule)."""
    levels = std.levels
    nl, nc = len(levels), len(COMMANDS)
    m = std.tick_mult
    vals = {k: int(v) * m for k, v in std.timing.items()}
    used = {"ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA", "REFab"}
    if any("REFpb" in r[1] or "REFpb" in r[2] for r in std.constraints):
        used.add("REFpb")

    def ticks(c):
        return int(round(std.cmd_cycles.get(c, 1) * m))

    def value(expr):
        return int(eval(re.sub(r"[A-Za-z_]\w*", lambda mm: str(vals[mm.group(0)]), expr),
                        {"__builtins__": {}}))

    lat = np.full((nl, nc, nc), NONE, dtype=np.int64)
    faw = np.full((nl, nc, nc), NONE, dtype=np.int64)
    sib = np.full((nl, nc, nc), NONE, dtype=np.int64)
    for level, prev, nxt, expr, window, sibling in std.constraints:
        li = levels.index(level)
        base = value(expr)
        for p in prev:
            for f in nxt:
                if p not in used or f not in used:
                    continue
                v = base + ticks(p) - ticks(f)
                tab = sib if sibling else (faw if window == 4 else lat)
                tab[li, _I[p], _I[f]] = max(tab[li, _I[p], _I[f]], v)
    # a command holding its bus for k ticks keeps every other command on that bus off it
    buses = ([ROW_COMMANDS, COLUMN_COMMANDS] if std.dual_bus else [COMMANDS])
    for bus in buses:
        for p in bus:
            if p in used and ticks(p) > 1:
                for f in bus:
                    if f in used:
                        lat[0, _I[p], _I[f]] = max(lat[0, _I[p], _I[f]], ticks(p))
    return lat, faw, sib


@nb.njit(cache=True, inline="always")
def _report(out, nout, idx, kind, level, prev_cmd, cmd, required, window, sibling):
    """Write one violation row (read back into a Violation by `check_log`); the next free row.
    kind: 0 timing, 1 state, 2 bus."""
    out[nout, 0] = idx
    out[nout, 1] = kind
    out[nout, 2] = level
    out[nout, 3] = prev_cmd
    out[nout, 4] = cmd
    out[nout, 5] = required
    out[nout, 6] = window
    out[nout, 7] = sibling
    return nout + 1


@nb.njit(cache=True, inline="always")
def _touched(l, bank, first_bank, nb_, spec, off, below):
    """Nodes [n0, n1) of level l a command touches: the bank's own node up to its scope's
    level, every node of the scope's subtree below it."""
    if l <= spec:
        n0 = off[l] + bank // below[l]
        return n0, n0 + 1
    n0 = off[l] + first_bank // below[l]
    return n0, (n0 + nb_ // below[l] if below[l] <= nb_ else n0 + 1)


@nb.njit(cache=True)
def _replay(log, nch, sizes, lat, faw, sib, is_row, is_col, dual_bus, edge_rules, out, out_cap):
    nl = sizes.shape[0]
    nc = lat.shape[1]
    below = np.ones(nl, dtype=np.int64)
    for l in range(nl - 2, -1, -1):
        below[l] = below[l + 1] * sizes[l + 1]
    nbanks = below[0]
    count = np.ones(nl, dtype=np.int64)
    for l in range(1, nl):
        count[l] = count[l - 1] * sizes[l]
    off = np.zeros(nl, dtype=np.int64)
    for l in range(1, nl):
        off[l] = off[l - 1] + count[l - 1]
    nnodes = off[nl - 1] + count[nl - 1]
    hist = np.full((nch, nnodes, nc, 4), NONE, dtype=np.int64)
    openr = np.full((nch, nbanks), -1, dtype=np.int64)
    last_tick = np.full((nch, 2), -1, dtype=np.int64)
    nout = 0
    for idx in range(log.shape[0]):
        t = log[idx, 0]
        ch = log[idx, 1]
        f = log[idx, 2]
        bank = log[idx, 3]
        scope = log[idx, 4]
        row = log[idx, 5]
        spec = nl - 1 if scope < 0 else scope
        # ---- command bus ----
        bus = 0
        if dual_bus == 1 and is_col[f] == 1:
            bus = 1
        bad_bus = last_tick[ch, bus] == t
        if edge_rules == 1 and t % 2 == 0 and (is_col[f] == 1 or (f != 1 and f != 2)):
            bad_bus = True
        last_tick[ch, bus] = t
        if bad_bus and nout < out_cap:
            nout = _report(out, nout, idx, 2, 0, -1, f, -1, 1, 0)
        # ---- bank state ----
        first_bank = (bank // below[spec]) * below[spec] if scope >= 0 else bank
        nb_ = below[spec] if scope >= 0 else 1
        bad_state = False
        if f == 0:                       # ACT
            bad_state = openr[ch, bank] >= 0
            openr[ch, bank] = row
        elif f == 3 or f == 4 or f == 5 or f == 6:   # RD WR RDA WRA
            bad_state = openr[ch, bank] < 0 or (row >= 0 and openr[ch, bank] != row)
            if f == 5 or f == 6:
                openr[ch, bank] = -1
        elif f == 1:                     # PRE
            openr[ch, bank] = -1
        elif f == 2:                     # PREA
            for b in range(first_bank, first_bank + nb_):
                openr[ch, b] = -1
        elif f == 7:                     # REFab
            for b in range(first_bank, first_bank + nb_):
                if openr[ch, b] >= 0:
                    bad_state = True
        elif f == 8:                     # REFpb
            bad_state = openr[ch, bank] >= 0
        if bad_state and nout < out_cap:
            nout = _report(out, nout, idx, 1, 0, -1, f, -1, 1, 0)
        # ---- timing: every node this command touches ----
        for l in range(nl):
            pre = bank // below[l]
            n0, n1 = _touched(l, bank, first_bank, nb_, spec, off, below)
            for n in range(n0, n1):
                for p in range(nc):
                    v = lat[l, p, f]
                    if v != NONE:
                        past = hist[ch, n, p, 0]
                        if past != NONE and t < past + v and nout < out_cap:
                            nout = _report(out, nout, idx, 0, l, p, f, past + v, 1, 0)
                    v = faw[l, p, f]
                    if v != NONE:
                        past = hist[ch, n, p, 3]
                        if past != NONE and t < past + v and nout < out_cap:
                            nout = _report(out, nout, idx, 0, l, p, f, past + v, 4, 0)
            # sibling rules: the other children of this node's parent
            if l >= 1 and l <= spec:
                parent_first = off[l] + (pre // sizes[l]) * sizes[l]
                for n in range(parent_first, parent_first + sizes[l]):
                    if n == off[l] + pre:
                        continue
                    for p in range(nc):
                        v = sib[l, p, f]
                        if v != NONE:
                            past = hist[ch, n, p, 0]
                            if past != NONE and t < past + v and nout < out_cap:
                                nout = _report(out, nout, idx, 0, l, p, f, past + v, 1, 1)
        # ---- record ----
        for l in range(nl):
            n0, n1 = _touched(l, bank, first_bank, nb_, spec, off, below)
            for n in range(n0, n1):
                for k in range(3, 0, -1):
                    hist[ch, n, f, k] = hist[ch, n, f, k - 1]
                hist[ch, n, f, 0] = t
    return nout


def check_log(std: Standard, log: np.ndarray, channels: int = 1, max_report: int = 10_000):
    """Violations of `std`'s rules in a command log (an empty list when it is legal)."""
    lat, faw, sib = rule_tables(std)
    sizes = np.array([1] + [int(std.sizes[lv]) for lv in std.levels[1:]], dtype=np.int64)
    is_row = np.array([1 if c in ROW_COMMANDS else 0 for c in COMMANDS], dtype=np.int64)
    is_col = np.array([1 if c in COLUMN_COMMANDS else 0 for c in COMMANDS], dtype=np.int64)
    log = np.ascontiguousarray(log, dtype=np.int64).reshape(-1, 6)
    # the replay indexes its tables by these columns without bounds checks: refuse a log that
    # does not belong to this standard and channel count rather than read or write past them
    nbanks = int(np.prod(sizes))
    if channels < 1:
        raise ConfigError(f"channels must be positive, got {channels}", None, "channels")
    for col, name, hi in ((1, "channel", channels), (2, "command", len(COMMANDS)),
                          (3, "bank", nbanks)):
        bad = (log[:, col] < 0) | (log[:, col] >= hi)
        if bad.any():
            i = int(np.argmax(bad))
            raise ConfigError(f"row {i}: {name} {int(log[i, col])} is outside 0..{hi - 1} "
                              f"({std.name}, {channels} channel(s))", None, "log")
    bad = (log[:, 4] < -1) | (log[:, 4] >= len(sizes))
    if bad.any():
        i = int(np.argmax(bad))
        raise ConfigError(f"row {i}: scope level {int(log[i, 4])} is outside -1..{len(sizes) - 1}",
                          None, "log")
    out = np.zeros((max_report, 8), dtype=np.int64)
    n = _replay(log, channels, sizes, lat, faw, sib, is_row, is_col,
                1 if std.dual_bus else 0, 1 if std.edge_rules else 0, out, max_report)
    kinds = ("timing", "state", "bus")
    res = []
    for row in out[:n]:
        idx, kind, lvl, p, f, req, w, s = (int(x) for x in row)
        res.append(Violation(idx, int(log[idx, 0]), kinds[kind], std.levels[lvl] if p >= 0 else "",
                             COMMANDS[p] if p >= 0 else "", COMMANDS[f], req, w, bool(s)))
    return res


def rules_list(std: Standard):
    """(level, prev, next, latency, window, sibling) for every binding rule (tests iterate it)."""
    lat, faw, sib = rule_tables(std)
    out = []
    for tab, w, s in ((lat, 1, False), (faw, 4, False), (sib, 1, True)):
        for l, p, f in zip(*np.nonzero(tab != NONE)):
            out.append((std.levels[l], COMMANDS[p], COMMANDS[f], int(tab[l, p, f]), w, s))
    return out


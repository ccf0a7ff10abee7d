"""Run an address stream through the controller kernel and report the peers' metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from archsim.components import unsigned_index
from archsim.components.dram import MAX_CHANNELS
from archsim.components.dram import kernel as K
from archsim.components.dram.energy import energy_pj
from archsim.components.dram.standards import Standard
from archsim.components.dram.timing import Compiled, compiled, decode
from archsim.errors import ConfigError

ROW_POLICIES = {"open": 0, "closed": 1}
REFRESH = {"all-bank": 0, "per-bank": 1, "none": 2}


@dataclass
class Controller:
    """Controller options (the defaults are the peers' set-up)."""
    queue: int = 32
    write_queue: int = 32
    wr_low: float = 0.2
    wr_high: float = 0.8
    row_policy: str = "open"
    refresh: str = "all-bank"
    mapping: str = "RoBaRaCoCh"

    def check(self, std: Standard):
        for key, v in (("controller.queue", self.queue), ("controller.write_queue", self.write_queue)):
            if v <= 0:
                raise ConfigError(f"must be positive, got {v}", None, key)
        if not 0 <= self.wr_low < self.wr_high <= 1:
            # write mode starts above wr_high and drains to wr_low (fractions of the write queue)
            raise ConfigError(f"the write-drain watermarks need 0 <= wr_low < wr_high <= 1, got "
                              f"{self.wr_low} and {self.wr_high}", None, "controller.wr_low")
        if self.row_policy not in ROW_POLICIES:
            raise ConfigError(f"unknown row policy {self.row_policy!r}; known: open, closed", None,
                              "row_policy")
        if self.refresh not in REFRESH:
            raise ConfigError(f"unknown refresh {self.refresh!r}; known: {', '.join(REFRESH)}", None,
                              "refresh")
        if self.refresh == "per-bank" and not std.has_refpb:
            raise ConfigError(f"{std.name} has no per-bank refresh command", None, "refresh")
        if self.refresh == "per-bank":
            std.check(per_bank=True)


def _kernel_args(comp: Compiled, ctl: Controller, channels: int):
    pc_of_bank = np.zeros(comp.nbanks, dtype=np.int64)
    if comp.nlev > 1:
        per = comp.nbanks // int(comp.level_size[1])
        pc_of_bank = np.arange(comp.nbanks, dtype=np.int64) // per
    refi = comp.refi_pb if ctl.refresh == "per-bank" else comp.refi
    return (channels, comp.nlev, comp.level_size, comp.level_offset, comp.n_nodes, comp.nbanks,
            comp.bank_path, comp.scope_level, pc_of_bank, comp.c_start, comp.c_next, comp.c_lat,
            comp.c_win, comp.s_start, comp.s_next, comp.s_lat, comp.hist_depth, comp.has_sib,
            comp.is_row, comp.is_col, comp.read_latency, refi, REFRESH[ctl.refresh],
            1 if comp.std.dual_bus else 0, 1 if comp.std.edge_rules else 0,
            ROW_POLICIES[ctl.row_policy], ctl.queue, ctl.write_queue, ctl.wr_low, ctl.wr_high)


_WARM: set = set()


def warm_up(comp: Compiled, ctl: Controller) -> float:
    """Compile the kernel (or load it from the on-disk cache) on a tiny stream; seconds taken."""
    t0 = time.perf_counter()
    key = "kernel"
    if key not in _WARM:
        a = np.arange(64, dtype=np.int64) * comp.tx_bytes
        run_stream(comp, a, np.zeros(64, dtype=np.int64), ctl=ctl, _timed=False)
        _WARM.add(key)
    return time.perf_counter() - t0


def run_stream(comp: Compiled | Standard, addrs, writes=None, channels: int = 1,
               ctl: Controller | None = None, log_cap: int = 0, _timed: bool = True,
               every_tick: bool = False) -> dict:
    """Simulate the requests in order (one offered per DRAM tick per channel) and summarise."""
    if isinstance(comp, Standard):
        comp = compiled(comp)
    ctl = ctl or Controller()
    ctl.check(comp.std)
    if not 0 < channels <= MAX_CHANNELS:
        raise ConfigError(f"must be in 1..{MAX_CHANNELS}, got {channels}", None, "channels")
    addrs = np.ascontiguousarray(addrs, dtype=np.int64)
    if len(addrs) and addrs.min() < 0:
        raise ConfigError("negative address in the stream", None, "addresses")
    writes = np.zeros(len(addrs), dtype=np.int64) if writes is None else \
        np.ascontiguousarray(writes, dtype=np.int64)
    ch, bank, row, _col = decode(comp, addrs, channels, ctl.mapping)
    # the memory system passes the address on with its channel bits removed; a line is
    # identified by its full address for write forwarding and coalescing
    log = np.zeros((max(log_cap, 1), 6), dtype=np.int64)
    # the controller kernel, built with unsigned indices (every njit function of kernel.py)
    simulate = unsigned_index.load(K, funcs=None)
    t0 = time.perf_counter()
    ticks, stats, ncmds, nlog = simulate(ch, bank, row, addrs, writes, channels,
                                         *_kernel_args(comp, ctl, channels), log, log_cap,
                                         1 if every_tick else 0)
    wall = time.perf_counter() - t0
    tot = stats.sum(axis=0)
    served = int(tot[K.S_RSERVED] + tot[K.S_WSERVED])
    seconds = ticks * comp.tick_ps * 1e-12
    nbytes = served * comp.tx_bytes
    e = energy_pj(comp, ncmds.sum(axis=0), ticks, channels)
    out = {
        "requests": int(len(addrs)),
        "cycles": int(ticks),
        "seconds": seconds,
        "bandwidth_gbps": (nbytes / seconds / 1e9) if seconds > 0 else 0.0,
        "avg_read_latency_cycles": (float(tot[K.S_LATSUM]) / tot[K.S_LATN]) if tot[K.S_LATN] else 0.0,
        "row_hits": int(tot[K.S_HIT]),
        "row_misses": int(tot[K.S_MISS]),
        "row_conflicts": int(tot[K.S_CONF]),
        "energy_j": e["total_pj"] * 1e-12,
        "wall_s": wall,
        "requests_per_wall_s": len(addrs) / wall if wall > 0 else 0.0,
        "_detail": {"reads_served": int(tot[K.S_RSERVED]), "writes_served": int(tot[K.S_WSERVED]),
                    "refreshes": int(tot[K.S_MAINT]), "visits": int(tot[K.S_VISITS]), "commands": ncmds.sum(axis=0),
                    "energy_pj": e, "bytes": nbytes, "log": log[:nlog] if log_cap else None,
                    "tick_ps": comp.tick_ps},
    }
    return out

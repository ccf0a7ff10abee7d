"""Declarative DRAM standards: organisation, timings (in command-clock cycles) and the
timing-constraint rules between commands, named by data rate.

Every standard is data: `timing` holds JEDEC / vendor values in clock cycles (tCK given in
ps), and `constraints` says, per level of the bank hierarchy, which command must wait how
long after which other command. `archsim.components.dram.timing.compile_standard` turns one
into the integer tables the controller kernel and the checker read.

Constraint tuple: (level, preceding commands, following commands, latency expression,
window, sibling). `window=4` is the four-activate window (the 4th most recent ACT);
`sibling=True` applies between *different* nodes at that level (rank-to-rank, SID-to-SID).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

# Command set shared by every standard (indices are fixed; a standard uses a subset).
COMMANDS = ("ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA", "REFab", "REFpb")
CMD = {c: i for i, c in enumerate(COMMANDS)}
ROW_COMMANDS = ("ACT", "PRE", "PREA", "REFab", "REFpb")
COLUMN_COMMANDS = ("RD", "WR", "RDA", "WRA")

_RD = ("RD", "RDA")
_WR = ("WR", "WRA")
_CAS = _RD + _WR


@dataclass(frozen=True)
class Standard:
    name: str
    family: str
    levels: tuple            # node levels from the channel down to the bank
    sizes: dict              # level -> count below its parent (channel excluded)
    rows: int
    columns: int             # column addresses per row (device burst-granular units * prefetch)
    prefetch: int            # internal prefetch (burst length in beats)
    channel_bits: int        # data-bus width of one channel (pseudo-channel for HBM)
    tCK_ps: int
    timing: dict             # name -> cycles of the command clock (CK)
    constraints: tuple
    refresh_scope: str       # level an all-bank refresh covers
    read_latency: str = "nCL + nBL"
    tick_mult: int = 1       # controller ticks per CK (2: HBM3 half-cycle row commands)
    cmd_cycles: dict = field(default_factory=dict)   # CK a command occupies its bus (default 1)
    dual_bus: bool = False   # separate row and column command buses (HBM)
    edge_rules: bool = False  # HBM3: column commands on rising edges only, PRE pairing
    energy: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    refi_key: str = "nREFI"

    @property
    def tx_bytes(self) -> int:
        """Bytes one read or write moves (prefetch x channel width)."""
        return self.prefetch * self.channel_bits // 8

    @property
    def banks(self) -> int:
        n = 1
        for lv in self.levels[1:]:
            n *= self.sizes[lv]
        return n

    @property
    def tick_ps(self) -> float:
        return self.tCK_ps / self.tick_mult

    @property
    def has_refpb(self) -> bool:
        return any("REFpb" in c[1] or "REFpb" in c[2] for c in self.constraints)

    @property
    def capacity_bytes(self) -> int:
        return self.banks * self.rows * (self.columns // self.prefetch) * self.tx_bytes

    def with_overrides(self, values: dict, file=None) -> "Standard":
        """A copy with timing (`nCL`), organisation (`org.rank`), or `tCK_ps` overrides; an
        unknown key raises KeyError, a bad value ConfigError naming `file` and the key."""
        from archsim.config.schema import Field, validate_value
        timing = dict(self.timing)
        sizes = dict(self.sizes)
        kw = {}
        for key, v in values.items():
            if key.startswith("org."):
                sub = key[4:]
                if sub not in sizes and sub not in ("rows", "columns", "prefetch", "channel_bits"):
                    raise KeyError(key)
                v = validate_value(Field("int", max=MAX_ORG.get(sub, MAX_ORG["level"])), v,
                                   file, key)
                if sub in sizes:
                    sizes[sub] = v
                else:
                    kw[sub] = v
            elif key == "tCK_ps":
                kw["tCK_ps"] = validate_value(Field("int", max=MAX_CYCLES), v, file, key)
            elif key in timing:
                timing[key] = validate_value(_timing_field(key), v, file, key)
            else:
                raise KeyError(key)
        out = replace(self, timing=timing, sizes=sizes, **kw)
        out.check(file, prefix="")
        return out

    def check(self, file=None, prefix: str = "timing.", per_bank: bool = False):
        """Raise ConfigError unless the clock and timings are whole and in range, and the
        refresh (all-bank, or per-bank with `per_bank`) leaves time for accesses: a refresh
        queue that never drains stalls the controller for ever."""
        from archsim.config.schema import Field, validate_value
        from archsim.errors import ConfigError
        file = file or self.name
        validate_value(Field("int", max=MAX_CYCLES), self.tCK_ps, file, "tCK_ps")
        if self.banks > MAX_BANKS:
            raise ConfigError(f"{self.banks} banks per channel, at most {MAX_BANKS}", file, "org")
        t = self.timing
        for k, v in t.items():
            validate_value(_timing_field(k), v, file, prefix + k)
        if t["nRC"] < t["nRAS"]:       # tRC = tRAS + tRP (the IDD energy model relies on it)
            raise ConfigError(f"must be at least nRAS ({t['nRAS']}), got {t['nRC']}", file,
                              prefix + "nRC")
        lat = eval(self.read_latency, {"__builtins__": {}}, dict(t)) * self.tick_mult  # noqa: S307
        if lat > MAX_READ_LATENCY:
            raise ConfigError(f"read latency {self.read_latency} = {lat} ticks, at most "
                              f"{MAX_READ_LATENCY} (the reads in flight the controller tracks)",
                              file, prefix + "nCL")
        refi = t[self.refi_key]
        # the scopes' refreshes (a PREA and a REFab each) issue in turn on the command bus
        scopes = math.prod(self.sizes[lv] for lv in
                           self.levels[1:self.levels.index(self.refresh_scope) + 1])
        stagger = (scopes - 1) * math.ceil(self.cmd_cycles.get("PREA", 1)
                                           + self.cmd_cycles.get("REFab", 1))
        what = f"{self.refi_key} - {stagger} ({scopes} {self.refresh_scope}s refreshed in turn)"
        limits = [("nRFC", refi - stagger, what if stagger else self.refi_key)]
        if per_bank and "nRFCpb" in t:
            # per-bank refresh: one bank every nREFIpb, in turn
            pb = t.get("nREFIpb", max(1, refi // self.banks))
            name = "nREFIpb" if "nREFIpb" in t else f"({self.refi_key} // {self.banks})"
            limits += [("nRFCpb", self.banks * pb, f"{self.banks} banks x {name}"),
                       ("nRREFD", pb - t.get("nRRDS", 0), f"{name} - nRRDS")]
            if any(c[4] > 1 and "REFpb" in c[2] for c in self.constraints):
                limits.append(("nFAW", 4 * pb, f"4 x {name}"))    # REFpb in the ACT window
        for key, bound, what in limits:
            if t.get(key, 0) >= bound:
                raise ConfigError(f"must be below {what} = {bound}, or refreshes leave no time "
                                  f"for accesses; got {t[key]}", file, prefix + key)


#: upper bound of a timing or tCK_ps: a second at 1 ns, far from overflowing the tick counts
MAX_CYCLES = 10 ** 9
#: timings that may be 0: gaps a part can lack (DDR4 has no tPPD, one rank no rank switch)
ZERO_TIMINGS = frozenset({"nCS", "nPPD", "nCCDR", "nRREFD", "nWTRS", "nWTRL"})
#: controller ticks of read latency at most: a read holds a slot of the controller kernel's
#: in-flight ring (kernel.simulate's pcap) that long, and at most one read issues per tick
MAX_READ_LATENCY = 1 << 14
#: banks per channel at most (the controller's tables grow with them; the standards have <= 64)
MAX_BANKS = 1024
#: upper bounds of the other organisation overrides (`org.<level>`: "level")
MAX_ORG = {"level": 64, "rows": 1 << 24, "columns": 1 << 16, "prefetch": 64, "channel_bits": 1024}


def _timing_field(key: str):
    from archsim.config.schema import Field
    return Field("int", min=0 if key in ZERO_TIMINGS else 1, max=MAX_CYCLES)


def C(level, prev, nxt, expr, window=1, sibling=False):
    prev = (prev,) if isinstance(prev, str) else tuple(prev)
    nxt = (nxt,) if isinstance(nxt, str) else tuple(nxt)
    return (level, prev, nxt, expr, window, sibling)


def _ns(ns: float, tck_ps: int, floor_ck: int = 0) -> int:
    """max(floor_ck, ceil(ns / tCK)) -- the JEDEC "max(n nCK, t ns)" form."""
    # JEDEC rounding: a 2.5% guard so that e.g. 5 ns at tCK 0.833 ns is 6 clocks, not 7
    return max(floor_ck, math.ceil(ns * 1000 / tck_ps - 0.025))


def _ns5(ns: float, tck_ps: int, floor_ck: int = 0) -> int:
    """max(floor_ck, nCK) by JESD79-5's rounding algorithm for minimum parameters:
    nCK = truncate((tPARAM x 0.997 / tCK + 1)), a 0.3% guard in integer picoseconds."""
    return max(floor_ck, (int(round(ns * 1000)) * 997 // tck_ps + 1000) // 1000)


def _core_rules(rcd=("nRCDRD", "nRCDWR"), rtp="nRTP", ccdl_wr="nCCDL", rrdl_next="ACT"):
    """The bank-group and bank rules of the DRAM array that every standard here shares: `rcd`
    is one key for ACT to any CAS, or a (read, write) pair."""
    if isinstance(rcd, str):
        act_cas = (C("bank", "ACT", _CAS, rcd),)
    else:
        act_cas = (C("bank", "ACT", _RD, rcd[0]), C("bank", "ACT", _WR, rcd[1]))
    return (
        C("bankgroup", _RD, _RD, "nCCDL"),
        C("bankgroup", _WR, _WR, ccdl_wr),
        C("bankgroup", _WR, _RD, "nCWL + nBL + nWTRL"),
        C("bankgroup", "ACT", rrdl_next, "nRRDL"),
        C("bank", "ACT", "ACT", "nRC"),
        *act_cas,
        C("bank", "ACT", "PRE", "nRAS"),
        C("bank", "PRE", "ACT", "nRP"),
        C("bank", "RD", "PRE", rtp),
        C("bank", "WR", "PRE", "nCWL + nBL + nWR"),
        C("bank", "RDA", "ACT", f"{rtp} + nRP"),
        C("bank", "WRA", "ACT", "nCWL + nBL + nWR + nRP"),
    )


def _scope_rules(s, rtp="nRTP", ppd=False):
    """Row and refresh rules of the scope that shares one command bus and refresh (a DDR rank,
    an HBM pseudo-channel): precharge-all, the ACT window and all-bank refresh."""
    return (
        C(s, "RD", "PREA", rtp),
        C(s, "WR", "PREA", "nCWL + nBL + nWR"),
        C(s, "ACT", "ACT", "nRRDS"),
        C(s, "ACT", "ACT", "nFAW", window=4),
        C(s, "ACT", "PREA", "nRAS"),
        C(s, "PREA", "ACT", "nRP"),
        *((C(s, ("PRE", "PREA"), ("PRE", "PREA"), "nPPD"),) if ppd else ()),
        C(s, "ACT", "REFab", "nRC"),
        C(s, ("PRE", "PREA"), "REFab", "nRP"),
        C(s, "RDA", "REFab", f"nRP + {rtp}"),
        C(s, "WRA", "REFab", "nCWL + nBL + nWR + nRP"),
        C(s, "REFab", ("ACT", "PREA"), "nRFC"),
    )


# --------------------------------------------------------------------------------------
# DDR4 (JESD79-4B). Rank-scoped refresh and CAS rules, bank-group tCCD_L/tRRD_L/tWTR_L.
# --------------------------------------------------------------------------------------
def _ddr_rules(rank="rank", rtw_extra=2, ccd_wr=("nCCDS", "nCCDL"), ppd=False, rtp_key="nRTP",
               refpb=False):
    r = rank
    rules = [
        C("channel", _RD, _RD, "nBL"),
        C("channel", _WR, _WR, "nBL"),
        C(r, _RD, _RD, "nCCDS"),
        C(r, _WR, _WR, ccd_wr[0]),
        C(r, _RD, _WR, f"nCL + nBL + {rtw_extra} - nCWL"),
        C(r, _WR, _RD, "nCWL + nBL + nWTRS"),
        # rank-to-rank data-bus switch (only matters with two or more ranks)
        C(r, _RD, _CAS, "nBL + nCS", sibling=True),
        C(r, _WR, _RD, "nCWL + nBL + nCS - nCL", sibling=True),
        *_scope_rules(r, rtp_key),
        *_core_rules("nRCD", rtp_key, ccd_wr[1]),
    ]
    if ppd:
        rules.append(C(r, ("PRE", "PREA"), ("PRE", "PREA"), "nPPD"))
    if refpb:
        rules += [
            C(r, "REFpb", ("ACT", "REFpb"), "nRREFD"),
            C(r, "ACT", "REFpb", "nRRDS"),
            C(r, "REFpb", "REFab", "nRFCpb"),
            C("bank", "ACT", "REFpb", "nRC"),
            C("bank", "PRE", "REFpb", "nRP"),
            C("bank", "RDA", "REFpb", f"nRP + {rtp_key}"),
            C("bank", "WRA", "REFpb", "nCWL + nBL + nWR + nRP"),
            C("bank", "REFpb", ("ACT", "REFpb"), "nRFCpb"),
        ]
    return tuple(rules)


def _ddr4(name, tck_ps, cl, rcd, rp, cwl, extra_sources=""):
    t = {
        "nBL": 4, "nCL": cl, "nRCD": rcd, "nRP": rp,
        "nRAS": _ns(32, tck_ps), "nWR": _ns(15, tck_ps), "nRTP": _ns(7.5, tck_ps, 4),
        "nCWL": cwl, "nCCDS": 4, "nCCDL": _ns(5, tck_ps, 5),
        "nRRDS": _ns(2.5, tck_ps, 4), "nRRDL": _ns(4.9, tck_ps, 4),    # x8, 1 KB page
        "nWTRS": _ns(2.5, tck_ps, 2), "nWTRL": _ns(7.5, tck_ps, 4),
        "nFAW": _ns(21, tck_ps, 20),                                    # x8, 1 KB page
        "nRFC": _ns(350, tck_ps),          # tRFC1, 8 Gb die
        "nREFI": _ns(7800, tck_ps),        # tREFI at <= 85 C
        "nCS": 2,
    }
    t["nRC"] = t["nRAS"] + t["nRP"]
    return Standard(
        name=name, family="DDR4", levels=("channel", "rank", "bankgroup", "bank"),
        sizes={"rank": 1, "bankgroup": 4, "bank": 4}, rows=1 << 16, columns=1 << 10, prefetch=8,
        channel_bits=64, tCK_ps=tck_ps, timing=t, constraints=_ddr_rules(), refresh_scope="rank",
        energy={"model": "idd", "vdd": 1.2, "vpp": 2.5, "devices": 8,
                "idd0": 48.0, "idd2n": 34.0, "idd3n": 43.0, "idd4r": 135.0, "idd4w": 123.0,
                "idd5b": 250.0, "ipp0": 3.0},
        sources={
            "timing": "JESD79-4B DDR4 speed bins; " + extra_sources
                      + "x8 1 KB-page tRRD/tFAW; 8 Gb tRFC1 = 350 ns; tREFI = 7.8 us",
            "organisation": "8 Gb x8 die (4 bank groups x 4 banks, 64K rows, 1K columns), "
                            "8 devices on a 64-bit channel, one rank",
            "energy": "IDD/VDD from Micron MT40A1G8 (8 Gb x8) datasheet, DDR4-2400 column",
        })


# --------------------------------------------------------------------------------------
# HBM2 / HBM2E (JESD235D) and HBM3 (JESD238): pseudo-channel scoped rules, dual command bus.
# --------------------------------------------------------------------------------------
def _hbm2_rules():
    pc = "pseudochannel"
    return (
        C(pc, _RD, _RD, "nBL"),
        C(pc, _WR, _WR, "nBL"),
        C(pc, _RD, _RD, "nCCDS"),
        C(pc, _WR, _WR, "nCCDS"),
        C(pc, _RD, _WR, "nCL + nBL + 2 - nCWL"),
        C(pc, _WR, _RD, "nCWL + nBL + nWTRS"),
        *_scope_rules(pc),
        C(pc, "REFpb", "ACT", "nRREFD"),
        C(pc, "ACT", "REFpb", "nRRDS"),
        *_core_rules(),
        C("bank", "REFpb", "ACT", "nRFCpb"),
        C("bank", "ACT", "REFpb", "nRC"),
        C("bank", "PRE", "REFpb", "nRP"),
    )


def _hbm2(name, tck_ps, rows, sources, energy_pj_bit=3.9):
    ns = {"nCL": 14, "nRCDRD": 14, "nRCDWR": 12, "nRP": 14, "nRAS": 34, "nRC": 48, "nWR": 16,
          "nRTP": 5, "nCWL": 5, "nWTRS": 6, "nWTRL": 8}
    t = {"nBL": 2, "nCCDS": 2, "nCCDL": 4}
    t.update({k: _ns(v, tck_ps) for k, v in ns.items()})
    t.update({
        "nRRDS": _ns(4, tck_ps, 4), "nRRDL": _ns(4, tck_ps, 4), "nFAW": _ns(15, tck_ps, 8),
        "nRFC": _ns(350, tck_ps), "nRFCpb": _ns(160, tck_ps), "nRREFD": _ns(8, tck_ps, 4),
        "nREFI": _ns(3900, tck_ps),
    })
    t["nREFIpb"] = math.ceil(3_900_000 / 32 / tck_ps)
    return Standard(
        name=name, family="HBM2", levels=("channel", "pseudochannel", "bankgroup", "bank"),
        sizes={"pseudochannel": 2, "bankgroup": 4, "bank": 4}, rows=rows, columns=128, prefetch=4,
        channel_bits=64, tCK_ps=tck_ps, timing=t, constraints=_hbm2_rules(),
        refresh_scope="pseudochannel", cmd_cycles={"ACT": 2}, dual_bus=True,
        energy={"model": "pj_per_bit", "pj_per_bit": energy_pj_bit},
        sources={"timing": sources,
                 "organisation": "one legacy channel = 2 pseudo-channels x 4 bank groups x 4 banks, "
                                 "64-bit pseudo-channel bus, BL4 (32 B per access)",
                 "energy": "3.9 pJ/bit HBM2 access energy (O'Connor et al., Fine-Grained DRAM, "
                           "MICRO 2017); activation not separated"})


def _hbm3_rules():
    pc = "pseudochannel"
    return (
        C(pc, _RD, _RD, "nBL"),
        C(pc, _WR, _WR, "nBL"),
        C(pc, _RD, _WR, "nRTW"),
        C(pc, _WR, _RD, "nCWL + nBL + nWTRS"),
        *_scope_rules(pc, ppd=True),
        C(pc, "REFpb", ("REFpb", "ACT"), "nRREFD"),
        C(pc, "ACT", "REFpb", "nRRDS"),
        C("sid", _RD, _RD, "nCCDS"),
        C("sid", _WR, _WR, "nCCDS"),
        C("sid", _RD, _RD, "nCCDR", sibling=True),
        *_core_rules(),
        C("bank", "REFpb", "ACT", "nRFCpb"),
        C("bank", "ACT", "REFpb", "nRC"),
        C("bank", "PRE", "REFpb", "nRP"),
    )


# --------------------------------------------------------------------------------------
# GDDR6 (JESD250): channel-scoped rules, 16 banks in 4 bank groups, 16n prefetch.
# --------------------------------------------------------------------------------------
def _gddr6_rules():
    ch = "channel"
    return (
        C(ch, _RD, _RD, "nBL"),
        C(ch, _WR, _WR, "nBL"),
        C(ch, _RD, _RD, "nCCDS"),
        C(ch, _WR, _WR, "nCCDS"),
        C(ch, _RD, _WR, "nCL + 1"),          # read-to-write with one bus-turnaround cycle
        C(ch, _WR, _RD, "nCWL + nBL + nWTRS"),
        C(ch, "RD", "PREA", "nRTP"),
        C(ch, "WR", "PREA", "nCWL + nBL + nWR"),
        C(ch, "ACT", "ACT", "nRRDS"),
        C(ch, "ACT", ("ACT", "REFpb"), "nFAW", window=4),
        C(ch, "REFpb", ("ACT", "REFpb"), "nFAW", window=4),
        C(ch, "ACT", "PREA", "nRAS"),
        C(ch, "PREA", "ACT", "nRP"),
        C(ch, ("PRE", "PREA"), ("PRE", "PREA"), "nPPD"),
        C(ch, "ACT", "REFab", "nRC"),
        C(ch, "PREA", "REFab", "nRP"),
        C(ch, "RDA", "REFab", "nRP + nRTP"),
        C(ch, "WRA", "REFab", "nCWL + nBL + nWR + nRP"),
        C(ch, "REFab", COMMANDS, "nRFC"),
        C(ch, "ACT", "REFpb", "nRRDS"),
        C(ch, "PREA", "REFpb", "nRP"),
        C(ch, "RDA", "REFpb", "nRP + nRTP"),
        C(ch, "WRA", "REFpb", "nCWL + nBL + nWR + nRP"),
        C(ch, "REFpb", ("ACT", "REFpb"), "nRREFD"),
        C(ch, "REFpb", "REFab", "nRFCpb"),
        *_core_rules(rrdl_next=("ACT", "REFpb")),
        C("bank", "ACT", "REFpb", "nRC"),
        C("bank", "PRE", "REFpb", "nRP"),
        C("bank", "RDA", "REFpb", "nRP + nRTP"),
        C("bank", "WRA", "REFpb", "nCWL + nBL + nWR + nRP"),
        C("bank", "REFpb", ("ACT", "REFpb"), "nRFCpb"),
    )


def _gddr6(name, tck_ps):
    # Array timings in ns from the Samsung 8 Gb GDDR6 (K4Z80325BC) datasheet, 1.35 V bin.
    ns = {"nCL": 13.68, "nRCDRD": 15.39, "nRCDWR": 9.12, "nRP": 15.39, "nRAS": 30.21,
          "nRC": 45.03, "nWR": 15.39, "nRTP": 2.28, "nCWL": 3.42, "nRRDS": 4.56, "nRRDL": 4.56,
          "nWTRS": 5.13, "nWTRL": 6.27, "nFAW": 16.53, "nRFC": 120.27, "nRFCpb": 60.0,
          "nRREFD": 8.55}
    t = {k: _ns(v, tck_ps) for k, v in ns.items()}
    t.update({"nBL": 2, "nCCDS": 2, "nCCDL": 4, "nPPD": 1, "nREFI": 1_900_000 // tck_ps})
    return Standard(
        name=name, family="GDDR6", levels=("channel", "bankgroup", "bank"),
        sizes={"bankgroup": 4, "bank": 4}, rows=1 << 14, columns=1 << 10, prefetch=16,
        channel_bits=16, tCK_ps=tck_ps, timing=t, constraints=_gddr6_rules(),
        refresh_scope="channel",
        energy={"model": "pj_per_bit", "pj_per_bit": 7.5},
        sources={"timing": "JESD250 GDDR6 command rules; array timings (ns) from the Samsung "
                           "K4Z80325BC 8 Gb GDDR6 datasheet, rescaled to the 16 Gb/s clock "
                           "(CK = data rate / 8, 16n prefetch over 2 CK)",
                 "organisation": "x16 channel, 16 banks in 4 bank groups, 16K rows, 2 KB page",
                 "energy": "~7.5 pJ/bit GDDR6 access energy (Micron TN-ED-04 GDDR6 design guide, "
                           "industry figure); activation not separated"})


# --------------------------------------------------------------------------------------
# DDR5 (JESD79-5) and LPDDR5/5X (JESD209-5B, bank-group mode): DDR-style rule set.
# --------------------------------------------------------------------------------------
def _ddr5(name, tck_ps, cl, rcd, rp):
    # nCCDL_WR: an x8 BL16 write fills the 128-bit on-die-ECC word, so no read-modify-write:
    # tCCD_L_WR2 = max(16 nCK, 10 ns) (x4 parts write half a word: tCCD_L_WR, max(32 nCK, 20 ns))
    t = {"nBL": 8, "nCL": cl, "nRCD": rcd, "nRP": rp, "nRAS": _ns5(32, tck_ps),
         "nWR": _ns5(30, tck_ps), "nRTP": _ns5(7.5, tck_ps, 12), "nCWL": cl - 2, "nPPD": 2,
         "nCCDS": 8, "nCCDL": _ns5(5, tck_ps, 8), "nCCDS_WR": 8, "nCCDL_WR": _ns5(10, tck_ps, 16),
         "nRRDS": 8, "nRRDL": _ns5(5, tck_ps, 8), "nWTRS": _ns5(2.5, tck_ps, 4),
         "nWTRL": _ns5(10, tck_ps, 16), "nFAW": 32, "nRFC": _ns5(295, tck_ps),
         "nREFI": _ns(3900, tck_ps), "nCS": 2}
    t["nRC"] = t["nRAS"] + t["nRP"]
    return Standard(
        name=name, family="DDR5", levels=("channel", "rank", "bankgroup", "bank"),
        sizes={"rank": 1, "bankgroup": 8, "bank": 4}, rows=1 << 16, columns=1 << 10, prefetch=16,
        channel_bits=32, tCK_ps=tck_ps, timing=t,
        constraints=_ddr_rules(rtw_extra=4, ccd_wr=("nCCDS_WR", "nCCDL_WR"), ppd=True),
        refresh_scope="rank", cmd_cycles={"ACT": 2, "RD": 2, "RDA": 2, "WR": 2, "WRA": 2},
        energy={"model": "pj_per_bit", "pj_per_bit": 15.0},
        sources={"timing": "JESD79-5 DDR5-4800B (40-39-39) speed bin, clocks by its rounding "
                           "algorithm (0.3% guard); 16 Gb tRFC1 = 295 ns, tREFI = 3.9 us; x8 "
                           "write-to-write tCCD_L_WR2 (no read-modify-write); two-cycle ACT/CAS commands",
                 "organisation": "16 Gb x8 die: 8 bank groups x 4 banks, 32-bit sub-channel, BL16",
                 "energy": "~15 pJ/bit DDR5 DIMM access energy (approximation from vendor "
                           "power calculators); activation not separated"})


def _lpddr5(name, tck_ps, cl, cwl):
    t = {"nBL": 2, "nCL": cl, "nCWL": cwl, "nRCD": _ns(18, tck_ps, 2), "nRP": _ns(18, tck_ps, 2),
         "nRAS": _ns(42, tck_ps, 3), "nWR": _ns(34, tck_ps, 3), "nRTP": _ns(7.5, tck_ps, 4),
         "nCCDS": 2, "nCCDL": 4, "nRRDS": _ns(5, tck_ps, 2), "nRRDL": _ns(5, tck_ps, 2),
         "nWTRS": _ns(6.25, tck_ps, 4), "nWTRL": _ns(12, tck_ps, 4), "nFAW": _ns(20, tck_ps),
         "nRFC": _ns(280, tck_ps), "nRFCpb": _ns(140, tck_ps), "nRREFD": _ns(90, tck_ps),
         "nREFI": _ns(3906, tck_ps), "nPPD": 2, "nCS": 2}
    t["nRC"] = t["nRAS"] + t["nRP"]
    return Standard(
        name=name, family="LPDDR5", levels=("channel", "rank", "bankgroup", "bank"),
        sizes={"rank": 1, "bankgroup": 4, "bank": 4}, rows=1 << 16, columns=1 << 10, prefetch=16,
        channel_bits=16, tCK_ps=tck_ps, timing=t,
        constraints=_ddr_rules(ppd=True, refpb=True), refresh_scope="rank",
        energy={"model": "pj_per_bit", "pj_per_bit": 5.0},
        sources={"timing": "JESD209-5B LPDDR5 bank-group mode (BL16): tRCD/tRPpb 18 ns, tRAS 42 ns, "
                           "tWR 34 ns, tRRD 5 ns, tFAW 20 ns, 16 Gb tRFCab 280 ns / tRFCpb 140 ns; "
                           "CK = data rate / 8 (WCK:CK 4:1)",
                 "organisation": "x16 channel, 16 banks (4 BG x 4), 64K rows, 2 KB page",
                 "energy": "~5 pJ/bit LPDDR5 access energy (approximation, vendor white papers); "
                           "activation not separated"})


def _build() -> dict:
    out = {}
    out["ddr4-2400"] = _ddr4("ddr4-2400", 833, 16, 16, 16, 12, "DDR4-2400R (16-16-16, CWL 12); ")
    out["ddr4-2933"] = _ddr4("ddr4-2933", 682, 21, 21, 21, 16, "DDR4-2933Y (21-21-21, CWL 16); ")
    out["ddr4-3200"] = _ddr4("ddr4-3200", 625, 22, 22, 22, 16, "DDR4-3200AA (22-22-22, CWL 16); ")
    out["ddr5-4800"] = _ddr5("ddr5-4800", 416, 40, 39, 39)
    out["lpddr5-6400"] = _lpddr5("lpddr5-6400", 1250, 17, 9)
    lp5x = _lpddr5("lpddr5x-8533", 937, 23, 12)
    out["lpddr5x-8533"] = replace(lp5x, sources={**lp5x.sources, "timing": lp5x.sources["timing"]
                                  + "; RL/WL at 8533 taken as the 6400 latencies in ns (approximation)"})
    out["gddr6-16000"] = _gddr6("gddr6-16000", 500)
    out["hbm2-2000"] = _hbm2("hbm2-2000", 1000, 1 << 16,
                             "JESD235D HBM2 at 2.0 Gb/s (tCK 1 ns): CL/tRCDRD/tRP 14, tRCDWR 12, "
                             "tRAS 34, tRC 48, tWR 16, tRTP(L) 5, WL 5, tCCDS/L 2/4, tWTRS/L 6/8, "
                             "tRRD 4 ns, tFAW 15 ns, 8 Gb tRFC 350 ns, tREFI 3.9 us")
    out["hbm2e-3200"] = _hbm2("hbm2e-3200", 625, 1 << 16,
                              "JESD235D HBM2E at 3.2 Gb/s (tCK 0.625 ns); array timings in ns as "
                              "for HBM2-2000, rounded up to the faster clock")
    t3 = {"nBL": 2, "nCL": 20, "nRCDRD": 31, "nRCDWR": 15, "nRP": 26, "nRAS": 45, "nRC": 72,
          "nWR": 33, "nRTP": 9, "nCWL": 10, "nCCDS": 2, "nCCDL": 4, "nCCDR": 3, "nRRDS": 4,
          "nRRDL": 5, "nFAW": 24, "nWTRS": 7, "nWTRL": 10, "nRTW": 20, "nRFCpb": 320,
          "nRREFD": 8, "nREFI": 6240, "nPPD": 2,
          "nRFC": _ns(260, 625),                      # 4 Gb per channel per SID
          "nREFIpb": math.ceil(3_900_000 / 32 / 625)}
    out["hbm3-6400"] = Standard(
        name="hbm3-6400", family="HBM3",
        levels=("channel", "pseudochannel", "sid", "bankgroup", "bank"),
        sizes={"pseudochannel": 2, "sid": 2, "bankgroup": 4, "bank": 4}, rows=1 << 13, columns=256,
        prefetch=8, channel_bits=32, tCK_ps=625, timing=t3, constraints=_hbm3_rules(),
        refresh_scope="pseudochannel", tick_mult=2,
        cmd_cycles={"ACT": 1.5, "PRE": 0.5, "PREA": 0.5, "REFab": 0.5, "REFpb": 0.5},
        dual_bus=True, edge_rules=True,
        energy={"model": "pj_per_bit", "pj_per_bit": 3.9},
        sources={"timing": "JESD238 HBM3 at 6.4 Gb/s (tCK 0.625 ns): CL 20, tRCDRD 31, tRCDWR 15, "
                           "tRP 26, tRAS 45, tRC 72, tWR 33, tRTP 9, WL 10, tCCDS/L/R 2/4/3, "
                           "tRRDS/L 4/5, tFAW 24, tWTRS/L 7/10, tRTW 20, tPPD 2, tREFI 3.9 us, "
                           "tRFCab 260 ns (4 Gb channel), tRFCpb 320 nCK; ACT takes 1.5 CK and "
                           "row commands 0.5 CK on the row bus (controller ticks at 2x CK)",
                 "organisation": "8 Gb 8-high stack: a channel = 2 pseudo-channels x 2 SIDs x 4 "
                                 "bank groups x 4 banks, 32-bit pseudo-channel bus, BL8 (32 B)",
                 "energy": "HBM2 figure (3.9 pJ/bit, O'Connor et al. MICRO 2017) used for HBM3 "
                           "for lack of a published HBM3 breakdown"})
    return out


STANDARDS: dict[str, Standard] = _build()
ALIASES = {"ddr4-2400r": "ddr4-2400", "hbm2": "hbm2-2000", "hbm3": "hbm3-6400", "ddr4": "ddr4-2400",
           "gddr6": "gddr6-16000", "hbm2e": "hbm2e-3200", "ddr5": "ddr5-4800", "lpddr5": "lpddr5-6400",
           "lpddr5x": "lpddr5x-8533"}


def get_standard(name: str, file=None, key=None) -> Standard:
    from archsim.errors import ConfigError
    import difflib
    k = str(name).lower()
    k = ALIASES.get(k, k)
    if k not in STANDARDS:
        close = difflib.get_close_matches(k, list(STANDARDS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown DRAM standard {name!r}{hint}; known: {', '.join(STANDARDS)}",
                          file, key)
    return STANDARDS[k]

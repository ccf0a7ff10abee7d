"""DRAM energy from command counts and time.

Two models, chosen per standard by its spec:
- `idd` (DRAMPower-style): activation-precharge energy from IDD0 over tRC less the standby
  share, read/write burst energy from IDD4R/IDD4W over the burst above active standby,
  refresh from IDD5B over tRFC, and background from IDD3N (active standby) over the run; all
  times VDD and the devices of a rank. ACT also draws IPP0 from VPP.
- `pj_per_bit`: a published average access energy per bit moved.
Results are in pJ (float64).
"""

from __future__ import annotations

import numpy as np

from archsim.components.dram.standards import CMD


def energy_pj(comp, ncmds: np.ndarray, ticks: int, channels: int = 1) -> dict:
    std = comp.std
    en = std.energy
    tck_ns = std.tCK_ps / 1000.0
    acts = float(ncmds[CMD["ACT"]])
    rds = float(ncmds[CMD["RD"]] + ncmds[CMD["RDA"]])
    wrs = float(ncmds[CMD["WR"]] + ncmds[CMD["WRA"]])
    refs = float(ncmds[CMD["REFab"]])
    refpb = float(ncmds[CMD["REFpb"]])
    seconds = ticks * comp.tick_ps * 1e-12
    if en.get("model") == "idd":
        t = std.timing
        vdd, dev = en["vdd"], en["devices"]
        ranks = std.sizes.get("rank", 1)
        # mA x V x ns = pJ
        e_act = ((en["idd0"] * t["nRC"] - (en["idd3n"] * t["nRAS"] + en["idd2n"] * (t["nRC"] - t["nRAS"])))
                 * vdd + en.get("ipp0", 0.0) * en.get("vpp", 0.0) * t["nRC"]) * tck_ns * dev
        e_rd = (en["idd4r"] - en["idd3n"]) * vdd * t["nBL"] * tck_ns * dev
        e_wr = (en["idd4w"] - en["idd3n"]) * vdd * t["nBL"] * tck_ns * dev
        e_ref = (en["idd5b"] - en["idd3n"]) * vdd * t["nRFC"] * tck_ns * dev
        p_bg_mw = en["idd3n"] * vdd * dev * ranks          # mA x V = mW
        parts = {"activate_pj": acts * e_act, "read_pj": rds * e_rd, "write_pj": wrs * e_wr,
                 "refresh_pj": (refs + refpb / max(1, comp.nbanks)) * e_ref,
                 "background_pj": p_bg_mw * 1e-3 * seconds * 1e12 * channels}
    else:
        bits = (rds + wrs) * comp.tx_bytes * 8
        parts = {"access_pj": bits * float(en.get("pj_per_bit", 0.0)),
                 "background_pj": float(en.get("background_mw", 0.0)) * 1e-3 * seconds * 1e12 * channels}
    parts["total_pj"] = float(sum(parts.values()))
    return parts

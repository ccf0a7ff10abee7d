"""DRAM and PIM parts as registered components (`type: dram`, `type: pim`, `type: pim_asic`)."""

from __future__ import annotations

import math

from archsim.components.base import Component, Cost, Job, register
from archsim.components.dram.api import peak_bandwidth, steady_cost
from archsim.components.dram.pim import PimSpec, pim_gemv, pim_write
from archsim.components.dram import MAX_CHANNELS
from archsim.components.dram.standards import STANDARDS, get_standard
from archsim.components.dram.timing import compiled
from archsim.config.schema import Field
from archsim.errors import ConfigError

GEMV_KINDS = ("gemv", "gemm", "lm_head", "moe_gate")
ATTENTION_KINDS = ("attention_qk", "attention_av")
#: timings the PIM command model reads (pim_gemv, pim_write): separate read and write tRCD
PIM_TIMINGS = ("nRCDRD", "nRCDWR", "nRAS", "nRP", "nRC", "nRTP", "nCCDS", "nCL", "nBL", "nCWL",
               "nWR", "nRFC")
#: operand types of the bank MAC units (BF16 multipliers; fp16 has the same 2-byte element)
PIM_DTYPES = ("bf16", "fp16")


@register
class Dram(Component):
    """A memory part: a job's bytes stream through the cycle-level controller model."""
    type_name = "dram"
    schema = {
        "standard": Field("str", doc="DRAM standard (ddr4-2400, hbm3-6400, ...)"),
        "channels": Field("int", 1, "independent channels"),
        "capacity": Field("bytes", None, "capacity (default: the standard's organisation)",
                          nullable=True),
        "pattern": Field("str", "seq", "address pattern of the jobs' streams (a job's extra "
                         "`pattern`, `stride`, `elem_bytes` override it)",
                         choices=("seq", "random", "strided")),
        "stride": Field("bytes", 0.0, "bytes from one strided piece to the next (pattern strided)", min=0),
        "elem_bytes": Field("bytes", 0.0, "bytes of each strided piece (pattern strided)", min=0),
    }

    def __init__(self, name, params, file=None):
        super().__init__(name, params, file)
        self.std = get_standard(params["standard"], file, f"{name}.standard")
        if params["pattern"] == "strided" and not (params["stride"] > 0 and params["elem_bytes"] > 0):
            raise ConfigError("a strided pattern needs a stride and elem_bytes (a stride of 0 is a "
                              "sequential stream)", file, f"{name}.stride")

    @property
    def memory_bytes(self) -> float:
        cap = self.params.get("capacity")
        return float(cap) if cap else float(self.std.capacity_bytes * self.params["channels"])

    def roofs(self) -> tuple[list, list]:
        return [(f"{self.name}.{self.std.name} x{self.params['channels']}",
                 peak_bandwidth(self.std.name, self.params["channels"]))], []

    @property
    def first_access_s(self) -> float:
        """An idle part's first read: activate, CAS latency, the burst (a row miss)."""
        tt = compiled(self.std).timing_ticks
        rcd = tt.get("nRCD", tt.get("nRCDRD", 0))
        return (rcd + tt["nCL"] + tt["nBL"]) * self.std.tick_ps * 1e-12

    def cost(self, job: Job, fidelity: str = "cycle") -> Cost:
        nbytes = float(job.bytes_read + job.bytes_written)
        if nbytes <= 0:
            return Cost(0.0, 0, 0.0, 0.0, {"achievable_bandwidth": 0.0, "pattern": self.params["pattern"]})
        pattern = job.get("pattern", self.params["pattern"])
        # the controller's steady state (a short stream never reaches it: its measured rate is
        # what was served while requests were still being sent, before any refresh), then one
        # first access
        bw, pj_per_byte = steady_cost(self.std.name, self.params["channels"], pattern,
                                      int(job.get("stride", self.params["stride"])),
                                      int(job.get("elem_bytes", self.params["elem_bytes"])))
        seconds = self.first_access_s + nbytes / bw
        return Cost(seconds, int(round(seconds * 1e12 / self.std.tick_ps)), nbytes * pj_per_byte,
                    nbytes, {"achievable_bandwidth": nbytes / seconds, "pattern": pattern})


@register
class Pim(Component):
    """GDDR6 processing-in-memory channels: a BF16 MAC unit in every bank (AiM style)."""
    type_name = "pim"
    schema = {
        "standard": Field("str", "gddr6-16000", "DRAM standard of the PIM channels"),
        "channels": Field("int", 8, "PIM channels", max=MAX_CHANNELS),
        "capacity_per_channel": Field("bytes", 512 * 2.0 ** 20, "bytes per channel (AiM: 8 Gb die, 2 channels)"),
        "mac_lanes": Field("int", 16, "multipliers per bank MAC unit"),
        "mac_clock": Field("frequency", 1e9, "MAC unit clock"),
        "mac_pipeline": Field("int", 4, "MAC clocks from the last MAC to a readable result"),
        "global_buffer": Field("bytes", 2048.0, "input-vector buffer per channel (at least one "
                               "2-byte element)", min=PimSpec.elem_bytes),
        "energy": {
            "act": Field("energy", 2951e-12, "ACT+PRE of one bank"),
            "mac_all_bank": Field("energy", 1314e-12, "one all-bank MAC (16 banks x 32 B)"),
            "read": Field("energy", 548e-12, "one 32 B array read"),
            "write": Field("energy", 691e-12, "one 32 B array write"),
            "io_per_bit": Field("energy", 5.5e-12, "channel I/O per bit"),
            "background_per_channel": Field("power", 0.2638, "active standby per channel (static: charged over the whole run)"),
        },
    }

    def __init__(self, name, params, file=None):
        super().__init__(name, params, file)
        std = get_standard(params["standard"], file, f"{name}.standard")
        if not all(k in std.timing for k in PIM_TIMINGS):
            ok = [n for n, s in STANDARDS.items() if all(k in s.timing for k in PIM_TIMINGS)]
            raise ConfigError(f"{std.name} has no separate read/write tRCD, which the PIM "
                              f"commands use; PIM standards: {', '.join(ok)}", file,
                              f"{name}.standard")
        e = params["energy"]
        self.spec = PimSpec(
            standard=params["standard"], channels=int(params["channels"]),
            mac_lanes=int(params["mac_lanes"]), mac_clock_hz=float(params["mac_clock"]),
            mac_pipeline=int(params["mac_pipeline"]), gb_bytes=int(params["global_buffer"]),
            act_pj=e["act"] * 1e12, mac_ab_pj=e["mac_all_bank"] * 1e12, rd_pj=e["read"] * 1e12,
            wr_pj=e["write"] * 1e12, io_pj_per_bit=e["io_per_bit"] * 1e12,
            background_mw=e["background_per_channel"] * 1e3)
        self._heads: dict = {}

    @property
    def memory_bytes(self) -> float:
        return float(self.params["capacity_per_channel"]) * self.params["channels"]

    @property
    def clock_hz(self) -> float:
        return 1e12 / get_standard(self.params["standard"]).tick_ps

    def _head_gemv(self, k: int, n: int) -> tuple:
        """(seconds, ticks, energy pJ less background, bytes) of one head's GEMV on one channel."""
        key = (k, n)
        hit = self._heads.get(key)
        if hit is None:
            r = pim_gemv(self.spec, k, n, 1)
            hit = self._heads[key] = (r["seconds"], r["ticks"], r["energy_pj"] - r["energy"]["background_pj"],
                                      float(r["weight_bytes"]))
        return hit

    def cost(self, job: Job, fidelity: str = "cycle") -> Cost:
        kind = job.kind
        if kind in GEMV_KINDS or kind in ATTENTION_KINDS:
            for what, dtype in (("weights", job.dtype_w), ("activations", job.dtype_a)):
                if dtype not in PIM_DTYPES:
                    raise ConfigError(f"{what} of {job.label or kind} are {dtype}, but the MAC "
                                      f"units of {self.name} take only {' or '.join(PIM_DTYPES)} "
                                      "(precision bf16 or fp16)", self.file, "precision")
        if kind in GEMV_KINDS:
            # a GEMM row by row: PIM-GPT runs the tokens of a prompt one after another
            rows = max(1, job.m) * max(1, job.batch)
            r = pim_gemv(self.spec, int(job.k), int(job.n))
            # the channels' background power is static (charged over the whole run)
            e = r["energy_pj"] - r["energy"]["background_pj"]
            return Cost(r["seconds"] * rows, r["ticks"] * rows, e * rows, float(r["weight_bytes"]) * rows,
                        {"kind": "gemv", "rows": rows, "chunk_elems": r["chunk_elems"]})
        if kind in ATTENTION_KINDS:
            # one head at a time per channel (the banks of a channel share the input vector);
            # QK^T: K cache rows (n = context) x head dim; AV: V^T rows (n = head dim) x context
            # heads dealt round the channels: `extra` channels take one more than the rest;
            # the busiest sets the time, and each channel's commands cost what its own heads
            # need (their background power is static: charged over the whole run)
            heads, ch = max(1, job.batch), self.spec.channels
            base, extra = divmod(heads, ch)
            # a prompt's tokens one at a time, each over the positions up to its own (causal):
            # token i of m sees context - m + i + 1 of them
            m, qk = max(1, job.m), kind == "attention_qk"
            context = int(job.n) if qk else int(job.k)
            secs = ticks = en = by = 0.0
            for i in range(m):
                ctx = max(1, context - m + i + 1)
                r = self._head_gemv(int(job.k) if qk else ctx, ctx if qk else int(job.n))
                secs, ticks = secs + r[0], ticks + r[1]
                en, by = en + r[2], by + r[3]
            s = c = 0
            e = b = 0.0
            for count, nh in ((extra, base + 1), (ch - extra, base)):
                if count == 0 or nh == 0:
                    continue
                if secs * nh > s:
                    s, c = secs * nh, int(ticks) * nh
                e += count * nh * en
                b += count * nh * by
            return Cost(s, c, e, b, {"kind": kind, "heads_per_channel": base + (extra > 0)})
        if kind == "transfer":
            r = pim_write(self.spec, int(job.bytes_written or job.bytes_read))
            return Cost(r["seconds"], r["ticks"], r["energy_pj"], float(job.bytes_written or job.bytes_read))
        raise self.unsupported(job)

    def roofs(self) -> tuple[list, list]:
        # every bank's MAC unit takes a 32 B column per all-bank MAC, which issue no closer
        # than tCCD_S or the lanes' time for the column (the command model's pace)
        s = self.spec
        std = get_standard(s.standard)
        comp = compiled(std)
        tick = std.tick_ps * 1e-12
        per_col = 32 // s.elem_bytes
        t_mac = max(comp.timing_ticks["nCCDS"], math.ceil(per_col / s.mac_lanes / s.mac_clock_hz / tick - 1e-9))
        rate = s.channels * comp.nbanks * per_col / (t_mac * tick)      # elements a second
        return ([(f"{self.name}.bank_bandwidth", rate * s.elem_bytes)],
                [(f"{self.name}.bf16", 2.0 * rate)])

    @property
    def static_power_w(self) -> float:
        # the channels stay in active standby for the whole run (ASIC-only stretches included)
        return self.spec.background_mw * 1e-3 * self.spec.channels


@register
class PimAsic(Component):
    """The PIM-GPT ASIC: vector units for LayerNorm, softmax, GELU, residuals, partial-sum
    accumulation, and the links that broadcast inputs to and gather results from the channels."""
    type_name = "pim_asic"
    schema = {
        "clock": Field("frequency", 1e9, "ASIC clock"),
        "lanes": Field("int", 128, "BF16 vector lanes"),
        "exp_cycles": Field("int", 4, "extra pipeline depth of the exp/div/tanh units (cycles once per softmax or activation op)"),
        "pipeline": Field("int", 10, "fill cycles per vector operation"),
        "energy": {
            "op": Field("energy", 0.5e-12, "one BF16 vector operation"),
            "sram_byte": Field("energy", 0.3e-12, "one SRAM buffer byte read or written"),
        },
        "static_power": Field("power", 0.1, "leakage and clock tree"),
    }
    #: vector ops per element (reads of mean/variance, scale/shift; exp, sum, divide; GELU's tanh)
    OPS = {"norm": 8, "softmax": 5, "activation": 8, "elementwise": 1, "embedding": 1, "rope": 6,
           "accumulate": 1}

    def cost(self, job: Job, fidelity: str = "cycle") -> Cost:
        kind = job.kind
        if kind not in self.OPS:
            raise self.unsupported(job)
        m, n = max(1, job.m), max(1, job.n)
        # a prompt's softmax is causal: query i of m sees n - m + i + 1 scores
        rows = m * n - m * (m - 1) // 2 if kind == "softmax" and m > 1 else m * n
        elems = rows * max(1, job.batch)
        if kind == "accumulate":
            elems = int(job.get("partials", elems))
        ops = self.OPS[kind] * elems
        cyc = math.ceil(ops / self.params["lanes"]) + self.params["pipeline"]
        if kind in ("softmax", "activation"):
            cyc += self.params["exp_cycles"]
        seconds = cyc / float(self.params["clock"])
        e = self.params["energy"]
        nbytes = float(job.bytes_read + job.bytes_written)
        pj = ops * e["op"] * 1e12 + nbytes * e["sram_byte"] * 1e12
        return Cost(seconds, int(cyc), pj, nbytes, {"ops": ops})

    def roofs(self) -> tuple[list, list]:
        return [], [(f"{self.name}.bf16", float(self.params["lanes"]) * self.clock_hz)]

    @property
    def static_power_w(self) -> float:
        return float(self.params["static_power"])

"""A wafer-scale engine: a 2-D mesh of small cores, each with its own SRAM, joined by a fabric.

Cores
  Each core has `core.sram` bytes of local memory (weights, KV cache, buffers and the program
  all live there), an FMAC datapath fed by `read_ports` x `read_port_bits` operand reads and
  `write_ports` x `write_port_bits` writes per cycle, so a vector op on b-bit elements streams
  min(read, write port bits) / b elements per cycle. A vector op costs its issue cycles (DSR
  loads, operand fetch, the op, the loop branch), the datapath's `pipeline_depth` and one
  cycle per group of lanes. The next op that reads what this one wrote waits for the drain:
  a core cannot fully overlap memory access and compute across dependent vector ops.
  Ops run as wide as the SDK's per-builtin SIMD table allows (`fmax_simd`: max is narrower on
  WSE-2). There is no DSD builtin for exp, divide or sqrt: those run as scalar code, a callback
  per element (`map` ops): each element pays a chain of dependent scalar ops, each waiting for
  its producer through the datapath (`pipeline_depth`), plus the loop's own instructions
  (`map_overhead_cycles`); `core.math` gives the ops of the software exp, reciprocal and sqrt.
  `archsim.components.wafer._core_cycles` is the kernel; `analytic_core_cycles` its twin.
Fabric
  One wavelet (`router.wavelet_bits`) per link per cycle, `router.colors` routing colours
  (virtual channels pinned to static routes); the router pipeline is the NoC engine's
  (`archsim.components.noc`). See `wafer_fabric.Fabric` for the PLMR alpha and beta.
Placement
  `fabric` is the core array software sees; `usable` the part a program may occupy (the rest
  is the I/O halo). Defective cores are remapped by the hardware and never exposed, so the
  usable area is free of defects. A phase runs on a sub-grid: `prefill_grid`, `decode_grid`,
  and `op_grid` for a lone op (`auto`: the fastest square grid, as WaferLLM tunes offline).

A Job for this component carries a `Program` in its extras: the vector ops every core runs
and the collectives the cores perform, written by a mapping (archsim/mappings/waferllm). The
component runs it: the compute on the core kernel, the communication phase by phase through
the NoC engine. Lines (rows or columns) that carry the same pattern are simulated once; the
cost breakdown says how many lines were simulated and how many reused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba
import numpy as np

from archsim.components.base import Component, Cost, Job, register
from archsim.components.wafer_fabric import Fabric, wavelets
from archsim.config.schema import Field, parse_grid
from archsim.errors import ConfigError

# --- what a core runs -----------------------------------------------------------------------
OP_KINDS = ("fmac", "mul", "add", "sub", "max", "sum", "copy", "scalar", "map")
MATH_FUNCS = ("exp", "recip", "sqrt")     # software routines of the core's math library


@dataclass(frozen=True)
class VecOp:
    """`count` vector instructions of `n` elements of `bits` bits each ('scalar': n scalar ops).

    kind 'map': `count` loops over `n` elements whose per-element callback is a chain of `ops`
    dependent scalar ops plus the library routines named in `calls` (MATH_FUNCS).
    """

    n: int
    count: int = 1
    kind: str = "fmac"
    bits: int = 16
    ops: int = 0
    calls: tuple = ()

    def __post_init__(self):
        if self.kind not in OP_KINDS:
            raise ValueError(f"unknown vector op kind {self.kind!r}")
        bad = [c for c in self.calls if c not in MATH_FUNCS]
        if bad:
            raise ValueError(f"unknown math routine(s) {bad}; expected {', '.join(MATH_FUNCS)}")


@dataclass(frozen=True)
class Segment:
    """One part of a program: core compute, then (or overlapped with) a collective.

    `repeat` identical steps are simulated once and counted `repeat` times (MeshGEMM's P
    compute-shift steps); `comm` is an object with `run(ctx) -> CommResult`.
    """

    compute: tuple = ()
    comm: object = None
    overlap: bool = False
    repeat: int = 1
    label: str = ""


@dataclass(frozen=True)
class Program:
    grid: tuple            # (rows, cols) of the sub-grid that runs it
    segments: tuple
    cores: int = 0         # cores that draw power (default: the whole grid)


@dataclass
class CommResult:
    cycles: int                      # critical path of the collective, from its start
    lines: int = 1                   # lines (rows or columns) that carry this pattern
    simulated: int = 1               # of which were simulated; the rest reuse them
    flit_hops: int = 0               # over all lines
    phases: int = 0
    # (axis, int64[line_len, 4] flits of one line, lines) of each collective: how many lines
    # carry which load (collectives run together may differ in both)
    line_loads: list = field(default_factory=list)

    def absorb(self, other: "CommResult") -> None:
        """Add `other`'s lines, traffic and link loads (not its cycles: whether collectives
        overlap or follow each other is the caller's to say)."""
        self.lines += other.lines
        self.simulated += other.simulated
        self.flit_hops += other.flit_hops
        self.phases += other.phases
        self.line_loads.extend(other.line_loads)


class FabricContext:
    """What a collective may ask of the machine while it schedules its phases."""

    def __init__(self, wafer: "Wafer", zero_load: bool = False):
        self.wafer = wafer
        self.fabric = wafer.fabric
        self.relay_cycles = wafer.relay_cycles
        self.wavelet_bits = wafer.wavelet_bits
        self.colors = wafer.colors
        self.zero_load = zero_load     # phases get contention-free timing; their traffic is exact

    def run_phase(self, mesh, src, dst, flits, start, color=None):
        return self.fabric.run_phase(mesh, src, dst, flits, start, color, zero_load=self.zero_load)

    def latency(self) -> tuple[float, float]:
        """(alpha, c0) for closed forms: a d-hop message's head lands c0 + d*alpha after it is
        sent; beta = c0 + relay_cycles."""
        p = self.fabric.plmr_analytic()
        return p["alpha_cycles"], p["inject_eject_cycles"]

    def wavelets(self, elements: int, bits: int = 16) -> int:
        return wavelets(elements, bits, self.wavelet_bits)

    def vector_cycles(self, ops) -> int:
        return self.wafer.core_cycles(ops)

    def fabric_op_issue(self) -> int:
        """Cycles a core spends launching one fabric vector op (before its first wavelet)."""
        return self.wafer.core["issue_cycles"]

    def check_colors(self, used: int, what: str):
        if used > self.colors:
            raise ConfigError(f"{what} needs {used} routing colours per core; the fabric has "
                              f"{self.colors}", self.wafer.file, f"{self.wafer.name}.router.colors")


# --- the core kernel --------------------------------------------------------------------------
@numba.njit(cache=True)
def _core_cycles(n, count, lanes, chain, issue, depth, map_over):
    """Cycles of an in-order core that streams vector ops through its datapath.

    Per instruction: issue, then one element group per cycle through a `depth`-stage pipeline;
    the next instruction issues after the last group drained (it reads the result).
    A scalar loop (chain[i] > 0) pays, per element, its chain of dependent ops (each waits
    `depth` for its producer) and the loop's own instructions.
    """
    t = np.int64(0)
    for i in range(n.shape[0]):
        if count[i] <= 0:
            continue
        if chain[i] > 0:
            per = np.int64(issue) + n[i] * (chain[i] * np.int64(depth) + np.int64(map_over))
        else:
            groups = (n[i] + lanes[i] - 1) // lanes[i] if n[i] > 0 else 0
            per = np.int64(issue) + np.int64(depth) + groups - 1 if groups > 0 else np.int64(issue)
        t += per * count[i]
    return t


def analytic_core_cycles(ops, lanes_of, issue: int, depth: int, chain_of=None, map_over: int = 0) -> int:
    """Closed form of `_core_cycles`: `lanes_of(op)` elements per cycle, `chain_of(op)` the
    dependent scalar ops per element of a 'map' op."""
    total = 0
    for op in ops:
        if op.count <= 0:
            continue
        if op.kind == "map":
            total += op.count * (issue + op.n * (chain_of(op) * depth + map_over))
            continue
        lanes = 1 if op.kind == "scalar" else lanes_of(op)
        groups = math.ceil(op.n / lanes) if op.n > 0 else 0
        total += op.count * ((issue + depth + groups - 1) if groups else issue)
    return total


# --- the component ----------------------------------------------------------------------------
def _grid_default(s: str):
    return parse_grid(s)


WAFER_SCHEMA = {
    "clock": Field("frequency", 1.1e9, "core and fabric clock"),
    "cores": Field("int", 850000, "physical cores, spares included (the fabric exposes fewer)"),
    "sram_total": Field("bytes", 40e9, "on-wafer SRAM as published (reference only: the capacity is "
                        "the usable cores x core.sram)"),
    "fabric_bandwidth": Field("bandwidth", 220e15 / 8, "aggregate fabric bandwidth as published "
                              "(reference only: the fabric runs on the router model)"),
    "fabric": Field("grid", _grid_default("757x996"), "core array exposed to software (rows x cols)"),
    "usable": Field("grid", _grid_default("750x994"), "area a program may occupy (fabric less the I/O halo)"),
    "prefill_grid": Field("grid", _grid_default("660x660"), "sub-grid that runs prefill"),
    "decode_grid": Field("grid", _grid_default("360x360"), "sub-grid of one decode pipeline stage"),
    "op_grid": Field("str", "auto", "grid of a lone op (`archsim op`): 'auto' or e.g. '720x720'"),
    "core": {
        "sram": Field("bytes", 49152.0, "local SRAM per core"),
        "read_ports": Field("int", 2, "operand reads per cycle (reference: the SIMD width is the "
                            "narrower of read_port_bits and write_port_bits)"),
        "read_port_bits": Field("int", 64, "bits per operand read"),
        "write_ports": Field("int", 1, "writes per cycle (reference, as read_ports)"),
        "write_port_bits": Field("int", 64, "bits per write"),
        "pipeline_depth": Field("int", 4, "datapath stages: operand fetch, multiply, add, write back"),
        "issue_cycles": Field("int", 6, "instructions to launch one vector op (DSR loads, operand, op, branch)"),
        "ramp_cycles": Field("int", 1, "router <-> core queue, each way", min=0),
        "program_bytes": Field("bytes", 2048.0, "SRAM held by the program image and runtime", min=0),
        "fmax_simd": Field("int", 0, "elements per cycle of the max op (0: as wide as the other ops)", min=0),
        "map_overhead_cycles": Field("int", 3, "per element of a scalar loop: read, write back, branch", min=0),
        "math": {
            "exp": Field("int", 8, "dependent scalar ops of the software exp"),
            "recip": Field("int", 5, "dependent scalar ops of the software reciprocal"),
            "sqrt": Field("int", 11, "dependent scalar ops of the software square root"),
        },
    },
    "router": {
        "colors": Field("int", 24, "routing colours (VCs with static routes) per router"),
        "wavelet_bits": Field("int", 32, "payload bits per wavelet (per link per cycle)"),
        "vc_buf": Field("int", 4, "wavelets buffered per colour per input"),
        "st_delay": Field("int", 0, "switch traversal cycles", min=0),
        "link_latency": Field("int", 1, "link traversal cycles"),
        "credit_delay": Field("int", 1, "credit return cycles", min=0),
    },
    "energy": {
        "core_cycle": Field("energy", 27.3e-12, "energy of one core for one cycle of a running program", min=0),
        "wavelet_hop": Field("energy", 3.2e-12, "energy to move one wavelet over one link", min=0),
    },
    "static_power": Field("power", 0.0, "power drawn whether busy or not", min=0),
}


MIN_GRID_SIDE = 3           # the fewest cores on a side of a grid a program runs on


@register
class Wafer(Component):
    type_name = "wafer"
    schema = WAFER_SCHEMA
    #: the cores' programs, and a background transfer (weights streaming in) beside them
    lanes = 2

    def __init__(self, name: str, params: dict, file=None):
        super().__init__(name, params, file)
        self.core = params["core"]
        self.router = params["router"]
        self.wavelet_bits = int(self.router["wavelet_bits"])
        self.colors = int(self.router["colors"])
        self.relay_cycles = 2 * int(self.core["ramp_cycles"]) + int(self.core["pipeline_depth"])
        self.fabric = Fabric(self.router, self.relay_cycles)
        self.link_log: list | None = None     # set to a list to record per-op link loads
        self.sim_lines = 0
        self.reused_lines = 0
        for key in ("fabric", "usable", "prefill_grid", "decode_grid"):
            g = params[key]
            if isinstance(g, str):
                params[key] = parse_grid(g, file, f"{name}.{key}")
        # a core's SRAM holds the program image first; the rest holds weights, KV and buffers
        sram, prog = self.core["sram"], self.core["program_bytes"]
        if sram <= prog:
            raise ConfigError(f"a core's {sram:.0f} B of SRAM leave nothing beside the {prog:.0f} B program "
                              f"image (core.program_bytes); more than {prog:.0f} B needed", file, f"{name}.core.sram")
        ur, uc = params["usable"]
        fr, fc = params["fabric"]
        if fr * fc > params["cores"]:
            raise ConfigError(f"the fabric {fr}x{fc} exposes more cores than the wafer has ({params['cores']})",
                              file, f"{name}.fabric")
        if ur > fr or uc > fc:
            raise ConfigError(f"usable area {ur}x{uc} exceeds the fabric {fr}x{fc}", file, f"{name}.usable")
        for key in ("prefill_grid", "decode_grid"):
            self.check_grid(params[key], f"{name}.{key}")
        og = params["op_grid"]
        if og != "auto":
            self.check_grid(parse_grid(og, file, f"{name}.op_grid"), f"{name}.op_grid")

    # --- public description ----------------------------------------------------------------
    def check_grid(self, grid, key):
        ur, uc = self.params["usable"]
        r, c = grid
        if not ((r <= ur and c <= uc) or (r <= uc and c <= ur)):
            raise ConfigError(f"grid {r}x{c} does not fit the usable area {ur}x{uc}", self.file, key)
        if r < MIN_GRID_SIDE or c < MIN_GRID_SIDE:
            raise ConfigError(f"grid {r}x{c}: at least {MIN_GRID_SIDE}x{MIN_GRID_SIDE} cores", self.file, key)

    def grid(self, phase: str) -> tuple[int, int]:
        return tuple(self.params["prefill_grid" if phase == "prefill" else "decode_grid"])

    def op_grid(self):
        og = self.params["op_grid"]
        return None if og == "auto" else parse_grid(og, self.file, f"{self.name}.op_grid")

    @property
    def usable_cores(self) -> int:
        r, c = self.params["usable"]
        return int(r * c)

    @property
    def sram_bytes(self) -> int:
        return int(self.core["sram"])

    @property
    def memory_bytes(self) -> float:
        return float(self.usable_cores * self.sram_bytes)

    @property
    def static_power_w(self) -> float:
        return float(self.params["static_power"])

    def roofs(self) -> tuple[list, list]:
        # every usable core: its SRAM reads, and its fp16 lanes' FMACs (two operations each)
        c, cores, clock = self.core, self.usable_cores, self.clock_hz
        sram = cores * c["read_ports"] * c["read_port_bits"] / 8 * clock
        return [(f"{self.name}.sram", sram)], [(f"{self.name}.fp16", 2.0 * cores * self.simd_lanes(16) * clock)]

    def simd_lanes(self, bits: int) -> int:
        """Elements per cycle through the datapath: the narrower of the read and write paths."""
        width = min(int(self.core["read_port_bits"]), int(self.core["write_port_bits"]))
        return max(width // int(bits), 1)

    def plmr(self) -> dict:
        return self.fabric.plmr()

    def op_lanes(self, op) -> int:
        """Elements per cycle of a vector op (the SDK's per-builtin SIMD width where it is narrower)."""
        if op.kind == "scalar":
            return 1
        lanes = self.simd_lanes(op.bits)
        narrow = int(self.core["fmax_simd"])
        return min(lanes, narrow) if op.kind == "max" and narrow > 0 else lanes

    def op_chain(self, op) -> int:
        """Dependent scalar ops per element of a 'map' op (0 for vector ops)."""
        if op.kind != "map":
            return 0
        lib = self.core["math"]
        return max(int(op.ops) + sum(int(lib[c]) for c in op.calls), 1)

    def core_cycles(self, ops) -> int:
        ops = [o for o in ops if o.count > 0]
        if not ops:
            return 0
        n = np.array([o.n for o in ops], dtype=np.int64)
        count = np.array([o.count for o in ops], dtype=np.int64)
        lanes = np.array([self.op_lanes(o) for o in ops], dtype=np.int64)
        chain = np.array([self.op_chain(o) for o in ops], dtype=np.int64)
        return int(_core_cycles(n, count, lanes, chain, int(self.core["issue_cycles"]),
                                int(self.core["pipeline_depth"]), int(self.core["map_overhead_cycles"])))

    def analytic_core_cycles(self, ops) -> int:
        return analytic_core_cycles(ops, self.op_lanes, int(self.core["issue_cycles"]), int(self.core["pipeline_depth"]),
                                    self.op_chain, int(self.core["map_overhead_cycles"]))

    # --- cost ----------------------------------------------------------------------------------
    def cost(self, job: Job, fidelity: str = "cycle") -> Cost:
        prog = job.get("program")
        if not isinstance(prog, Program):
            raise self.unsupported(job)
        return self.run_program(prog, fidelity, job.label or job.kind)

    def run_program(self, prog: Program, fidelity: str = "cycle", label: str = "") -> Cost:
        ctx = FabricContext(self)
        traffic = FabricContext(self, zero_load=True)
        compute_total = comm_total = total = 0
        flit_hops = 0
        sim = reused = 0
        phases = 0
        for seg in prog.segments:
            comp = self.core_cycles(seg.compute) if fidelity == "cycle" else self.analytic_core_cycles(seg.compute)
            comm = 0
            if seg.comm is not None:
                if fidelity == "cycle":
                    res = load = seg.comm.run(ctx)
                else:
                    # closed-form time; the traffic (bytes, wavelet-hop energy, link loads) is
                    # the same flows' count without the engine
                    res, load = seg.comm.analytic(ctx), seg.comm.run(traffic)
                comm = int(res.cycles)
                flit_hops += load.flit_hops * seg.repeat
                sim += res.simulated
                reused += (res.lines - res.simulated)
                phases += res.phases
                if self.link_log is not None and load.line_loads:
                    self.link_log.append({"label": label or seg.label, "grid": prog.grid,
                                          "line_loads": list(load.line_loads), "repeat": seg.repeat})
            step = max(comp, comm) if seg.overlap else comp + comm
            total += step * seg.repeat
            compute_total += comp * seg.repeat
            comm_total += comm * seg.repeat
        self.sim_lines += sim
        self.reused_lines += reused
        clock = self.clock_hz
        cores = prog.cores or prog.grid[0] * prog.grid[1]
        e = self.params["energy"]
        energy = (total * cores * e["core_cycle"] + flit_hops * e["wavelet_hop"]) * 1e12
        plmr = self.plmr() if fidelity == "cycle" else self.fabric.plmr_analytic()
        breakdown = {"compute_s": compute_total / clock, "comm_s": comm_total / clock,
                     "exposed_comm_s": max(total - compute_total, 0) / clock,
                     "lines_simulated": float(sim), "lines_reused": float(reused),
                     "fabric_phases": float(phases), "flit_hops": float(flit_hops),
                     "alpha_cycles": plmr["alpha_cycles"], "beta_cycles": plmr["beta_cycles"]}
        nbytes = flit_hops * self.wavelet_bits / 8.0
        return Cost(seconds=total / clock, cycles=int(total), energy_pj=float(energy), bytes=float(nbytes),
                    breakdown=breakdown)

    def stats(self) -> dict:
        out = self.fabric.stats()
        out.update({"lines_simulated": self.sim_lines, "lines_reused": self.reused_lines})
        out.update(self.plmr())
        return out

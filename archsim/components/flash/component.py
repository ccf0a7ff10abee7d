"""`nand_flash`: NAND flash as a system component, with optional in-flash compute.

Jobs it runs (Job.kind):
  read / transfer  stream `bytes_read` out of the array over every channel (pages striped
                   channel first), as weights streamed to an NPU or a GPU.
  write            program `bytes_written` (a KV cache written out).
  gemv             (compute.enabled) out[m, n] = x[m, k] W[k, n] with W in flash: planned
                   by compute.plan_gemv (tile shape, flash share) and run cycle-level on one
                   channel (all channels carry equal work). Job.extra may override
                   `tiling`, `slicing` and `tile` (e.g. "256x2048") for ablations.
Cost.bytes is what the NAND array is read for (or programmed with); Cost.breakdown adds the
bytes that crossed the channels, the channel utilisation, the flash share and the bytes
handed to the NPU (`npu_bytes`), which the mapping sends on to its NPU job.

Long streams: the first `sim_pages` pages of a channel are simulated cycle by cycle and the
rest extrapolated at the simulated steady-state period (the second half of the window);
a stream no longer than the window is simulated whole. Windows are memoised per shape. A
GEMV whose vectors run in so many passes that a channel senses more than `sim_pages` pages
for them is timed on a few passes of each size and extrapolated (compute.simulate_gemv).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from archsim.components.base import Component, Cost, Job, register
from archsim.components.flash import kernel as K
from archsim.components.flash.api import run_ops
from archsim.components.flash.compute import (CoreSpec, analytic_gemv, plan_gemv, simulate_gemv,
                                             streamed_pages, vectors_fit)
from archsim.components.flash.ecc import ecc_layout
from archsim.components.flash.spec import FLASH_SCHEMA, compile_spec
from archsim.config.schema import Field
from archsim.dtypes import dtype_bits
from archsim.errors import ConfigError

COMPUTE_SCHEMA = {
    "enabled": Field("bool", False, "a compute core per die (Cambricon-LLM's on-die processing)"),
    "macs_per_cycle": Field("int", 2, "MACs a core retires per cycle"),
    "clock": Field("frequency", 400e6, "core clock"),
    "buffer": Field("bytes", 2048.0, "input + output buffer bytes of a core"),
    "result_bytes": Field("int", 1, "bytes per partial sum returned"),
    "act_bytes": Field("int", 1, "bytes per input-vector value"),
    "compute_plane": Field("int", 0, "the plane of each die that feeds its core (the planes are "
                           "alike, so which one changes no timing)", min=0),
    "mac_energy": Field("energy", 0.23e-12, "energy per MAC (J)", min=0),
    "read_ahead": Field("bool", False, "a GEMV's first page is sensed while the cores finish the previous "
                        "GEMV (weight addresses are known ahead; the input is needed only to compute)"),
}
ECC_SCHEMA = {
    "enabled": Field("bool", True, "on-die outlier ECC in front of the core"),
    "fraction": Field("float", 0.01, "protected share of a page's values", gt=0, max=1),
    "copies": Field("int", 2, "copies stored per protected value (the layout must fit the spare area)"),
    "threshold_copies": Field("int", 9, "copies of the threshold (as copies)"),
    "pipeline": Field("int", 4, "decode pipeline depth (cycles)", min=0),
}
SLICING_SCHEMA = {
    "enabled": Field("bool", True, "read slicing (Slice Control)"),
    "slice_bytes": Field("bytes", 2048.0, "bytes per slice"),
    "unsliced_order": Field("str", "continuous", "bus order with slicing off: continuous (page reads "
                            "sent back to back, Read-Compute traffic in their gaps) or fcfs (earliest "
                            "ready first)", choices=("continuous", "fcfs")),
}
TILING_SCHEMA = {
    "enabled": Field("bool", True, "hardware-aware tiling (NPU share); off: all on flash"),
    "tile": Field("str", "optimal", "optimal (the paper's one shape for every matrix), auto (fastest per "
                  "matrix, beyond the paper) or HxW, e.g. 256x2048"),
}


def parse_tile(text: str, file=None, key=None):
    if text in ("optimal", "auto"):
        return text
    try:
        h, w = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"expected optimal, auto or HxW such as 256x2048, got {text!r}", file, key) from None
    if h <= 0 or w <= 0:
        raise ConfigError(f"tile sides must be positive, got {text!r}", file, key)
    return h, w


def check_tile(spec, tile, file=None, key=None):
    """A tile named HxW must be one page per core: H x W = values per page x cores per channel
    x channels at some element width, W split evenly over the channels and H over the cores."""
    if not isinstance(tile, tuple):
        return
    h, w = tile
    cc, ch = spec.dies_per_channel, spec.channels
    sizes = {bits: spec.page_size * 8 // bits * cc * ch for bits in (32, 16, 8, 4)}
    if w % ch or h % cc or h * w not in sizes.values():
        raise ConfigError(f"tile {h}x{w} is not one page per core on this flash: H x W must be "
                          f"{sizes[8]} int8 values ({sizes[16]} fp16) = page values x {cc} cores "
                          f"per channel x {ch} channels, W a multiple of {ch} and H of {cc}", file, key)


#: planes the kernel keeps state for (a per-plane record each); far beyond any built drive
MAX_PLANES = 1 << 20


def _steady_period_ps(order) -> float:
    """Picoseconds a page adds to a long stream: the pace of a simulated window's second half
    (`order`: the pages' completion times, in order)."""
    n = len(order)
    half = n // 2
    return (int(order[-1]) - int(order[half - 1])) / (n - half)


@register
class NandFlash(Component):
    """NAND flash (channels, dies, planes, cache reads), optionally with a compute core per die."""

    type_name = "nand_flash"
    schema = {
        **FLASH_SCHEMA,
        "compute": COMPUTE_SCHEMA,
        "ecc": ECC_SCHEMA,
        "slicing": SLICING_SCHEMA,
        "tiling": TILING_SCHEMA,
        "sim_pages": Field("int", 4096, "pages per channel simulated before extrapolating"),
        "static_power": Field("power", 0.0, "idle power of the flash", min=0),
    }

    def __init__(self, name, params, file=None):
        super().__init__(name, params, file)
        self.spec = compile_spec(params)
        if self.spec.planes > MAX_PLANES:
            s = self.spec
            raise ConfigError(f"{s.channels} channels x {s.chips_per_channel} chips x "
                              f"{s.dies_per_chip} dies x {s.planes_per_die} planes = {s.planes:,} "
                              f"planes; the kernel holds at most {MAX_PLANES:,} (a large SSD has "
                              "a few thousand)", file, name)
        c, e = params["compute"], params["ecc"]
        if c["compute_plane"] >= self.spec.planes_per_die:
            raise ConfigError(f"must be < planes_per_die ({self.spec.planes_per_die})", file,
                              f"{name}.compute.compute_plane")
        self.core = CoreSpec(c["macs_per_cycle"], c["clock"], int(c["buffer"]), c["result_bytes"],
                             c["act_bytes"], e["enabled"], e["fraction"], e["copies"], e["threshold_copies"],
                             e["pipeline"], c["mac_energy"], bool(c["read_ahead"]))
        if self.spec.spare_size >= self.spec.page_size:
            raise ConfigError(f"the spare area ({self.spec.spare_size} B) must be smaller than the page "
                              f"({self.spec.page_size} B)", file, f"{name}.spare_size")
        if params["slicing"]["slice_bytes"] > self.spec.page_size:
            raise ConfigError(f"a slice is part of a page: at most {self.spec.page_size} B, got "
                              f"{params['slicing']['slice_bytes']:g} B", file, f"{name}.slicing.slice_bytes")
        self.tile = parse_tile(params["tiling"]["tile"], file, f"{name}.tiling.tile")
        check_tile(self.spec, self.tile, file, f"{name}.tiling.tile")
        if c["enabled"] and e["enabled"]:
            lay = ecc_layout(self.spec.page_size, 8, e["fraction"], e["copies"], e["threshold_copies"])
            if not lay.fits(self.spec.spare_size):
                raise ConfigError(f"the outlier ECC needs {lay.bytes} B per page, the spare area has "
                                  f"{self.spec.spare_size} B", file, f"{name}.ecc")
        self._windows: dict = {}

    @property
    def memory_bytes(self) -> float:
        return self.spec.capacity

    @property
    def static_power_w(self) -> float:
        return self.params["static_power"]

    def roofs(self) -> tuple[list, list]:
        s = self.spec
        bw = [(f"{self.name}.channels", s.bus_limit()), (f"{self.name}.array", s.array_limit())]
        flops = []
        if self.params["compute"]["enabled"]:
            # one core per die, its MACs at the core clock (it computes on int8 weights)
            flops.append((f"{self.name}.cores.int8", 2.0 * s.dies * self.core.macs_per_cycle * self.core.clock_hz))
        return bw, flops

    @property
    def clock_hz(self) -> float:
        return self.params["bus_rate"]

    @property
    def channel_bandwidth(self) -> float:
        """Bytes/s of all channel buses together: what a run's channel utilisation is of."""
        return self.spec.bus_limit()

    # --- streams --------------------------------------------------------------------------
    def _window(self, op_kind: int, pages: int, nbytes: int, slice_bytes: int):
        """Finish times (ps) of `pages` page ops on one channel, all planes, in order."""
        key = (op_kind, pages, nbytes, slice_bytes)
        hit = self._windows.get(key)
        if hit is not None:
            return hit
        s = self.spec
        per_ch_planes = s.dies_per_channel * s.planes_per_die
        i = np.arange(pages, dtype=np.int64)
        die = i % s.dies_per_channel
        pl = (i // s.dies_per_channel) % s.planes_per_die
        plane = die * s.planes_per_die + pl
        assert plane.max(initial=0) < per_ch_planes
        fin, _, _, busy = run_ops(s, np.full(pages, op_kind, np.int64), plane,
                                  np.full(pages, nbytes, np.int64), np.zeros(pages, np.int64), 1,
                                  slice_bytes=slice_bytes, queue_depth=0, channels=1)
        order = np.sort(fin)
        self._windows[key] = (order, int(busy[0]))
        return self._windows[key]

    def stream_period(self, write: bool = False) -> tuple[float, float]:
        """(seconds, channel busy seconds) a page adds to a long stream on one channel: the
        steady state of a `sim_pages` window (its second half)."""
        n = max(2, self.params["sim_pages"])
        order, busy = self._window(K.PROGRAM if write else K.READ, n, self.spec.page_size, 0)
        return _steady_period_ps(order) / 1e12, busy / n / 1e12

    def stream_seconds(self, nbytes: float, write: bool = False, page_bytes: int | None = None) -> dict:
        """Time to move `nbytes` in or out of the array over all channels (pages striped)."""
        s = self.spec
        pb = int(page_bytes or s.page_size)
        pages = int(-(-int(nbytes) // pb))
        if pages == 0:
            return {"seconds": 0.0, "channel_busy_s": 0.0, "pages": 0}
        per_ch = -(-pages // s.channels)
        n_sim = min(per_ch, self.params["sim_pages"])
        kind = K.PROGRAM if write else K.READ
        order, busy = self._window(kind, n_sim, pb, 0)
        t = int(order[-1])
        busy_total = busy
        if per_ch > n_sim:
            t = t + int(round(_steady_period_ps(order) * (per_ch - n_sim)))
            busy_total = busy * per_ch / n_sim
        return {"seconds": t / 1e12, "channel_busy_s": busy_total / 1e12, "pages": pages}

    # --- in-flash GEMV ----------------------------------------------------------------------
    def computes(self, m: int, dtype: str, dtype_a: str | None = None) -> bool:
        """Whether the cores can run a GEMV of m vectors: they take the activations' type
        (integers of at most `act_bytes`), and some tile leaves room in a core's buffers for
        one vector's slice and its partial sums (more vectors run in passes)."""
        if not self.params["compute"]["enabled"] or self._activation_error(dtype_a or dtype):
            return False
        return m >= 1 and vectors_fit(self.spec, self.core, 1, dtype_bits(dtype))

    def _activation_error(self, dtype_a: str) -> str | None:
        """Why the cores cannot take activations of this type (None if they can)."""
        width = self.core.act_bytes * 8
        if not (dtype_a.startswith("int") and dtype_bits(dtype_a) <= width):
            return (f"the cores multiply {width}-bit integer activations (compute.act_bytes "
                    f"{self.core.act_bytes}), not {dtype_a}; run an integer precision such as int8 "
                    f"or w4a8, or let the mapping stream the weights")
        return None

    def plan(self, k: int, n: int, m: int = 1, dtype: str = "int8", tiling=None, tile=None,
             sink_rate=None):
        c = self.params
        if not c["compute"]["enabled"]:
            raise ConfigError("this flash has no compute cores (compute.enabled is false)", self.file,
                              f"{self.name}.compute")
        bits = dtype_bits(dtype)
        til = c["tiling"]["enabled"] if tiling is None else bool(tiling)
        key = f"{self.name}.tiling.tile"
        t = self.tile if tile is None else parse_tile(tile, self.file, key)
        check_tile(self.spec, t, self.file, key)
        try:
            return plan_gemv(self.spec, self.core, k, n, m, bits, tile=t, tiling=til,
                             slicing=c["slicing"]["enabled"], sink_rate=sink_rate,
                             slice_bytes=int(c["slicing"]["slice_bytes"]))
        except ValueError as exc:
            raise ConfigError(f"{exc} ({dtype} weights, {k}x{n})", self.file, key) from None

    def cold_start(self) -> None:
        # a lone GEMV has no previous GEMV whose compute hides its first page's sensing
        self.core = dataclasses.replace(self.core, read_ahead=False)

    def cost(self, job: Job, fidelity: str = "cycle") -> Cost:
        s = self.spec
        if job.kind in ("read", "transfer", "write"):
            write = job.kind == "write"
            nbytes = job.bytes_written if write else job.bytes_read
            r = self.stream_seconds(nbytes, write)
            if fidelity == "analytic":
                # the first wave of pages' array time (tR or tPROG), then the slower of the
                # buses and the further waves (one page per plane per wave)
                t_op = (s.t_prog_ps if write else s.t_read_ps) / 1e12
                waves = -(-int(-(-nbytes // s.page_size)) // s.planes)
                # the most loaded channel's pages (a few pages do not spread over them all)
                mine = sum(streamed_pages(s, nbytes))
                r["seconds"] = t_op + max(mine / s.bus_bytes_per_s, (waves - 1) * t_op) if nbytes else 0.0
            e = r["pages"] * (s.e_prog_j if write else s.e_read_j) + nbytes * s.e_bus_byte_j
            util = r["channel_busy_s"] / r["seconds"] if r["seconds"] else 0.0
            return Cost(r["seconds"], int(round(r["seconds"] * self.clock_hz)), e * 1e12, float(nbytes),
                        {"channel_bytes": float(nbytes), "channel_utilisation": util, "pages": r["pages"]})
        if job.kind in ("gemv", "gemm", "lm_head"):
            why = self._activation_error(job.dtype_a or job.dtype_w)
            if why:
                raise ConfigError(why, self.file, f"{self.name}.compute")
            tiling = job.get("tiling")
            tile = job.get("tile")
            slicing = job.get("slicing")
            p = self.plan(job.k, job.n, max(job.m, 1), job.dtype_w, tiling, tile, job.get("sink_rate"))
            if slicing is not None and bool(slicing) != p.slicing:
                from dataclasses import replace
                p = replace(p, slicing=bool(slicing),
                            slice_bytes=int(self.params["slicing"]["slice_bytes"]) if slicing else 0)
            order = self.params["slicing"]["unsliced_order"]
            r = simulate_gemv(s, self.core, p, int(self.params["slicing"]["slice_bytes"]), order,
                              window_pages=self.params["sim_pages"])
            if fidelity == "analytic":
                r["seconds"] = analytic_gemv(s, self.core, p, order)
            weight_bytes = float(job.bytes_read) if job.bytes_read else job.k * job.n * dtype_bits(job.dtype_w) / 8
            chan = r["bytes_in"] + r["bytes_out"] + r["bytes_weights"]
            return Cost(r["seconds"], int(round(r["seconds"] * self.clock_hz)), r["energy_j"] * 1e12, weight_bytes,
                        {"channel_bytes": float(chan), "channel_utilisation": r["channel_utilisation"],
                         "npu_bytes": float(r["bytes_weights"]), "input_bytes": float(r["bytes_in"]),
                         "result_bytes": float(r["bytes_out"]), "alpha": p.alpha, "tile": r.get("tile"), "tile_h": p.tile_h, "tile_w": p.tile_w,
                         "vector_passes": len(p.vector_passes()),
                         "rc_pages": r["rc_pages"], "read_pages": r["read_pages"]})
        raise self.unsupported(job)

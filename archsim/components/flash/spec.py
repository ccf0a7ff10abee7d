"""NAND flash organisation and timing: the YAML schema and its compiled integer form.

Every block of a flash config (an arch component of type `nand_flash` / `computational_ssd`,
or a file for `archsim flash CONFIG`) is validated against FLASH_SCHEMA and compiled to a
FlashSpec with integer picosecond timings that the kernel consumes.
"""

from __future__ import annotations

from dataclasses import dataclass

from archsim.config.schema import Field

PS = 1e12

FLASH_SCHEMA = {
    "channels": Field("int", doc="independent flash channels"),
    "chips_per_channel": Field("int", 1, "chips (packages / CE targets) sharing a channel"),
    "dies_per_chip": Field("int", 1, "dies (LUNs) per chip"),
    "planes_per_die": Field("int", 2, "planes per die"),
    "blocks_per_plane": Field("int", 1024, "erase blocks per plane"),
    "pages_per_block": Field("int", 256, "pages per block"),
    "page_size": Field("bytes", 16384.0, "user bytes of a page"),
    "spare_size": Field("bytes", 1664.0, "spare (out-of-band) bytes of a page (must hold the outlier "
                         "ECC)", min=0),
    "t_read": Field("time", 30e-6, "array read tR (page sensed into the data register)"),
    "t_prog": Field("time", 600e-6, "page program tPROG"),
    "t_erase": Field("time", 3.5e-3, "block erase tBERS (reference: no erase is issued; there is "
                      "no FTL or garbage collection)"),
    "bus_rate": Field("rate", 1e9, "channel transfers per second (MT/s)"),
    "bus_width": Field("int", 8, "channel data bits per transfer", choices=(8, 16)),
    "command_overhead": Field("time", 100e-9, "bus time of a command: opcode and address cycles, tWB", min=0),
    "transfer_overhead": Field("time", 100e-9, "bus turnaround before each data transaction (tWHR/tCCS)", min=0),
    "cache_read": Field("bool", True, "a cache register lets the array read the next page during data-out"),
    "read_retry_rate": Field("float", 0.0, "mean extra array reads per page read (read retry)", min=0),
    "queue_depth": Field("int", 64, "host requests outstanding at once in `archsim flash` (0 = all; "
                         "--queue-depth overrides); a model run submits a job's pages at once", min=0),
    "energy": {
        "array_read_power": Field("power", 0.0825, "array power while sensing (J per tR = this x tR)", min=0),
        "array_prog_power": Field("power", 0.0825, "array power while programming", min=0),
        "bus_energy_per_byte": Field("energy", 24e-12, "I/O energy per byte on the channel", min=0),
    },
}


@dataclass(frozen=True)
class FlashSpec:
    channels: int
    chips_per_channel: int
    dies_per_chip: int
    planes_per_die: int
    page_size: int
    spare_size: int
    t_read_ps: int
    t_prog_ps: int
    t_erase_ps: int
    t_cmd_ps: int
    t_xfer_over_ps: int
    bus_bytes_per_s: float
    ps_per_byte_x1024: int
    cache_read: bool
    read_retry_rate: float
    queue_depth: int
    blocks_per_plane: int
    pages_per_block: int
    e_read_j: float            # per page read, expected retries included
    e_prog_j: float
    e_bus_byte_j: float

    @property
    def dies_per_channel(self) -> int:
        return self.chips_per_channel * self.dies_per_chip

    @property
    def dies(self) -> int:
        return self.channels * self.dies_per_channel

    @property
    def planes(self) -> int:
        return self.dies * self.planes_per_die

    @property
    def capacity(self) -> float:
        return float(self.planes) * self.blocks_per_plane * self.pages_per_block * self.page_size

    # --- limits the kernel can reach and never exceed --------------------------------------
    def bus_limit(self) -> float:
        """Bytes/s all channels move when busy with page data only."""
        return self.channels * self.bus_bytes_per_s

    def array_limit(self, read_bytes: int | None = None) -> float:
        """Bytes/s all planes sense (one page per tR per plane, retries included)."""
        b = self.page_size if read_bytes is None else read_bytes
        return self.planes * b / (self.t_read_ps / PS * (1 + self.read_retry_rate))

    def xfer_ps(self, nbytes: float) -> int:
        return int(-(-int(nbytes) * self.ps_per_byte_x1024 // 1024))


def compile_spec(p: dict) -> FlashSpec:
    bus = p["bus_rate"] * p["bus_width"] / 8.0
    e = p["energy"]
    return FlashSpec(
        channels=p["channels"], chips_per_channel=p["chips_per_channel"], dies_per_chip=p["dies_per_chip"],
        planes_per_die=p["planes_per_die"], page_size=int(p["page_size"]), spare_size=int(p["spare_size"]),
        t_read_ps=int(round(p["t_read"] * PS)), t_prog_ps=int(round(p["t_prog"] * PS)),
        t_erase_ps=int(round(p["t_erase"] * PS)), t_cmd_ps=int(round(p["command_overhead"] * PS)),
        t_xfer_over_ps=int(round(p["transfer_overhead"] * PS)), bus_bytes_per_s=bus,
        ps_per_byte_x1024=int(round(PS / bus * 1024)), cache_read=bool(p["cache_read"]),
        read_retry_rate=float(p["read_retry_rate"]), queue_depth=int(p["queue_depth"]),
        blocks_per_plane=p["blocks_per_plane"], pages_per_block=p["pages_per_block"],
        # a page read senses 1 + read_retry_rate times on average (each retry a whole tR)
        e_read_j=e["array_read_power"] * p["t_read"] * (1.0 + float(p["read_retry_rate"])),
        e_prog_j=e["array_prog_power"] * p["t_prog"],
        e_bus_byte_j=e["bus_energy_per_byte"])


def retries(n: int, rate: float):
    """Deterministic read-retry counts with mean `rate`: op i gets floor((i+1)r) - floor(ir)."""
    import numpy as np
    i = np.arange(n + 1, dtype=np.float64)
    f = np.floor(i * rate + 1e-9).astype(np.int64)
    return np.diff(f)

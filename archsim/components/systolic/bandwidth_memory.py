"""`bandwidth_memory`: a DRAM reduced to bandwidth, capacity and energy per byte.

A placeholder for the LPDDR5X (and HBM) that the flash/NPU machines stand on, until the
cycle-level DRAM models of archsim/components/dram/ can be named instead. A job of kind
`transfer` (or any job with bytes_read/bytes_written) costs
    latency + (bytes_read + bytes_written) / (bandwidth x efficiency).
"""

from __future__ import annotations

from archsim.components.base import Component, Cost, Job, register
from archsim.config.schema import Field


@register
class BandwidthMemory(Component):
    """A DRAM reduced to bandwidth, capacity and energy per byte (placeholder)."""

    type_name = "bandwidth_memory"
    schema = {
        "bandwidth": Field("bandwidth", doc="peak bandwidth"),
        "efficiency": Field("float", 1.0, "achievable fraction of the peak", gt=0, max=1),
        "capacity": Field("bytes", doc="capacity"),
        "latency": Field("time", 100e-9, "access latency added once per job", min=0),
        "energy_per_byte": Field("energy", 0.0, "energy per byte moved (J)", min=0),
        "static_power": Field("power", 0.0, "background power", min=0),
        "holds": Field("str", "all", "what the mapping may place here: all | kv | weights",
                       choices=("all", "kv", "weights")),
    }

    @property
    def memory_bytes(self) -> float:
        return self.params["capacity"]

    @property
    def static_power_w(self) -> float:
        return self.params["static_power"]

    @property
    def rate(self) -> float:
        return self.params["bandwidth"] * self.params["efficiency"]

    def cost(self, job: Job, fidelity: str = "cycle") -> Cost:
        nbytes = float(job.bytes_read + job.bytes_written)
        if nbytes <= 0:
            return Cost(0.0, 0)
        secs = self.params["latency"] + nbytes / self.rate
        return Cost(secs, int(round(secs * 1e9)), nbytes * self.params["energy_per_byte"] * 1e12, nbytes)

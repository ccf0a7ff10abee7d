"""Results of a NoC simulation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class NocStats:
    rows: int
    cols: int
    cycles: int
    packets: int
    flits: int
    avg_packet_latency_cycles: float
    max_packet_latency_cycles: float
    avg_network_latency_cycles: float
    accepted_flit_rate: float
    offered_flit_rate: float
    avg_hops: float
    avg_fragmentation: float
    flit_hops: int
    saturated: bool
    wall_s: float
    deadlocked: bool = False
    compile_s: float = 0.0
    flow_done_cycle: np.ndarray | None = field(default=None, repr=False)
    flow_start_cycle: np.ndarray | None = field(default=None, repr=False)
    flow_head_cycle: np.ndarray | None = field(default=None, repr=False)
    link_flits: np.ndarray | None = field(default=None, repr=False)

    @property
    def flit_hops_per_wall_s(self) -> float:
        return self.flit_hops / self.wall_s if self.wall_s > 0 else math.inf

    def to_dict(self) -> dict:
        return {
            "avg_packet_latency_cycles": self.avg_packet_latency_cycles,
            "accepted_flit_rate": self.accepted_flit_rate,
            "avg_hops": self.avg_hops,
            "flit_hops": int(self.flit_hops),
            "cycles": int(self.cycles),
            "wall_s": self.wall_s,
            "flit_hops_per_wall_s": self.flit_hops_per_wall_s,
            "compile_s": self.compile_s,
            "saturated": bool(self.saturated),
            "deadlocked": bool(self.deadlocked),
            "packets": int(self.packets),
            "offered_flit_rate": self.offered_flit_rate,
            "avg_network_latency_cycles": self.avg_network_latency_cycles,
            "max_packet_latency_cycles": self.max_packet_latency_cycles,
            "avg_fragmentation_cycles": self.avg_fragmentation,
        }

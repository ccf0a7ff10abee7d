"""Pipeline stages forced by small per-core memory (PLMR's M).

A phase runs on a sub-grid (`decode_grid`, `prefill_grid`). When the model's layers do not
all fit one sub-grid, consecutive layers are packed into regions of that size, side by side on
the wafer (overlapping where more regions are needed than fit side by side: a core then keeps
layers of two regions, and only the bytes over all usable cores must fit); a request walks
through the regions in order. With one request in flight only one
region computes at a time: the others wait (the pipeline bubble). The plan records how many
regions there are and what fraction of the placed cores is busy at any moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archsim.errors import CapacityError


@dataclass
class RegionPlan:
    grid: tuple
    regions: int
    region_of_layer: list = field(default_factory=list)   # layer -> region index
    head_region: int = 0          # region of lm_head (the embedding sits in region 0)
    per_layer_bytes: int = 0      # weights + KV of one layer on one core
    free_bytes: int = 0           # per core, after program and buffers
    streamed: bool = False        # layers stream into one grid from the rest of the wafer
    resident: int = 0             # streamed: the first layers, which stay on the grid
    head_bytes: int = 0           # embedding + lm_head on one core

    @property
    def cores(self) -> int:
        return self.regions * self.grid[0] * self.grid[1]

    @property
    def busy_fraction(self) -> float:
        """Fraction of placed cores busy at a time with one request in flight."""
        return 1.0 / self.regions if self.regions else 0.0

    def boundary(self, layer: int) -> bool:
        """True when `layer` starts in a different region from the previous layer."""
        if layer <= 0 or layer >= len(self.region_of_layer):
            return False
        return self.region_of_layer[layer] != self.region_of_layer[layer - 1]

    def as_dict(self) -> dict:
        if self.streamed:
            return {"grid": f"{self.grid[0]}x{self.grid[1]}", "regions": 1, "streamed": True,
                    "layers_resident": self.resident,
                    "layers_streamed": len(self.region_of_layer) - self.resident,
                    "bytes_per_core": {"free": self.free_bytes, "head": self.head_bytes,
                                       "layer": self.per_layer_bytes}}
        return {"grid": f"{self.grid[0]}x{self.grid[1]}", "regions": self.regions,
                "layers_per_region": [self.region_of_layer.count(r) for r in range(self.regions)],
                "busy_fraction": self.busy_fraction, "bubble_fraction": 1.0 - self.busy_fraction}


def plan_regions(grid, layers: int, layer_bytes: int, head_bytes: int, free_bytes: int,
                 usable_cores: int, what: str, file=None) -> RegionPlan:
    """Pack `layers` (each `layer_bytes` per core) and the head (embedding + lm_head,
    `head_bytes` per core) into regions of `grid`, greedily in execution order."""
    if layer_bytes > free_bytes:
        raise CapacityError(f"one layer needs {layer_bytes} B per core on a {grid[0]}x{grid[1]} {what} grid, "
                            f"a core has {free_bytes} B free beside its program and buffers; use a larger "
                            f"grid or a shorter context", file, "mesh")
    region_of = []
    region, used = 0, 0
    used = min(head_bytes // 2, free_bytes)      # the embedding table opens region 0
    for _ in range(layers):
        if used + layer_bytes > free_bytes:
            region += 1
            used = 0
        region_of.append(region)
        used += layer_bytes
    lm = head_bytes - head_bytes // 2
    head_region = region
    if used + lm > free_bytes:
        head_region = region + 1
    plan = RegionPlan(tuple(grid), head_region + 1, region_of, head_region, layer_bytes, free_bytes)
    # regions are compute windows; where there are more than the wafer has room for side by
    # side they overlap, and a core in an overlap keeps the layers of both: what must fit is
    # the bytes, over every usable core
    cells = grid[0] * grid[1]
    need = (layers * layer_bytes + head_bytes) * cells
    room = usable_cores * free_bytes
    if need > room:
        raise CapacityError(f"the {what} needs {need / 2 ** 30:.2f} GiB in {plan.regions} regions of "
                            f"{grid[0]}x{grid[1]} cores; the wafer's {usable_cores} usable cores hold "
                            f"{room / 2 ** 30:.2f} GiB beside their programs and buffers", file, "mesh")
    return plan


def plan_streamed(grid, layers: int, layer_bytes: int, head_bytes: int, free_bytes: int,
                  usable_cores: int, sram_free_wafer: int, what: str, file=None) -> RegionPlan:
    """One grid computes every layer; layers that do not fit it wait in the other cores of
    the wafer and stream in while the previous layer computes. The head stays on the grid,
    beside it the first layers; the rest stream through two layers' room (one computing,
    the next loading)."""
    cells = grid[0] * grid[1]
    if layers * layer_bytes + head_bytes <= free_bytes:
        return RegionPlan(tuple(grid), 1, [0] * layers, 0, layer_bytes, free_bytes)
    if head_bytes + 2 * layer_bytes > free_bytes:
        raise CapacityError(f"the {what} grid {grid[0]}x{grid[1]} cannot hold the head and two layers "
                            f"({head_bytes + 2 * layer_bytes} B per core, {free_bytes} B free)", file, "mesh")
    resident = (free_bytes - head_bytes) // layer_bytes - 2     # < layers: not all of them fit
    total = (layers * layer_bytes + head_bytes) * cells
    if total > sram_free_wafer:
        raise CapacityError(f"the {what} needs {total / 2 ** 30:.2f} GiB; the wafer holds "
                            f"{sram_free_wafer / 2 ** 30:.2f} GiB", file, "mesh")
    return RegionPlan(tuple(grid), 1, [0] * layers, 0, layer_bytes, free_bytes, streamed=True,
                      resident=resident, head_bytes=head_bytes)

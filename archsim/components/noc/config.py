"""Router configuration of the mesh NoC engine."""

from __future__ import annotations

from dataclasses import dataclass, asdict

from archsim.errors import ConfigError


@dataclass(frozen=True)
class RouterConfig:
    """Parameters of every router of the mesh (delays in cycles).

    Defaults are an input-queued VC router like BookSim2's "iq" router with 16 VCs, 8-flit VC
    buffers, wait-for-tail-credit and iSLIP VC and switch allocators. ``alloc_iters`` is 1
    because that is what BookSim2's iq router runs whatever its ``alloc_iters`` setting says
    (it builds both allocators without the configuration, and iSLIP then defaults to one
    iteration); set 2 for a genuinely two-iteration allocator.
    """

    vcs: int = 16
    vc_buf: int = 8
    routing_delay: int = 0
    vc_alloc_delay: int = 1
    sw_alloc_delay: int = 1
    st_delay: int = 1
    link_latency: int = 1
    credit_delay: int = 2
    wait_for_tail_credit: bool = True
    alloc_iters: int = 1

    def __post_init__(self):
        for name in ("vcs", "vc_buf", "link_latency", "alloc_iters"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"must be >= 1, got {getattr(self, name)}", None, f"router.{name}")
        for name in ("routing_delay", "vc_alloc_delay", "sw_alloc_delay", "st_delay",
                     "credit_delay"):
            if int(getattr(self, name)) < 0:
                raise ConfigError(f"must be >= 0, got {getattr(self, name)}", None, f"router.{name}")
        if self.vcs > 32:
            raise ConfigError(f"at most 32 VCs, got {self.vcs}", None, "router.vcs")
        if self.vc_buf > 32767:
            raise ConfigError(f"at most 32767 flits per VC, got {self.vc_buf}", None, "router.vc_buf")

    @classmethod
    def wse(cls, colors: int = 24, vc_buf: int = 4) -> "RouterConfig":
        """A WSE-2-like fabric router: colours as VCs (pin them per flow), a one-cycle hop,
        one wavelet per link per cycle, VCs released at the tail."""
        return cls(vcs=colors, vc_buf=vc_buf, routing_delay=0, vc_alloc_delay=0,
                   sw_alloc_delay=0, st_delay=0, link_latency=1, credit_delay=1,
                   wait_for_tail_credit=False, alloc_iters=1)

    @property
    def hop_cycles(self) -> int:
        """Cycles a head flit spends per router at zero load (router pipeline plus link)."""
        return (self.routing_delay + self.vc_alloc_delay + self.sw_alloc_delay + self.st_delay
                + self.link_latency)

    @property
    def inject_cycles(self) -> int:
        """Cycles from a source to its router's injection buffer."""
        return self.link_latency + 1

    def to_dict(self) -> dict:
        return asdict(self)

"""The wafer's fabric: phases of flows run through the cycle-level mesh NoC engine.

A mapping's communication is a sequence of *phases*. A phase is a set of flows on one line of
cores (a row or a column of a sub-grid) or on a small 2-D block: (src, dst, flits, start
cycle, colour). `Fabric.run_phase` sends them through `archsim.components.noc.simulate_flows`
and returns, per flow, the cycle its head and its tail reached the destination core, plus the
flits each link carried. Lines of a grid that carry the same pattern are simulated once and
the result is reused for the others; the caller counts the reuse.

The PLMR latencies of the WaferLLM paper are measured here, not set: alpha (per hop) is the
slope of a single wavelet's latency over distance in the engine; beta (per routing) is the
extra latency of a message that a core receives and sends on, against one that passes
through the router, i.e. the engine's ejection and injection plus the core's relay pipeline.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

ENGINE = "noc"        # which model produced a phase's timing ("noc" or "zero-load")


@dataclass
class PhaseResult:
    head: np.ndarray        # int64[F] cycle the head wavelet reached dst's core
    tail: np.ndarray        # int64[F] cycle the tail wavelet reached dst's core
    link_flits: np.ndarray  # int64[rows, cols, 4] flits sent out of each router (E, W, S, N)
    cycles: int             # last tail
    flit_hops: int
    engine: str


def _router_config(router: dict):
    """The engine's router for a WSE fabric: colours as VCs pinned per flow, no allocation
    stages (routes are static), one wavelet per link per cycle, VCs released at the tail."""
    import dataclasses
    from archsim.components.noc import RouterConfig
    want = dict(vcs=int(router["colors"]), vc_buf=int(router["vc_buf"]), routing_delay=0,
                vc_alloc_delay=0, sw_alloc_delay=0, st_delay=int(router["st_delay"]),
                link_latency=int(router["link_latency"]), credit_delay=int(router["credit_delay"]),
                link_width_flits=1, wait_for_tail_credit=False, alloc_iters=1)
    have = {f.name for f in dataclasses.fields(RouterConfig)}
    return RouterConfig(**{k: v for k, v in want.items() if k in have})


class Fabric:
    """Runs phases of flows for one wafer configuration and keeps the engine's statistics."""

    def __init__(self, router: dict, relay_cycles: int):
        self.router = dict(router)
        self.relay_cycles = int(relay_cycles)     # core part of a relay: ramp in, datapath, ramp out
        self.calls = 0
        self.wall_s = 0.0
        self.flit_hops = 0
        self.engine_used: set[str] = set()
        self._cache: dict = {}
        self._plmr = None
        self._cfg = None

    # --- engine access -------------------------------------------------------------------
    def config(self):
        if self._cfg is None:
            self._cfg = _router_config(self.router)
        return self._cfg

    def run_phase(self, mesh: tuple[int, int], src, dst, flits, start, color=None,
                  zero_load: bool = False) -> PhaseResult:
        """Simulate one phase; identical phases (same arrays) are simulated once. With
        `zero_load`, contention-free timing and the exact traffic, without the engine (what
        the analytic fidelity counts its fabric bytes and energy from)."""
        src = np.asarray(src, dtype=np.int64)
        dst = np.asarray(dst, dtype=np.int64)
        flits = np.asarray(flits, dtype=np.int64)
        start = np.asarray(start, dtype=np.int64)
        if zero_load and len(src):
            return self._zero_load(mesh, src, dst, flits, start)
        col = np.full(len(src), -1, dtype=np.int64) if color is None else np.asarray(color, dtype=np.int64)
        if len(src) == 0:
            z = np.zeros(0, dtype=np.int64)
            return PhaseResult(z, z, np.zeros((mesh[0], mesh[1], 4), dtype=np.int64), 0, 0, ENGINE)
        # only relative timing matters: shift to start at 0 so equal patterns share a cache entry
        t0 = int(start.min())
        rel = start - t0
        # on a line, routers outside the span of the flows stay idle: simulate the span alone
        rows, cols = mesh
        off = 0
        sim_mesh = mesh
        if rows == 1 or cols == 1:
            lo = int(min(src.min(), dst.min()))
            hi = int(max(src.max(), dst.max()))
            off = lo
            sim_mesh = (1, hi - lo + 1) if rows == 1 else (hi - lo + 1, 1)
        s_src, s_dst = src - off, dst - off
        key = (sim_mesh, s_src.tobytes(), s_dst.tobytes(), flits.tobytes(), rel.tobytes(), col.tobytes())
        hit = self._cache.get(key)
        if hit is None:
            hit = self._simulate(sim_mesh, s_src, s_dst, flits, rel, col)
            self._cache[key] = hit
        links = hit.link_flits
        if off or sim_mesh != mesh:
            links = np.zeros((rows, cols, 4), dtype=np.int64)
            if rows == 1:
                links[0, off:off + sim_mesh[1]] = hit.link_flits[0]
            else:
                links[off:off + sim_mesh[0], 0] = hit.link_flits[:, 0]
        return PhaseResult(hit.head + t0, hit.tail + t0, links, hit.cycles + t0, hit.flit_hops, hit.engine)

    def _simulate(self, mesh, src, dst, flits, start, color) -> PhaseResult:
        t = time.perf_counter()
        res = None
        try:
            from archsim.components.noc import simulate_flows
            st = simulate_flows(mesh=mesh, src=src, dst=dst, flits=flits, inject_cycle=start,
                                color=color, router=self.config())
            done = np.asarray(st.flow_done_cycle, dtype=np.int64)
            if np.any(done < 0):
                raise RuntimeError("the NoC engine did not deliver every flow of a wafer phase")
            # the ejection port takes one flit per cycle: the head arrived flits-1 cycles before the tail
            head = done - (flits - 1)
            links = np.asarray(st.link_flits, dtype=np.int64)[..., :4] if st.link_flits is not None \
                else _link_counts(mesh, src, dst, flits)
            res = PhaseResult(head, done, links, int(done.max()), int(st.flit_hops), "noc")
        except NotImplementedError:
            res = self._zero_load(mesh, src, dst, flits, start)
        self.calls += 1
        self.wall_s += time.perf_counter() - t
        self.flit_hops += res.flit_hops
        self.engine_used.add(res.engine)
        return res

    def _zero_load(self, mesh, src, dst, flits, start) -> PhaseResult:
        """Stand-in while the engine is unavailable: contention-free wormhole timing."""
        cols = mesh[1]
        hops = np.abs(src // cols - dst // cols) + np.abs(src % cols - dst % cols)
        per_hop = int(self.router["st_delay"]) + int(self.router["link_latency"])
        head = start + (hops + 1) * per_hop
        tail = head + flits - 1
        links = _link_counts(mesh, src, dst, flits)
        # flit hops as the engine counts them: every router a wavelet leaves, the last by its ramp
        return PhaseResult(head, tail, links, int(tail.max()), int(((hops + 1) * flits).sum()), "zero-load")

    # --- PLMR latencies --------------------------------------------------------------------
    def plmr(self) -> dict:
        """alpha (per hop) and beta (per routing) in cycles, measured on the engine."""
        if self._plmr is None:
            far = 9
            near_t = self.run_phase((1, far + 1), [0], [1], [1], [0])
            far_t = self.run_phase((1, far + 1), [0], [far], [1], [0])
            alpha = (int(far_t.head[0]) - int(near_t.head[0])) / (far - 1)
            # relay: 0 -> 1, the core at 1 re-sends after its relay pipeline; against 0 -> 2 direct
            a = self.run_phase((1, 3), [0], [1], [1], [0])
            b = self.run_phase((1, 3), [1], [2], [1], [int(a.head[0]) + self.relay_cycles])
            direct = self.run_phase((1, 3), [0], [2], [1], [0])
            beta = int(b.head[0]) - int(direct.head[0])
            self._plmr = {"alpha_cycles": float(alpha), "beta_cycles": float(beta),
                          "inject_eject_cycles": float(int(a.head[0]) - alpha)}
        return dict(self._plmr)

    def plmr_analytic(self) -> dict:
        """alpha and beta from the engine's closed-form zero-load latency (no simulation)."""
        from archsim.components.noc import zero_load_latency
        cfg = self.config()
        near = int(zero_load_latency((1, 10), 0, 1, 1, cfg))
        far = int(zero_load_latency((1, 10), 0, 9, 1, cfg))
        alpha = (far - near) / 8
        c0 = near - alpha
        return {"alpha_cycles": float(alpha), "beta_cycles": float(c0 + self.relay_cycles),
                "inject_eject_cycles": float(c0)}

    def stats(self) -> dict:
        return {"engine_calls": self.calls, "engine_wall_s": self.wall_s, "flit_hops": self.flit_hops,
                "engine": "+".join(sorted(self.engine_used)) or "none"}


def _link_counts(mesh, src, dst, flits) -> np.ndarray:
    """Flits out of each router per direction (E, W, S, N) along the XY paths: each flow adds
    its flits over a run of routers, summed as differences along the run."""
    rows, cols = mesh
    sr, sc = np.divmod(np.asarray(src, dtype=np.int64), cols)
    dr, dc = np.divmod(np.asarray(dst, dtype=np.int64), cols)
    f = np.asarray(flits, dtype=np.int64)
    diff = np.zeros((4, rows + 1, cols + 1), dtype=np.int64)
    # X first, in the source's row: east covers [sc, dc), west (dc, sc]
    e, w = dc > sc, dc < sc
    np.add.at(diff[0], (sr[e], sc[e]), f[e])
    np.add.at(diff[0], (sr[e], dc[e]), -f[e])
    np.add.at(diff[1], (sr[w], dc[w] + 1), f[w])
    np.add.at(diff[1], (sr[w], sc[w] + 1), -f[w])
    # then Y, in the destination's column: south covers [sr, dr), north (dr, sr]
    s, n = dr > sr, dr < sr
    np.add.at(diff[2], (sr[s], dc[s]), f[s])
    np.add.at(diff[2], (dr[s], dc[s]), -f[s])
    np.add.at(diff[3], (dr[n] + 1, dc[n]), f[n])
    np.add.at(diff[3], (sr[n] + 1, dc[n]), -f[n])
    out = np.empty((rows, cols, 4), dtype=np.int64)
    out[..., 0] = np.cumsum(diff[0], axis=1)[:rows, :cols]
    out[..., 1] = np.cumsum(diff[1], axis=1)[:rows, :cols]
    out[..., 2] = np.cumsum(diff[2], axis=0)[:rows, :cols]
    out[..., 3] = np.cumsum(diff[3], axis=0)[:rows, :cols]
    return out


def wavelets(elements: int, bits: int, wavelet_bits: int) -> int:
    """Wavelets that carry `elements` values of `bits` bits (packed, as the SIMD fabric ops do)."""
    per = max(wavelet_bits // bits, 1)
    return int(math.ceil(elements / per)) if elements > 0 else 0

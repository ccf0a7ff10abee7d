"""Communication patterns of the WaferLLM mappings, as phases of flows on one line of cores.

Every pattern here acts along one axis of a sub-grid: all `lines` rows (axis 'x') or columns
(axis 'y') carry the same pattern at the same time on disjoint links, so one line is
simulated through the NoC engine and the result is reused for the others (CommResult says
how many lines were simulated and how many reused).

A core that relays a stream (receives, adds its own partial, sends on) starts sending when
the head of the incoming stream has crossed its relay pipeline, and never ahead of the
incoming tail: a wavelet-level pipeline, as the fabric vector ops of a WSE core are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from archsim.components.wafer import CommResult


def _mesh(axis: str, n: int) -> tuple[int, int]:
    return (1, n) if axis == "x" else (n, 1)


def _line_links(axis: str, links: np.ndarray) -> np.ndarray:
    """int64[n, 4] of one line from the engine's [rows, cols, 4] array."""
    return links[0] if axis == "x" else links[:, 0]


class _Tracker:
    """Accumulates the phases of one line: link loads, flit hops, phase count."""

    def __init__(self, axis: str, n: int):
        self.axis, self.n = axis, n
        self.links = np.zeros((n, 4), dtype=np.int64)
        self.flit_hops = 0
        self.phases = 0

    def add(self, res):
        self.links += _line_links(self.axis, res.link_flits)
        self.flit_hops += res.flit_hops
        self.phases += 1

    def result(self, cycles: int, lines: int) -> CommResult:
        return CommResult(cycles=int(cycles), lines=lines, simulated=1 if lines else 0,
                          flit_hops=self.flit_hops * lines, phases=self.phases,
                          line_loads=[(self.axis, self.links.copy(), lines)] if lines else [])


def _capped_run(ctx, tr: _Tracker, mesh, src, dst, flits: int, cap: int) -> int:
    """Cycles for every src to send `flits` wavelets to its dst at once (alternating colours),
    for messages too long to simulate whole: run at `cap` and at half of it and extend the
    last delivery linearly in the length (bandwidth-bound: each further wavelet of every
    message crosses the busiest link once more). The link loads and flit hops recorded in
    `tr` are scaled to the full length."""
    m = len(src)
    colours = [i % 2 for i in range(m)]
    f1 = min(flits, cap)
    r1 = ctx.run_phase(mesh, src, dst, [f1] * m, [0] * m, colours)
    tr.add(r1)
    t = int(r1.tail.max())
    if flits > f1:
        f2 = max(f1 // 2, 1)
        r2 = ctx.run_phase(mesh, src, dst, [f2] * m, [0] * m, colours)
        slope = (t - int(r2.tail.max())) / max(f1 - f2, 1)
        # short runs can both be latency-bound (a link latency above one cycle hides the
        # second wavelet); the busiest link still takes one wavelet a cycle, which bounds the
        # slope from below
        slope = max(slope, int(r1.link_flits.max()) / f1)
        t = int(round(t + slope * (flits - f1)))
        tr.flit_hops = int(round(tr.flit_hops * flits / f1))
        tr.links = np.rint(tr.links * (flits / f1)).astype(np.int64)
    return t


def ktree_groups(n: int, k: int) -> list[int]:
    """Group sizes per level of a balanced K-tree over n cores (about n**(1/K) each).

    Level sizes are chosen so their product covers n: WaferLLM's two-way tree (K=2) groups
    the line into about sqrt(n) groups of about sqrt(n) cores.
    """
    if k <= 1:
        return [n]
    sizes = []
    remaining = n
    for level in range(k - 1):
        g = max(2, int(round(remaining ** (1.0 / (k - level)))))
        sizes.append(g)
        remaining = math.ceil(remaining / g)
    sizes.append(remaining)
    return sizes


@dataclass(frozen=True)
class LineCollective:
    """What every collective along the lines of a grid is given: `lines` identical lines of
    `n` cores each, along `axis`, moving `elements` values of `bits` bits per core."""

    n: int                 # cores on the line
    lines: int             # identical lines
    axis: str              # 'x' (rows) or 'y' (columns)
    elements: int          # values per core
    bits: int = 16


@dataclass(frozen=True)
class KTreeAllreduce(LineCollective):
    """MeshGEMV's K-tree allreduce (K=2: two-way) along one axis, optionally without broadcast.

    Level j groups the still-active cores into runs of about n**(1/K); each run reduces by a
    chain from both ends toward its middle core (its root), which stays active. After K
    levels one root holds the sum and multicasts it along the line (one colour each way).
    K=1 with root='end' is the pipelined allreduce baseline (Cerebras' default GEMV).
    """

    k: int = 2
    root: str = "center"   # 'center' or 'end'
    broadcast: bool = True

    def run(self, ctx) -> CommResult:
        n = self.n
        tr = _Tracker(self.axis, n)
        if n <= 1 or self.elements <= 0:
            return tr.result(0, self.lines)
        flits = ctx.wavelets(self.elements, self.bits)
        issue = ctx.fabric_op_issue()
        relay = ctx.relay_cycles
        mesh = _mesh(self.axis, n)
        ctx.check_colors(4 * self.k + (2 if self.broadcast else 0), f"a {self.k}-tree allreduce")
        ready = np.zeros(n, dtype=np.int64)          # partial sum of each core ready
        active = list(range(n))
        sizes = ktree_groups(n, self.k) if self.root == "center" else [n]
        for level, g in enumerate(sizes):
            groups = [active[i:i + g] for i in range(0, len(active), g)]
            if len(groups) > 1 and level == len(sizes) - 1:
                groups = [active]
            head_in = np.full(n, -1, dtype=np.int64)
            tail_in = np.full(n, -1, dtype=np.int64)
            root_tails: dict = {}    # root -> tails of its (up to two) incoming streams
            chains = []   # per group: (left chain ending at root, right chain ending at root)
            for grp in groups:
                r = len(grp) - 1 if self.root == "end" else len(grp) // 2
                chains.append((grp[: r + 1], grp[r:][::-1]))
            longest = max(max(len(a), len(b)) for a, b in chains) - 1
            for s in range(longest):
                src, dst, start, color = [], [], [], []
                for left, right in chains:
                    for side, chain in enumerate((left, right)):
                        if s + 1 < len(chain):
                            a, b = chain[s], chain[s + 1]
                            t = int(ready[a]) + issue
                            if head_in[a] >= 0:   # relaying: wait for the incoming stream
                                t = max(t, int(head_in[a]) + relay, int(tail_in[a]) + relay - (flits - 1))
                            src.append(a)
                            dst.append(b)
                            start.append(t)
                            color.append(4 * level + 2 * side + (s % 2))
                if not src:
                    continue
                res = ctx.run_phase(mesh, src, dst, [flits] * len(src), start, color)
                tr.add(res)
                for i, b in enumerate(dst):
                    head_in[b] = max(head_in[b], int(res.head[i]))
                    tail_in[b] = max(tail_in[b], int(res.tail[i]))
                    root_tails.setdefault(b, []).append(int(res.tail[i]))
            roots = []
            for grp, (left, right) in zip(groups, chains):
                root = left[-1]
                done = int(ready[root])
                # one receive-and-add op per incoming stream, one after the other (the core runs
                # one op at a time); a stream not yet read waits in the router and then drains
                # at one wavelet per cycle
                for i, tail in enumerate(sorted(root_tails.get(root, []))):
                    done = max(tail, done + issue + flits - 1) + relay if i else max(done + issue, tail + relay)
                ready[root] = done
                roots.append(root)
            active = roots
        root = active[0]
        end = int(ready[root])
        if self.broadcast:
            # two sends, one after the other: the farther half first
            src, dst, start = [], [], []
            t = end + issue
            for far in sorted((0, n - 1), key=lambda e: -abs(e - root)):
                if far != root:
                    src.append(root)
                    dst.append(far)
                    start.append(t)
                    t += flits + issue
            if src:
                res = ctx.run_phase(mesh, src, dst, [flits] * len(src), start,
                                    [4 * self.k + i for i in range(len(src))])
                tr.add(res)
                end = int(res.tail.max()) + relay
        return tr.result(end, self.lines)

    def analytic(self, ctx) -> CommResult:
        """PLMR closed form: per level, s stages of d hops cost s*(d*alpha + beta) plus the
        message (and a centre root's second receive); the broadcast crosses the farther half."""
        n = self.n
        if n <= 1 or self.elements <= 0:
            return CommResult(0, self.lines, 0)
        alpha, c0 = ctx.latency()
        f = ctx.wavelets(self.elements, self.bits)
        issue, relay = ctx.fabric_op_issue(), ctx.relay_cycles
        beta = c0 + relay
        t = 0.0
        span = 1
        count = n
        sizes = ktree_groups(n, self.k) if self.root == "center" else [n]
        root_pos = 0.0
        for level, g in enumerate(sizes):
            g = count if level == len(sizes) - 1 else min(g, count)
            stages = g - 1 if self.root == "end" else g // 2
            t += issue + stages * (span * alpha + beta) + f - 1
            if self.root != "end" and g > 2:     # the root reads its second stream after the first
                t += issue + f - 1 + relay
            root_pos += (g - 1 if self.root == "end" else g // 2) * span
            span *= g
            count = -(-count // g)
        if self.broadcast:
            far = max(root_pos, n - 1 - root_pos)
            t += issue + c0 + far * alpha + f - 1 + relay
        return CommResult(int(round(t)), self.lines, 0)


def _one_message(ctx, hops: float, elements: int, bits: int, load: float = 1.0) -> int:
    """Closed form of one phase: issue, the head over `hops`, `load` messages' wavelets
    through the busiest link, the receive drain."""
    alpha, c0 = ctx.latency()
    f = ctx.wavelets(elements, bits)
    return int(round(ctx.fabric_op_issue() + c0 + hops * alpha + load * f - 1 + ctx.relay_cycles))


@dataclass(frozen=True)
class InterleavedShift(LineCollective):
    """MeshGEMM's two-hop cyclic shift: the logical ring 0, 2, 4, .., 5, 3, 1 laid on a line.

    Every core sends its tile to its successor in the ring, at most two hops away; each link
    carries one flow, so the step costs two hops plus the tile, whatever the line length.
    """

    @staticmethod
    def ring(n: int) -> list[int]:
        return list(range(0, n, 2)) + list(range(n - 1 if (n - 1) % 2 else n - 2, 0, -2))

    def run(self, ctx) -> CommResult:
        tr = _Tracker(self.axis, self.n)
        if self.n <= 1 or self.elements <= 0:
            return tr.result(0, self.lines)
        ring = self.ring(self.n)
        src = ring
        dst = ring[1:] + ring[:1]
        flits = ctx.wavelets(self.elements, self.bits)
        start = [ctx.fabric_op_issue()] * len(src)
        color = [0 if d > s else 1 for s, d in zip(src, dst)]
        res = ctx.run_phase(_mesh(self.axis, self.n), src, dst, [flits] * len(src), start, color)
        tr.add(res)
        return tr.result(int(res.tail.max()) + ctx.relay_cycles, self.lines)

    def analytic(self, ctx) -> CommResult:
        return CommResult(_one_message(ctx, 2 if self.n > 2 else 1, self.elements, self.bits), self.lines, 0)


@dataclass(frozen=True)
class CannonShift(LineCollective):
    """Cannon's shift on a mesh without wrap-around links: neighbours pass one hop, the tail
    core sends back to the head across the whole line."""

    def run(self, ctx) -> CommResult:
        tr = _Tracker(self.axis, self.n)
        if self.n <= 1 or self.elements <= 0:
            return tr.result(0, self.lines)
        src = list(range(self.n))
        dst = list(range(1, self.n)) + [0]
        flits = ctx.wavelets(self.elements, self.bits)
        start = [ctx.fabric_op_issue()] * self.n
        res = ctx.run_phase(_mesh(self.axis, self.n), src, dst, [flits] * self.n, start,
                            [0] * (self.n - 1) + [1])
        tr.add(res)
        return tr.result(int(res.tail.max()) + ctx.relay_cycles, self.lines)

    def analytic(self, ctx) -> CommResult:
        return CommResult(_one_message(ctx, self.n - 1, self.elements, self.bits), self.lines, 0)


@dataclass(frozen=True)
class RelayBroadcast(LineCollective):
    """SUMMA's broadcast of step `owner`'s tile along the line. A new owner every step needs a
    route per owner, more than the colours allow (PLMR's R), so the tile is relayed core by
    core; every relay adds the per-routing latency beta."""

    def arrivals(self, ctx, tr=None) -> np.ndarray:
        """Cycle each distance d = 1..n-1 from the owner has the whole tile (one chain, reused
        for every owner: a relay chain's timing depends only on the distance)."""
        flits = ctx.wavelets(self.elements, self.bits)
        relay = ctx.relay_cycles
        t_head, t_tail = 0, -1
        out = np.zeros(self.n, dtype=np.int64)
        mesh = _mesh(self.axis, self.n)
        for d in range(1, self.n):
            if d == 1:
                start = ctx.fabric_op_issue()
            else:
                start = max(t_head + relay, t_tail + relay - (flits - 1))
            res = ctx.run_phase(mesh, [d - 1], [d], [flits], [start], [d % 2])
            if tr is not None:
                tr.add(res)
            t_head, t_tail = int(res.head[0]), int(res.tail[0])
            out[d] = t_tail + relay
        return out

    def run(self, ctx) -> CommResult:
        """Mean step time over the owners 0..n-1 (each step broadcasts both ways)."""
        tr = _Tracker(self.axis, self.n)
        if self.n <= 1 or self.elements <= 0:
            return tr.result(0, self.lines)
        arr = self.arrivals(ctx, tr)
        owners = np.arange(self.n)
        far = np.maximum(owners, self.n - 1 - owners)
        return tr.result(int(round(arr[far].mean())), self.lines)

    def analytic(self, ctx) -> CommResult:
        if self.n <= 1 or self.elements <= 0:
            return CommResult(0, self.lines, 0)
        alpha, c0 = ctx.latency()
        f = ctx.wavelets(self.elements, self.bits)
        owners = np.arange(self.n)
        far = np.maximum(owners, self.n - 1 - owners).mean()
        t = ctx.fabric_op_issue() + far * (alpha + c0 + ctx.relay_cycles) - ctx.relay_cycles + f - 1 + ctx.relay_cycles
        return CommResult(int(round(t)), self.lines, 0)


@dataclass(frozen=True)
class NeighbourShift(LineCollective):
    """Every core sends its slice one hop toward the line's start (the KV-cache shift moves
    each row's oldest tokens to the row above)."""

    def run(self, ctx) -> CommResult:
        tr = _Tracker(self.axis, self.n)
        if self.n <= 1 or self.elements <= 0:
            return tr.result(0, self.lines)
        src = list(range(1, self.n))
        dst = list(range(0, self.n - 1))
        flits = ctx.wavelets(self.elements, self.bits)
        res = ctx.run_phase(_mesh(self.axis, self.n), src, dst, [flits] * len(src),
                            [ctx.fabric_op_issue()] * len(src), [0] * len(src))
        tr.add(res)
        return tr.result(int(res.tail.max()) + ctx.relay_cycles, self.lines)

    def analytic(self, ctx) -> CommResult:
        if self.n <= 1 or self.elements <= 0:
            return CommResult(0, self.lines, 0)
        return CommResult(_one_message(ctx, 1, self.elements, self.bits), self.lines, 0)


@dataclass(frozen=True)
class LineBroadcast(LineCollective):
    """One core multicasts a vector to every core of its line (a colour routed to the ramp of
    every router it passes)."""

    root: int = 0

    def run(self, ctx) -> CommResult:
        tr = _Tracker(self.axis, self.n)
        if self.n <= 1 or self.elements <= 0:
            return tr.result(0, self.lines)
        flits = ctx.wavelets(self.elements, self.bits)
        src, dst = [], []
        for far in (0, self.n - 1):
            if far != self.root:
                src.append(self.root)
                dst.append(far)
        res = ctx.run_phase(_mesh(self.axis, self.n), src, dst, [flits] * len(src),
                            [ctx.fabric_op_issue()] * len(src), list(range(len(src))))
        tr.add(res)
        return tr.result(int(res.tail.max()) + ctx.relay_cycles, self.lines)

    def analytic(self, ctx) -> CommResult:
        if self.n <= 1 or self.elements <= 0:
            return CommResult(0, self.lines, 0)
        far = max(self.root, self.n - 1 - self.root)
        return CommResult(_one_message(ctx, far, self.elements, self.bits), self.lines, 0)


@dataclass(frozen=True)
class RegionHandoff:
    """A pipeline-stage boundary: the edge line of one region hands its slice to the adjacent
    region (one hop per line), which multicasts it across its rows."""

    n: int          # cores per line of the receiving region
    lines: int
    elements: int
    bits: int = 16

    def run(self, ctx) -> CommResult:
        tr = _Tracker("x", self.n + 1)
        flits = ctx.wavelets(self.elements, self.bits)
        mesh = (1, self.n + 1)
        hop = ctx.run_phase(mesh, [0], [1], [flits], [ctx.fabric_op_issue()], [0])
        tr.add(hop)
        t = int(hop.tail[0]) + ctx.relay_cycles
        if self.n > 1:
            res = ctx.run_phase(mesh, [1], [self.n], [flits], [t + ctx.fabric_op_issue()], [1])
            tr.add(res)
            t = int(res.tail[0]) + ctx.relay_cycles
        return tr.result(t, self.lines)

    def analytic(self, ctx) -> CommResult:
        t = _one_message(ctx, 1, self.elements, self.bits)
        if self.n > 1:
            t += _one_message(ctx, self.n - 1, self.elements, self.bits)
        return CommResult(t, self.lines, 0)


@dataclass(frozen=True)
class BulkRotate(LineCollective):
    """Each core of a line ships `elements` values half a line away (the prefill-to-decode
    reshuffle). Messages this long are bandwidth-bound: the engine runs them at two short
    lengths and the time is extended linearly to the full length (each extra wavelet of every
    message crosses the busiest link once more: the slope the engine shows between the two
    lengths holds for any length)."""
    cap: int = 2

    def run(self, ctx) -> CommResult:
        tr = _Tracker(self.axis, self.n)
        if self.n <= 1 or self.elements <= 0:
            return tr.result(0, self.lines)
        half = self.n // 2
        src = list(range(self.n))
        dst = [(i + half) % self.n for i in src]
        keep = [i for i in range(self.n) if src[i] != dst[i]]
        src = [src[i] for i in keep]
        dst = [dst[i] for i in keep]
        t = _capped_run(ctx, tr, _mesh(self.axis, self.n), src, dst,
                        ctx.wavelets(self.elements, self.bits), self.cap)
        return tr.result(t + ctx.relay_cycles, self.lines)

    def analytic(self, ctx) -> CommResult:
        """Half the line's messages cross its middle link."""
        if self.n <= 1 or self.elements <= 0:
            return CommResult(0, self.lines, 0)
        half = self.n // 2
        return CommResult(_one_message(ctx, half, self.elements, self.bits, load=half), self.lines, 0)


@dataclass(frozen=True)
class Parallel:
    """Collectives on disjoint links at the same time (e.g. A along rows, B along columns)."""

    parts: tuple

    def run(self, ctx, analytic: bool = False) -> CommResult:
        results = [p.analytic(ctx) if analytic else p.run(ctx) for p in self.parts]
        out = CommResult(cycles=max((r.cycles for r in results), default=0), lines=0, simulated=0)
        for r in results:
            out.absorb(r)
        return out

    def analytic(self, ctx) -> CommResult:
        return self.run(ctx, analytic=True)


@dataclass(frozen=True)
class Sequence:
    """Collectives one after another (e.g. the three reduce steps of a softmax)."""

    parts: tuple

    def run(self, ctx, analytic: bool = False) -> CommResult:
        out = CommResult(cycles=0, lines=0, simulated=0)
        for p in self.parts:
            r = p.analytic(ctx) if analytic else p.run(ctx)
            out.cycles += r.cycles
            out.absorb(r)
        return out

    def analytic(self, ctx) -> CommResult:
        return self.run(ctx, analytic=True)


@dataclass(frozen=True)
class EdgeFill(LineCollective):
    """Data that enters a line from both of its ends: each end core of the line's extension
    feeds the nearer half (weights streamed into a grid from the cores around it). Long
    streams are bandwidth-bound: run at two capped lengths and extended linearly."""

    cap: int = 4

    def run(self, ctx) -> CommResult:
        tr = _Tracker(self.axis, self.n + 2)
        if self.n <= 0 or self.elements <= 0:
            return tr.result(0, self.lines)
        half = (self.n + 1) // 2
        src = [0] * half + [self.n + 1] * (self.n - half)
        dst = list(range(1, self.n + 1))
        t = _capped_run(ctx, tr, _mesh(self.axis, self.n + 2), src, dst,
                        ctx.wavelets(self.elements, self.bits), self.cap)
        return tr.result(t + ctx.relay_cycles, self.lines)

    def analytic(self, ctx) -> CommResult:
        """Each end's link carries the nearer half's data."""
        if self.n <= 0 or self.elements <= 0:
            return CommResult(0, self.lines, 0)
        half = (self.n + 1) // 2
        return CommResult(_one_message(ctx, half, self.elements, self.bits, load=half), self.lines, 0)

"""In-flash GEMV (Cambricon-LLM Secs. IV-V): per-die compute cores, Read-Compute requests,
read slicing and the hardware-aware tiling that splits a weight matrix between the flash
cores and the NPU.

A weight matrix of n outputs x k inputs (the paper's H_weight x W_weight) is cut into tiles
of H x W. One tile is one Read-Compute *group*: it is spread over every compute core (one
per die), each core taking an atomic tile of (H / cores_per_channel) x (W / channels) values
= one page. Per channel a group costs one broadcast of its W / channels input values, then
each core senses its page, checks it with the outlier ECC, multiplies it, and returns
H / cores_per_channel partial sums. The channel's input traffic plus result traffic per
tile is W + channels x H values in all, least (AM-GM) at H = sqrt(page x cores), W =
channels x H: 256 x 2048 for Cambricon-LLM-S.

Hardware-aware tiling gives the flash a share alpha of the tiles and streams the rest of the
matrix through the channels to the NPU as ordinary page reads, on the planes not computing
(the paper's "idle plane"). alpha balances the two (the paper's Eqs.):
    t_rc  = tR + (W / channels) / bw_channel            one tile's time on a core
    u_rc  = bytes a tile puts on a channel / (t_rc x bw_channel)
    flash rate per channel = cores_per_channel x page / t_rc
    NPU rate per channel   = bw_channel x (1 - u_rc)
    alpha = flash rate / (flash rate + NPU rate)
Only whole tiles go to the flash; the NPU takes the rest, edges included. With tiling off
(the ablation: "all operations ... are completed by Flash, with no offloading to NPU", Sec.
VIII-A) nothing streams, and a matrix side that is no multiple of the tile (5120 against
2048) is laid out in edge tiles of the same page count: the edge strip's thin side whole in
each tile, its long side split, one page per core (`edge_tiles`). Padding the edge to whole
tiles instead would sense and multiply pages of zeros (1.2x the work on a 5120-wide matrix),
which the paper's 13B models do not show (Fig. 14: they lose as much as the 7B ones).
Read slicing (the paper's Slice Control) sends a streamed page in slices that fill the bus's
bubbles: Read-Compute broadcasts and results go first and wait at most one slice. Off, a
page goes out in one transaction and the read data is sent continuously (Sec. VIII-C:
"read requests are sent in a continuous, unsegmented manner"; Sec. IV-C: the page transfers
block the subsequent Read-Compute requests), so Read-Compute traffic waits for a gap in the
page stream (`unsliced_order="continuous"`); "fcfs" serves the bus earliest ready first.
Tile shape: by default the paper's AM-GM tile, one shape for all matrices, narrowed to the
widest the matrix holds; a core's combined 2 KB buffer holds floor(2 KB / (input slice +
partial sums)) tiles in flight, so a tall tile (4096x128 on S: 16 + 1024 B) cannot overlap
one tile's read with the last one's compute. Vectors: a Read-Compute request carries the
vectors the controller sends, so a batch whose slices would leave room for one tile in
flight (or overflow the buffer) runs each tile in several passes, its page sensed once a
pass (`pass_options`: the fewest passes that fit, or the fewest that keep two in flight,
whichever the model predicts faster; 5 vectors on L's 2048x4096: one serial pass of 1280 B,
145 us a tile, or 3 + 2 vectors, 103 us). Read-ahead: weight addresses are static, so the
first page of a GEMV is sensed while the cores compute the previous GEMV's last page; the
input vector is needed only to compute.

All channels carry the same work (the tiles are spread over every channel, and streamed
pages are dealt round-robin), so one channel - the most loaded - is simulated with the
cycle-level kernel and stands for all of them.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from archsim.components.flash import kernel as K
from archsim.components.flash.api import run_ops
from archsim.components.flash.ecc import ecc_layout
from archsim.components.flash.spec import FlashSpec


@dataclass(frozen=True)
class CoreSpec:
    macs_per_cycle: int
    clock_hz: float
    buffer_bytes: int          # input + output buffers of a core
    result_bytes: int          # bytes per partial sum sent back
    act_bytes: int             # bytes per input-vector value
    ecc: bool
    ecc_fraction: float
    ecc_copies: int
    ecc_threshold_copies: int
    ecc_pipeline: int          # cycles of ECC decode pipeline per page
    mac_energy_j: float
    read_ahead: bool = False   # a GEMV's first page is sensed during the previous GEMV's last compute

    def page_ps(self, values: int, vectors: int, value_bits: int, page_bytes: int) -> int:
        """Core time for one page: load the outlier table, then stream the MACs."""
        cyc = -(-values * vectors // self.macs_per_cycle)
        if self.ecc:
            lay = ecc_layout(page_bytes, value_bits, self.ecc_fraction, self.ecc_copies,
                             self.ecc_threshold_copies)
            cyc += lay.outliers + self.ecc_pipeline
        return int(round(cyc / self.clock_hz * 1e12))


@dataclass(frozen=True)
class GemvPlan:
    k: int
    n: int
    m: int
    value_bits: int
    tile_h: int
    tile_w: int
    flash_tiles: int          # tiles (groups) run on the flash cores
    npu_bytes: int            # weight bytes streamed to the NPU
    npu_n: int                # output columns the NPU computes (for its job)
    alpha: float              # share of the weights computed in flash
    slicing: bool
    tiling: bool
    edge: tuple = ()          # ((h, w, tiles), ...): edge tiles run on the flash after the main ones
    slice_bytes: int = 0      # read slicing's slice (0: whole pages), for the closed form
    passes: tuple = ()        # vectors of each Read-Compute pass over a tile's pages (empty: one of m)

    def vector_passes(self) -> tuple:
        """Vectors each Read-Compute pass over a tile's pages carries, in order."""
        return tuple(self.passes) or (self.m,)

    def groups(self) -> list:
        """(h, w, tiles) of every tile shape the flash runs, main tiles first."""
        return [(self.tile_h, self.tile_w, self.flash_tiles)] + [tuple(e) for e in self.edge]

    @property
    def rc_tiles(self) -> int:
        """Tiles (Read-Compute groups) the flash runs, edge tiles included."""
        return sum(g[2] for g in self.groups())


def _geometry(spec: FlashSpec, value_bits: int):
    values = spec.page_size * 8 // value_bits
    cc = spec.dies_per_channel
    return values, cc, spec.channels


def tile_candidates(spec: FlashSpec, value_bits: int) -> list[tuple[int, int]]:
    """(H, W) with H x W = page values x cores: W a multiple of the channels, H of the cores."""
    values, cc, ch = _geometry(spec, value_bits)
    total = values * cc * ch
    out = []
    w = ch
    while w <= total:
        h = total // w
        if h * w == total and h % cc == 0 and h >= cc:
            out.append((h, w))
        w *= 2
    return out


def optimal_tile(spec: FlashSpec, value_bits: int, core: "CoreSpec | None" = None, m: int = 1,
                 k: int | None = None, n: int | None = None) -> tuple[int, int]:
    """The paper's tile (Sec. V-A): the least channel traffic W + channels x H under
    H x W = page x cores. The traffic falls as W nears the AM-GM optimum, so a matrix
    narrower (or shorter) than that tile takes the widest tile it holds (Cambricon-LLM-L's
    512x16384 does not fit a 4096-wide matrix: 2048x4096). Pages hold 2^k values, so the
    optimum need not be a side (M: sqrt(8 x 16384) = 362); of equal traffic the narrower W
    wins, as it shortens the broadcast in t_rc = tR + W / (channels x bw). Shapes whose
    vector slices overflow a core's buffers are skipped."""
    values, cc, ch = _geometry(spec, value_bits)
    cands = tile_candidates(spec, value_bits)
    if core is not None:
        cands = [hw for hw in cands if _fits(core, hw, m, cc, ch)] or cands
    if k is not None and n is not None:
        cands = [hw for hw in cands if hw[1] <= k and hw[0] <= n] or cands
    return min(cands, key=lambda hw: (hw[1] + ch * hw[0], hw[1]))


def _slice_bytes(core: "CoreSpec", h: int, w: int, m: int, cc: int, ch: int) -> int:
    """Bytes of a core's buffers one h x w tile holds: its input slice and partial sums."""
    return (w // ch) * m * core.act_bytes + (h // cc) * m * core.result_bytes


def _fits(core: "CoreSpec", hw: tuple[int, int], m: int, cc: int, ch: int) -> bool:
    return _slice_bytes(core, hw[0], hw[1], m, cc, ch) <= core.buffer_bytes


def vectors_fit(spec: FlashSpec, core: CoreSpec, m: int, value_bits: int) -> bool:
    """Whether some tile holds the slices of m vectors in a core's buffers (in one pass)."""
    cc, ch = spec.dies_per_channel, spec.channels
    return any(_fits(core, hw, m, cc, ch) for hw in tile_candidates(spec, value_bits))


def core_slots(core: CoreSpec, h: int, w: int, m: int, cc: int, ch: int) -> int:
    """Tile slices (an input slice and its partial sums) a core's buffers hold at once. The
    pipeline keeps two in flight (one computing, one sensing); one slot serialises a
    group's broadcast, read, compute and result (4096x128 on Cambricon-LLM-S: 16 + 1024 B
    of a 2 KB buffer)."""
    return max(1, core.buffer_bytes // max(_slice_bytes(core, h, w, m, cc, ch), 1))


def _transaction_over_s(spec: FlashSpec) -> float:
    """A bus transaction's command and turnaround."""
    return (spec.t_cmd_ps + spec.t_xfer_over_ps) / 1e12


def _tile_costs(spec: FlashSpec, core: CoreSpec, h: int, w: int, m: int, value_bits: int):
    """(seconds a tile occupies the pipeline, what its last tile adds after the pipeline's
    periods (the tail), whether a core's buffer serialises it) for tiles of h x w; a page
    holds (h / cores) x (w / channels) values (fewer than a full page for edge tiles)."""
    values, cc, ch = _geometry(spec, value_bits)
    bw = spec.bus_bytes_per_s
    over = _transaction_over_s(spec)
    in_b = (w // ch) * m * core.act_bytes
    out_b = (h // cc) * m * core.result_bytes
    used = min(values, (h // cc) * (w // ch))
    comp = core.page_ps(used, m, value_bits, spec.page_size) / 1e12
    res = cc * (out_b / bw + spec.t_xfer_over_ps / 1e12)
    t_rc = spec.t_read_ps / 1e12 + in_b / bw
    if core_slots(core, h, w, m, cc, ch) < 2:
        # the next broadcast waits for this group's results: the tail is inside each period
        return spec.t_cmd_ps / 1e12 + t_rc + comp + res, 0.0, True
    period = max(t_rc, comp, (in_b + cc * out_b) / bw + (1 + cc) * over)
    # the last tile is read t_rc after its period starts, then computes and returns its
    # results; a period paced by the cores (or the bus) already holds part of that
    return period, res + max(0.0, t_rc + comp - period), False


def _period(spec: FlashSpec, core: CoreSpec, h: int, w: int, passes: tuple, value_bits: int) -> float:
    """Seconds an h x w tile occupies the pipeline when its vectors run in `passes`: each pass
    is a Read-Compute group of its own (its page sensed again), one after the other."""
    return sum(n * _tile_costs(spec, core, h, w, v, value_bits)[0] for v, n in Counter(passes).items())


def flash_time(spec: FlashSpec, core: CoreSpec, h: int, w: int, m: int, value_bits: int, ft: int,
               edge: tuple = (), passes: tuple = ()) -> float:
    """Seconds for `ft` tiles of h x w (then the `edge` tiles, (h, w, tiles) each) on the flash
    cores: the paper's t_rc = tR + W / (channels x bw) per tile, no faster than the core or
    the tile's channel traffic, serialised when a core's buffer holds a single slice; plus
    what the last tile's compute and results add after its period (the tail), less the
    first read when it was sensed ahead during the previous GEMV. `passes`: the vectors of
    each Read-Compute pass over a tile (empty: one pass of all m)."""
    passes = tuple(passes) or (m,)
    values, cc, ch = _geometry(spec, value_bits)
    groups = [(hh, ww, n) for hh, ww, n in [(h, w, ft)] + list(edge) if n > 0]
    if not groups:
        return 0.0
    t = 0.0
    ahead = None
    for hh, ww, n in groups:
        if ahead is None:
            first_comp = core.page_ps(min(values, (hh // cc) * (ww // ch)), passes[0], value_bits,
                                      spec.page_size) / 1e12
            ahead = min(spec.t_read_ps / 1e12, first_comp) if core.read_ahead else 0.0
        t += n * _period(spec, core, hh, ww, passes, value_bits)
        tail = _tile_costs(spec, core, hh, ww, passes[-1], value_bits)[1]
    return t + tail - ahead


def edge_tiles(spec: FlashSpec, core: CoreSpec, k: int, n: int, h: int, w: int, m: int,
               value_bits: int) -> tuple:
    """Tiles of one page per core covering what whole h x w tiles leave of a k-input,
    n-output matrix: the right strip (k mod w inputs, all n outputs) and the bottom strip
    (n mod h outputs under the whole tiles' inputs). A strip's thin side is whole in each
    tile (rounded up to the channels or cores that split it), its long side is cut into as
    few tiles as a page, and a core's buffers, allow, dealt evenly. ((h, w, tiles), ...)."""
    values, cc, ch = _geometry(spec, value_bits)
    act = m * core.act_bytes
    res = m * core.result_bytes
    out = []
    rk, rn = k % w, n % h
    kw = k - rk
    if rk:
        wc = -(-rk // ch)                              # inputs per core
        hc = min(values // wc, max(1, (core.buffer_bytes - wc * act) // res), -(-n // cc))
        tiles = -(-n // (hc * cc))
        hc = -(-n // (tiles * cc))                      # the same tiles, dealt evenly
        out.append((hc * cc, wc * ch, tiles))
    if rn and kw:
        hc = -(-rn // cc)                              # outputs per core
        wc = min(values // hc, max(1, (core.buffer_bytes - hc * res) // act), -(-kw // ch))
        tiles = -(-kw // (wc * ch))
        wc = -(-kw // (tiles * ch))
        out.append((hc * cc, wc * ch, tiles))
    return tuple(out)


def page_bus_s(spec: FlashSpec, slice_bytes: int = 0) -> float:
    """Seconds a streamed page holds its channel: the read command, then its data in slices
    (or whole), each transaction after a turnaround."""
    page = spec.page_size
    n_tx = -(-page // slice_bytes) if 0 < slice_bytes < page else 1
    return (spec.t_cmd_ps + n_tx * spec.t_xfer_over_ps) / 1e12 + page / spec.bus_bytes_per_s


def streamed_pages(spec: FlashSpec, nbytes: int) -> list:
    """Bytes of each streamed page the most loaded channel (channel 0) carries: pages are
    dealt round the channels, so it takes every `channels`-th from the first, and the short
    last page when that falls to it."""
    page, ch = spec.page_size, spec.channels
    n_pages = -(-int(nbytes) // page)
    if n_pages == 0:
        return []
    out = [page] * (-(-n_pages // ch))
    if (n_pages - 1) % ch == 0:
        out[-1] = int(nbytes) - (n_pages - 1) * page
    return out


def _balance(spec: FlashSpec, core: CoreSpec, h: int, w: int, m: int, value_bits: int,
             slice_bytes: int = 0, passes: tuple = ()) -> tuple[float, float, float]:
    """(alpha, flash bytes/s per channel, NPU bytes/s per channel) from the paper's equations
    (a tile every t_rc = tR + the broadcast; u_rc its Read-Compute bus share), with the
    commands and turnarounds the bus also carries: the Read-Compute transactions' (each
    pass's), and each streamed page's. Where the cores are slower than t_rc (several vectors,
    narrow values) or a buffer serialises the tile, the tile's real period replaces t_rc: the
    flash then takes fewer tiles and leaves the channel more of its time."""
    values, cc, ch = _geometry(spec, value_bits)
    passes = tuple(passes) or (m,)
    m = sum(passes)
    bw = spec.bus_bytes_per_s
    period = _period(spec, core, h, w, passes, value_bits)
    rc_bytes = (w / ch) * m * core.act_bytes + h * m * core.result_bytes
    over = _transaction_over_s(spec)
    u_rc = min((rc_bytes / bw + len(passes) * (1 + cc) * over) / period, 1.0)
    flash_rate = cc * spec.page_size / period
    npu_rate = spec.page_size / page_bus_s(spec, slice_bytes) * (1.0 - u_rc)
    return flash_rate / (flash_rate + npu_rate), flash_rate, npu_rate


def split_vectors(m: int, p: int) -> tuple:
    """m vectors dealt into p passes as evenly as they go, the larger passes first."""
    q, r = divmod(m, p)
    return (q + 1,) * r + (q,) * (p - r)


def pass_options(core: CoreSpec, h: int, w: int, m: int, cc: int, ch: int) -> list:
    """How an h x w tile can take m vectors: in the fewest Read-Compute passes whose slices
    fit a core's buffers, and in the fewest that keep two slices in flight (one computing,
    the next sensing). Each pass's period is a fixed floor (tR, the transactions) plus a
    share that grows with its vectors, so more passes than these only add senses and
    transactions. Empty when not even one vector's slice fits."""
    per_vector = _slice_bytes(core, h, w, 1, cc, ch)
    out = []
    for slices in (1, 2):
        fit = core.buffer_bytes // (slices * per_vector)
        if fit >= 1:
            p = split_vectors(m, -(-m // min(m, fit)))
            if p not in out:
                out.append(p)
    return out


def plan_gemv(spec: FlashSpec, core: CoreSpec, k: int, n: int, m: int = 1, value_bits: int = 8,
              tile: "tuple[int, int] | str | None" = None, tiling: bool = True, slicing: bool = True,
              alpha: float | None = None, sink_rate: float | None = None, slice_bytes: int = 0) -> GemvPlan:
    """Split a k-input, n-output GEMV between flash cores and NPU. `tile`: None or "optimal"
    (the paper's one shape for all matrices, or the shape that holds the batch where that
    is predicted faster), "auto" (the fastest predicted shape per
    matrix, an exploration beyond the paper) or (H, W). The m vectors run in the
    Read-Compute passes (`pass_options`) the model predicts fastest for that shape.
    `sink_rate`: bytes/s of weights the NPU side can take (its link and its GEMV rate); the
    streamed share is balanced against the slower of that and the channels. `slice_bytes`:
    read slicing's slice (with slicing on), for the streamed pages' bus time."""
    elem_b = value_bits / 8.0
    sl = slice_bytes if slicing else 0
    total_bytes = int(math.ceil(k * n * elem_b))
    cc, ch = spec.dies_per_channel, spec.channels
    # a core's input and output buffers must hold one vector's slice; more run in passes
    cands = [hw for hw in tile_candidates(spec, value_bits) if _fits(core, hw, 1, cc, ch)]
    if not cands:
        raise ValueError("no tile shape fits this flash geometry")

    def t_pred(h, w, ft, npu, edge, passes):
        """The paper's model of a split: flash tiles one t_rc apart, NPU pages at the rate
        the channels have left; the slower side sets the time (flash_time adds the
        pipeline's tail, the core and the buffer)."""
        _, fr, nr = _balance(spec, core, h, w, m, value_bits, sl, passes)
        t_f = flash_time(spec, core, h, w, m, value_bits, ft, edge, passes)
        rate = ch * nr if sink_rate is None else min(ch * nr, sink_rate)
        if npu and rate <= 0:
            return math.inf
        # streamed pages: the first waits for its sense; the most loaded channel's pages
        # (whole pages: a small share does not spread over the channels)
        t_n = spec.t_read_ps / 1e12 + max(sum(streamed_pages(spec, npu)) / nr, npu / rate) if npu else 0.0
        return max(t_f, t_n)

    def split(h, w, passes):
        """(predicted seconds, flash tiles, NPU bytes, alpha, NPU output columns, edge
        tiles) for one tile shape and its vectors' passes."""
        tiles_full = (k // w) * (n // h)
        edge = edge_tiles(spec, core, k, n, h, w, max(passes), value_bits)
        if not tiling:
            return t_pred(h, w, tiles_full, 0, edge, passes), tiles_full, 0, 1.0, 0, edge
        if alpha is not None:
            options = [min(tiles_full, int(round(alpha * k * n / (h * w))))]
        else:
            # the balance point of the paper, searched over whole tiles (few tiles per
            # matrix on large flashes make the rounding matter), or all on the flash
            options = list(range(tiles_full + 1))
        best = None
        for ft in options:
            npu = max(0, total_bytes - int(ft * h * w * elem_b))
            t = t_pred(h, w, ft, npu, (), passes)
            if best is None or t < best[0] - 1e-15:
                best = (t, ft, npu)
        whole = t_pred(h, w, tiles_full, 0, edge, passes)
        if alpha is None and whole < best[0] - 1e-15:
            return whole, tiles_full, 0, 1.0, 0, edge
        t, ft, npu = best
        npu_n = -(-(k * n - min(ft * h * w, k * n)) // max(k, 1))
        return t, ft, npu, min(1.0, ft * h * w / (k * n)), npu_n, ()

    def options(h, w):
        """{passes: split} of one shape, fewest passes first."""
        return {ps: split(h, w, ps) for ps in pass_options(core, h, w, m, cc, ch)}

    if tile is None or tile == "optimal":
        # the paper's shape: its traffic per vector is the least whatever the vectors; but
        # where the batch's slices overflow it, each pass senses its pages again, so the
        # shape that holds the batch (fewer passes) is weighed too (ties: the paper's)
        h, w = optimal_tile(spec, value_bits, core, 1, k, n)
        splits = options(h, w)
        hm, wm = optimal_tile(spec, value_bits, core, m, k, n)
        if (hm, wm) != (h, w) and _fits(core, (hm, wm), 1, cc, ch):
            wide = options(hm, wm)
            if min(sp[0] for sp in wide.values()) < min(sp[0] for sp in splits.values()) - 1e-15:
                h, w, splits = hm, wm, wide
    elif tile == "auto":
        # per matrix: the fastest predicted split; among those within 1% of it, the least
        # channel traffic per tile (W + channels x H, the paper's criterion)
        every = {(hw, ps): sp for hw in cands for ps, sp in options(*hw).items()}
        best = min(sp[0] for sp in every.values())
        near = [key for key, sp in every.items() if sp[0] <= best * 1.01]
        (h, w), ps = min(near, key=lambda key: (key[0][1] + ch * key[0][0], key[0][0], len(key[1])))
        splits = {ps: every[((h, w), ps)]}
    else:
        h, w = tile
        values, cc_, ch_ = _geometry(spec, value_bits)
        if h * w != values * cc_ * ch_:
            # a tile given for another element width: keep its width, refit its height
            w = min(w, values * cc_ * ch_ // cc_)
            h = values * cc_ * ch_ // w
        if (h, w) not in tile_candidates(spec, value_bits):
            raise ValueError(f"tile {tile[0]}x{tile[1]} holds no whole page per core at "
                             f"{value_bits}-bit values (refitted: {h}x{w})")
        if not _fits(core, (h, w), 1, cc, ch):
            raise ValueError(f"tile {h}x{w} needs {_slice_bytes(core, h, w, 1, cc, ch)} B of a core's "
                             f"{core.buffer_bytes} B buffers for one vector (an input slice and "
                             f"its partial sums); fits: "
                             f"{', '.join(f'{a}x{b}' for a, b in cands) or 'none'}")
        splits = options(h, w)
    # the fastest predicted passes (ties: the fewer)
    ps = min(splits, key=lambda key: (splits[key][0], len(key)))
    _, ft, npu, a, npu_n, edge = splits[ps]
    return GemvPlan(k, n, m, value_bits, h, w, ft, npu, npu_n, a, slicing, tiling, edge, sl,
                    ps if len(ps) > 1 else ())


UNSLICED_ORDERS = {"continuous": K.BUS_PAGES_FIRST, "fcfs": K.BUS_EARLIEST}   # slicing off


def bus_order(plan: GemvPlan, unsliced_order: str = "continuous") -> int:
    """The kernel's channel arbitration for a plan: Read-Compute first with slicing."""
    if plan.slicing:
        return K.BUS_RC_FIRST
    if unsliced_order not in UNSLICED_ORDERS:
        raise ValueError(f"unsliced_order must be one of {sorted(UNSLICED_ORDERS)}, got {unsliced_order!r}")
    return UNSLICED_ORDERS[unsliced_order]


def analytic_gemv(spec: FlashSpec, core: CoreSpec, plan: GemvPlan, unsliced_order: str = "continuous") -> float:
    """Closed-form time of a planned GEMV: the paper's balance equations (t_rc, u_rc) with
    the channel-traffic bound and the pipeline tail (what plan_gemv optimises). Unsliced
    reads sent continuously hold the bus while any is ready, so where a channel's read planes
    sense faster than it drains them the flash tiles run after the streamed pages, not
    beside them."""
    values, cc, ch = _geometry(spec, plan.value_bits)
    passes = plan.vector_passes()
    _, fr, nr = _balance(spec, core, plan.tile_h, plan.tile_w, plan.m, plan.value_bits, plan.slice_bytes, passes)
    t_f = flash_time(spec, core, plan.tile_h, plan.tile_w, plan.m, plan.value_bits, plan.flash_tiles,
                     plan.edge, passes)
    read_planes = cc * max(spec.planes_per_die - 1, 1) if plan.rc_tiles else cc * spec.planes_per_die
    sense_rate = read_planes * spec.page_size / (spec.t_read_ps / 1e12)
    t_r = spec.t_read_ps / 1e12
    page_rate = spec.page_size / page_bus_s(spec, plan.slice_bytes)
    mine = sum(streamed_pages(spec, plan.npu_bytes))       # the most loaded channel's
    if bus_order(plan, unsliced_order) == K.BUS_PAGES_FIRST and plan.npu_bytes and sense_rate >= page_rate:
        return t_r + mine / page_rate + t_f
    t_n = t_r + mine / nr if plan.npu_bytes and nr > 0 else 0.0
    return max(t_f, t_n)


def build_channel_ops(spec: FlashSpec, core: CoreSpec, plan: GemvPlan, compute_plane: int = 0):
    """The operations of the most loaded channel (channel 0 of a one-channel run)."""
    values = spec.page_size * 8 // plan.value_bits
    cc = spec.dies_per_channel
    pp = spec.planes_per_die
    ch = spec.channels
    kinds, planes, nbytes, outb, group, comp, sensed = [], [], [], [], [], [], []
    ahead = None
    g_in, g_mem, g_slice = [], [], []
    passes = plan.vector_passes()
    for th, tw, tiles in plan.groups():
        if tiles == 0:
            # no main tiles (a matrix narrower than the tile runs in edge tiles alone): the
            # read-ahead credit is the first group that runs
            continue
        w_ch = tw // ch
        h_core = th // cc
        cps = [core.page_ps(min(values, w_ch * h_core), v, plan.value_bits, spec.page_size) for v in passes]
        if ahead is None:
            # read ahead: the first tile's pages were sensed while the cores computed the
            # previous GEMV's last page (that plane's array is idle then), so they are ready
            # tR - compute in
            ahead = max(0, spec.t_read_ps - cps[0]) if core.read_ahead else -1
        for _ in range(tiles):
            # each pass is a group of its own: a broadcast of its vectors, the page sensed
            # again on every die, and its partial sums
            for v, c in zip(passes, cps):
                g = len(g_in)
                g_in.append(int(w_ch * v * core.act_bytes))
                g_mem.append(cc)
                g_slice.append(_slice_bytes(core, th, tw, v, cc, ch))
                for d in range(cc):
                    kinds.append(K.RC)
                    planes.append(d * pp + compute_plane)
                    nbytes.append(spec.page_size)
                    outb.append(int(h_core * v * core.result_bytes))
                    group.append(g)
                    comp.append(c)
                    sensed.append(ahead if g == 0 else -1)
    read_planes = [d * pp + p for p in range(pp) for d in range(cc)
                   if p != compute_plane or plan.rc_tiles == 0 or pp == 1]
    for i, nb in enumerate(streamed_pages(spec, plan.npu_bytes)):
        kinds.append(K.READ)
        planes.append(read_planes[i % len(read_planes)])
        nbytes.append(nb)
        outb.append(0)
        group.append(-1)
        comp.append(0)
        sensed.append(-1)
    n = len(kinds)
    return (np.asarray(kinds, np.int64), np.asarray(planes, np.int64), np.asarray(nbytes, np.int64),
            np.asarray(outb, np.int64), np.asarray(group, np.int64), np.asarray(comp, np.int64),
            np.asarray(g_in, np.int64), np.asarray(g_mem, np.int64), n, np.asarray(sensed, np.int64),
            np.asarray(g_slice, np.int64))


def _run_channel(spec: FlashSpec, core: CoreSpec, plan: GemvPlan, slice_bytes: int, unsliced_order: str):
    """(seconds, channel busy seconds) of the most loaded channel's operations."""
    kind, plane, nbytes, outb, group, comp, g_in, g_mem, n, sensed, g_slice = build_channel_ops(spec, core, plan)
    if n == 0:
        return 0.0, 0.0
    req = np.zeros(n, dtype=np.int64)
    fin, _, rfin, busy = run_ops(spec, kind, plane, nbytes, req, 1, out_bytes=outb, group=group,
                                 compute_ps=comp, grp_in_bytes=g_in, grp_members=g_mem,
                                 slice_bytes=slice_bytes if plan.slicing else 0, queue_depth=0, channels=1,
                                 rc_priority=bus_order(plan, unsliced_order), sensed_ps=sensed,
                                 core_buffer=core.buffer_bytes, grp_slice_bytes=g_slice)
    return int(fin.max()) / 1e12, int(busy[0]) / 1e12


def simulate_gemv(spec: FlashSpec, core: CoreSpec, plan: GemvPlan, slice_bytes: int,
                  unsliced_order: str = "continuous", window_pages: int = 0) -> dict:
    """Cycle-level run of one channel; the GEMV's flash time is that channel's time. A plan
    whose channel senses more than `window_pages` pages for Read-Compute (many passes: a
    long prompt) is run on a few passes of each size, the streamed pages cut in proportion,
    and its time extrapolated along them, as a long stream's is (0: always run whole)."""
    passes = plan.vector_passes()
    cc, ch = spec.dies_per_channel, spec.channels
    rc_ops = cc * len(passes) * plan.rc_tiles
    big, small = passes[0], passes[-1]
    n_big = passes.count(big)
    # the window's passes of each size: never more than the GEMV has (then it runs whole)
    p2 = 0
    if window_pages and rc_ops > window_pages and len(passes) > 2:
        p2 = max(1, len(passes) * window_pages // rc_ops // 2)
        p2 = min(p2, n_big // 2, len(passes) - n_big if small != big else p2)
    if p2 >= 1:
        # every pass of a size is the same work, so the time grows linearly with the passes
        # of each size; passes of the larger size (split_vectors puts them first) and of the
        # smaller (one vector fewer) are timed apart, so neither stands for the other

        def part(ps):
            ps = tuple(ps)
            return _run_channel(spec, core, replace(plan, m=sum(ps), passes=ps,
                                                    npu_bytes=int(round(plan.npu_bytes * len(ps) / len(passes)))),
                                slice_bytes, unsliced_order)
        t0, b0 = part((big,) * p2)
        t1, b1 = part((big,) * (2 * p2))
        t, busy = t0 + (t1 - t0) * (n_big - p2) / p2, b0 + (b1 - b0) * (n_big - p2) / p2
        if small != big:
            t2, b2 = part((big,) * p2 + (small,) * p2)
            more = (len(passes) - n_big) / p2
            t, busy = t + (t2 - t0) * more, busy + (b2 - b0) * more
    else:
        t, busy = _run_channel(spec, core, plan, slice_bytes, unsliced_order)
    # every channel carries the most loaded one's tiles; each pass senses its tile's pages
    rc_pages = ch * rc_ops
    rd_pages = -(-plan.npu_bytes // spec.page_size)
    bytes_in = ch * plan.m * core.act_bytes * sum(tiles * (tw // ch) for _, tw, tiles in plan.groups())
    bytes_out = ch * plan.m * core.result_bytes * sum(tiles * cc * (th // cc) for th, _, tiles in plan.groups())
    values = spec.page_size * 8 // plan.value_bits
    macs = ch * cc * plan.m * sum(tiles * min(values, (th // cc) * (tw // ch)) for th, tw, tiles in plan.groups())
    energy = ((rc_pages + rd_pages) * spec.e_read_j + (bytes_in + bytes_out + plan.npu_bytes) * spec.e_bus_byte_j
              + macs * core.mac_energy_j)
    return {"seconds": t, "channel_busy_s": busy,
            "channel_utilisation": busy / t if t > 0 else 0.0,
            "rc_pages": rc_pages, "read_pages": rd_pages, "bytes_in": bytes_in, "bytes_out": bytes_out,
            "bytes_weights": int(plan.npu_bytes), "macs": macs, "energy_j": energy,
            "tile": f"{plan.tile_h}x{plan.tile_w}", "alpha": plan.alpha, "passes": len(passes)}

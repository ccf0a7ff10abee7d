"""Python entry points of the NoC engine: argument checking, array packing, result assembly."""

from __future__ import annotations

import os
import threading
import time

import numpy as np

from archsim.components import unsigned_index
from archsim.components.noc import engine
from archsim.components.noc.config import RouterConfig
from archsim.components.noc.stats import NocStats
from archsim.components.noc.traffic import HOTSPOT, UNIFORM, default_hotspot, destinations
from archsim.errors import ConfigError

_COMPILE_S: dict = {}


def _threads(threads) -> int:
    threads = int(threads)
    if threads not in (1, 2):
        raise ConfigError(f"threads must be 1 or 2, got {threads}", None, "threads")
    return threads


def _mesh(mesh) -> tuple[int, int]:
    if isinstance(mesh, str):
        try:
            a, b = mesh.lower().split("x")
            mesh = (int(a), int(b))
        except ValueError:
            raise ConfigError(f"mesh must look like ROWSxCOLS, got {mesh!r}", None, "mesh") from None
    rows, cols = (int(mesh[0]), int(mesh[1]))
    if rows < 1 or cols < 1:
        raise ConfigError(f"mesh dimensions must be positive, got {rows}x{cols}", None, "mesh")
    if rows * cols * 5 * 32 >= 2**62 // 32768:
        raise ConfigError(f"mesh {rows}x{cols} is too large", None, "mesh")
    return rows, cols


def _check_memory(rows: int, cols: int, router: RouterConfig) -> None:
    """Refuse a mesh whose router state would not fit in this machine's memory (the run
    would be killed): per router, 5 input ports x VCs of 16-byte records (more with packet
    rings), credit and ownership words, and the router's own record, rounded up."""
    vcs = 1 << max(router.vcs - 1, 0).bit_length()
    rec = 16 if router.wait_for_tail_credit else 16 + 4 * (1 << max(router.vc_buf - 1, 0).bit_length())
    need = rows * cols * (5 * vcs * (rec + 16) + 512)
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if need > have:
        raise ConfigError(f"a {rows}x{cols} mesh needs about {need / 2**30:.1f} GiB of router "
                          f"state; this machine has {have / 2**30:.1f} GiB", None, "mesh")


def mesh_shape(mesh) -> tuple[int, int]:
    """(rows, cols) of a mesh given as (rows, cols) or "ROWSxCOLS", checked."""
    return _mesh(mesh)


def max_packet_flits(router: RouterConfig) -> int:
    """The longest packet the kernel can carry: with wait_for_tail_credit a VC holds one packet
    and counts its front flit in 16 bits; otherwise sizes are int32."""
    return 65535 if router.wait_for_tail_credit else 2**31 - 1


def min_fixed_cycles(mesh, packet_flits: int = 1, router: RouterConfig | None = None) -> int:
    """The shortest ``cycles`` of a fixed run whose warm-up (a quarter) covers the zero-load
    latency of the longest path, so that the measured window starts on a filled network."""
    rows, cols = _mesh(mesh)
    lat = zero_load_latency((rows, cols), 0, rows * cols - 1, packet_flits, router)
    return 4 * int(lat)


def _empty_flows():
    z = np.zeros(0, np.int64)
    return (z, z, z, z, np.zeros(0, np.int8), np.zeros(0, np.int8), z,
            np.zeros(1, np.int64), z)


def _call(rows, cols, router: RouterConfig, mode, *, rate_pkt=0.0, pkt_size=1, pattern=0,
          pat_dest=None, hot_nodes=None, hot_frac=0.0, seed=1, warmup_periods=3,
          sample_period=1000, max_samples=10, lat_thres=500.0, warm_thres=0.05,
          stop_thres=0.05, fixed_warmup=0, fixed_sample=0, max_cycles=0, flows=None,
          stall_limit=0, n_flows=0, threads=1, partitions=None):
    n = rows * cols
    stats = np.zeros(engine.N_STATS, np.float64)
    flow_done = np.full(n_flows, -1, np.int64)
    flow_start = np.full(n_flows, -1, np.int64)
    flow_head = np.full(n_flows, -1, np.int64)
    link = np.zeros(n * engine.P, np.int64)
    if pat_dest is None:
        pat_dest = np.zeros(max(n, 1), np.int32)
    if hot_nodes is None:
        hot_nodes = np.zeros(1, np.int32)
    fl = flows if flows is not None else _empty_flows()
    kernel = unsigned_index.load(engine, funcs=None)
    # two threads each run part of the routers (the results are the same as with one); the
    # second runs `engine.worker` and meets the kernel at a spin barrier every cycle.
    # partitions=2 with one thread runs both partitions in turn: the reference for the split
    nparts = partitions or (2 if threads > 1 else 1)
    ctl = np.zeros(engine.N_CTL, np.int64)
    ctl[engine.C_THREADS] = threads
    helper = None
    if threads > 1:
        protos = [np.zeros(1, d) for d in (np.int8, np.int16, np.int32, np.int64, np.float64)]
        worker = unsigned_index.load(engine, funcs=None, name="worker")
        # compiled here first (it returns at once on a stopped ctl): a worker that failed to
        # start would leave the kernel waiting for it at the first barrier
        stopped = np.zeros(engine.N_CTL, np.int64)
        stopped[engine.C_GO] = -1
        worker(stopped, *protos)
        helper = threading.Thread(target=worker, args=(ctl, *protos), daemon=True)
        helper.start()
    try:
        kernel(rows, cols, router.vcs, router.vc_buf, router.routing_delay,
               router.vc_alloc_delay, router.sw_alloc_delay, router.st_delay,
               router.link_latency, router.credit_delay, bool(router.wait_for_tail_credit),
               router.alloc_iters, mode, float(rate_pkt), int(pkt_size), int(pattern),
               pat_dest, hot_nodes, float(hot_frac), int(seed), int(warmup_periods),
               int(sample_period), int(max_samples), float(lat_thres), float(warm_thres),
               float(stop_thres), int(fixed_warmup), int(fixed_sample), int(max_cycles),
               *fl, int(stall_limit), stats, flow_done, flow_start, flow_head, link, nparts, ctl)
    finally:
        if helper is not None:
            ctl[engine.C_GO] = -1        # the kernel does this too, unless it raised
            helper.join()
    return stats, flow_done, flow_start, flow_head, link


def _compile(threads: int = 1) -> float:
    """JIT-compile (or load from cache) the kernel, and the second thread's kernel if asked,
    once per process; returns the seconds."""
    if threads not in _COMPILE_S:
        t0 = time.perf_counter()
        _call(2, 2, RouterConfig(), 0, rate_pkt=0.1, fixed_warmup=10, fixed_sample=10,
              max_cycles=200, threads=threads)
        _COMPILE_S[threads] = time.perf_counter() - t0
        return _COMPILE_S[threads]
    return 0.0


def simulate_traffic(mesh=(8, 8), pattern="uniform", rate: float = 0.1, packet_flits: int = 1,
                     router: RouterConfig | None = None, seed: int = 1, *,
                     warmup_periods: int = 3, sample_period: int = 1000, max_samples: int = 10,
                     latency_threshold: float = 500.0, cycles: int | None = None,
                     hotspot_nodes=None, hotspot_fraction: float = 0.5,
                     max_cycles: int = 200_000, threads: int = 1) -> NocStats:
    """Open-loop synthetic traffic measured like BookSim's latency mode (see the package doc).

    ``rate`` is offered flits per node per cycle (a packet starts with probability
    rate / packet_flits each cycle at each node). Without ``cycles``, sample periods of
    ``sample_period`` cycles run: ``warmup_periods`` of warm-up, then measured periods until
    latency and accepted rate change by at most 5% three times in a row (at most
    ``max_samples`` periods in all), then the packets created in the measured window drain.
    The run stops as saturated when the mean latency of delivered and in-flight flits exceeds
    ``latency_threshold`` (negative: never; else above the traffic's mean zero-load
    latency). With ``cycles``, warm-up is cycles // 4 and the rest is measured.
    ``threads=2`` runs half the routers on a second thread (meshes of 128 routers or more;
    the same results, faster on two free cores).
    """
    router = router or RouterConfig()
    rows, cols = _mesh(mesh)
    _check_memory(rows, cols, router)
    n = rows * cols
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"rate must be in [0, 1] flits/node/cycle, got {rate}", None, "rate")
    packet_flits = int(packet_flits)
    if not 1 <= packet_flits <= max_packet_flits(router):
        raise ConfigError(f"packet_flits must be in [1, {max_packet_flits(router)}] (the most "
                          f"the router carries), got {packet_flits}", None, "packet_flits")
    hotspot_fraction = float(hotspot_fraction)
    if not 0.0 <= hotspot_fraction <= 1.0:
        raise ConfigError(f"must be in [0, 1], got {hotspot_fraction}", None,
                          "hotspot_fraction")
    kind, dest = destinations(pattern, rows, cols)
    hot = np.zeros(1, np.int32)
    if kind == HOTSPOT:
        hot = np.asarray(hotspot_nodes if hotspot_nodes is not None
                         else default_hotspot(rows, cols), dtype=np.int32).reshape(-1)
        if hot.size == 0 or hot.min() < 0 or hot.max() >= n:
            raise ConfigError("hotspot nodes must be node ids of the mesh", None, "hotspot_nodes")
    base = mean_zero_load_latency((rows, cols), pattern, packet_flits, router, hot if kind == HOTSPOT else None,
                                  hotspot_fraction)
    if 0 <= latency_threshold <= base:
        # the mean latency starts above the threshold: every run would read as saturated
        raise ConfigError(f"latency threshold must be above the traffic's mean zero-load latency "
                          f"({base:.0f} cycles for {packet_flits}-flit {pattern} packets on this mesh), "
                          f"got {latency_threshold:g} (--latency-threshold; BookSim's default is 500)",
                          None, "latency_threshold")
    fixed_w = fixed_s = 0
    if cycles is not None:
        cycles = int(cycles)
        if cycles < 4:
            raise ConfigError(f"cycles must be >= 4, got {cycles}", None, "cycles")
        fixed_w = cycles // 4
        fixed_s = cycles - fixed_w
        # the drain after a fixed window gets the same allowance as a whole default run
        max_cycles = cycles + max_cycles
    threads = _threads(threads)
    comp = _compile(threads)
    t0 = time.perf_counter()
    stats, _, _, _, link = _call(rows, cols, router, 0, rate_pkt=rate / packet_flits,
                              pkt_size=packet_flits, pattern=kind, pat_dest=dest, hot_nodes=hot,
                              hot_frac=hotspot_fraction, seed=seed,
                              warmup_periods=warmup_periods, sample_period=sample_period,
                              max_samples=max_samples, lat_thres=latency_threshold,
                              fixed_warmup=fixed_w, fixed_sample=fixed_s, max_cycles=max_cycles,
                              threads=threads)
    wall = time.perf_counter() - t0
    return _assemble(rows, cols, stats, wall, comp, rate, link)


def _assemble(rows, cols, stats, wall, comp, offered, link, flow_done=None, flow_start=None):
    n = rows * cols
    cnt = stats[engine.S_PLAT_CNT]
    nan = float("nan")
    acc_cyc = stats[engine.S_ACC_CYCLES]
    return NocStats(
        rows=rows, cols=cols, cycles=int(stats[engine.S_CYCLES]),
        packets=int(stats[engine.S_PKTS_DONE]), flits=int(stats[engine.S_FLITS_DONE]),
        avg_packet_latency_cycles=stats[engine.S_PLAT_SUM] / cnt if cnt else nan,
        max_packet_latency_cycles=stats[engine.S_PLAT_MAX] if cnt else nan,
        avg_network_latency_cycles=stats[engine.S_NLAT_SUM] / cnt if cnt else nan,
        accepted_flit_rate=stats[engine.S_ACC_FLITS] / acc_cyc / n if acc_cyc > 0 else nan,
        offered_flit_rate=offered,
        avg_hops=stats[engine.S_HOPS_SUM] / cnt if cnt else nan,
        avg_fragmentation=stats[engine.S_FRAG_SUM] / cnt if cnt else nan,
        flit_hops=int(stats[engine.S_FLIT_HOPS]),
        saturated=bool(stats[engine.S_SATURATED]),
        wall_s=wall, deadlocked=bool(stats[engine.S_DEADLOCK]), compile_s=comp,
        flow_done_cycle=flow_done, flow_start_cycle=flow_start,
        link_flits=link.reshape(rows, cols, engine.P))


def simulate_flows(mesh, src, dst, flits, inject_cycle=None, color=None, order=None,
                   router: RouterConfig | None = None, *, max_cycles: int | None = None,
                   packet_flits=None, stall_limit: int = 100_000, threads: int = 1) -> NocStats:
    """Deterministic flow (trace) mode; see the package doc. Returns per-flow completion.
    ``threads`` as in simulate_traffic."""
    router = router or RouterConfig()
    rows, cols = _mesh(mesh)
    _check_memory(rows, cols, router)
    n = rows * cols
    try:
        src = np.asarray(src, dtype=np.int64).reshape(-1)
    except (OverflowError, ValueError, TypeError):
        raise ConfigError("src must be integer node ids", None, "src") from None
    nf = src.shape[0]

    def arr(x, default, name, dtype=np.int64):
        if x is None:
            return np.full(nf, default, dtype)
        a = np.asarray(x).reshape(-1)
        if a.shape[0] == 1 and nf != 1:
            a = np.full(nf, a[0])
        if a.shape[0] != nf:
            raise ConfigError(f"{name} has {a.shape[0]} entries, src has {nf}", None, name)
        try:
            return a.astype(dtype)
        except (OverflowError, ValueError, TypeError):
            raise ConfigError(f"{name} must be integers in the int64 range", None, name) from None

    dst = arr(dst, 0, "dst")
    flits = arr(flits, 1, "flits")
    t0 = arr(inject_cycle, 0, "inject_cycle")
    colr = arr(color, -1, "color")
    ordr = arr(order, 0, "order")
    pkt = arr(packet_flits, 0, "packet_flits")
    if nf:
        if src.min() < 0 or src.max() >= n or dst.min() < 0 or dst.max() >= n:
            raise ConfigError(f"src and dst must be node ids in [0, {n})", None, "flows")
        if t0.min() < 0 or t0.max() > 2**61:
            # the kernel's clock takes 2**62 as "never"
            raise ConfigError("inject_cycle must be in [0, 2**61]", None, "inject_cycle")
        if flits.min() < 0:
            raise ConfigError("flits must be >= 0", None, "flits")
        if colr.max() >= 128 or colr.min() < -1:
            raise ConfigError("color must be -1 (any VC) or in [0, 128)", None, "color")
        if ((ordr != 0) & (ordr != 1)).any():
            raise ConfigError("order must be 0 (XY) or 1 (YX)", None, "order")
        if pkt.min() < 0:
            raise ConfigError("packet_flits must be >= 0 (0: the whole flow is one packet)",
                              None, "packet_flits")
    pkt = np.where(pkt <= 0, np.maximum(flits, 1), pkt)
    big = np.flatnonzero(np.minimum(pkt, flits) > max_packet_flits(router))
    if big.size:
        i = int(big[0])
        raise ConfigError(f"flow {i} sends packets of {min(pkt[i], flits[i])} flits; the router "
                          f"carries at most {max_packet_flits(router)} (set packet_flits)",
                          None, "packet_flits")
    live = np.flatnonzero(flits > 0)
    srt = live[np.lexsort((live, t0[live], src[live]))]
    counts = np.bincount(src[srt], minlength=n)
    src_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=src_ptr[1:])
    packed = (src, dst, flits, t0, colr.astype(np.int8), ordr.astype(np.int8), pkt, src_ptr,
              srt.astype(np.int64))
    threads = _threads(threads)
    comp = _compile(threads)
    tw = time.perf_counter()
    stats, done, start, head, link = _call(rows, cols, router, 1, flows=packed,
                                     max_cycles=int(max_cycles or 0),
                                     stall_limit=int(stall_limit), n_flows=nf, threads=threads)
    wall = time.perf_counter() - tw
    done[done < -1] = -1
    zero = flits <= 0
    done[zero] = t0[zero]
    start[zero] = t0[zero]
    head[zero] = t0[zero]
    cyc = int(stats[engine.S_CYCLES])
    stats[engine.S_ACC_CYCLES] = max(cyc, 1)
    total = int(flits.sum())
    res = _assemble(rows, cols, stats, wall, comp, total / max(cyc, 1) / n, link, done, start)
    res.flow_head_cycle = head
    res.cycles = int(done.max()) if nf and (done >= 0).all() else cyc
    return res


def mean_zero_load_latency(mesh, pattern="uniform", packet_flits: int = 1,
                           router: RouterConfig | None = None, hotspot_nodes=None,
                           hotspot_fraction: float = 0.5) -> float:
    """The mean of zero_load_latency over the packets a traffic pattern sends: what a run's
    mean latency starts from at a low rate (uniform destinations include the source, as
    BookSim's; E|a - b| over a side of n is (n^2 - 1) / 3n)."""
    router = router or RouterConfig()
    rows, cols = _mesh(mesh)
    n = rows * cols
    uniform = (rows * rows - 1) / (3 * rows) + (cols * cols - 1) / (3 * cols)
    kind, dest = destinations(pattern, rows, cols)
    if kind == HOTSPOT:
        hot = np.asarray(hotspot_nodes if hotspot_nodes is not None
                         else default_hotspot(rows, cols), dtype=np.int64).reshape(-1)
        to_hot = float(np.mean([mesh_hops((rows, cols), np.arange(n), h).mean() for h in hot]))
        hops = hotspot_fraction * to_hot + (1 - hotspot_fraction) * uniform
    elif kind == UNIFORM:
        hops = uniform
    else:
        hops = float(mesh_hops((rows, cols), np.arange(n), dest).mean())
    return router.inject_cycles + (hops + 1) * router.hop_cycles + int(packet_flits) - 1


def mesh_hops(mesh, src, dst):
    """Manhattan distance (links) between node ids of a rows x cols mesh."""
    rows, cols = _mesh(mesh)
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    return np.abs(src // cols - dst // cols) + np.abs(src % cols - dst % cols)


def zero_load_latency(mesh, src, dst, packet_flits: int = 1,
                      router: RouterConfig | None = None):
    """Cycles from creation to tail delivery of one packet in an empty mesh: injection, one
    router pipeline plus link per router on the path (destination router included), then
    the body flits one per cycle (which holds when vc_buf covers the credit round trip,
    sw_alloc + st + 2 * link + credit_delay + 1 cycles: 7 with the defaults; smaller buffers
    throttle the body)."""
    router = router or RouterConfig()
    h = mesh_hops(mesh, src, dst)
    return router.inject_cycles + (h + 1) * router.hop_cycles + int(packet_flits) - 1

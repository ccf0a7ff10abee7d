"""Flash runs as a storage simulator runs them: host requests of a pattern, one device.

`run_pattern(spec, pattern, requests, request_bytes, ...)` splits each host request into
page operations, places pages on planes (sequential: logical pages striped channel first,
then die, then plane; random: uniform random logical pages, seeded), runs the kernel and
returns what `archsim flash` prints.
"""

from __future__ import annotations

import time

import numpy as np

from archsim.components.flash import kernel as K
from archsim.components.flash.spec import FlashSpec, retries
from archsim.errors import ConfigError

EMPTY = np.zeros(0, dtype=np.int64)
_WARM = False


def warm() -> float:
    """Load (or compile) the kernel once so wall_s times the simulation alone."""
    global _WARM
    if _WARM:
        return 0.0
    t0 = time.perf_counter()
    one = np.zeros(1, dtype=np.int64)
    K.simulate(1, 1, 1, 10, 10, 10, 1, 1, 1024, 0, 1, one, one, one + 4, one, one - 1, one, one, one,
               EMPTY, EMPTY, 1, 0, 0, 0, EMPTY, one - 1)
    _WARM = True
    return time.perf_counter() - t0


def plane_of(spec: FlashSpec, lpn: np.ndarray) -> np.ndarray:
    """Logical page -> plane id, striped channel first, then die, then plane."""
    ch = lpn % spec.channels
    rest = lpn // spec.channels
    die = rest % spec.dies_per_channel
    pl = (rest // spec.dies_per_channel) % spec.planes_per_die
    return (ch * spec.dies_per_channel + die) * spec.planes_per_die + pl


def run_ops(spec: FlashSpec, kind, plane, nbytes, req, n_req, out_bytes=None, group=None,
            compute_ps=None, grp_in_bytes=None, grp_members=None, slice_bytes: int = 0,
            queue_depth: int | None = None, channels: int | None = None, ops_retries=None,
            rc_priority: int = 0, core_buffer: int = 0, grp_slice_bytes=None, sensed_ps=None):
    """Run prepared operations; returns (op_finish, req_submit, req_finish, chan_busy_ps).
    rc_priority: 0 earliest ready first, 1 Read-Compute traffic first, 2 page reads first.
    core_buffer: bytes of a compute core's buffers (0 = unbounded), of which an op of group g
    holds grp_slice_bytes[g] (at most core_buffer) from arming until its result has left."""
    n = len(kind)
    z = np.zeros(n, dtype=np.int64)
    rt = retries(n, spec.read_retry_rate) if ops_retries is None else ops_retries
    return K.simulate(channels or spec.channels, spec.planes_per_die, spec.dies_per_channel,
                      spec.t_read_ps, spec.t_prog_ps, spec.t_erase_ps, spec.t_cmd_ps, spec.t_xfer_over_ps,
                      spec.ps_per_byte_x1024, int(slice_bytes), 1 if spec.cache_read else 0,
                      np.asarray(kind, np.int64), np.asarray(plane, np.int64), np.asarray(nbytes, np.int64),
                      z if out_bytes is None else np.asarray(out_bytes, np.int64),
                      z - 1 if group is None else np.asarray(group, np.int64),
                      np.asarray(req, np.int64), np.asarray(rt, np.int64),
                      z if compute_ps is None else np.asarray(compute_ps, np.int64),
                      EMPTY if grp_in_bytes is None else np.asarray(grp_in_bytes, np.int64),
                      EMPTY if grp_members is None else np.asarray(grp_members, np.int64),
                      int(n_req), int(spec.queue_depth if queue_depth is None else queue_depth),
                      int(rc_priority), int(core_buffer),
                      EMPTY if grp_slice_bytes is None else _slices(grp_slice_bytes, core_buffer),
                      z - 1 if sensed_ps is None else np.asarray(sensed_ps, np.int64))


def _slices(grp_slice_bytes, core_buffer) -> np.ndarray:
    """Each group's slice bytes in a core's buffers; a plan whose slice overflows the buffer
    is a planner error, not something to clip (a clipped slice would run too fast)."""
    a = np.asarray(grp_slice_bytes, np.int64)
    if a.size and int(a.max()) > int(core_buffer):
        raise ValueError(f"a tile's slice of {int(a.max())} B exceeds the core's {int(core_buffer)} B buffers")
    return a


MAX_PAGES = 20_000_000


def run_pattern(spec: FlashSpec, pattern: str = "seq", requests: int = 10000, request_bytes: int = 16384,
                op: str = "read", seed: int = 1, queue_depth: int | None = None, slice_bytes: int = 0) -> dict:
    if pattern not in ("seq", "random"):
        raise ConfigError(f"unknown pattern {pattern!r}; expected seq or random", key="--pattern")
    if op not in ("read", "write"):
        raise ConfigError(f"unknown op {op!r}; expected read or write", key="--op")
    if requests <= 0 or request_bytes <= 0:
        raise ConfigError("must be positive", key="--requests/--request-bytes")
    page = spec.page_size
    ppr = -(-request_bytes // page)                       # pages per request
    n = requests * ppr
    if n > MAX_PAGES:
        # each page is one operation of the event kernel, held in memory with ~10 int64 fields
        raise ConfigError(f"{requests} requests x {ppr} pages = {n} page operations; at most "
                          f"{MAX_PAGES} fit in memory", key="--requests/--request-bytes")
    compile_s = warm()
    total_pages = int(spec.capacity // page)
    if pattern == "seq":
        lpn = np.arange(n, dtype=np.int64) % total_pages
    else:
        rng = np.random.default_rng(seed)
        starts = rng.integers(0, max(total_pages - ppr, 1), size=requests, dtype=np.int64)
        lpn = (starts[:, None] + np.arange(ppr, dtype=np.int64)[None, :]).reshape(-1)
    plane = plane_of(spec, lpn)
    req = np.repeat(np.arange(requests, dtype=np.int64), ppr)
    nbytes = np.full(n, page, dtype=np.int64)
    last = request_bytes - (ppr - 1) * page
    nbytes[ppr - 1::ppr] = last
    kind = np.full(n, K.READ if op == "read" else K.PROGRAM, dtype=np.int64)
    t0 = time.perf_counter()
    fin, sub, rfin, busy = run_ops(spec, kind, plane, nbytes, req, requests, slice_bytes=slice_bytes,
                                   queue_depth=queue_depth)
    wall = time.perf_counter() - t0
    makespan = int(rfin.max())
    moved = float(requests) * request_bytes
    secs = makespan / 1e12
    bw = moved / secs if secs > 0 else 0.0
    lat = (rfin - sub) / 1e6
    sensed = float(n) * page
    return {
        "bandwidth_gbps": bw / 1e9,
        "avg_latency_us": float(lat.mean()),
        "channel_utilisation": float(busy.sum() / (spec.channels * makespan)) if makespan else 0.0,
        "wall_s": wall,
        "requests": int(requests), "request_bytes": int(request_bytes), "pages": int(n),
        "pattern": pattern, "op": op, "queue_depth": int(spec.queue_depth if queue_depth is None else queue_depth),
        "seconds": secs, "bytes": moved,
        "p99_latency_us": float(np.percentile(lat, 99)),
        "max_latency_us": float(lat.max()),
        # a read senses (a write programs) a whole page however little of it a request
        # wants: a request's bytes over its pages is what each page operation yields
        "limits_gbps": {"bus": spec.bus_limit() / 1e9,
                        "array": (spec.array_limit(request_bytes / ppr) if op == "read"
                                  else spec.planes * request_bytes / ppr / (spec.t_prog_ps / 1e12)) / 1e9},
        "energy_j": (sensed / page) * (spec.e_read_j if op == "read" else spec.e_prog_j)
        + moved * spec.e_bus_byte_j,
        "compile_s": compile_s,
    }

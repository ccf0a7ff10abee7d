"""Public entry points of the DRAM model for other components (GPU, CPU baselines)."""

from __future__ import annotations

from functools import lru_cache

from archsim.components.dram.controller import Controller, run_stream
from archsim.components.dram.frontend import pattern_addresses, stream_addresses
from archsim.components.dram.standards import get_standard
from archsim.components.dram.stream_cache import memo
from archsim.components.dram.timing import compile_standard, compiled

#: streams are simulated up to this many requests per channel; longer ones reuse the steady
#: state (an A100's sequential stream is 1.736 TB/s here, 1.732 at 100,000 and 1.719 at 1 GiB;
#: at 20,000 it was 1.776: refresh and row conflicts keep accruing)
MAX_REQUESTS_PER_CHANNEL = 50_000


@lru_cache(maxsize=1024)
def _run(standard: str, channels: int, requests: int, pattern: str, stride: int, elem: int,
         overrides: tuple = (), mapping: str = "RoBaRaCoCh"):
    key = (standard, channels, requests, pattern, stride, elem, overrides, mapping)
    return memo(key, lambda: _simulate(*key))


def _simulate(standard, channels, requests, pattern, stride, elem, overrides, mapping):
    std = get_standard(standard)
    if overrides:
        std = std.with_overrides(dict(overrides))
    comp = compiled(std) if not overrides else compile_standard(std)
    tx = comp.tx_bytes
    if pattern == "seq":
        addrs = stream_addresses(requests * tx, tx)
    elif pattern == "strided":
        addrs = stream_addresses(requests * tx, tx, stride=stride, elem_bytes=elem)[:requests]
    else:
        addrs, _ = pattern_addresses("random", requests, tx)
    r = run_stream(comp, addrs, channels=channels, ctl=Controller(mapping=mapping))
    nbytes = r["_detail"]["bytes"]
    return r["bandwidth_gbps"] * 1e9, (r["energy_j"] * 1e12 / nbytes) if nbytes else 0.0


def stream_cost(standard: str, channels: int, stream_bytes: int, pattern: str = "seq",
                stride: int = 0, elem_bytes: int = 0, overrides=(),
                mapping: str = "RoBaRaCoCh") -> tuple[float, float]:
    """(bytes per second, pJ per byte) of a stream on the cycle-level model (see
    `achievable_bandwidth`); `strided` reads `elem_bytes` every `stride` bytes; `overrides`
    are (key, value) pairs as `archsim dram --set` takes them, e.g. (("tCK_ps", 800),);
    `mapping` is the address mapping (RoCoBaRaBgCh spreads a stream over bank groups and
    pseudo-channels, as GPU memory controllers hash addresses)."""
    std = get_standard(standard)
    tx = std.tx_bytes
    req = max(1, -(-int(stream_bytes) // tx))
    req = 1 << (req - 1).bit_length()
    req = max(channels, min(req, MAX_REQUESTS_PER_CHANNEL * channels))
    if pattern not in ("seq", "random", "strided"):
        from archsim.errors import ConfigError
        raise ConfigError(f"unknown pattern {pattern!r} (seq, random, strided)", None, "pattern")
    ov = tuple(sorted(dict(overrides).items())) if overrides else ()
    return _run(std.name, int(channels), int(req), pattern, int(stride), int(elem_bytes), ov, mapping)


def steady_cost(standard: str, channels: int, pattern: str = "seq", stride: int = 0, elem_bytes: int = 0,
                overrides=(), mapping: str = "RoBaRaCoCh") -> tuple[float, float]:
    """(bytes per second, pJ per byte) of the controller's steady state: a stream as long as
    is simulated (refreshes and row conflicts included; a short stream ends before the first
    refresh is due and reads several percent fast)."""
    tx = get_standard(standard).tx_bytes
    return stream_cost(standard, channels, MAX_REQUESTS_PER_CHANNEL * channels * tx, pattern, stride,
                       elem_bytes, overrides, mapping)


def achievable_bandwidth(standard: str, channels: int, stream_bytes: int, pattern: str = "seq",
                         stride: int = 0, elem_bytes: int = 0, overrides=(),
                         mapping: str = "RoBaRaCoCh") -> float:
    """Bytes per second the cycle-level controller sustains for a stream of `stream_bytes`
    (`seq`: consecutive lines; `random`: uniform random lines in 1 GiB) over `channels`
    cache-line-interleaved channels, with the peers' controller (FR-FCFS, open row, 32-entry
    queue, all-bank refresh). Memoised; the stream length is rounded to a power of two and
    capped (the steady state) so that calls with nearby sizes share one simulation."""
    return stream_cost(standard, channels, stream_bytes, pattern, stride, elem_bytes, overrides,
                       mapping)[0]


def peak_bandwidth(standard: str, channels: int = 1, overrides=()) -> float:
    """Pin bandwidth: one transaction per nBL per channel (pseudo-channels included);
    `overrides` as `stream_cost` takes them."""
    std = get_standard(standard)
    if overrides:
        std = std.with_overrides(dict(overrides))
    comp = compiled(std)
    per_tx_s = comp.timing_ticks["nBL"] * comp.tick_ps * 1e-12
    sub = std.sizes.get("pseudochannel", 1)
    return channels * sub * std.tx_bytes / per_tx_s


#: a declared peak may round the standard's pin rate down this much (A100: 2039 GB/s for the
#: 2048 GB/s of five HBM2E-3200 stacks)
PEAK_TOLERANCE = 0.01


def check_dram_params(dram: dict, declared_bandwidth: float | None, file=None, key: str = "dram"):
    """Check a part's cycle-level DRAM block (`standard`, `channels`, optional `tck_ps`; no
    standard: nothing to check): the standard exists, the channels and clock are in range, and
    the modelled pin bandwidth does not exceed the part's `declared_bandwidth` (bytes/s; None:
    not checked)."""
    from archsim.components.dram import MAX_CHANNELS
    from archsim.components.dram.standards import MAX_CYCLES
    from archsim.config.schema import Field, validate_value
    from archsim.errors import ConfigError
    if not dram.get("standard"):
        return
    std = get_standard(dram["standard"], file, f"{key}.standard")
    channels = validate_value(Field("int", max=MAX_CHANNELS), dram.get("channels", 1), file,
                              f"{key}.channels")
    overrides = ()
    if dram.get("tck_ps") is not None:
        tck = validate_value(Field("int", max=MAX_CYCLES), dram["tck_ps"], file, f"{key}.tck_ps")
        overrides = (("tCK_ps", tck),)
    if declared_bandwidth is None:
        return
    peak = peak_bandwidth(std.name, channels, overrides)
    if peak > declared_bandwidth * (1 + PEAK_TOLERANCE):
        raise ConfigError(f"the DRAM model's peak, {peak / 1e12:.4g} TB/s ({channels} channels "
                          f"of {std.name}), exceeds the declared memory bandwidth "
                          f"{declared_bandwidth / 1e12:.4g} TB/s; at cycle fidelity the model sets "
                          f"the bandwidth, so change {key}.channels or {key}.tck_ps with the "
                          f"memory bandwidth, or set {key}.standard to null", file,
                          f"{key}.tck_ps" if overrides else f"{key}.channels")

"""`archsim dram STANDARD`: one DRAM part alone, as its peer simulators run it."""

from __future__ import annotations

import time

from archsim.cli.common import add_format_option, add_set_option, emit_json
from archsim.components.dram import MAX_CHANNELS
from archsim.results.text_table import metric_table
from archsim.errors import ConfigError

KEYS = ("requests", "cycles", "seconds", "bandwidth_gbps", "avg_read_latency_cycles", "row_hits",
        "row_misses", "row_conflicts", "energy_j", "wall_s", "requests_per_wall_s", "parse_s",
        "compile_s")
CONTROLLER_KEYS = ("row_policy", "refresh", "mapping", "write_queue", "wr_low", "wr_high")
#: synthetic requests at most (~70 bytes of memory and ~1 us each)
MAX_REQUESTS = 50_000_000


def register(sub) -> None:
    p = sub.add_parser(
        "dram", help="simulate one DRAM standard on a memory trace or a synthetic stream",
        description="Cycle-level DRAM simulation of one standard. Cycles and latency are in "
                    "controller ticks (the DRAM command clock; HBM3 ticks at 2x CK); "
                    "bandwidth_gbps is in GB/s (1e9 bytes/s); wall_s times the simulation alone "
                    "(trace parsed and kernel compiled beforehand, reported as parse_s and "
                    "compile_s).")
    from archsim.components.dram.standards import STANDARDS
    p.add_argument("standard", help=", ".join(STANDARDS))
    p.add_argument("--channels", type=int, default=1, help="channels, cache-line interleaved "
                   "(power of two: address bits; otherwise round-robin); the front end offers one "
                   f"request per channel per DRAM tick; at most {MAX_CHANNELS}")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--trace", help="memory trace: one 'LD 0xADDR' or 'ST 0xADDR' per line")
    src.add_argument("--pattern", choices=("seq", "random"), default=None,
                     help="synthetic stream (default seq): seq = 0, tx, 2tx, ...; random = uniform "
                          "tx-aligned addresses in 1 GiB (Python random.Random(12345))")
    p.add_argument("--requests", type=int, default=1_000_000,
                   help=f"synthetic stream length, at most {MAX_REQUESTS:,}")
    p.add_argument("--write-ratio", type=float, default=0.0, help="share of writes in a pattern")
    p.add_argument("--queue", type=int, default=32, help="read queue entries per channel")
    add_set_option(p)
    add_format_option(p, default="table")
    p.set_defaults(func=run)


def _split_sets(sets):
    from archsim.config.loader import parse_set
    std_over, ctl_over = {}, {}
    for item in sets:
        keys, value = parse_set(item)
        path = ".".join(keys)
        if keys[0] == "controller" and len(keys) == 2 and keys[1] in CONTROLLER_KEYS:
            ctl_over[keys[1]] = value
        elif keys[0] == "controller":
            raise ConfigError(f"unknown controller option; known: {', '.join(CONTROLLER_KEYS)}",
                              "--set", path)
        else:
            std_over[path] = value
    return std_over, ctl_over


def simulate_cli(standard: str, channels: int = 1, trace=None, pattern=None, requests=1_000_000,
                 queue: int = 32, sets=(), write_ratio: float = 0.0) -> dict:
    """What `archsim dram` prints, as a dict (the tests and benchmarks call this)."""
    from archsim.components.dram.controller import Controller, run_stream, warm_up
    from archsim.components.dram.frontend import parse_trace, pattern_addresses
    from archsim.components.dram.standards import get_standard
    from archsim.components.dram.timing import compiled

    std = get_standard(standard, "archsim dram", "STANDARD")
    std_over, ctl_over = _split_sets(sets)
    if std_over:
        try:
            std = std.with_overrides(std_over, "--set")
        except KeyError as exc:
            raise ConfigError(f"unknown key for {std.name}; timings: {', '.join(sorted(std.timing))}"
                              ", or org.<level>, org.rows, org.columns, tCK_ps; the controller: "
                              + ", ".join(f"controller.{k}" for k in CONTROLLER_KEYS), "--set",
                              str(exc.args[0])) from None
    if not 0 < channels <= MAX_CHANNELS:
        raise ConfigError(f"must be in 1..{MAX_CHANNELS}, got {channels}", "--channels", "channels")
    if queue <= 0:
        raise ConfigError(f"must be positive, got {queue}", "--queue", "queue")
    if not 0 < requests <= MAX_REQUESTS:
        raise ConfigError(f"must be in 1..{MAX_REQUESTS}, got {requests}", "--requests",
                          "requests")
    if not 0.0 <= write_ratio <= 1.0:
        raise ConfigError(f"must be in [0, 1], got {write_ratio}", "--write-ratio", "write_ratio")
    ctl_kw = {"queue": queue}
    for k, v in ctl_over.items():
        ctl_kw[k] = type(getattr(Controller, k))(v) if k in ("write_queue", "wr_low", "wr_high") else str(v)
    ctl = Controller(**ctl_kw)
    if ctl.refresh == "per-bank" and std.has_refpb:
        std.check("--set", "", per_bank=True)
    comp = compiled(std)
    ctl.check(std)
    t0 = time.perf_counter()
    if trace:
        addrs, writes = parse_trace(trace)
    else:
        addrs, writes = pattern_addresses(pattern or "seq", requests, comp.tx_bytes,
                                          write_ratio=write_ratio)
    parse_s = time.perf_counter() - t0
    compile_s = warm_up(comp, ctl)
    out = run_stream(comp, addrs, writes, channels=channels, ctl=ctl)
    out["parse_s"] = parse_s
    out["compile_s"] = compile_s
    return out


def run(args) -> int:
    out = simulate_cli(args.standard, args.channels, args.trace, args.pattern, args.requests,
                       args.queue, args.sets, args.write_ratio)
    res = {k: out[k] for k in KEYS}
    if args.format == "json":
        emit_json(res)
    else:
        print(metric_table(res))
    return 0

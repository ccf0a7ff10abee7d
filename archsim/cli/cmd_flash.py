"""`archsim flash`: a NAND flash device alone under a host request pattern (MQSim's job)."""

from __future__ import annotations

from archsim.cli.common import add_format_option, add_set_option, emit_json, seed
from archsim.results.text_table import text_table
from archsim.errors import ConfigError

HELP = """Run host requests against the flash of CONFIG (an arch name or YAML path; its
`nand_flash` / `computational_ssd` component, or --component NAME) with the cycle-level
kernel. Each request of --request-bytes is split into pages; sequential requests stripe
pages over channels, then dies, then planes; random requests start at uniform random pages
(--seed). Requests are submitted --queue-depth at a time (default: the config's queue_depth, 64
unless set; 0 = all at once).
Prints {bandwidth_gbps (GB/s, 1e9 B/s), avg_latency_us (submission to last byte),
channel_utilisation (bus busy / (channels x time)), wall_s (the simulation alone), ...} and
the bus and array limits the bandwidth cannot exceed."""


def register(subparsers) -> None:
    p = subparsers.add_parser("flash", help="a flash device alone under a request pattern", description=HELP)
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--pattern", default="seq", help="seq | random (default: seq)")
    p.add_argument("--requests", type=int, default=10000)
    p.add_argument("--request-bytes", type=int, default=16384)
    p.add_argument("--op", default="read", help="read | write (default: read)")
    p.add_argument("--queue-depth", type=int, default=None,
                   help="requests in flight (default: the config's queue_depth, 64 unless set; 0 = all)")
    p.add_argument("--slice-bytes", type=int, default=0, help="send page data in slices of this size (0: whole)")
    p.add_argument("--component", default=None, help="the flash component to use (default: the only one)")
    p.add_argument("--seed", type=seed, default=1)
    add_set_option(p)
    add_format_option(p)
    p.set_defaults(func=main)


def load_flash(config: str, sets=(), component: str | None = None):
    """The FlashSpec of CONFIG's flash component."""
    from archsim.components.flash.component import NandFlash
    from archsim.components.base import component_class
    from archsim.config.loader import apply_sets, find_config, load_with_base
    from archsim.paths import ARCH_DIR

    path = find_config(config, ARCH_DIR, "arch")
    data = apply_sets(load_with_base(path, ARCH_DIR, "arch"), sets)
    flashes = {k: v for k, v in data.items() if isinstance(v, dict) and v.get("type") in
               ("nand_flash", "computational_ssd")}
    if component is not None:
        if component not in flashes:
            raise ConfigError(f"no flash component {component!r} (flash components: {', '.join(flashes) or 'none'})",
                              path, component)
        name = component
    elif len(flashes) == 1:
        name = next(iter(flashes))
    else:
        raise ConfigError("expected exactly one nand_flash / computational_ssd component; name it with --component"
                          f" (found: {', '.join(flashes) or 'none'})", path)
    # the run simulates this component alone: an override elsewhere would be dropped
    from archsim.config.loader import parse_set
    for s in sets or ():
        keys, _ = parse_set(s, "--set")
        if keys[0] != name:
            raise ConfigError(f"`archsim flash` runs only the flash component {name!r}; "
                              f"set its keys ({name}.KEY=VALUE)", "--set", ".".join(keys))
    block = flashes[name]
    cls = component_class(block["type"], path, f"{name}.type")
    comp = cls.from_config(name, block, path)
    assert isinstance(comp, NandFlash)
    return comp.spec, str(path), name


def main(args) -> int:
    from archsim.components.flash.api import run_pattern
    if args.queue_depth is not None and args.queue_depth < 0:
        raise ConfigError(f"must be >= 0, got {args.queue_depth}", key="--queue-depth")
    if args.slice_bytes < 0:
        raise ConfigError(f"must be >= 0, got {args.slice_bytes}", key="--slice-bytes")
    spec, path, name = load_flash(args.config, args.sets, args.component)
    if args.slice_bytes > spec.page_size:
        raise ConfigError(f"a slice is part of a page: at most {spec.page_size} B, got "
                          f"{args.slice_bytes}", key="--slice-bytes")
    r = run_pattern(spec, args.pattern, args.requests, args.request_bytes, args.op, args.seed,
                    args.queue_depth, args.slice_bytes)
    r = {**r, "config": path, "component": name,
         "geometry": {"channels": spec.channels, "dies_per_channel": spec.dies_per_channel,
                      "planes_per_die": spec.planes_per_die, "page_size": spec.page_size}}
    if args.format == "json":
        emit_json(r)
    else:
        lim = r["limits_gbps"]
        rows = [["bandwidth", f"{r['bandwidth_gbps']:.3f} GB/s"],
                ["limits", f"bus {lim['bus']:.3f} GB/s, array {lim['array']:.3f} GB/s"],
                ["avg latency", f"{r['avg_latency_us']:.1f} us (p99 {r['p99_latency_us']:.1f})"],
                ["channel utilisation", f"{100 * r['channel_utilisation']:.1f} %"],
                ["requests", f"{r['requests']} x {r['request_bytes']} B ({r['pages']} pages)"],
                ["wall", f"{r['wall_s']:.3f} s"]]
        print(text_table(rows, [f"flash {name} {r['pattern']} {r['op']}", ""]))
    return 0

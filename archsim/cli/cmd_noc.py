"""`archsim noc`: the cycle-level mesh NoC alone, as BookSim runs it."""

from __future__ import annotations

import csv

import numpy as np

from archsim.cli.common import add_format_option, emit_json
from archsim.results.text_table import metric_table
from archsim.errors import ConfigError, TraceError

KEYS = ("avg_packet_latency_cycles", "accepted_flit_rate", "avg_hops", "flit_hops", "cycles",
        "wall_s", "flit_hops_per_wall_s", "compile_s")


def register(sub) -> None:
    p = sub.add_parser(
        "noc", help="simulate a 2-D mesh network-on-chip on synthetic traffic or a flow trace",
        description="Cycle-level mesh NoC (input-queued VC routers, credits, wormhole, "
                    "dimension-order routing), measured like BookSim's latency mode: warm-up, "
                    "sample periods until stable, then drain. Rates are flits/node/cycle; "
                    "latencies are cycles from packet creation to tail delivery; avg_hops counts "
                    "routers traversed (distance + 1); flit_hops counts router traversals of "
                    "all flits in the run. wall_s times the simulation alone; the JIT compile "
                    "(or cache load) is compile_s.")
    p.add_argument("--mesh", default="8x8", help="ROWSxCOLS (default 8x8)")
    p.add_argument("--traffic", default="uniform",
                   help="uniform, transpose, hotspot, neighbour, tornado, bitcomp, bitrev, "
                        "shuffle (default uniform)")
    p.add_argument("--rate", type=float, default=0.1, help="offered flits/node/cycle")
    p.add_argument("--packet-flits", type=int, default=1, help="flits per packet (default 1)")
    p.add_argument("--trace", help="flow trace CSV with columns src,dst,flits[,inject_cycle,"
                                   "color,order,packet_flits]; runs it instead of --traffic")
    p.add_argument("--cycles", type=int, help="one fixed run of N cycles (a quarter warm-up) "
                                              "instead of BookSim's sample-period protocol")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, choices=(1, 2),
                   help="2: half the routers on a second thread, same results (default 1)")
    p.add_argument("--hotspot-nodes", help="comma-separated node ids (hotspot traffic)")
    p.add_argument("--hotspot-fraction", type=float, default=0.5)
    # router options default to RouterConfig's (read there, when the run builds the router)
    g = p.add_argument_group("router (defaults: RouterConfig's, BookSim2's iq router of the peers "
                             "note, docs/noc.md)")
    g.add_argument("--vcs", type=int)
    g.add_argument("--vc-buf", type=int, help="flits per VC buffer")
    g.add_argument("--routing-delay", type=int)
    g.add_argument("--vc-alloc-delay", type=int)
    g.add_argument("--sw-alloc-delay", type=int)
    g.add_argument("--st-delay", type=int, help="switch traversal")
    g.add_argument("--link-latency", type=int)
    g.add_argument("--credit-delay", type=int)
    g.add_argument("--alloc-iters", type=int, help="iSLIP iterations (BookSim2's iq router runs 1 "
                   "whatever its alloc_iters says)")
    g.add_argument("--no-wait-tail-credit", action="store_true",
                   help="release a VC when its tail leaves instead of when its tail credit returns")
    add_format_option(p, default="table")
    p.set_defaults(func=run)


ROUTER_OPTIONS = ("vcs", "vc_buf", "routing_delay", "vc_alloc_delay", "sw_alloc_delay", "st_delay",
                  "link_latency", "credit_delay", "alloc_iters")


def router_from_args(args):
    from archsim.components.noc import RouterConfig
    given = {k: getattr(args, k) for k in ROUTER_OPTIONS if getattr(args, k) is not None}
    return RouterConfig(**given, wait_for_tail_credit=not args.no_wait_tail_credit)


def read_trace(path: str) -> dict:
    """A flow trace: CSV with a header; src, dst, flits required; one flow per row."""
    cols = {"src": [], "dst": [], "flits": [], "inject_cycle": [], "color": [], "order": [],
            "packet_flits": []}
    try:
        with open(path, newline="") as fh:
            rows = csv.DictReader(fh)
            missing = {"src", "dst", "flits"} - set(rows.fieldnames or ())
            if missing:
                raise TraceError(f"missing column(s) {', '.join(sorted(missing))}", path, "header")
            for i, row in enumerate(rows, start=2):
                try:
                    cols["src"].append(int(row["src"]))
                    cols["dst"].append(int(row["dst"]))
                    cols["flits"].append(int(row["flits"]))
                    cols["inject_cycle"].append(int(row.get("inject_cycle") or 0))
                    cols["color"].append(int(row.get("color") or -1))
                    cols["order"].append(int(row.get("order") or 0))
                    cols["packet_flits"].append(int(row.get("packet_flits") or 0))
                except ValueError:
                    raise TraceError("expected integers", path, f"line {i}") from None
    except OSError as exc:
        raise TraceError(f"cannot read: {exc.strerror}", path) from None
    return {k: np.asarray(v, dtype=np.int64) for k, v in cols.items()}


def simulate_cli(args) -> dict:
    """What `archsim noc` prints, as a dict."""
    from archsim.components.noc import simulate_flows, simulate_traffic
    router = router_from_args(args)
    if args.trace:
        tr = read_trace(args.trace)
        st = simulate_flows(args.mesh, tr["src"], tr["dst"], tr["flits"], tr["inject_cycle"],
                            tr["color"], tr["order"], router, packet_flits=tr["packet_flits"],
                            max_cycles=args.cycles, threads=args.threads)
        out = st.to_dict()
        out["flows"] = int(len(tr["src"]))
        out["flows_delivered"] = int((st.flow_done_cycle >= 0).sum())
        return out
    hot = None
    if args.hotspot_nodes:
        try:
            hot = [int(x) for x in args.hotspot_nodes.split(",")]
        except ValueError:
            raise ConfigError("expected comma-separated node ids", "--hotspot-nodes",
                              "hotspot_nodes") from None
    st = simulate_traffic(args.mesh, args.traffic, args.rate, args.packet_flits, router,
                          args.seed, cycles=args.cycles, hotspot_nodes=hot,
                          hotspot_fraction=args.hotspot_fraction, threads=args.threads)
    return st.to_dict()


def run(args) -> int:
    out = simulate_cli(args)
    if args.format == "json":
        emit_json(out)
        return 0
    print(metric_table(out))
    return 0

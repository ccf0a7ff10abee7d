"""`archsim noc`: the cycle-level mesh NoC alone, as BookSim runs it."""

from __future__ import annotations

import csv
import sys

import numpy as np

from archsim.cli.common import add_format_option, emit_json, seed
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
                    "(or cache load) is compile_s. Exit status: 0 done, 2 bad input, 3 the "
                    "flows of a trace deadlocked (the results so far are printed).")
    p.add_argument("--mesh", default="8x8", help="ROWSxCOLS (default 8x8)")
    p.add_argument("--traffic", help="uniform, transpose, hotspot, neighbour, tornado, bitcomp, "
                                     "bitrev, shuffle (default uniform)")
    p.add_argument("--rate", type=float, help="offered flits/node/cycle (default 0.1)")
    p.add_argument("--packet-flits", type=int, help="flits per packet (default 1)")
    p.add_argument("--trace", help="flow trace CSV with columns src,dst,flits[,inject_cycle,"
                                   "color,order,packet_flits]; runs it instead of --traffic")
    p.add_argument("--cycles", type=int, help="one fixed run of N cycles (a quarter warm-up) "
                                              "instead of BookSim's sample-period protocol; at "
                                              "least 4x the zero-load latency of the longest "
                                              "path; with --trace: stop after N cycles")
    p.add_argument("--latency-threshold", type=float,
                   help="cycles of mean latency (delivered and in-flight flits) past which a "
                        "synthetic run stops as saturated (default 500, BookSim's latency_thres); "
                        "it must exceed the traffic's mean zero-load latency (negative: never "
                        "stop). A fixed --cycles window checks it in its drain, so compare "
                        "accepted with offered there")
    p.add_argument("--seed", type=seed, default=1)
    p.add_argument("--threads", type=int, default=1, choices=(1, 2),
                   help="2: half the routers on a second thread, same results (default 1)")
    p.add_argument("--hotspot-nodes", help="comma-separated node ids (hotspot traffic)")
    p.add_argument("--hotspot-fraction", type=float,
                   help="share of packets sent to the hotspot nodes, in [0, 1] (default 0.5)")
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


# trace columns and the value of an optional one left empty (None: required)
TRACE_COLUMNS = {"src": None, "dst": None, "flits": None, "inject_cycle": 0, "color": -1,
                 "order": 0, "packet_flits": 0}


def read_trace(path: str) -> dict:
    """A flow trace: CSV with a header; src, dst, flits required; one flow per row. "line"
    holds each flow's line number."""
    cols = {k: [] for k in (*TRACE_COLUMNS, "line")}
    try:
        # utf-8-sig: a spreadsheet's byte-order mark is not part of the first column's name
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = csv.DictReader(fh)
            if rows.fieldnames:
                rows.fieldnames = [f.strip() for f in rows.fieldnames]
            missing = {"src", "dst", "flits"} - set(rows.fieldnames or ())
            if missing:
                raise TraceError(f"missing column(s) {', '.join(sorted(missing))}", path, "header")
            unknown = [f for f in rows.fieldnames if f not in TRACE_COLUMNS]
            if unknown:
                raise TraceError(f"unknown column(s) {', '.join(unknown)}; the columns are "
                                 f"{', '.join(TRACE_COLUMNS)}", path, "header")
            for row in rows:
                where = f"line {rows.line_num}"
                if None in row or None in row.values():
                    got = sum(v is not None for k, v in row.items() if k is not None)
                    raise TraceError(f"expected {len(rows.fieldnames)} fields, got "
                                     f"{got + len(row.get(None) or ())}", path, where)
                for k, empty in TRACE_COLUMNS.items():
                    v = row.get(k)
                    try:
                        x = int(v) if empty is None or v else empty
                    except ValueError:
                        raise TraceError(f"{k}: expected an integer, got {v!r}", path,
                                         where) from None
                    if not -2**63 <= x < 2**63:
                        raise TraceError(f"{k}: {v} is out of the int64 range", path, where)
                    cols[k].append(x)
                cols["line"].append(rows.line_num)
    except OSError as exc:
        raise TraceError(f"cannot read: {exc.strerror}", path) from None
    except UnicodeDecodeError as exc:
        raise TraceError(f"not UTF-8 text (byte {exc.start})", path) from None
    tr = {k: np.asarray(v, dtype=np.int64) for k, v in cols.items()}
    if not (tr["flits"] > 0).any():
        raise TraceError("no flow with flits > 0 (a trace needs at least one)", path)
    return tr


def _check_trace(path, tr, router, nodes: int) -> None:
    """What the trace must fit in this mesh and router, each refusal naming the line."""
    from archsim.components.noc.api import max_packet_flits
    big = max_packet_flits(router)
    pkt = np.where(tr["packet_flits"] > 0, tr["packet_flits"], tr["flits"])
    for bad, key, why in (
            ((tr["src"] < 0) | (tr["src"] >= nodes), "src", f"must be a node id in [0, {nodes})"),
            ((tr["dst"] < 0) | (tr["dst"] >= nodes), "dst", f"must be a node id in [0, {nodes})"),
            (tr["flits"] < 0, "flits", "must be >= 0"),
            (tr["inject_cycle"] < 0, "inject_cycle", "must be >= 0"),
            ((tr["order"] != 0) & (tr["order"] != 1), "order", "must be 0 (XY) or 1 (YX)"),
            (tr["color"] < -1, "color", "must be -1 (any VC) or a VC index >= 0"),
            # the engine would take colour % vcs, merging colours silently
            (tr["color"] >= router.vcs, "color", f"must be -1 (any VC) or < --vcs ({router.vcs})"),
            (tr["packet_flits"] < 0, "packet_flits", "must be >= 0 (0: the whole flow is one packet)"),
            (np.minimum(pkt, tr["flits"]) > big, "packet_flits",
             f"packets of more than {big} flits (0 = the whole flow) do not fit the router")):
        if bad.any():
            i = int(np.argmax(bad))
            raise TraceError(f"{key}: {why}", path, f"line {tr['line'][i]}")


# synthetic-traffic options and their defaults (a trace sets its own flows)
TRAFFIC_DEFAULTS = {"traffic": "uniform", "rate": 0.1, "packet_flits": 1,
                    "hotspot_nodes": None, "hotspot_fraction": 0.5}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _traffic_options(args) -> None:
    """Refuse options the run would ignore, then fill in the defaults."""
    given = [k for k in TRAFFIC_DEFAULTS if getattr(args, k) is not None]
    if args.trace and given:
        raise ConfigError("a trace sets its own flows and packets; drop "
                          + ", ".join(_flag(k) for k in given), None, _flag(given[0]))
    for k, v in TRAFFIC_DEFAULTS.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    hot = [k for k in ("hotspot_nodes", "hotspot_fraction") if k in given]
    if hot and str(args.traffic).lower() != "hotspot":
        raise ConfigError(f"only hotspot traffic uses it (--traffic {args.traffic})", None,
                          _flag(hot[0]))


def simulate_cli(args) -> dict:
    """What `archsim noc` prints, as a dict."""
    from archsim.components.noc import simulate_flows, simulate_traffic
    _traffic_options(args)
    router = router_from_args(args)
    if args.cycles is not None and args.cycles < 1:
        raise ConfigError(f"must be >= 1, got {args.cycles}", None, "--cycles")
    if args.trace:
        if args.latency_threshold is not None:
            raise ConfigError("a trace runs until its flows are delivered (or --cycles); the "
                              "threshold is for synthetic traffic", None, "--latency-threshold")
        from archsim.components.noc.api import mesh_shape
        rows, cols = mesh_shape(args.mesh)
        tr = read_trace(args.trace)
        _check_trace(args.trace, tr, router, rows * cols)
        try:
            st = simulate_flows(args.mesh, tr["src"], tr["dst"], tr["flits"], tr["inject_cycle"],
                                tr["color"], tr["order"], router, packet_flits=tr["packet_flits"],
                                max_cycles=args.cycles, threads=args.threads)
        except ConfigError as exc:
            if exc.key == "mesh":
                raise
            # a flow the engine rejects: name the trace
            raise TraceError(exc.reason, args.trace, exc.key) from None
        out = st.to_dict()
        out["flows"] = int(len(tr["src"]))
        out["flows_delivered"] = int((st.flow_done_cycle >= 0).sum())
        # a trace has no saturation point: a run that --cycles cut short is just unfinished
        out["saturated"] = False
        out["stopped_by_cycles"] = bool(out["flows_delivered"] < out["flows"] and not out.get("deadlocked"))
        return out
    hot = None
    if args.hotspot_nodes is not None:
        try:
            hot = [int(x) for x in args.hotspot_nodes.split(",")]
        except ValueError:
            raise ConfigError("expected comma-separated node ids", None, "--hotspot-nodes") from None
    thres = 500.0 if args.latency_threshold is None else args.latency_threshold
    if args.cycles is not None:
        from archsim.components.noc.api import min_fixed_cycles
        low = min_fixed_cycles(args.mesh, max(args.packet_flits, 1), router)
        if args.cycles < low:
            # a shorter warm-up measures a network still filling: rates read low, unflagged
            raise ConfigError(f"must be >= {low} for this mesh and router (4x the zero-load "
                              f"latency of the longest path), got {args.cycles}", None, "--cycles")
    st = simulate_traffic(args.mesh, args.traffic, args.rate, args.packet_flits, router,
                          args.seed, cycles=args.cycles, hotspot_nodes=hot, latency_threshold=thres,
                          hotspot_fraction=args.hotspot_fraction, threads=args.threads)
    return st.to_dict()


EXIT_DEADLOCK = 3


def run(args) -> int:
    out = simulate_cli(args)
    if args.format == "json":
        emit_json(out)
    else:
        print(metric_table(out))
    if out.get("deadlocked"):
        if args.trace:
            print(f"archsim: error: {args.trace}: deadlocked: {out['flows_delivered']} of "
                  f"{out['flows']} flows delivered (flows on shared VCs with mixed XY/YX order "
                  f"can wait on each other in a cycle; give them separate colours)", file=sys.stderr)
        else:
            print("archsim: error: deadlocked: no flit moved for the stall limit", file=sys.stderr)
        return EXIT_DEADLOCK
    return 0

"""`archsim plot RESULTS --kind KIND --out fig.png|.svg`: draw saved results, no re-simulation."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "plot", help="plot saved results (sweep or run HDF5, run JSON, Perfetto trace)",
        description="Draw a figure from results on disk. Kinds: roofline and breakdown of a run; line, "
                    "heatmap, pareto (and breakdown) of a sweep; timeline of a Perfetto trace or run "
                    "HDF5. `archsim plot --list` names every kind available.")
    p.add_argument("results", nargs="?", help="sweep .h5, run .h5 (archsim run --out), run .json "
                                              "(archsim run --format json) or Perfetto .json")
    p.add_argument("--kind", help="which plot (see --list)")
    p.add_argument("--out", help="figure file: .png, .svg or .pdf")
    p.add_argument("--list", action="store_true", help="list the plot kinds and their options")
    p.add_argument("--x", help="sweep axis or metric for the x axis")
    p.add_argument("--y", help="sweep axis or metric for the y axis")
    p.add_argument("--z", help="metric for the colour of a heat map")
    p.add_argument("--hue", help="axis giving one line (or colour) per value")
    p.add_argument("--where", help="keep sweep rows where this holds, e.g. \"hbm == 'HBM3' and scenario.batch <= 64\"")
    p.add_argument("--logx", action="store_true", default=None, help="logarithmic x axis")
    p.add_argument("--logy", action="store_true", default=None, help="logarithmic y axis")
    p.add_argument("--title", help="figure title")
    p.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE",
                   help="an option of this kind (repeatable), e.g. --opt point=3 --opt bandwidth='2 TB/s'")
    p.set_defaults(func=main)


def main(args) -> int:
    from archsim.config.loader import parse_set
    from archsim.errors import ConfigError
    from archsim.plots import kinds, plot

    if args.list:
        for kind, mod in sorted(kinds().items()):
            doc = (mod.__doc__ or "").strip().split("\n")[0]
            options = ", ".join(getattr(mod, "OPTIONS", {}) or {}) or "see its module"
            print(f"{kind:10s} {doc}\n{'':10s} options: {options}")
        return 0
    for name in ("results", "kind", "out"):
        if not getattr(args, name):
            raise ConfigError("required (or use --list)", "archsim plot", name if name == "results" else f"--{name}")
    opts = {k: getattr(args, k) for k in ("x", "y", "z", "hue", "where", "logx", "logy", "title")
            if getattr(args, k) is not None}
    for item in args.opt:
        keys, value = parse_set(item, "--opt")
        opts[".".join(keys)] = value
    path = plot(args.results, args.out, args.kind, **opts)
    print(f"wrote {path}")
    return 0

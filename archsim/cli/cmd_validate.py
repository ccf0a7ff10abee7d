"""`archsim validate`: run the published-figure cases and report predicted vs published."""

from __future__ import annotations

import shlex
import sys

from archsim.cli.common import add_format_option, emit_json

HELP = """Run validation cases (validation/*.yaml; all of them when no CASE is given) and print
id | metric | predicted | published | rel. error | tolerance | result. This is a
measurement: it exits 0 whatever the results; 2 only for bad input (an unknown case id,
a malformed case file: an unknown key, a metric the result JSON does not have, a `set`
override the machine or model rejects, a tolerance outside (0, 1]). Relative error =
(predicted - published) / published."""


def register(subparsers) -> None:
    p = subparsers.add_parser("validate", help="compare predictions with published figures",
                              description=HELP)
    p.add_argument("ids", nargs="*", metavar="CASE", help="case ids or glob patterns such as 'a100.*'")
    p.add_argument("--cases", metavar="DIR", default=None,
                   help="folder (or one file) of case YAML (default: $ARCHSIM_VALIDATION_DIR, else validation/)")
    p.add_argument("--report", metavar="REPORT.md", default=None,
                   help="also write a Markdown report and, beside it, a PNG plot")
    add_format_option(p)
    p.add_argument("--fidelity", choices=("cycle", "analytic"), default="cycle",
                   help="cost model for every case (default: %(default)s)")
    p.add_argument("--list", action="store_true", help="list the selected cases without running them")
    p.set_defaults(func=main)


def _command(args) -> str:
    """The command line that reproduces this run (for the report)."""
    argv = ["archsim", "validate", *args.ids]
    for opt in ("cases", "report", "format", "fidelity"):
        value = getattr(args, opt)
        if value is not None:
            argv += [f"--{opt}", str(value)]
    return shlex.join(argv)


def _progress(i: int, n: int, outcome) -> None:
    print(f"[{i}/{n}] {outcome.case.id}: {outcome.status} ({outcome.seconds:.1f} s)", file=sys.stderr, flush=True)


def main(args) -> int:
    from archsim.validation import report
    from archsim.validation.cases import case_dir, load_cases, select_cases
    from archsim.validation.runner import counts, run_cases

    if args.report and not str(args.report).lower().endswith(".md"):
        # its plot goes beside it as .png: another suffix would put both in one file
        from archsim.errors import ConfigError
        raise ConfigError(f"expected a Markdown file (.md), got {args.report!r}", key="--report")
    where = args.cases or case_dir()
    cases = select_cases(load_cases(where), args.ids, where)
    if args.list:
        from archsim.results.text_table import text_table
        print(text_table([[c.id, c.kind, c.arch, c.metric, c.source] for c in cases],
                         ["id", "kind", "arch", "metric", "source"], "lllll"))
        return 0
    outcomes = run_cases(cases, fidelity=args.fidelity, progress=_progress)
    if args.format == "json":
        emit_json({"fidelity": args.fidelity, "counts": counts(outcomes),
                   "cases": [o.as_dict() for o in outcomes]})
    else:
        sys.stdout.write(report.format_table(outcomes))
    if args.report:
        md, png = report.write_report(outcomes, args.report, _command(args), args.fidelity)
        print(f"report: {md} (plot: {png})", file=sys.stderr)
    return 0

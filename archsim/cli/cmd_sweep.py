"""`archsim sweep SWEEP.yaml`: run a design-space sweep into one HDF5 file, resumably."""

from __future__ import annotations

import signal
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "sweep", help="run a design-space sweep (local processes or Dask) into one HDF5 file",
        description="Run every point of a sweep file and append one row per point to --out. "
                    "A rerun skips finished points (failed ones too, unless --retry-failed); a point "
                    "whose worker died is retried. Exit 0 when no point failed, 1 when some did, "
                    "2 for a bad sweep file or option.")
    p.add_argument("sweep", help="a sweep YAML file, or the name of one in sweeps/")
    p.add_argument("--executor", choices=("local", "dask"), default=None,
                   help="local worker processes (default) or Dask distributed")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: one per CPU; 0 with local: run in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a Dask scheduler, e.g. tcp://host:8786 (implies --executor dask; "
                        "without it Dask starts a LocalCluster)")
    p.add_argument("--out", help="results file, HDF5 (.h5 or .hdf5; default: SWEEP_NAME.h5 in "
                                 "this folder)")
    p.add_argument("--dry-run", action="store_true", help="list the points (and their state in --out); run nothing")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N points")
    p.add_argument("--retry-failed", action="store_true", help="run again the points that failed before")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (the summary line stays)")
    p.set_defaults(func=main)


def _dry_run(the_plan, out, retry_failed: bool = False) -> None:
    from archsim.results.text_table import text_table
    from archsim.sweep.engine import STALE, rows_status

    spec = the_plan.spec
    status = rows_status(out, spec.axis_names, spec.metrics)
    if retry_failed:
        status = {k: v for k, v in status.items() if v != "failed"}
    header = ["#", "point_id", *spec.axis_names, "state"]
    rows = [[pp.index, pp.point_id, *(pp.point.inputs[a] for a in spec.axis_names),
             status.get(pp.point_id, "to run")] for pp in the_plan.points]
    print(text_table(rows, header))
    todo = sum(1 for pp in the_plan.points if status.get(pp.point_id, STALE) == STALE)
    notes = [f"{the_plan.dropped} left out by constraints.where"] if the_plan.dropped else []
    if the_plan.duplicates:
        notes.append(f"{the_plan.duplicates} duplicate(s) of listed points")
    if the_plan.limited:
        notes.append(f"{the_plan.limited} beyond --limit")
    extra = f" ({'; '.join(notes)})" if notes else ""
    print(f"sweep {spec.name}: {len(the_plan.points)} points{extra}, {todo} to run, fidelity {spec.fidelity}, "
          f"sampling {spec.sampling} -> {out}")


def main(args) -> int:
    from archsim.errors import ArchsimError
    from archsim.sweep.engine import plan, run_sweep
    from archsim.sweep.executors import make_executor
    from archsim.sweep.spec import load_sweep

    if args.limit is not None and args.limit < 1:
        raise ArchsimError(f"expected a positive number, got {args.limit}", "--limit")
    executor = args.executor or ("dask" if args.scheduler else "local")
    make_executor(executor, args.workers, args.scheduler)   # option errors before any work
    spec = load_sweep(args.sweep)
    out = Path(args.out) if args.out else Path(f"{spec.name}.h5")
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise ArchsimError(f"the results file is HDF5: name it .h5 or .hdf5, got {str(out)!r}",
                           key="--out")
    the_plan = plan(spec, limit=args.limit)
    if args.dry_run:
        _dry_run(the_plan, out, args.retry_failed)
        return 0

    caught = [signal.SIGINT]

    def stop(signum, frame):   # SIGTERM: commit what finished, like Ctrl-C
        caught[0] = signum
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, stop)
    try:
        report = run_sweep(spec, out, executor=executor, workers=args.workers, scheduler=args.scheduler,
                           progress=not args.no_progress, planned=the_plan, retry_failed=args.retry_failed)
    finally:
        signal.signal(signal.SIGTERM, old)
    for index, error in report.failures[:5]:
        print(f"archsim sweep: point {index} failed: {error}", file=sys.stderr)
    if len(report.failures) > 5:
        print(f"archsim sweep: ... and {len(report.failures) - 5} more failed points (see the `error` column)",
              file=sys.stderr)
    print(report.line())
    if report.interrupted:
        return 128 + int(caught[0])    # the shell's convention: 130 for Ctrl-C, 143 for SIGTERM
    return 1 if report.failed else 0

"""Run a sweep: plan its points, skip the finished ones, run the rest, store every row.

`evaluate(case) -> dict` (the `archsim run --format json` object) and `resolve(case) -> dict`
(what the point id hashes) are parameters so that tests and benchmarks of the engine can use
a cheap stand-in; by default they are the real simulation (archsim.sweep.cases).
"""

from __future__ import annotations

import difflib
import functools
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from archsim.errors import ArchsimError, ConfigError
from archsim.revision import code_identity
from archsim.sweep.cases import Resolver, canonical_json, evaluate_case, identity_resolve, point_id
from archsim.sweep.executors import make_executor
from archsim.sweep.points import Point, generate
from archsim.sweep.spec import SweepSpec
from archsim.sweep.worker import one_line, run_point, warm


@dataclass
class Planned:
    point: Point
    point_id: str

    @property
    def index(self) -> int:
        return self.point.index


@dataclass
class Plan:
    spec: SweepSpec
    points: list[Planned]
    dropped: int = 0                                   # left out by `where` constraints
    duplicates: int = 0                                # resolved to a point listed earlier
    limited: int = 0                                   # left out by `limit`


def _inputs_text(inputs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in inputs.items())


def plan(spec: SweepSpec, resolve=None, limit: int | None = None) -> Plan:
    """Generate, constrain and resolve the points; ids are hashes of the resolved inputs.

    A point whose overrides do not make a valid config is an error of the sweep file."""
    resolve = resolve or Resolver()
    points, dropped = generate(spec)
    out: list[Planned] = []
    seen: set[str] = set()
    duplicates = limited = 0
    for n, p in enumerate(points):
        if limit is not None and len(out) >= limit:   # resolving costs; stop at the limit
            limited = len(points) - n
            break
        try:
            pid = point_id(resolve(p.case))
        except ConfigError as exc:
            note = f" (note: {spec.note})" if spec.note else ""
            raise ConfigError(f"point {p.index} ({_inputs_text(p.inputs)}): {exc.one_line()}{note}", spec.file,
                              "axes") from None
        if pid in seen:
            duplicates += 1
            continue
        seen.add(pid)
        out.append(Planned(Point(len(out), p.inputs, p.case), pid))
    return Plan(spec, out, dropped, duplicates, limited)


@dataclass
class SweepReport:
    name: str
    out: str
    executor: str
    total: int = 0
    reused: int = 0                 # rows already in the file
    stale: int = 0                  # rows in the file made by other code (rerun)
    ran: int = 0                    # points run now
    ok: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    worker_deaths: int = 0
    failures: list = field(default_factory=list)   # (index, error) of points that failed now

    def line(self) -> str:
        rate = f", {self.ran / self.seconds:.1f} points/s" if self.ran and self.seconds > 0 else ""
        state = "interrupted" if self.interrupted else "done"
        deaths = f", {self.worker_deaths} worker death(s)" if self.worker_deaths else ""
        stale = f", {self.stale} rerun: made by other code" if self.stale else ""
        return (f"sweep {self.name} {state}: {self.total} points: {self.ok} ok, {self.skipped} skipped, "
                f"{self.failed} failed ({self.reused} from earlier runs{stale}); ran {self.ran} in "
                f"{self.seconds:.1f} s{rate} on {self.executor}{deaths} -> {self.out}")


def warm_case(case: dict) -> dict:
    """The first point shrunk to a few tokens: it loads the same machine and runs the same
    kernels (so Numba compiles them), at a fraction of the point's cost."""
    scen = dict(case["scenario"])
    scen.update(batch=1, input_len=min(16, scen.get("input_len", 16)), output_len=min(2, scen.get("output_len", 2)))
    return {**case, "scenario": scen}


def _leaves(node, path=""):
    if isinstance(node, dict) and node:
        for k, v in node.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif path:
        yield path


def check_metrics(spec: SweepSpec, points: list[Planned], evaluate) -> None:
    """Metrics under keys whose contents depend on the run (breakdown.<component>, ops.<op>,
    stats, provenance) checked against a small run of the first point of each (arch, model):
    one that none of them has is a misspelling, not a value to store as NaN."""
    from archsim.results.result_keys import RUN_RESULT

    heads = set(RUN_RESULT.named) | set(RUN_RESULT.open)
    unsure = [m for m in spec.metrics if m.split(".")[0] in heads]
    if not unsure or not points:
        return
    firsts = {}
    for pp in points:
        firsts.setdefault((str(pp.point.case["arch"]), str(pp.point.case["model"])), pp.point.case)
    leaves: set[str] = set()
    for case in firsts.values():
        try:
            leaves.update(_leaves(evaluate(warm_case(case))))
        except Exception:   # noqa: BLE001 - that point will report its own error
            continue
    if not leaves:
        return
    for m in unsure:
        if m not in leaves:
            close = difflib.get_close_matches(m, sorted(leaves), n=3, cutoff=0.5)
            hint = f"; nearest valid names: {', '.join(close)}" if close else ""
            raise ConfigError(f"{m!r} is not a key of the result (checked on a short run of the first "
                              f"point of each arch and model){hint}",
                              spec.file, f"metrics[{spec.metrics.index(m)}]")


def _row(pp: Planned, spec: SweepSpec, result, attempts: int) -> dict:
    if isinstance(result, BaseException):   # the worker died, or the executor could not run it
        attempts = getattr(result, "attempts", attempts) or attempts
        result = {"status": "failed", "error": one_line(result), "outputs": {}, "result": "",
                  # this code's row: a resume keeps it (failed) unless told to retry
                  "archsim_version": "", "git_revision": "", "code": code_identity(), "time": "", "wall_s": math.nan,
                  "worker": ""}
    row = {"point_id": pp.point_id, "index": pp.index, "status": result["status"], "error": result["error"],
           "attempts": attempts, "point": canonical_json(pp.point.case)}
    row.update(pp.point.inputs)
    outputs = result.get("outputs") or {}
    for m in spec.metrics:
        row[m] = outputs.get(m, math.nan)
    for k in ("archsim_version", "git_revision", "code", "time", "wall_s", "worker", "result"):
        row[k] = result.get(k, "")
    return row


def run_sweep(spec: SweepSpec, out, *, executor: str = "local", workers: int | None = None,
              scheduler: str | None = None, evaluate=None, resolve=None, retry_failed: bool = False,
              progress: bool = True, limit: int | None = None, commit_interval: float = 1.0,
              stream=None, planned: Plan | None = None) -> SweepReport:
    """Run every point of `spec` not yet in `out` (an HDF5 file) and append its row.

    Failed points are kept (with their error) and not rerun unless `retry_failed`. A point
    whose worker died is retried on another worker; rows are keyed by point id, so none is
    ever stored twice. On Ctrl-C (or SIGTERM via the CLI) the rows so far are committed and
    the report says `interrupted`.
    """
    from tqdm import tqdm

    from archsim.sweep.store import SweepStore

    if evaluate is None:
        evaluate, resolve = evaluate_case, resolve or Resolver()
    resolve = resolve or identity_resolve
    the_plan = planned or plan(spec, resolve, limit)
    check_metrics(spec, the_plan.points, evaluate)   # before the results file takes the columns
    out = Path(out)
    ex = make_executor(executor, workers, scheduler)
    report = SweepReport(spec.name, str(out), ex.describe(), total=len(the_plan.points))
    info = {"name": spec.name, "sweep_file": spec.file, "sweep_yaml": spec.text, "fidelity": spec.fidelity}
    store = SweepStore.open(out, spec.axis_names, spec.metrics, info)
    bar = None
    counts = {"ok": 0, "skipped": 0, "failed": 0}
    t0 = time.perf_counter()
    try:
        # rows of points this sweep no longer has get index -1 (not when --limit hides the rest)
        store.set_index({pp.point_id: pp.index for pp in the_plan.points}, drop_others=not the_plan.limited)
        # a point is done when its row was made by this code: rows of other code are rerun
        code = code_identity()
        stale = [pp for pp in the_plan.points if pp.point_id in store and store.made_by(pp.point_id) != code]
        todo = [pp for pp in the_plan.points
                if pp.point_id not in store or store.made_by(pp.point_id) != code
                or (retry_failed and store.status(pp.point_id) == "failed")]
        report.reused = len(the_plan.points) - len(todo)
        report.stale = len(stale)
        fn = functools.partial(run_point, evaluate, metrics=list(spec.metrics), fits=spec.fits,
                               keep_result=spec.keep_result)
        if todo:
            # the executor first: a scheduler that cannot be reached leaves no results file
            ex.start(fn, functools.partial(warm, evaluate), warm_case(todo[0].point.case))
        store.commit(force=not out.exists())
        by_id = {pp.point_id: pp for pp in todo}
        for pp in the_plan.points:
            if pp.point_id not in by_id:
                counts[store.status(pp.point_id)] += 1
        bar = tqdm(total=len(the_plan.points), initial=report.reused, desc=spec.name, unit="pt",
                   disable=not progress, file=stream or sys.stderr, dynamic_ncols=True, smoothing=0.05)
        bar.set_postfix(failed=counts["failed"], skipped=counts["skipped"], refresh=False)
        if todo:
            last_commit = time.perf_counter()
            retries = getattr(ex, "retries", None)
            for key, result in ex.imap((pp.point_id, pp.point.case) for pp in todo):
                pp = by_id[key]
                attempts = 1 + (retries[key] if retries is not None else 0)
                row = _row(pp, spec, result, attempts)
                store.put(row)
                report.ran += 1
                counts[row["status"]] += 1
                if row["status"] == "failed":
                    report.failures.append((pp.index, row["error"]))
                bar.set_postfix(failed=counts["failed"], skipped=counts["skipped"], refresh=False)
                bar.update(1)
                now = time.perf_counter()
                # commits rewrite the file: keep them to a small share of the run as it grows
                if now - last_commit >= max(commit_interval, 20 * store.last_commit_s):
                    store.commit()
                    last_commit = time.perf_counter()
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        try:
            if out.exists() or len(store):
                store.commit()
        finally:
            ex.close()
            store.close()
            if bar is not None:
                bar.close()
    report.seconds = time.perf_counter() - t0
    report.worker_deaths = getattr(ex, "deaths", 0)
    report.ok, report.skipped, report.failed = counts["ok"], counts["skipped"], counts["failed"]
    return report


def rows_status(out, axes=None, metrics=None) -> dict:
    """point id -> status in `out` (for --dry-run; STALE for a row other code made, which a
    run reruns); empty if there is no such file yet. With
    `axes` and `metrics`, a file of another sweep is refused as the run would refuse it."""
    from archsim.sweep.store import check_same_sweep, read_table

    out = Path(out)
    if not out.exists():
        return {}
    try:
        attrs, groups = read_table(out)
    except ArchsimError:
        return {}
    if axes is not None:
        check_same_sweep(out, attrs, list(axes), list(metrics))
    meta = groups.get("meta", {})
    # a row another version of the code made is rerun, as run_sweep does
    code = code_identity()
    made = groups.get("provenance", {}).get("code", [""] * len(meta.get("point_id", [])))
    return {pid: (st if _text(c) == code else STALE)
            for pid, st, c in zip(meta.get("point_id", []), meta.get("status", []), made)}


STALE = "stale (rerun)"


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)

"""Sweep machinery on the real simulator: the issue's targets, measured.

    python benchmarks/bench_sweep.py time      # 1000-point HBM example, local executor (target < 120 s)
    python benchmarks/bench_sweep.py compare   # the same points via local processes and a Dask LocalCluster
    python benchmarks/bench_sweep.py kill      # SIGKILL `archsim sweep` 20 times at random moments, rerun,
                                               # compare with an uninterrupted run
    python benchmarks/bench_sweep.py all

Options: --points N (how many points of sweeps/hbm_vs_batch.yaml; default 1000 for `time`,
40 for `compare` and `kill`), --workers N, --kills N, --seed S, --keep DIR (keep the files).
Timings on a shared machine are noisy: run when it is quiet, and read them as an order of size.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SWEEP = ROOT / "sweeps" / "hbm_vs_batch.yaml"


def same(a, b) -> bool:
    cols = ["point_id", "index", "status", "error", "point"] + a.attrs["axes"] + a.attrs["metrics"]
    return a[cols].equals(b[cols])


def cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "archsim.cli.main", "sweep", str(SWEEP), *map(str, args)],
                            start_new_session=True, **kw)


def bench_time(d: Path, points: int, workers) -> Path:
    out = d / "time.h5"
    args = ["--out", out, "--no-progress"] + (["--limit", points] if points < 1000 else []) \
        + (["--workers", workers] if workers is not None else [])
    t0 = time.perf_counter()
    proc = cli(*args, stdout=subprocess.PIPE, text=True)
    line = proc.communicate()[0].strip().splitlines()[-1]
    wall = time.perf_counter() - t0
    print(f"[time] {line}")
    print(f"[time] {points} points of {SWEEP.name}, wall {wall:.1f} s (process start, planning and all) "
          f"-> {points / wall:.2f} points/s; target 1000 points < 120 s: "
          f"{'met' if wall * 1000 / points < 120 else 'NOT met'} (extrapolated to 1000: {wall * 1000 / points:.0f} s)")
    return out


def bench_compare(d: Path, points: int, workers) -> bool:
    from archsim.sweep import load_sweep, run_sweep, to_dataframe
    spec = load_sweep(SWEEP)
    res = {}
    for kind in ("local", "dask"):
        out = d / f"cmp-{kind}.h5"
        t0 = time.perf_counter()
        rep = run_sweep(spec, out, executor=kind, workers=workers, limit=points, progress=False)
        print(f"[compare] {rep.line()} ({time.perf_counter() - t0:.1f} s)")
        res[kind] = to_dataframe(out)
    ok = same(res["local"], res["dask"])
    print(f"[compare] local vs dask over {points} points: {'identical' if ok else 'DIFFERENT'} "
          "(ids, statuses, errors, inputs, metrics)")
    return ok


def bench_kill(d: Path, points: int, workers, kills: int, seed: int) -> bool:
    from archsim.sweep import to_dataframe
    ref, out = d / "kill-ref.h5", d / "kill.h5"
    extra = ["--limit", points, "--no-progress"] + (["--workers", workers] if workers is not None else [])
    t0 = time.perf_counter()
    cli("--out", ref, *extra, stdout=subprocess.DEVNULL).wait()
    full = time.perf_counter() - t0
    expected = to_dataframe(ref)
    print(f"[kill] uninterrupted run of {points} points: {full:.1f} s, {len(expected)} rows")
    rng = random.Random(seed)
    landed = 0
    for i in range(kills):
        before = len(to_dataframe(out)) if out.exists() else 0
        proc = cli("--out", out, *extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i % 3 == 0:
            # any time, start-up included
            time.sleep(rng.uniform(0.3, max(2.0, 0.12 * full)))
        else:
            # after this run has committed rows (points run fast: a timed kill lands in the
            # start-up), so that the next run resumes a file written by several
            t_end = time.perf_counter() + full
            while proc.poll() is None and time.perf_counter() < t_end:
                if out.exists() and len(to_dataframe(out)) > before:
                    break
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.3))
        alive = proc.poll() is None
        landed += alive
        try:   # alternate: the whole job, or only the driver (its workers must then exit)
            os.killpg(proc.pid, signal.SIGKILL) if i % 2 == 0 else os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        for _ in range(300):
            try:
                os.killpg(proc.pid, 0)
                time.sleep(0.05)
            except ProcessLookupError:
                break
        else:
            print(f"[kill] {i + 1}: worker processes outlived their driver")
        rows = len(to_dataframe(out)) if out.exists() else 0
        print(f"[kill] {i + 1:2d}/{kills}: {'killed mid-run' if alive else 'had finished'}, "
              f"{'group' if i % 2 == 0 else 'driver only'}; file holds {rows} rows")
    rc = cli("--out", out, *extra, stdout=subprocess.DEVNULL).wait()
    got = to_dataframe(out)
    # a second uninterrupted run after the kills: in a working tree others edit, the simulator
    # itself may change meanwhile, and then only one of the two references can match
    ref2 = d / "kill-ref-after.h5"
    cli("--out", ref2, *extra, stdout=subprocess.DEVNULL).wait()
    after = to_dataframe(ref2)
    ok = rc == 0 and len(got) == len(expected) and got["point_id"].is_unique and same(got, expected)
    print(f"[kill] {landed} of {kills} kills landed mid-run; final rerun exit {rc}: {len(got)} rows, "
          f"each point once: {got['point_id'].is_unique}, identical to the uninterrupted run: {same(got, expected)} "
          f"(before the kills), {same(got, after)} (after them; the two references agree: {same(expected, after)})")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("time", "compare", "kill", "all"))
    ap.add_argument("--points", type=int)
    ap.add_argument("--workers", type=int)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path)
    a = ap.parse_args()
    d = a.keep or Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    d.mkdir(parents=True, exist_ok=True)
    ok = True
    try:
        if a.what in ("time", "all"):
            bench_time(d, a.points or 1000, a.workers)
        if a.what in ("compare", "all"):
            ok &= bench_compare(d, a.points or 40, a.workers)
        if a.what in ("kill", "all"):
            ok &= bench_kill(d, a.points or 40, a.workers, a.kills, a.seed)
    finally:
        if a.keep is None:
            shutil.rmtree(d, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

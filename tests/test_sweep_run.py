"""Running sweeps with the stand-in evaluation: rows, failures, worker deaths, resume after
SIGKILL, and the local and Dask executors giving the same file."""

import os
import random
import signal
import subprocess
import sys
import time

import h5py
import pytest
import yaml

from archsim.errors import ArchsimError
from archsim.sweep import load_sweep, plan, run_sweep, to_dataframe
from archsim.sweep.store import SweepStore
from archsim.sweep.toy import toy_evaluate


# what must match between runs (provenance columns differ by design: time, worker, wall_s)
def same_cols(df):
    return ["point_id", "index", "status", "error", "point"] + df.attrs["axes"] + df.attrs["metrics"]


def write_sweep(path, n_batch=10, sleep=None, extra_axes=(), **over):
    data = {"name": path.stem, "arch": "toyarch", "model": "toymodel",
            "scenario": {"input_len": 512, "output_len": 32},
            "set": {"toy.sleep": sleep} if sleep else {},
            "axes": [{"set": "scenario.batch", "range": {"start": 1, "stop": n_batch, "step": 1}},
                     {"name": "hbm", "cases": {"HBM2e": {"toy.bandwidth": "2 TB/s", "toy.memory": "24 GB"},
                                               "HBM3": {"toy.bandwidth": "3.35 TB/s", "toy.memory": "80 GB"}}},
                     *extra_axes],
            "metrics": ["decode.tokens_per_s", "decode.energy_j_per_token", "ttft_s", "capacity.max_decode_tokens"],
            **over}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_sweep(path)


def run(spec, out, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("evaluate", toy_evaluate)
    return run_sweep(spec, out, **kw)


def test_rows_statuses_and_file_layout(tmp_path):
    spec = write_sweep(tmp_path / "s.yaml", n_batch=4, extra_axes=[
        {"name": "mode", "cases": {"fine": {"toy.flops": "300 TFLOP/s"}, "bad": {"toy.error": "boom"},
                                   "huge": {"toy.weights": "500 GB"}}}])
    out = tmp_path / "s.h5"
    report = run(spec, out, workers=0)
    assert (report.total, report.ok, report.failed, report.skipped) == (24, 8, 8, 8)
    df = to_dataframe(out)
    assert list(df["index"]) == list(range(24)) and df["point_id"].is_unique
    bad = df[df["mode"] == "bad"]
    assert set(bad["status"]) == {"failed"} and set(bad["error"]) == {"ValueError: boom"}
    assert bad["decode.tokens_per_s"].isna().all()
    huge = df[df["mode"] == "huge"]
    assert set(huge["status"]) == {"skipped"} and huge["error"].str.contains("does not fit").all()
    ok = df[df["status"] == "ok"]
    assert (ok["decode.tokens_per_s"] > 0).all() and ok["scenario.batch"].dtype.kind == "i"
    assert (ok["archsim_version"] != "").all() and ok["time"].str.endswith("+00:00").all()
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "archsim.sweep" and set(f) == {"meta", "inputs", "metrics", "provenance"}
        assert "toyarch" in f.attrs["sweep_yaml"]
    # a rerun finds everything done; failed points run again only when asked
    again = run(spec, out, workers=0)
    assert (again.ran, again.reused, again.failed) == (0, 24, 8)
    retry = run(spec, out, workers=0, retry_failed=True)
    assert retry.ran == 8 and len(to_dataframe(out)) == 24


def test_constraint_fits_fail_marks_unfit_points_failed(tmp_path):
    spec = write_sweep(tmp_path / "s.yaml", n_batch=2, constraints={"fits": "fail"})
    spec.sets["toy.weights"] = "900 GB"
    r = run(spec, tmp_path / "o.h5", workers=0)
    assert r.failed == 4 and r.skipped == 0


def test_worker_death_is_retried_once_and_never_duplicated(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    spec = write_sweep(tmp_path / "s.yaml", n_batch=3, extra_axes=[
        {"name": "mode", "cases": {"fine": {"toy.flops": "300 TFLOP/s"}, "flaky": {"toy.crash_once": str(marks)},
                                   "deadly": {"toy.crash": True}}}])
    out = tmp_path / "s.h5"
    report = run(spec, out, workers=2)
    df = to_dataframe(out)
    assert len(df) == 18 and df["point_id"].is_unique
    flaky = df[df["mode"] == "flaky"]
    assert set(flaky["status"]) == {"ok"} and set(flaky["attempts"]) == {2}
    deadly = df[df["mode"] == "deadly"]
    assert set(deadly["status"]) == {"failed"} and deadly["error"].str.contains("died 3 time").all()
    assert report.worker_deaths == 6 * 1 + 6 * 3   # each flaky point once, each deadly one 3 times
    assert set(df[df["mode"] == "fine"]["attempts"]) == {1}
    # the dead points' rows are this code's: a resume keeps them failed, it does not kill
    # their workers again (unless told to retry)
    again = run(spec, out, workers=2)
    assert (again.ran, again.reused, again.stale, again.worker_deaths) == (0, 18, 0, 0)


def test_resume_is_keyed_by_resolved_config(tmp_path):
    spec = write_sweep(tmp_path / "s.yaml", n_batch=6)
    out = tmp_path / "s.h5"
    first = run(spec, out, workers=0, limit=5)
    assert first.ran == 5
    second = run(spec, out, workers=0)
    assert (second.reused, second.ran) == (5, 7)
    # another sweep with other axes may not write into this file
    other = write_sweep(tmp_path / "t.yaml", n_batch=2, metrics=["ttft_s"])
    with pytest.raises(ArchsimError, match="Use another --out"):
        run(other, out, workers=0)


def test_rows_made_by_other_code_are_rerun(tmp_path, monkeypatch):
    # a point's id is its inputs; the code that ran it decides its result too, so a rerun
    # after the simulator changed recomputes the rows the old code made
    from archsim.sweep import engine, worker
    spec = write_sweep(tmp_path / "s.yaml", n_batch=3)
    out = tmp_path / "s.h5"
    assert run(spec, out, workers=0).ran == 6
    again = run(spec, out, workers=0)
    assert (again.reused, again.ran, again.stale) == (6, 0, 0)
    assert set(engine.rows_status(out).values()) == {"ok"}
    for mod in (engine, worker):
        monkeypatch.setattr(mod, "code_identity", lambda: "changed")
    # a dry run says what the run will do: rerun them
    assert set(engine.rows_status(out).values()) == {engine.STALE}
    import contextlib
    import io
    from archsim.cli.cmd_sweep import _dry_run
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        _dry_run(engine.plan(spec, engine.identity_resolve), out)
    assert "6 points, 6 to run" in text.getvalue() and text.getvalue().count(engine.STALE) == 6
    changed = run(spec, out, workers=0)
    assert (changed.reused, changed.ran, changed.stale) == (0, 6, 6)
    assert "6 rerun: made by other code" in changed.line()
    assert set(to_dataframe(out)["code"]) == {"changed"}


def test_one_writer_at_a_time_and_stale_temporaries_go(tmp_path):
    spec = write_sweep(tmp_path / "s.yaml", n_batch=2)
    out = tmp_path / "s.h5"
    stale = tmp_path / ".s.abc123.tmp.h5"
    stale.write_bytes(b"half a file")
    store = SweepStore.open(out, spec.axis_names, spec.metrics)
    try:
        assert not stale.exists()
        with pytest.raises(ArchsimError, match="another `archsim sweep` is writing"):
            run(spec, out, workers=0)
    finally:
        store.close()
    assert run(spec, out, workers=0).ran == 4


def test_duplicate_points_run_once(tmp_path):
    spec = write_sweep(tmp_path / "s.yaml", n_batch=1, extra_axes=[
        {"set": "toy.flops", "values": [300e12, 300e12, 100e12]}])
    p = plan(spec, resolve=lambda c: c)
    assert len(p.points) == 4 and p.duplicates == 2


def _driver(spec_path, out, workers=2):
    code = ("import sys; from archsim.sweep import load_sweep, run_sweep; from archsim.sweep.toy import toy_evaluate;"
            "run_sweep(load_sweep(sys.argv[1]), sys.argv[2], evaluate=toy_evaluate, workers=int(sys.argv[3]),"
            " progress=False, commit_interval=0.02)")
    return subprocess.Popen([sys.executable, "-c", code, str(spec_path), str(out), str(workers)],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _group_gone(pgid, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def kill_and_resume(tmp_path, kills, seed, sleep=0.01):
    """Kill a sweep `kills` times at random moments (the whole job, or only its driver), then
    finish it; the file must equal an uninterrupted run, every point exactly once. `sleep` is
    each point's wall time: the sweep must outlast the kills for them to land."""
    spec_path = tmp_path / "k.yaml"
    spec = write_sweep(spec_path, n_batch=60, sleep=sleep)
    ref = tmp_path / "ref.h5"
    run(spec, ref, workers=2)
    expected = to_dataframe(ref)
    out = tmp_path / "k.h5"
    rng = random.Random(seed)
    landed = 0
    for i in range(kills):
        proc = _driver(spec_path, out)
        time.sleep(rng.uniform(0.05, 1.2))
        if proc.poll() is None:
            landed += 1
        try:   # alternate: the whole process group, or only the driver (workers must then exit)
            os.killpg(proc.pid, signal.SIGKILL) if i % 2 == 0 else os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        assert _group_gone(proc.pid), "worker processes outlived their driver"
        if out.exists():   # whatever moment the kill hit, the file reads and holds only true rows
            part = to_dataframe(out)
            assert part["point_id"].is_unique
            merged = part[same_cols(part)].merge(expected[same_cols(expected)], how="left", indicator=True)
            assert (merged["_merge"] == "both").all()
    proc = _driver(spec_path, out)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    got = to_dataframe(out)
    assert len(got) == len(expected) == 120 and got["point_id"].is_unique
    assert got[same_cols(got)].equals(expected[same_cols(expected)])
    return landed


def test_sigkill_at_random_moments_then_resume(tmp_path):
    assert kill_and_resume(tmp_path, kills=3, seed=1) >= 1


@pytest.mark.slow
def test_sigkill_twenty_times_then_resume(tmp_path):
    # 120 points of 0.15 s on two workers: a kill after 0.05-1.2 s finishes about 7 of them,
    # so most of the twenty land in a running sweep however fast the driver starts
    assert kill_and_resume(tmp_path, kills=20, seed=20, sleep=0.15) >= 10


def test_local_and_dask_give_identical_files(tmp_path):
    spec = write_sweep(tmp_path / "s.yaml", n_batch=8, extra_axes=[
        {"name": "mode", "cases": {"fine": {"toy.flops": "300 TFLOP/s"}, "bad": {"toy.error": "boom"}}}])
    local, dask = tmp_path / "local.h5", tmp_path / "dask.h5"
    a = run(spec, local, executor="local", workers=2)
    b = run(spec, dask, executor="dask", workers=2)
    assert (a.ok, a.failed, a.skipped) == (b.ok, b.failed, b.skipped) and a.total == 32
    da, db = to_dataframe(local), to_dataframe(dask)
    assert da[same_cols(da)].equals(db[same_cols(db)])
    assert b.executor.startswith("dask LocalCluster")


def test_executor_options_are_checked(tmp_path):
    spec = write_sweep(tmp_path / "s.yaml", n_batch=1)
    with pytest.raises(ArchsimError, match="--scheduler is for --executor dask"):
        run(spec, tmp_path / "o.h5", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ArchsimError, match="unknown executor"):
        run(spec, tmp_path / "o.h5", executor="slurm")


def test_a_store_cleans_only_its_own_temporaries(tmp_path):
    from archsim.sweep.store import SweepStore
    mine, other = tmp_path / ".res.ab12cd34.tmp.h5", tmp_path / ".res.x.ab12cd34.tmp.h5"
    mine.touch()
    other.touch()          # res.x.h5's, whose writer holds another lock
    SweepStore.open(tmp_path / "res.h5", ["a"], ["m"], {"name": "t"}).close()
    assert not mine.exists() and other.exists()


def test_the_pareto_front_keeps_tied_points():
    import pandas as pd
    from archsim.sweep import pareto_front
    df = pd.DataFrame({"tps": [10.0, 10.0, 8.0, 12.0], "jpt": [1.0, 1.0, 0.5, 2.0], "id": [0, 1, 2, 3]})
    front = pareto_front(df, "tps", "jpt")
    assert sorted(front["id"]) == [0, 1, 2, 3]
    worse = pd.concat([df, pd.DataFrame({"tps": [9.0], "jpt": [1.5], "id": [4]})])
    assert 4 not in set(pareto_front(worse, "tps", "jpt")["id"])



def test_a_boolean_axis_reads_back_as_booleans(tmp_path):
    # true/false were stored as the text 'true'/'false', so `where: flag == True` never matched
    st = SweepStore.open(tmp_path / "b.h5", ["flag"], ["m"], {"name": "b", "sweep_file": "x", "sweep_yaml": "x",
                                                             "fidelity": "analytic"})
    for i, f in enumerate([True, False]):
        st.put({"point_id": f"p{i}", "index": i, "status": "ok", "error": "", "attempts": 1, "point": "{}",
                "flag": f, "m": 1.0})
    st.commit(force=True)
    st.close()
    df = to_dataframe(tmp_path / "b.h5")
    assert df["flag"].tolist() == [True, False] and df["flag"].dtype == bool

"""The HDF5 result file of a sweep: one row per point, valid after a crash at any moment.

Layout (format 'archsim.sweep', version 1), every group one 1-D dataset per column, in the
order its `columns` attribute lists:
  /meta         point_id, index, status (ok|skipped|failed), error, attempts, point (the case, JSON)
  /inputs       one column per axis
  /metrics      one column per metric (NaN where a point failed or was skipped)
  /provenance   archsim_version, git_revision, code (a hash of the simulator's source), time
                (UTC, ISO 8601), wall_s, worker, result
  attributes    format, format_version, name, axes, metrics, sweep_file, sweep_yaml, created, updated

Crash safety: the file is never modified in place. Each commit writes the whole table to a
temporary file beside it and renames it over the old one (archsim.results.atomic), so a
reader, or a rerun after SIGKILL, sees either the previous commit or the new one. Rows live
in memory keyed by point id, so a point is stored once however often it ran. One writer at
a time: a lock file beside the results (`.NAME.lock`) is held while a sweep writes.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import time
from pathlib import Path

import h5py
import numpy as np

from archsim import __version__
from archsim.errors import ArchsimError
from archsim.results.atomic import atomic_path, cannot_write

FORMAT = "archsim.sweep"
FORMAT_VERSION = 1
META = ("point_id", "index", "status", "error", "attempts", "point")
PROVENANCE = ("archsim_version", "git_revision", "code", "time", "wall_s", "worker", "result")
STATUSES = ("ok", "skipped", "failed")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _text(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)


def _column(values: list):
    """Numbers stay numbers (int64 if all are ints, else float64 with NaN for gaps), true/false
    stay booleans; else text."""
    present = [v for v in values if v is not None]
    if values and all(isinstance(v, (bool, np.bool_)) for v in values):
        return np.asarray(values, dtype=bool)
    if present and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.int64)
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in present) \
            and (present or not values):
        return np.asarray([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    return np.asarray([_text(v) for v in values], dtype=object)


def _write_group(f, name: str, columns: list[str], rows: list[dict]) -> None:
    g = f.create_group(name)
    g.attrs["columns"] = json.dumps(columns)
    for col in columns:
        arr = _column([r.get(col) for r in rows])
        if arr.dtype == object:
            g.create_dataset(col, data=arr, dtype=h5py.string_dtype("utf-8"))
        else:
            g.create_dataset(col, data=arr)


def _read_group(g) -> dict:
    cols = json.loads(g.attrs["columns"]) if "columns" in g.attrs else list(g)
    out = {}
    for col in cols:
        ds = g[col]
        out[col] = ds.asstr()[()] if h5py.check_string_dtype(ds.dtype) else ds[()]
    return out


def read_table(path) -> tuple[dict, dict]:
    """(file attributes, {group: {column: array}}) of a sweep file; ArchsimError if not one."""
    from archsim.results.hdf5_io import open_archsim_h5
    path = Path(path)
    with open_archsim_h5(path, FORMAT, FORMAT_VERSION, "sweep") as f:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item") else v)
                 for k, v in f.attrs.items()}
        for k in ("axes", "metrics"):
            attrs[k] = json.loads(attrs.get(k, "[]"))
        groups = {name: _read_group(f[name]) for name in ("meta", "inputs", "metrics", "provenance") if name in f}
    return attrs, groups


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def is_sweep_file(path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == FORMAT
    except (OSError, ValueError):
        return False


class _Lock:
    """An exclusive flock on `.NAME.lock` beside the results; released when the process ends."""

    def __init__(self, path: Path):
        self.target = path
        self.path = path.with_name(f".{path.name}.lock")
        self.fd = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:   # no flock on this platform: one writer is the user's promise
            return
        while True:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:      # e.g. a part of the folder path is a file
                raise cannot_write(exc, self.target) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise ArchsimError("another `archsim sweep` is writing this file; wait for it or use "
                                   "another --out", self.target) from None
            try:   # the file we locked may have been removed by a writer that just finished
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        self.fd = fd
        os.write(fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None


def check_same_sweep(path, attrs: dict, axes: list, metrics: list) -> None:
    """A results file takes the rows of one sweep shape only (its axes and metrics)."""
    if attrs["axes"] != axes or attrs["metrics"] != metrics:
        raise ArchsimError(
            f"holds sweep {attrs.get('name')!r} with axes {attrs['axes']} and metrics {attrs['metrics']}; "
            f"this sweep has axes {axes} and metrics {metrics}. Use another --out", path)


class SweepStore:
    """The rows of one sweep file, in memory; `commit()` makes them durable."""

    def __init__(self, path, axes: list[str], metrics: list[str], info: dict | None = None):
        self.path = Path(path)
        self.axes = list(axes)
        self.metrics = list(metrics)
        self.info = dict(info or {})
        self.rows: dict[str, dict] = {}
        self.created = _now()
        self.dirty = True
        self.last_commit_s = 0.0
        self._lock = _Lock(self.path)

    @classmethod
    def open(cls, path, axes, metrics, info=None, lock: bool = True) -> "SweepStore":
        """Open for writing: existing rows are kept (their axes and metrics must match)."""
        store = cls(path, axes, metrics, info)
        if lock:
            store._lock.acquire()
        try:
            store._clean_temporaries()
            if store.path.exists():
                store._load()
        except BaseException:
            store.close()
            raise
        return store

    def _clean_temporaries(self) -> None:
        # a commit cut short by a crash leaves its temporary file; we hold the lock, so none is live
        ours = re.compile(rf"\.{re.escape(self.path.stem)}\.[^.]+\.tmp{re.escape(self.path.suffix)}")
        for tmp in self.path.parent.glob(f".{self.path.stem}.*.tmp{self.path.suffix}"):
            if not ours.fullmatch(tmp.name):
                continue        # another file's (e.g. res.x.h5's for res.h5)
            try:
                tmp.unlink()
            except OSError:
                pass

    def _load(self) -> None:
        attrs, groups = read_table(self.path)
        check_same_sweep(self.path, attrs, self.axes, self.metrics)
        self.created = attrs.get("created", self.created)
        n = len(groups.get("meta", {}).get("point_id", []))
        for i in range(n):
            row = {}
            for g in groups.values():
                for col, arr in g.items():
                    row[col] = _plain(arr[i])
            self.rows[row["point_id"]] = row
        self.dirty = False

    # --- rows ------------------------------------------------------------------------------
    def __contains__(self, point_id) -> bool:
        return point_id in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def made_by(self, point_id) -> str:
        """The code identity of the row's run ('' for rows of files without one)."""
        row = self.rows.get(point_id)
        return "" if row is None else str(row.get("code") or "")

    def status(self, point_id) -> str | None:
        row = self.rows.get(point_id)
        return None if row is None else row["status"]

    def put(self, row: dict) -> None:
        if row.get("status") not in STATUSES:
            raise ValueError(f"bad status in row: {row.get('status')!r}")
        self.rows[row["point_id"]] = row
        self.dirty = True

    def set_index(self, order: dict, drop_others: bool = True) -> None:
        """Number rows by their place in the current sweep; rows it no longer has get -1."""
        for pid, row in self.rows.items():
            if pid not in order and not drop_others:
                continue
            new = order.get(pid, -1)
            if row.get("index") != new:
                row["index"] = new
                self.dirty = True

    def counts(self) -> dict:
        out = dict.fromkeys(STATUSES, 0)
        for row in self.rows.values():
            out[row["status"]] += 1
        return out

    # --- durability ------------------------------------------------------------------------
    def commit(self, force: bool = False) -> None:
        if not (self.dirty or force):
            return
        t0 = time.perf_counter()
        rows = sorted(self.rows.values(), key=lambda r: (r["index"] < 0, r["index"], r["point_id"]))
        with atomic_path(self.path) as tmp:
            with h5py.File(tmp, "w") as f:
                f.attrs["format"] = FORMAT
                f.attrs["format_version"] = FORMAT_VERSION
                f.attrs["axes"] = json.dumps(self.axes)
                f.attrs["metrics"] = json.dumps(self.metrics)
                f.attrs["created"] = self.created
                f.attrs["updated"] = _now()
                f.attrs["archsim_version"] = __version__
                for k, v in self.info.items():
                    f.attrs[k] = v if isinstance(v, (str, int, float)) else json.dumps(v)
                _write_group(f, "meta", list(META), rows)
                _write_group(f, "inputs", self.axes, rows)
                _write_group(f, "metrics", self.metrics, rows)
                _write_group(f, "provenance", list(PROVENANCE), rows)
        self.dirty = False
        self.last_commit_s = time.perf_counter() - t0

    def close(self) -> None:
        self._lock.release()


def to_dataframe(path, status: str | None = None):
    """A sweep file as a pandas DataFrame, one row per point in sweep order.

    Columns: point_id, index, status, the axes, the metrics, then error, attempts, point and
    provenance. `df.attrs` holds the sweep's name, axes and metrics. `status='ok'` keeps only
    the points that ran to the end.
    """
    import pandas as pd

    attrs, groups = read_table(path)
    cols: dict = {}
    meta = groups.get("meta", {})
    for c in ("point_id", "index", "status"):
        cols[c] = meta.get(c, [])
    for g in ("inputs", "metrics"):
        for c, arr in groups.get(g, {}).items():
            cols[c] = arr
    for c in ("error", "attempts", "point"):
        cols[c] = meta.get(c, [])
    for c, arr in groups.get("provenance", {}).items():
        cols[c] = arr
    df = pd.DataFrame(cols)
    if status is not None:
        df = df[df["status"] == status].reset_index(drop=True)
    df.attrs.update(name=attrs.get("name", ""), axes=attrs["axes"], metrics=attrs["metrics"],
                    sweep_file=attrs.get("sweep_file", ""))
    return df

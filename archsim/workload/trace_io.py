"""Trace files: HDF5 (.h5/.hdf5) for size, CSV (.csv) for people.

HDF5: one dataset per column at the root (int64, or fixed-length byte strings for string
columns), file attributes `schema_version` and `meta` (the trace metadata as JSON).
CSV: `# archsim-trace schema_version=1`, then `# meta: {...}` (JSON), then a header row of
the column names and one row per op. Hand-written CSVs may omit the comment lines
(schema_version 1 is assumed).

Writes are atomic (a temporary file in the same folder, then os.replace), so a crash never
leaves a half-written trace under the final name. Reads validate the table and raise
TraceError naming the file, the column and the reason.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from archsim.errors import TraceError
from archsim.results.atomic import atomic_path
from archsim.workload.trace import COLUMNS, SCHEMA_VERSION, Trace

_HDF5 = (".h5", ".hdf5")
_MAGIC = "# archsim-trace"


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _HDF5:
        return "hdf5"
    if suffix == ".csv":
        return "csv"
    raise TraceError(f"unknown trace format {suffix or '(no extension)'!r}; use .h5, .hdf5 or .csv", path)


def _meta_json(meta: dict) -> str:
    return json.dumps({**meta, "schema_version": int(meta.get("schema_version", SCHEMA_VERSION))},
                      default=str, sort_keys=True)


def write_trace(trace: Trace, path) -> Path:
    """Write `trace` to `path` (.h5/.hdf5 or .csv), atomically; returns the path."""
    path = Path(path)
    kind = _kind(path)
    with atomic_path(path) as tmp:
        (_write_hdf5 if kind == "hdf5" else _write_csv)(trace, tmp)
    return path


def _write_hdf5(trace: Trace, path: Path) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["schema_version"] = int(trace.meta.get("schema_version", SCHEMA_VERSION))
        f.attrs["meta"] = _meta_json(trace.meta)
        for col, kind in COLUMNS.items():
            values = np.asarray(trace[col])
            if kind == "str":
                data = _encode(values.astype(str)) if len(values) else np.zeros(0, "S1")
            else:
                data = values.astype(np.int64)
            big = len(data) > 4096  # compression only pays for itself on long traces
            f.create_dataset(col, data=data, compression="gzip" if big else None,
                             compression_opts=1 if big else None, shuffle=big and kind == "int")


def _write_csv(trace: Trace, path: Path) -> None:
    version = int(trace.meta.get("schema_version", SCHEMA_VERSION))
    with open(path, "w", newline="") as fh:
        fh.write(f"{_MAGIC} schema_version={version}\n")
        fh.write(f"# meta: {_meta_json(trace.meta)}\n")
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(zip(*(np.asarray(trace[c]).tolist() for c in COLUMNS)))


def read_trace(path) -> Trace:
    """Read and validate a trace file written by write_trace (or a hand-made CSV)."""
    path = Path(path)
    if path.is_dir():
        raise TraceError("is a folder, not a trace file", path)
    kind = _kind(path)
    if not path.is_file():
        raise TraceError("no such trace file", path)
    try:
        cols, meta, first_line = _read_hdf5(path) if kind == "hdf5" else _read_csv(path)
    except UnicodeDecodeError as exc:
        raise TraceError(f"not UTF-8 text (byte {exc.start})", path) from None
    version = meta.get("schema_version", SCHEMA_VERSION)
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise TraceError(f"schema_version {version!r} is not an integer", path, "schema_version") from None
    meta["schema_version"] = version
    trace = Trace(cols, meta, str(path.resolve()))
    trace.validate(str(path), first_line)
    trace.check_flops(str(path), first_line)
    trace.check_meta_weights(str(path))
    trace.moe_experts(str(path))
    return trace


def _read_hdf5(path: Path) -> tuple[dict, dict, None]:
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise TraceError(f"cannot read as HDF5: {exc}", path) from None
    with f:
        meta = _parse_meta(f.attrs.get("meta"), path)
        if "schema_version" in f.attrs:
            meta["schema_version"] = f.attrs["schema_version"]
        _no_unknown_columns(list(f), path)
        cols = {}
        for col, kind in COLUMNS.items():
            if col not in f:
                continue
            if not isinstance(f[col], h5py.Dataset):
                raise TraceError("expected a dataset (one value per row), found a group", path, col)
            if f[col].ndim != 1:
                raise TraceError(f"expected one value per row, found a {f[col].ndim}-D dataset of "
                                 f"shape {f[col].shape}", path, col)
            data = f[col][()]
            if data.dtype.kind == "u" and len(data) and data.max() > np.iinfo(np.int64).max:
                raise TraceError(f"value {int(data.max())} in row {int(np.argmax(data))} is past the "
                                 "int64 range", path, col)
            if kind == "str":
                if data.dtype.kind in ("S", "O"):
                    data = _decode(data.astype("S"))
                cols[col] = data.astype(str).astype(object)
            elif data.dtype.kind not in "iu":
                raise TraceError(f"expected integers, found {data.dtype} data", path, col)
            else:
                cols[col] = data.astype(np.int64)
    return cols, meta, None


def _no_unknown_columns(names, path: Path) -> None:
    """A column the schema does not have would be dropped unread: refuse it (a typo of a
    real column would otherwise pass as that column missing, or worse, unnoticed)."""
    unknown = [c for c in names if c not in COLUMNS]
    if unknown:
        raise TraceError(f"unknown column(s) {', '.join(unknown)}; the schema's columns are "
                         f"{', '.join(COLUMNS)}", path, unknown[0])


def _encode(text: np.ndarray) -> np.ndarray:
    try:
        return text.astype("S")  # fast path: ASCII
    except UnicodeEncodeError:
        return np.char.encode(text, "utf-8")


def _decode(raw: np.ndarray) -> np.ndarray:
    try:
        return raw.astype(str)
    except UnicodeDecodeError:
        return np.char.decode(raw, "utf-8")


def _parse_meta(text, path: Path) -> dict:
    if text is None:
        return {}
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(f"meta is not valid JSON ({exc.msg})", path, "meta") from None
    if not isinstance(meta, dict):
        raise TraceError("meta must be a JSON object", path, "meta")
    return meta


def _read_csv(path: Path) -> tuple[dict, dict, int]:
    """Columns, meta and the file line (1-based) of the first data row."""
    import pandas as pd  # its C parser reads a million-row trace in about a second

    meta: dict = {}
    version, skip, header = None, 0, None
    with open(path, newline="", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(_MAGIC):
                for part in line[len(_MAGIC):].split():
                    key, _, value = part.partition("=")
                    if key == "schema_version":
                        version = value
            elif line.startswith("# meta:"):
                meta = _parse_meta(line[len("# meta:"):], path)
            elif not (line.startswith("#") or not line.strip()):
                header = [h.strip() for h in next(csv.reader([line]))]
                break
            skip += 1
    if header is None:
        raise TraceError("no header row", path)
    _no_unknown_columns(header, path)
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        # pandas would rename the second copy and read the first: refuse the ambiguity
        raise TraceError(f"column named twice in the header (line {skip + 1})", path, twice[0])
    if version is not None:  # the first line wins over the JSON copy
        meta["schema_version"] = version

    def read(typed: bool):
        dtype = {c: (np.int64 if typed and COLUMNS.get(c) == "int" else str) for c in header}
        return pd.read_csv(path, skiprows=skip, dtype=dtype, na_filter=False, skipinitialspace=True)

    try:
        try:
            df = read(typed=True)
        except (ValueError, OverflowError) as exc:
            if isinstance(exc, pd.errors.ParserError):
                raise
            df = read(typed=False)
            _find_bad_int(df, path, skip + 2)
            raise TraceError(f"cannot read integers ({exc})", path) from None
    except pd.errors.ParserError as exc:
        raise TraceError(f"malformed CSV: {str(exc).strip().splitlines()[-1]}", path) from None
    cols = {}
    for col, kind in COLUMNS.items():
        if col in df:
            cols[col] = df[col].to_numpy(dtype=np.int64 if kind == "int" else object)
    return cols, meta, skip + 2


def _find_bad_int(df, path: Path, first_line: int) -> None:
    """Raise a TraceError naming the first non-integer value of an int column."""
    for col, kind in COLUMNS.items():
        if kind != "int" or col not in df:
            continue
        for i, v in enumerate(df[col].tolist()):
            try:
                if -2 ** 63 <= int(v) < 2 ** 63:
                    continue
                reason = "lies outside the 64-bit integer range"
            except (TypeError, ValueError):
                reason = "is not an integer"
            raise TraceError(f"line {first_line + i}: {v!r} {reason}", path, col)

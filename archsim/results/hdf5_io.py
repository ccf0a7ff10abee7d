"""A run result in one HDF5 file, read back exactly.

Layout (format 'archsim.result', version 1):
  /summary        UTF-8 string: the `--format json` summary
  /config         UTF-8 string: the fully resolved arch config (JSON)
  /provenance     UTF-8 string: who wrote the file, when, with which archsim
  /timeline/<col> one dataset per timeline column, in order (group attribute `columns`);
                  text columns are fixed-length UTF-8 byte strings
JSON text keeps every float bit-exact (Python writes the shortest repr that reads back to the
same double); tuples are tagged so that they come back as tuples.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from pathlib import Path

import h5py
import numpy as np

from archsim import __version__
from archsim.errors import ArchsimError
from archsim.results.atomic import atomic_path

FORMAT = "archsim.result"
FORMAT_VERSION = 1
_TUPLE = "__tuple__"
_COMPRESS_FROM = 4096   # rows; smaller columns are not worth a chunked layout


def _tag(obj):
    """JSON-ready copy: tuples tagged, numpy scalars and arrays made plain Python."""
    if isinstance(obj, dict):
        return {str(k): _tag(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return {_TUPLE: [_tag(v) for v in obj]}
    if isinstance(obj, list):
        return [_tag(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _tag(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _untag(obj: dict):
    if len(obj) == 1 and _TUPLE in obj:
        return tuple(obj[_TUPLE])
    return obj


def dumps(obj) -> str:
    """JSON text that `loads` turns back into an equal object (tuples and NaN included)."""
    return json.dumps(_tag(obj), allow_nan=True, default=str)   # an odd object must not lose a run


def loads(text: str):
    return json.loads(text, object_hook=_untag)


def _str_column(values: np.ndarray) -> np.ndarray:
    encoded = [str(v).encode("utf-8") for v in values.tolist()]
    width = max((len(e) for e in encoded), default=0)
    return np.array(encoded, dtype=f"S{max(width, 1)}")


def _write_column(group, name: str, values) -> None:
    arr = np.asarray(values)
    kwargs = {}
    if arr.ndim == 1 and arr.shape[0] >= _COMPRESS_FROM:
        kwargs = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    if arr.dtype.kind in ("O", "U", "S"):
        data = _str_column(arr)
        data = data.astype(h5py.string_dtype("utf-8", data.dtype.itemsize))   # marks the HDF5 text UTF-8
        ds = group.create_dataset(name, data=data, **kwargs)
        ds.attrs["numpy_kind"] = "U" if arr.dtype.kind == "U" else "O"   # to restore the array type
    else:
        group.create_dataset(name, data=arr, **kwargs)


def _read_column(ds) -> np.ndarray:
    data = ds[()]
    if data.dtype.kind == "S":
        text = [b.decode("utf-8") for b in data.tolist()]
        return np.array(text, dtype=str if ds.attrs.get("numpy_kind") == "U" else object)
    return data


def write_result_h5(result, path) -> None:
    """Write `result` (a RunResult) to `path` atomically."""
    prov = {"format": FORMAT, "format_version": FORMAT_VERSION, "archsim_version": __version__,
            "written_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "host": platform.node(), "run": result.summary.get("provenance")}
    text_dt = h5py.string_dtype("utf-8")
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.create_dataset("summary", data=dumps(result.summary), dtype=text_dt)
            f.create_dataset("config", data=dumps(result.config), dtype=text_dt)
            f.create_dataset("provenance", data=dumps(prov), dtype=text_dt)
            g = f.create_group("timeline")
            g.attrs["columns"] = json.dumps(list(result.timeline))
            for name, values in result.timeline.items():
                _write_column(g, name, values)


def open_archsim_h5(path, fmt: str, max_version: int, what: str):
    """Open an archsim HDF5 file for reading after checking its `format` and version attributes."""
    if Path(path).is_dir():
        raise ArchsimError("is a folder, not a file", path)
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        # h5py's messages run over several lines: keep the first
        raise ArchsimError(f"cannot read as HDF5: {str(exc).splitlines()[0].strip()}", path) from None
    if f.attrs.get("format") != fmt:
        f.close()
        raise ArchsimError(f"not an archsim {what} file (no `format: {fmt}` attribute)", path)
    version = int(f.attrs.get("format_version", 0))
    if version > max_version:
        f.close()
        raise ArchsimError(f"format_version {version} is newer than this archsim reads ({max_version})",
                           path, "format_version")
    return f


def read_result_h5(path):
    """Read a file written by write_result_h5 back into a RunResult."""
    from archsim.system.simulate import RunResult

    with open_archsim_h5(path, FORMAT, FORMAT_VERSION, "result") as f:
        for key in ("summary", "config", "timeline"):
            if key not in f:
                raise ArchsimError("missing from the result file", path, key)
        summary = loads(f["summary"].asstr()[()])
        config = loads(f["config"].asstr()[()])
        g = f["timeline"]
        names = json.loads(g.attrs["columns"]) if "columns" in g.attrs else list(g)
        timeline = {name: _read_column(g[name]) for name in names}
    return RunResult(summary, timeline, config)


def read_provenance(path) -> dict:
    """The writer's provenance record of a result file."""
    with h5py.File(path, "r") as f:
        return loads(f["provenance"].asstr()[()]) if "provenance" in f else {}

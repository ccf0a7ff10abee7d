"""What plot modules share: reading sources, checking options, saving figures.

For authors of a plot kind: `load_source(source)` gives a Source (kind sweep | run | trace),
`check_opts(KIND, opts, OPTIONS)` fills defaults and refuses unknown options, `new_figure()`
and `save(fig, out)` draw without pyplot state and write atomically (.png, .svg, .pdf).
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from archsim.errors import ArchsimError, ConfigError

FORMATS = (".png", ".svg", ".pdf")


@dataclass
class Source:
    kind: str                 # 'sweep' (a DataFrame), 'run' (a summary dict), 'trace' (trace events)
    data: object
    name: str = ""
    result: object = None     # the RunResult, where the source had one (it holds the timeline)


def load_source(source) -> Source:
    """A sweep file, a run result (HDF5 or JSON), a Perfetto trace, or such an object loaded."""
    import pandas as pd

    if isinstance(source, Source):
        return source
    if isinstance(source, pd.DataFrame):
        return Source("sweep", source, source.attrs.get("name", "sweep"))
    if hasattr(source, "summary") and hasattr(source, "timeline"):   # a RunResult
        return Source("run", source.summary, "run", source)
    if isinstance(source, dict):
        if "traceEvents" in source:
            return Source("trace", source["traceEvents"], "trace")
        return Source("run", source, "run")
    path = Path(source)
    if not path.is_file():
        raise ArchsimError("no such results file", path)
    if path.suffix.lower() in (".h5", ".hdf5"):
        from archsim.sweep.store import is_sweep_file, to_dataframe
        if is_sweep_file(path):
            return Source("sweep", to_dataframe(path), path.stem)
        from archsim.results.hdf5_io import read_result_h5
        result = read_result_h5(path)
        return Source("run", result.summary, path.stem, result)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ArchsimError(f"cannot read as JSON: {exc}", path) from None
        if isinstance(data, list):   # the bare-array form of the trace-event format
            return Source("trace", data, path.stem)
        if isinstance(data, dict) and "traceEvents" in data:
            return Source("trace", data["traceEvents"], path.stem)
        if isinstance(data, dict) and ("breakdown" in data or "ops" in data):
            return Source("run", data, path.stem)
        raise ArchsimError("not an archsim run result (`archsim run --format json`) or a Perfetto trace", path)
    raise ArchsimError("expected a .h5 (sweep or run results) or a .json (run result or Perfetto trace)", path)


def need(src: Source, kind: str, *allowed: str) -> None:
    if src.kind not in allowed:
        what = {"sweep": "a sweep results file", "run": "a run result", "trace": "a Perfetto trace"}
        raise ConfigError(f"{kind} plots read {' or '.join(what[a] for a in allowed)}; got {what[src.kind]}",
                          src.name or "source")


def check_opts(kind: str, opts: dict, allowed: dict) -> dict:
    """Fill defaults from `allowed` (name -> default) and refuse unknown options."""
    unknown = sorted(set(opts) - set(allowed))
    if unknown:
        # `archsim plot` has flags for these; the rest come from --opt KEY=VALUE
        flags = ("x", "y", "z", "hue", "where", "logx", "logy", "title")
        raise ConfigError(f"{kind} plots take {', '.join(sorted(allowed)) or 'no options'}; "
                          f"unknown: {', '.join(unknown)}",
                          f"--{unknown[0]}" if unknown[0] in flags else "--opt")
    o = {**allowed, **{k: v for k, v in opts.items() if v is not None}}
    for k, default in allowed.items():   # a flag stays a flag and a count a count
        v = o[k]
        if isinstance(default, bool):
            if not isinstance(v, bool):
                raise ConfigError(f"expected true or false, got {v!r}", f"--opt {k}")
        elif isinstance(default, int) and (isinstance(v, bool) or not isinstance(v, int)):
            raise ConfigError(f"expected an integer, got {v!r}", f"--opt {k}")
    return o


def number_opt(o: dict, name: str, low: float | None = 0.0, integer: bool = False):
    """Option `name` as a finite number, >= `low` unless that is None (None stays None)."""
    v = o[name]
    if v is None:
        return None
    if isinstance(v, str):      # YAML reads 2e4 (no point, no sign) as text
        try:
            f = float(v)
            v = int(f) if integer and f.is_integer() else f
        except ValueError:
            pass
    ok = not isinstance(v, bool) and isinstance(v, int if integer else (int, float))
    if not ok or not math.isfinite(v) or (low is not None and v < low):
        what = ("an integer" if integer else "a finite number") + (f" >= {low:g}" if low is not None else "")
        raise ConfigError(f"expected {what}, got {v!r}", f"--opt {name}")
    return v


def style_opt(name: str, value, make):
    """`make(value)` (a matplotlib marker, colour map, ...), its ValueError as a bad --opt."""
    try:
        return make(value)
    except (ValueError, TypeError, KeyError) as exc:
        reason = str(exc).split(";")[0].strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"not a valid {name}: {reason}", f"--opt {name}") from None


def out_path(out) -> Path:
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise ConfigError(f"the figure format comes from the name; use one of {', '.join(FORMATS)}", out)
    return out


def new_figure(width: float = 7.0, height: float = 4.5, ncols: int = 1, nrows: int = 1):
    """A Figure not tied to pyplot (no global state, no display needed)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def save(fig, out) -> Path:
    from archsim.results.atomic import atomic_path

    out = out_path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format=out.suffix[1:].lower(), dpi=150)
    return out


# --- sweep tables ------------------------------------------------------------------------------
def sweep_frame(src: Source, where: str | None = None, ok_only: bool = True):
    """The sweep's rows (finished ones by default), filtered by a constraint-style expression.
    Rows of points the sweep no longer has (`index` -1, kept from an earlier version of it)
    are left out: they may differ in a setting no column shows."""
    df = src.data
    if "index" in df:
        df = df[df["index"] >= 0]
    if ok_only and "status" in df:
        df = df[df["status"] == "ok"]
    if where:
        import json
        from archsim.sweep.expr import Expression

        def env(row):
            # a set path holds what was set ('1.41 GHz' of a `unit:` axis, compared in SI
            # units as in the sweep's own `where`), not the column's bare number
            try:
                sets = json.loads(row.get("point") or "{}").get("sets", {})
            except (TypeError, ValueError):
                sets = {}
            return {**row, **sets}
        rows = [env(row) for row in df.to_dict("records")]
        # the set paths too: a named `unit:` axis's column is its name, its path the setting
        expr = Expression(where, set(df.columns).union(*(r.keys() for r in rows)), "--where")
        mask = [expr(r) for r in rows]
        df = df[mask]
    if df.empty:
        raise ConfigError("no finished points to plot" + (f" where {where}" if where else ""), src.name)
    return df.reset_index(drop=True)


def axes_of(df) -> list[str]:
    return [a for a in df.attrs.get("axes", []) if a in df.columns]


def metrics_of(df) -> list[str]:
    return [m for m in df.attrs.get("metrics", []) if m in df.columns]


def column(df, name, what: str, default=None) -> str:
    name = name or default
    if name is None:
        raise ConfigError(f"name the {what} (one of: {', '.join(map(str, df.columns))})", f"--{what}")
    if name not in df.columns:
        import difflib
        close = difflib.get_close_matches(name, list(df.columns), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(axes_of(df) + metrics_of(df)) or ", ".join(df.columns)
        raise ConfigError(f"{name!r} is not a column of this sweep{hint}; columns: {known}", f"--{what}")
    if df[name].isna().all():   # nothing to draw: a metric no point of the sweep has
        raise ConfigError(f"{name!r} has no value in any row plotted (all NaN)", f"--{what}")
    return name


def varying(df, exclude) -> list[str]:
    """Axes other than `exclude` that take more than one value in `df`."""
    return [a for a in axes_of(df) if a not in exclude and df[a].nunique(dropna=False) > 1]


def label(name: str) -> str:
    """Axis label with a unit guessed from the metric's name."""
    units = (("tokens_per_s", "tokens/s"), ("energy_j_per_token", "J/token"), ("seconds_per_token", "s"),
             ("energy_j", "J"), ("seconds", "s"), ("_s", "s"), ("bytes", "B"))
    for suffix, unit in units:
        if name.endswith(suffix):
            return f"{name} [{unit}]"
    return name


def numeric(series) -> bool:
    import pandas as pd
    return pd.api.types.is_numeric_dtype(series)


def si_values(series):
    """The series as numbers: itself if numeric, else its quantities ('1.41 GHz', '2 TB/s')
    in SI units when every value reads as one kind of quantity; None otherwise."""
    import pandas as pd
    from archsim.units import KINDS, parse_quantity
    if numeric(series):
        return series
    for kind in KINDS:
        try:
            return pd.Series([parse_quantity(str(v), kind) for v in series], index=series.index)
        except ValueError:
            continue
    return None


def run_from_sweep(src: Source, point) -> Source:
    """The kept result of one sweep point (by its index) as a run source."""
    df = src.data
    try:
        index = int(point)
    except (TypeError, ValueError):
        raise ConfigError(f"expected a point index, got {point!r}", "--opt point") from None
    if isinstance(point, bool) or (index != point and str(index) != str(point).strip()):   # not 3.7
        raise ConfigError(f"expected a point index, got {point!r}", "--opt point")
    rows = df[df["index"] == index]
    if rows.empty:
        raise ConfigError(f"the sweep has no point {index}", "--opt point")
    text = rows["result"].iloc[0] if "result" in rows else ""
    if not text:
        status = str(rows["status"].iloc[0]) if "status" in rows else "ok"
        if status != "ok":
            raise ConfigError(f"point {index} has no result: it was {status}", src.name)
        raise ConfigError(f"point {index} kept no result; set `keep_result: true` in the sweep file", src.name)
    return Source("run", json.loads(text), f"{src.name}[{index}]")


# --- the machine of a run result ------------------------------------------------------------------
def _yaml_safe(obj):
    if isinstance(obj, dict):
        return {str(k): _yaml_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_yaml_safe(v) for v in obj]
    if hasattr(obj, "item"):
        return obj.item()
    return obj


def system_from_summary(summary: dict):
    """The machine a run result ran on, rebuilt from its resolved config."""
    import yaml
    from archsim.system.arch import load_arch
    from archsim.system.system import System

    cfg = summary.get("config")
    if not isinstance(cfg, dict):
        raise ConfigError("the run result has no resolved config (`config`); rerun with a current archsim",
                          "source", "config")
    cfg = _yaml_safe(copy.deepcopy(cfg))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"{cfg.get('name', 'arch')}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        arch = load_arch(str(path))
    return System(arch, summary.get("fidelity", "cycle"))

"""Sweep files: a base case, axes of `set` paths, sampling, metrics and constraints.

    name: hbm-vs-batch
    arch: h100                     # a name or path, or a list (an implicit `arch` axis)
    model: llama3-8b               # likewise
    scenario: {input_len: 2048, output_len: 128}
    fidelity: analytic
    set: {gpu.clock: 1.6 GHz}      # overrides applied to every point
    sampling: grid                 # grid | random | lhs (random and lhs need `samples:`)
    axes:
      - set: scenario.batch        # scenario.*, arch, model, model.* or an arch path
        range: {start: 1, stop: 64, step: 1}
      - name: hbm                  # several paths that move together, one label per case
        cases:
          HBM3: {gpu.memory_bandwidth: 3.35 TB/s}
    metrics: [decode.tokens_per_s, decode.energy_j_per_token]
    constraints:
      fits: skip                   # a point whose model does not fit: skip (default) or fail
      where: ["scenario.batch * scenario.input_len <= 131072"]

Every error is a ConfigError naming the sweep file, the key path and the reason.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path

from archsim.errors import ConfigError
from archsim.results.result_keys import RUN_RESULT, SCENARIO_KEYS
from archsim.sweep.expr import Expression
from archsim.sweep.store import META, PROVENANCE

SAMPLINGS = ("grid", "random", "lhs")
TOP_KEYS = ("name", "description", "note", "arch", "model", "scenario", "fidelity", "set", "seed",
            "sampling", "samples", "axes", "metrics", "constraints", "keep_result")
AXIS_KEYS = ("set", "name", "values", "range", "logrange", "cases", "unit", "int")


DEFAULT_METRICS = ["prefill.seconds", "prefill.tokens_per_s", "decode.tokens_per_s",
                   "decode.seconds_per_token", "decode.energy_j_per_token", "end_to_end.tokens_per_s",
                   "ttft_s", "tpot_s", "capacity.max_decode_tokens"]
# column names the result store uses itself; axes and metrics may not take them
RESERVED_COLUMNS = META + PROVENANCE
# points a sweep may have (a grid's product, `samples:`, the values of one range): each point
# is held in memory while planning, so a bigger sweep is refused before anything is allocated
MAX_POINTS = 2_000_000


@dataclass
class Axis:
    name: str                    # column name and the name constraints use
    path: str | None = None      # what it sets (None for a `cases` axis)
    values: list | None = None   # discrete values (grid, or picked from in random/lhs)
    low: float | None = None     # continuous range (random/lhs only)
    high: float | None = None
    log: bool = False
    integer: bool = False
    unit: str | None = None      # numbers become "<v> <unit>" when set
    cases: dict | None = None    # label -> {path: value}

    @property
    def discrete(self) -> bool:
        return self.values is not None

    def sets(self, value) -> dict:
        """{path: value to set} for one value of this axis."""
        if self.cases is not None:
            return dict(self.cases[value])
        if self.unit is not None:
            return {self.path: f"{_num_text(value)} {self.unit}"}
        return {self.path: value}


@dataclass
class SweepSpec:
    file: str
    name: str
    text: str                    # the YAML as written (kept in the results for provenance)
    arch: str
    model: str
    scenario: dict
    fidelity: str
    seed: int
    sets: dict
    axes: list[Axis]
    sampling: str
    samples: int | None
    metrics: list[str]
    fits: str
    where: list[Expression] = field(default_factory=list)
    keep_result: bool = False
    description: str = ""
    note: str = ""

    @property
    def axis_names(self) -> list[str]:
        return [a.name for a in self.axes]


def _num_text(v) -> str:
    return str(v) if isinstance(v, int) else format(float(v), ".15g")


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _clean(v: float, integer: bool):
    if integer:
        return int(round(v))
    return float(format(v, ".12g"))    # 0.1 + 0.2 -> 0.3: values people would type


def _unknown(keys, allowed, file, path):
    for key in keys:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown key{hint}; expected one of: {', '.join(allowed)}", file,
                              f"{path}.{key}" if path else str(key))


def _range_args(raw, file, key, names):
    """A range given as a mapping or a short list [start, stop(, third)]."""
    if isinstance(raw, list):
        if len(raw) not in (2, 3):
            raise ConfigError(f"expected [start, stop] or [start, stop, {names[2]}], got {raw!r}", file, key)
        raw = dict(zip(("start", "stop", names[2]), raw))
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping {{start, stop, ...}} or a list, got {raw!r}", file, key)
    _unknown(raw, ["start", "stop", *names[2:]], file, key)
    for k in ("start", "stop"):
        if k not in raw:
            raise ConfigError("required key is missing", file, f"{key}.{k}")
    for k, v in raw.items():
        if not _is_num(v) or not math.isfinite(v):
            raise ConfigError(f"expected a finite number, got {v!r}", file, f"{key}.{k}")
    return raw


def _count(n: float, file, key) -> int:
    """The number of values a range makes, refused above MAX_POINTS before any is made."""
    if not n <= MAX_POINTS:
        raise ConfigError(f"makes {n:.3g} values (more than {MAX_POINTS}); use a larger step or factor, "
                          "or a smaller num", file, key)
    return int(n)


def _linear_values(raw, integer, file, key) -> tuple[list | None, float, float]:
    r = _range_args(raw, file, key, ("start", "stop", "step", "num"))
    start, stop = r["start"], r["stop"]
    if stop < start:
        raise ConfigError(f"stop ({stop}) is below start ({start})", file, key)
    if "step" in r and "num" in r:
        raise ConfigError("give step or num, not both", file, key)
    integer = integer or (all(isinstance(r[k], int) for k in r) and "num" not in r)
    if "step" in r:
        step = r["step"]
        if not step > 0:
            raise ConfigError(f"step must be positive, got {step}", file, f"{key}.step")
        n = _count(math.floor((stop - start) / step + 1e-9) + 1, file, key)
        vals = [start + i * step for i in range(n)]
    elif "num" in r:
        num = r["num"]
        if not isinstance(num, int) or num < 1:
            raise ConfigError(f"num must be a positive integer, got {num!r}", file, f"{key}.num")
        _count(num, file, f"{key}.num")
        vals = [start + (stop - start) * i / (num - 1) for i in range(num)] if num > 1 else [start]
    else:
        return None, float(start), float(stop)
    return list(dict.fromkeys(_clean(v, integer) for v in vals)), float(start), float(stop)


def _log_values(raw, integer, file, key) -> tuple[list | None, float, float]:
    r = _range_args(raw, file, key, ("start", "stop", "num", "factor"))
    start, stop = r["start"], r["stop"]
    if not start > 0:
        raise ConfigError(f"a log range starts above 0, got {start}", file, f"{key}.start")
    if stop < start:
        raise ConfigError(f"stop ({stop}) is below start ({start})", file, key)
    if "factor" in r and "num" in r:
        raise ConfigError("give num or factor, not both", file, key)
    integer = integer or (all(isinstance(r[k], int) for k in r) and "num" not in r)
    if "factor" in r:
        f = r["factor"]
        if not f > 1:
            raise ConfigError(f"factor must be above 1, got {f}", file, f"{key}.factor")
        n = _count(math.floor(math.log(stop / start) / math.log(f) + 1e-9) + 1, file, key)
        vals = [start * f ** i for i in range(n)]
    elif "num" in r:
        num = r["num"]
        if not isinstance(num, int) or num < 1:
            raise ConfigError(f"num must be a positive integer, got {num!r}", file, f"{key}.num")
        _count(num, file, f"{key}.num")
        ratio = stop / start
        vals = [start * ratio ** (i / (num - 1)) for i in range(num)] if num > 1 else [start]
    else:
        return None, float(start), float(stop)
    return list(dict.fromkeys(_clean(v, integer) for v in vals)), float(start), float(stop)


def _check_path(path, file, key) -> None:
    if not isinstance(path, str) or not path.strip() or any(not p for p in path.split(".")):
        raise ConfigError(f"expected a dotted path like gpu.memory_bandwidth, got {path!r}", file, key)
    if "/" in path:
        raise ConfigError(f"a path may not contain '/', got {path!r}", file, key)
    head, _, rest = path.partition(".")
    if head == "scenario" and rest not in SCENARIO_KEYS:
        raise ConfigError(f"scenario has the keys {', '.join(SCENARIO_KEYS)}; got {path!r}", file, key)
    if path == "fidelity":
        raise ConfigError("fidelity is one per sweep (the top-level `fidelity:`)", file, key)


def _parse_axis(raw, i, file) -> Axis:
    key = f"axes[{i}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping with `set:` and values, got {raw!r}", file, key)
    _unknown(raw, list(AXIS_KEYS), file, key)
    kinds = [k for k in ("values", "range", "logrange", "cases") if k in raw]
    if len(kinds) != 1:
        raise ConfigError("give exactly one of values, range, logrange or cases", file, key)
    kind = kinds[0]
    integer = raw.get("int", False)
    if not isinstance(integer, bool):
        raise ConfigError(f"expected true or false, got {integer!r}", file, f"{key}.int")
    unit = raw.get("unit")
    if unit is not None and (not isinstance(unit, str) or not unit.strip()):
        raise ConfigError(f"expected a unit like 'GB/s', got {unit!r}", file, f"{key}.unit")
    if kind == "cases":
        if "set" in raw or unit is not None:
            raise ConfigError("a `cases` axis names its paths inside each case (no `set:` or `unit:`)",
                              file, key)
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError("a `cases` axis needs a `name:`", file, f"{key}.name")
        cases = raw["cases"]
        if not isinstance(cases, dict) or not cases:
            raise ConfigError("expected a mapping label -> {path: value, ...}", file, f"{key}.cases")
        out = {}
        for label, sets in cases.items():
            ck = f"{key}.cases.{label}"
            if not isinstance(sets, dict) or not sets:
                raise ConfigError("expected a mapping {path: value, ...}", file, ck)
            for p in sets:
                _check_path(p, file, f"{ck}.{p}")
            out[str(label)] = dict(sets)
        return Axis(name=name, values=list(out), cases=out)
    if "set" not in raw:
        raise ConfigError("required key is missing (the path this axis sets)", file, f"{key}.set")
    path = raw["set"]
    _check_path(path, file, f"{key}.set")
    name = raw.get("name", path)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"expected a name, got {name!r}", file, f"{key}.name")
    axis = Axis(name=name, path=path, unit=unit, integer=integer)
    if kind == "values":
        vals = raw["values"]
        if not isinstance(vals, list) or not vals:
            raise ConfigError("expected a non-empty list", file, f"{key}.values")
        if unit is not None and not all(_is_num(v) for v in vals):
            raise ConfigError("with `unit:`, values are plain numbers", file, f"{key}.values")
        axis.values = [int(round(v)) if integer and _is_num(v) else v for v in vals]
    else:
        fn = _linear_values if kind == "range" else _log_values
        axis.values, axis.low, axis.high = fn(raw[kind], integer, file, f"{key}.{kind}")
        axis.log = kind == "logrange"
        if path in ("scenario.batch", "scenario.input_len", "scenario.output_len") and axis.values:
            # counts: a range's whole values are those counts, and a fractional one is refused
            frac = [v for v in axis.values if isinstance(v, float) and v != int(v)]
            if frac:
                raise ConfigError(f"{path} takes whole numbers; this {kind} gives {frac[0]:g} (add "
                                  "`int: true` to round, or choose a step)", file, f"{key}.{kind}")
            axis.values = list(dict.fromkeys(int(v) for v in axis.values))
        axis.integer = integer or (axis.values is not None and all(isinstance(v, int) for v in axis.values))
    if path in ("arch", "model") and not all(isinstance(v, str) for v in (axis.values or [None])):
        raise ConfigError("expected names or paths of configs", file, f"{key}.values")
    return axis


def _names(value, what, file):
    """`arch:`/`model:` as one name or a list of names."""
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise ConfigError(f"expected a {what} name or path, or a list of them, got {value!r}", file, what)


def parse_sweep(data: dict, file, text: str = "") -> SweepSpec:
    """Validate a sweep mapping (as read from YAML) into a SweepSpec."""
    file = str(file)
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping", file)
    _unknown(data, list(TOP_KEYS), file, "")
    if "axes" not in data:
        raise ConfigError("required key is missing", file, "axes")
    # an axis over arch or model gives it (its first value stands in until the axis sets it)
    picked = {a.get("set"): a.get("values") for a in data["axes"] if isinstance(a, dict)} \
        if isinstance(data["axes"], list) else {}
    for req in ("arch", "model"):
        if req not in data and not (isinstance(picked.get(req), list) and picked[req]):
            raise ConfigError("required key is missing (or an axis over it)", file, req)
    archs = _names(data["arch"] if "arch" in data else picked["arch"][:1], "arch", file)
    models = _names(data["model"] if "model" in data else picked["model"][:1], "model", file)

    scen = data.get("scenario") or {}
    if not isinstance(scen, dict):
        raise ConfigError("expected a mapping", file, "scenario")
    _unknown(scen, list(SCENARIO_KEYS), file, "scenario")
    for k, v in scen.items():
        if k == "precision":
            if not isinstance(v, str):
                raise ConfigError(f"expected a precision like fp16, got {v!r}", file, f"scenario.{k}")
        elif isinstance(v, bool) or not isinstance(v, int) or v < (1 if k == "batch" else 0):
            raise ConfigError(f"expected a {'positive' if k == 'batch' else 'non-negative'} integer, "
                              f"got {v!r}", file, f"scenario.{k}")

    fidelity = data.get("fidelity", "analytic")
    if fidelity not in ("cycle", "analytic"):
        raise ConfigError(f"{fidelity!r} is not one of cycle, analytic", file, "fidelity")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"expected a non-negative integer, got {seed!r}", file, "seed")
    sets = data.get("set") or {}
    if not isinstance(sets, dict):
        raise ConfigError("expected a mapping {dotted.path: value}", file, "set")
    for p in sets:
        _check_path(p, file, f"set.{p}")
        if p in ("arch", "model") or p.startswith("scenario."):
            raise ConfigError("use the top-level arch, model or scenario keys", file, f"set.{p}")

    raw_axes = data["axes"]
    if not isinstance(raw_axes, list) or not raw_axes:
        raise ConfigError("expected a non-empty list of axes", file, "axes")
    axes = [_parse_axis(a, i, file) for i, a in enumerate(raw_axes)]
    for what, names in (("arch", archs), ("model", models)):
        if len(names) > 1:
            if any(a.path == what for a in axes):
                raise ConfigError(f"{what} is a list and also an axis; give it once", file, what)
            axes.insert(0 if what == "arch" else int(len(archs) > 1), Axis(name=what, path=what, values=names))
    seen: set[str] = set()
    for a in axes:
        if a.name in seen:
            raise ConfigError(f"axis name {a.name!r} is used twice; give one a `name:`", file, "axes")
        if a.name in RESERVED_COLUMNS or "/" in a.name:
            raise ConfigError(f"{a.name!r} is reserved or not a valid column name; give the axis "
                              "another `name:`", file, "axes")
        seen.add(a.name)
    set_paths: dict[str, str] = {}
    for a in axes:
        for p in (set().union(*map(set, a.cases.values())) if a.cases else {a.path}):
            if p in set_paths:
                raise ConfigError(f"{p!r} is set by two axes ({set_paths[p]!r} and {a.name!r})", file, "axes")
            set_paths[p] = a.name

    sampling = data.get("sampling", "grid")
    if sampling not in SAMPLINGS:
        raise ConfigError(f"{sampling!r} is not one of {', '.join(SAMPLINGS)}", file, "sampling")
    samples = data.get("samples")
    if sampling == "grid":
        if samples is not None:
            raise ConfigError("a grid takes every combination; `samples:` is for random or lhs", file, "samples")
        for a in axes:
            if not a.discrete:
                raise ConfigError(f"axis {a.name!r}: a grid needs step or num in its range "
                                  "(a range without them is for random or lhs sampling)", file, "axes")
        total = math.prod(len(a.values) for a in axes)
        if total > MAX_POINTS:
            raise ConfigError(f"the grid has {total} points (more than {MAX_POINTS}); use random or lhs "
                              "sampling", file, "axes")
    elif isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ConfigError(f"{sampling} sampling needs `samples:` (a positive integer), got {samples!r}",
                          file, "samples")
    elif samples > MAX_POINTS:
        raise ConfigError(f"{samples} samples is more than the {MAX_POINTS} points a sweep may have",
                          file, "samples")

    metrics = data.get("metrics", DEFAULT_METRICS)
    if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str) and m for m in metrics):
        raise ConfigError("expected a list of dotted keys of the result, e.g. decode.tokens_per_s", file, "metrics")
    for i, m in enumerate(metrics):
        problem = RUN_RESULT.problem(m) or ("a metric may not contain '/'" if "/" in m else None)
        if problem:   # a misspelt metric would be a column of NaN
            raise ConfigError(problem, file, f"metrics[{i}]")
        if m in seen or m in RESERVED_COLUMNS:
            raise ConfigError(f"{m!r} is also an axis or reserved column name", file, f"metrics[{i}]")
    if len(set(metrics)) != len(metrics):
        raise ConfigError("a metric is listed twice", file, "metrics")

    cons = data.get("constraints") or {}
    if not isinstance(cons, dict):
        raise ConfigError("expected a mapping with `fits:` and/or `where:`", file, "constraints")
    _unknown(cons, ["fits", "where"], file, "constraints")
    fits = cons.get("fits", "skip")
    if fits not in ("skip", "fail"):
        raise ConfigError(f"{fits!r} is not one of skip, fail", file, "constraints.fits")
    where_raw = cons.get("where", [])
    if isinstance(where_raw, str):
        where_raw = [where_raw]
    if not isinstance(where_raw, list):
        raise ConfigError("expected a list of expressions", file, "constraints.where")
    names = set(seen) | {f"scenario.{k}" for k in SCENARIO_KEYS} | {"arch", "model"} | set(set_paths)
    where = [Expression(w, names, file, f"constraints.where[{i}]") for i, w in enumerate(where_raw)]

    keep = data.get("keep_result", False)
    if not isinstance(keep, bool):
        raise ConfigError(f"expected true or false, got {keep!r}", file, "keep_result")
    name = data.get("name", Path(file).stem)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"expected a name, got {name!r}", file, "name")
    for k in ("description", "note"):
        if not isinstance(data.get(k, ""), str):
            raise ConfigError("expected a string", file, k)
    return SweepSpec(file=file, name=name, text=text, arch=archs[0], model=models[0], scenario=dict(scen),
                     fidelity=fidelity, seed=seed, sets=dict(sets), axes=axes, sampling=sampling,
                     samples=samples, metrics=list(metrics), fits=fits, where=where, keep_result=keep,
                     description=data.get("description", ""), note=data.get("note", ""))


def load_sweep(name_or_path) -> SweepSpec:
    """A sweep file by path, or a bundled one from `sweeps/` by name."""
    from archsim.config.loader import find_config, load_yaml
    from archsim.paths import SWEEPS_DIR

    path = find_config(name_or_path, SWEEPS_DIR, "sweep")
    data = load_yaml(path)
    return parse_sweep(data, path, path.read_text())

"""Validation cases: published figures in `validation/*.yaml`, loaded and checked.

A case file is `{schema: 1, cases: [...]}`. Each case names its source (the citation), the
machine, what to run and the metric to compare. Three kinds, told apart by their keys:
  run    arch, model, [scenario], [set]      metric: a dotted key of `archsim run --format json`
  op     arch, op: {kind, m, k, n, precision} metric: a dotted key of `archsim op --format json`
  ratio  arch, baseline_arch, models          metric: "<dotted key> ratio ...", value: [lo, hi];
         the prediction is [min, max] over the models of metric(arch) / metric(baseline_arch)
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from archsim.config.loader import load_yaml
from archsim.config.schema import Field, validate
from archsim.errors import ArchsimError, ConfigError
from archsim.paths import VALIDATION_DIR
from archsim.results.result_keys import OP_RESULT, RUN_RESULT

SCHEMA_VERSION = 1
ENV_DIR = "ARCHSIM_VALIDATION_DIR"
KINDS = ("run", "op", "ratio")

FILE_SCHEMA = {
    "schema": Field("int", SCHEMA_VERSION, "case-file schema version"),
    "cases": Field("list", doc="the cases"),
}
CASE_SCHEMA = {
    "id": Field("str", doc="unique case id (dotted words)"),
    "source": Field("str", doc="where the figure was published: paper, table or figure"),
    "arch": Field("str", doc="arch config name or path"),
    "set": Field("dict", None, "config overrides {dotted.path: value}", nullable=True),
    "model": Field("str", None, "model name or path (run cases)", nullable=True),
    "models": Field("list", None, "models of a ratio case", item=Field("str"), nullable=True),
    "baseline_arch": Field("str", None, "the denominator's arch (ratio cases)", nullable=True),
    "scenario": Field("dict", None, "batch, input_len, output_len, precision", nullable=True),
    "op": Field("dict", None, "one op: kind, m, k, n, precision (op cases)", nullable=True),
    "metric": Field("str", doc="dotted key of the result JSON"),
    "value": Field("any", doc="the published value ([lo, hi] for a ratio case)"),
    "tolerance": Field("float", gt=0.0, max=1.0, doc="target relative error (0 < t <= 1), set before any run"),
    "note": Field("str", None, "free text", nullable=True),
}
SCENARIO_SCHEMA = {
    "batch": Field("int", None, nullable=True),
    "input_len": Field("int", None, nullable=True),
    "output_len": Field("int", None, min=0, nullable=True),
    "precision": Field("str", None, nullable=True),
}
OP_SCHEMA = {
    "kind": Field("str", choices=("gemv", "gemm", "attention")),
    "m": Field("int"),
    "k": Field("int"),
    "n": Field("int"),
    "precision": Field("str", None, nullable=True),
}
_DOTTED = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_RATIO = re.compile(r"^([A-Za-z0-9_.-]+)\s+ratio\b")


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    file: str
    kind: str                       # run | op | ratio
    arch: str
    metric: str                     # as written in the file
    value: float | tuple            # (lo, hi) for a ratio case
    tolerance: float
    model: str | None = None
    models: tuple = ()
    baseline_arch: str | None = None
    scenario: dict = field(default_factory=dict)   # only the keys the case gives
    sets: dict = field(default_factory=dict)
    op: dict | None = None
    note: str | None = None

    @property
    def metric_key(self) -> str:
        """The dotted key to read from the result JSON."""
        m = _RATIO.match(self.metric)
        return m.group(1) if m else self.metric

    def set_args(self) -> list[str]:
        """The overrides as `--set` strings ('mesh.decode_grid=420x420'); a string that YAML
        would read as something else ('on', '0x1F', 'null') is quoted, as sweeps do."""
        import json

        import yaml
        def plain(v) -> bool:
            try:
                return isinstance(v, str) and yaml.safe_load(v) == v
            except yaml.YAMLError:
                return False
        return [f"{k}={v if plain(v) else json.dumps(v)}" for k, v in self.sets.items()]


def case_dir() -> Path:
    """Where case files live: $ARCHSIM_VALIDATION_DIR, else the bundled validation/ folder."""
    return Path(os.environ.get(ENV_DIR) or VALIDATION_DIR)


def _number(value, file, key, what="a positive number") -> float:
    if isinstance(value, str):
        # YAML 1.1 reads 1e-5 (no dot) as text: a number written so is still a number
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not value > 0:
        raise ConfigError(f"expected {what}, got {value!r}", file, key)
    return float(value)


def _ref(name: str, file: Path) -> str:
    """A YAML path in a case is relative to the case file; a bare name is a bundled config."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and not p.is_absolute():
        return str(file.parent / p)
    return name


def _kind(c: dict, file, key) -> str:
    if c["op"] is not None:
        for other in ("model", "models", "baseline_arch", "scenario"):
            if c[other] is not None:
                raise ConfigError(f"an op case takes no `{other}`", file, f"{key}.{other}")
        return "op"
    if c["models"] is not None or c["baseline_arch"] is not None:
        for need in ("models", "baseline_arch"):
            if c[need] is None:
                raise ConfigError("a ratio case needs both `models` and `baseline_arch`", file, f"{key}.{need}")
        if c["model"] is not None:
            raise ConfigError("a ratio case lists `models`, not `model`", file, f"{key}.model")
        if not c["models"]:
            raise ConfigError("needs at least one model", file, f"{key}.models")
        return "ratio"
    if c["model"] is None:
        raise ConfigError("a case needs `model` (a run), `op` (one op) or `models` with "
                          "`baseline_arch` (a ratio)", file, key)
    return "run"


def _case(raw, file: Path, key: str) -> Case:
    c = validate(raw, CASE_SCHEMA, file, key)
    kind = _kind(c, file, key)
    if kind == "ratio":
        m = _RATIO.match(c["metric"])
        if not m or not _DOTTED.match(m.group(1)):
            raise ConfigError("a ratio case's metric reads '<dotted.key> ratio ...'", file, f"{key}.metric")
        v = c["value"]
        if not isinstance(v, list) or len(v) != 2:
            raise ConfigError(f"expected [lo, hi], got {v!r}", file, f"{key}.value")
        lo, hi = (_number(x, file, f"{key}.value") for x in v)
        if lo > hi:
            raise ConfigError(f"lo {lo:g} is above hi {hi:g}", file, f"{key}.value")
        value = (lo, hi)
    else:
        if not _DOTTED.match(c["metric"]):
            raise ConfigError(f"expected a dotted key like decode.tokens_per_s, got {c['metric']!r}",
                              file, f"{key}.metric")
        value = _number(c["value"], file, f"{key}.value")
    scenario = validate(c["scenario"], SCENARIO_SCHEMA, file, f"{key}.scenario")
    scenario = {k: v for k, v in scenario.items() if v is not None}
    op = validate(c["op"], OP_SCHEMA, file, f"{key}.op") if kind == "op" else None
    case = Case(id=c["id"], source=c["source"], file=str(file), kind=kind, arch=_ref(c["arch"], file),
                metric=c["metric"], value=value, tolerance=c["tolerance"],
                model=_ref(c["model"], file) if c["model"] else None,
                models=tuple(_ref(m, file) for m in (c["models"] or ())),
                baseline_arch=_ref(c["baseline_arch"], file) if c["baseline_arch"] else None,
                scenario=scenario, sets=dict(c["set"] or {}), op=op, note=c["note"])
    problem = (OP_RESULT if kind == "op" else RUN_RESULT).problem(case.metric_key)
    if problem:   # a misspelt metric is a mistake of the file, not an error of the run
        raise ConfigError(problem, file, f"{key}.metric")
    _check_sets(case, file, key)
    return case


def _check_sets(case: Case, file, key) -> None:
    """Overrides that make the case's machine or model invalid (`gpu.clock: 0 GHz`) are an error
    of the case file. A machine or model that does not load even without them is left to the run,
    which says why (most often: not modelled yet)."""
    if not case.sets:
        return
    from archsim.api import split_sets
    from archsim.system.arch import load_arch
    from archsim.workload.model_spec import load_model

    arch_sets, model_sets = split_sets(case.set_args())
    checks = [(load_arch, case.arch, arch_sets, "")]
    checks += [(load_model, m, model_sets, "model.") for m in ((case.model,) if case.model else case.models)]
    for load, name, sets, prefix in checks:
        if not sets:
            continue
        try:
            load(name)
        except Exception:   # noqa: BLE001 - not loadable as it is: the run reports it
            continue
        try:
            load(name, sets)
        except Exception as exc:   # noqa: BLE001 - any failure here is caused by the overrides
            reason = exc.reason if isinstance(exc, ArchsimError) else f"{type(exc).__name__}: {exc}"
            bad = prefix + (exc.key or "") if isinstance(exc, ArchsimError) else ""
            # the override at fault (the loader may name only its component: `gpu` for gpu.clock)
            hits = [p for p in case.sets if bad and (p == bad or p.startswith(bad + ".") or bad.startswith(p + "."))]
            hits = hits if len(hits) == 1 else list(case.sets)
            where = f"{key}.set.{hits[0]}" if len(hits) == 1 else f"{key}.set"
            raise ConfigError(f"{reason} (on {name})", file, where) from None


def load_case_file(path) -> list[Case]:
    """The cases of one YAML file; any schema error names the file and the key."""
    path = Path(path)
    data = validate(load_yaml(path), FILE_SCHEMA, path)
    if data["schema"] > SCHEMA_VERSION:
        raise ConfigError(f"schema {data['schema']} is newer than this archsim reads ({SCHEMA_VERSION})",
                          path, "schema")
    cases = []
    for i, raw in enumerate(data["cases"]):
        key = f"cases[{i}]"
        try:
            cases.append(_case(raw, path, key))
        except ConfigError as exc:
            cid = raw.get("id") if isinstance(raw, dict) else None
            if isinstance(cid, str) and cid not in exc.reason:
                raise ConfigError(f"{exc.reason} (case {cid})", exc.file, exc.key) from None
            raise
    return cases


def load_cases(location=None) -> list[Case]:
    """Every case of a folder's *.yaml files (file by file, in name order), or of one file."""
    location = Path(location) if location else case_dir()
    if location.is_file():
        files = [location]
    elif location.is_dir():
        files = sorted(list(location.glob("*.yaml")) + list(location.glob("*.yml")))
    else:
        raise ConfigError("no such validation folder or file", location)
    if not files:
        raise ConfigError("holds no case files (*.yaml)", location)
    cases, seen = [], {}
    for f in files:
        for i, case in enumerate(load_case_file(f)):
            if case.id in seen:
                raise ConfigError(f"duplicate case id {case.id!r} (first in {seen[case.id]})", f, f"cases[{i}].id")
            seen[case.id] = str(f)
            cases.append(case)
    return cases


def select_cases(cases: list[Case], patterns, source=None) -> list[Case]:
    """Cases whose id equals or glob-matches one of `patterns` (all cases when none given).

    A pattern that selects nothing is an error: a typo must not shrink a run silently.
    """
    if not patterns:
        return list(cases)
    ids = [c.id for c in cases]
    chosen = set()
    for pat in patterns:
        hits = [i for i in ids if i == pat or fnmatch.fnmatchcase(i, pat)]
        if not hits:
            import difflib
            close = difflib.get_close_matches(pat, ids, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown case id {pat!r}{hint}; `archsim validate --list` shows them",
                              source or case_dir())
        chosen.update(hits)
    return [c for c in cases if c.id in chosen]

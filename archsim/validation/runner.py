"""Run validation cases and judge predicted against published figures.

A case ends in one of four states: PASS, FAIL, "not modelled yet" (its arch, model, component
or mapping does not exist in archsim yet: said with the reason, never skipped silently) and
"error" (it ran and broke; the one-line reason is kept). None of them stops the others.
Relative error = (predicted - published) / published; a case passes when |error| <= tolerance,
for a ratio range at both ends.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass, field
from typing import Callable

from archsim.errors import ArchsimError, ConfigError
from archsim.validation.cases import Case

PASS, FAIL, NOT_MODELLED, ERROR = "PASS", "FAIL", "not modelled yet", "error"
STATUSES = (PASS, FAIL, NOT_MODELLED, ERROR)


class NotModelled(Exception):
    """Raised inside a prediction when a part of the case does not exist in archsim yet."""


@dataclass
class Backend:
    """The two measurements the runner needs; tests pass stubs.

    run_case(arch, model, scenario: dict, sets=(), fidelity='cycle') -> the run JSON (dict)
    run_op(arch, kind, m, k, n, precision, sets=()) -> the op JSON (dict)
    """

    run_case: Callable
    run_op: Callable


def default_backend() -> Backend:
    from archsim import api   # imported late: the simulator is only needed when a case runs
    return Backend(api.run_case, api.run_op)


@dataclass
class Outcome:
    case: Case
    status: str
    predicted: float | tuple | None = None
    rel_error: float | tuple | None = None
    reason: str = ""
    seconds: float = 0.0
    detail: dict = field(default_factory=dict)   # ratio cases: model -> ratio

    def as_dict(self) -> dict:
        c = self.case
        return {"id": c.id, "kind": c.kind, "metric": c.metric, "predicted": self.predicted,
                "published": c.value, "rel_error": self.rel_error, "tolerance": c.tolerance,
                "status": self.status, "reason": self.reason, "source": c.source, "file": c.file,
                "seconds": self.seconds, "detail": self.detail}


# --- reading a metric ----------------------------------------------------------------------
def lookup(result: dict, dotted: str) -> float:
    """The number at `dotted` in a result JSON (e.g. 'breakdown.flash.bytes')."""
    node = result
    for i, key in enumerate(dotted.split(".")):
        if not isinstance(node, dict) or key not in node:
            where = ".".join(dotted.split(".")[:i]) or "the result"
            have = ", ".join(map(str, node)) if isinstance(node, dict) else type(node).__name__
            raise ArchsimError(f"metric {dotted!r}: no key {key!r} in {where} (it has: {have})")
        node = node[key]
    if isinstance(node, bool) or not isinstance(node, (int, float)) or not math.isfinite(node):
        raise ArchsimError(f"metric {dotted!r} is {node!r}, not a finite number")
    return float(node)


# --- what is not modelled yet --------------------------------------------------------------
def _arch_gap(arch: str, sets=None) -> str | None:
    from archsim.components.base import component_types
    from archsim.config.loader import apply_sets, find_config, load_with_base
    from archsim.paths import ARCH_DIR
    from archsim.system.arch import RESERVED
    from archsim.system.mapping import mapping_strategies

    try:
        path = find_config(arch, ARCH_DIR, "arch")
    except ConfigError:
        return f"no arch config {arch!r} in {ARCH_DIR.name}/"
    data = apply_sets(load_with_base(path, ARCH_DIR, "arch"), sets or {})
    types = component_types()
    for key, block in data.items():
        if key not in RESERVED and isinstance(block, dict) and block.get("type") not in (None, *types):
            return f"component type {block['type']!r} ({arch}: {key}) is not implemented yet"
    strategy = (data.get("mapping") or {}).get("strategy") if isinstance(data.get("mapping"), dict) else None
    if strategy is not None and strategy not in mapping_strategies():
        return f"mapping strategy {strategy!r} ({arch}) is not implemented yet"
    return None


def _model_gap(model: str) -> str | None:
    from archsim.config.loader import find_config
    from archsim.paths import MODELS_DIR

    try:
        find_config(model, MODELS_DIR, "model")
    except ConfigError:
        return f"no model spec {model!r} in workloads/models/"
    return None


def missing_parts(case: Case) -> str | None:
    """Why `case` cannot run yet (a missing arch, model, component type or mapping), or None."""
    gaps = [_arch_gap(case.arch, case.sets)]
    if case.baseline_arch:
        gaps.append(_arch_gap(case.baseline_arch))
    gaps += [_model_gap(m) for m in ((case.model,) if case.model else case.models)]
    gaps = [g for g in gaps if g]
    return "; ".join(gaps) if gaps else None


# --- predicting and judging ----------------------------------------------------------------
def _accepts(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in params)


def predict(case: Case, backend: Backend, fidelity: str = "cycle"):
    """The predicted metric: a number, or (min, max) and per-model ratios for a ratio case."""
    sets = case.set_args()
    if case.kind == "op":
        op = case.op
        extra = {"fidelity": fidelity} if _accepts(backend.run_op, "fidelity") else {}
        res = backend.run_op(case.arch, op["kind"], op["m"], op["k"], op["n"], op["precision"], sets=sets, **extra)
        return lookup(res, case.metric_key), {}
    if case.kind == "run":
        res = backend.run_case(case.arch, case.model, dict(case.scenario), sets=sets, fidelity=fidelity)
        return lookup(res, case.metric_key), {}
    ratios = {}
    for model in case.models:
        num = lookup(backend.run_case(case.arch, model, dict(case.scenario), sets=sets, fidelity=fidelity),
                     case.metric_key)
        # the baseline runs the same model: a case's model.* overrides apply to it too
        model_sets = [s for s in sets if s.startswith("model.")]
        den = lookup(backend.run_case(case.baseline_arch, model, dict(case.scenario), sets=model_sets,
                                      fidelity=fidelity), case.metric_key)
        if den == 0:
            raise ArchsimError(f"{case.baseline_arch} predicts 0 for {case.metric_key} on {model}")
        ratios[model] = num / den
    return (min(ratios.values()), max(ratios.values())), ratios


def rel_error(predicted: float, published: float) -> float:
    return (predicted - published) / published


def judge(case: Case, predicted) -> tuple[str, float | tuple]:
    """PASS or FAIL and the relative error(s) of `predicted` against the published value."""
    if case.kind == "ratio":
        errors = tuple(rel_error(p, v) for p, v in zip(predicted, case.value))
        return (PASS if all(abs(e) <= case.tolerance for e in errors) else FAIL), errors
    error = rel_error(predicted, case.value)
    return (PASS if abs(error) <= case.tolerance else FAIL), error


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    text = text[0] if text else ""
    if isinstance(exc, ArchsimError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_one(case: Case, backend: Backend | None = None, fidelity: str = "cycle") -> Outcome:
    """Run one case; never raises for what the case itself does wrong."""
    t0 = time.perf_counter()

    def done(status, **kw):
        return Outcome(case, status, seconds=time.perf_counter() - t0, **kw)

    try:
        gap = missing_parts(case)
        if gap:
            return done(NOT_MODELLED, reason=gap)
        backend = backend or default_backend()
        predicted, detail = predict(case, backend, fidelity)
    except (NotModelled, NotImplementedError) as exc:
        return done(NOT_MODELLED, reason=_one_line(exc) or "not implemented yet")
    except Exception as exc:   # a measurement: one broken case must not hide the others
        return done(ERROR, reason=_one_line(exc))
    status, error = judge(case, predicted)
    return done(status, predicted=predicted, rel_error=error, detail=detail)


def run_cases(cases: list[Case], backend: Backend | None = None, fidelity: str = "cycle",
              progress: Callable | None = None) -> list[Outcome]:
    """Run `cases` in order; `progress(i, n, outcome)` is called after each."""
    outcomes = []
    for i, case in enumerate(cases):
        outcome = run_one(case, backend, fidelity)
        outcomes.append(outcome)
        if progress:
            progress(i + 1, len(cases), outcome)
    return outcomes


def counts(outcomes: list[Outcome]) -> dict:
    return {s: sum(o.status == s for o in outcomes) for s in STATUSES}

"""Points of a sweep: grid, seeded random, or Latin-hypercube samples of its axes.

A point is the axis values (`inputs`, what the result columns show) and the `case` they make:
a plain dict {arch, model, scenario, sets, fidelity, seed} that an evaluation function runs.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from archsim.sweep.spec import SCENARIO_KEYS, Axis, SweepSpec

# the run's scenario defaults, so constraints can read scenario keys the sweep leaves out
SCENARIO_DEFAULTS = {"batch": 1, "input_len": 2048, "output_len": 128, "precision": None}


@dataclass
class Point:
    index: int       # position in the sweep, after constraints
    inputs: dict     # axis name -> value
    case: dict       # {arch, model, scenario, sets, fidelity, seed}


def _grid(axes: list[Axis]):
    yield from itertools.product(*(a.values for a in axes))


def _continuous(axis: Axis, u: np.ndarray) -> list:
    """Map uniform [0, 1) draws onto an axis."""
    if axis.discrete:
        idx = np.minimum((u * len(axis.values)).astype(np.int64), len(axis.values) - 1)
        return [axis.values[i] for i in idx]
    if axis.log:
        v = np.exp(math.log(axis.low) + u * (math.log(axis.high) - math.log(axis.low)))
    else:
        v = axis.low + u * (axis.high - axis.low)
    return [int(round(x)) for x in v] if axis.integer else [float(x) for x in v]


def _sampled(spec: SweepSpec):
    rng = np.random.default_rng(spec.seed)
    n = spec.samples
    columns = []
    for axis in spec.axes:
        if spec.sampling == "lhs":   # one draw in each of n equal strata, strata shuffled per axis
            u = (rng.permutation(n) + rng.random(n)) / n
        else:
            u = rng.random(n)
        columns.append(_continuous(axis, u))
    yield from zip(*columns)


def make_case(spec: SweepSpec, inputs: dict) -> dict:
    """The case one point runs: base arch/model/scenario, then every axis's overrides."""
    case = {"arch": spec.arch, "model": spec.model, "scenario": dict(spec.scenario), "sets": dict(spec.sets),
            "fidelity": spec.fidelity, "seed": spec.seed}
    for axis in spec.axes:
        for path, value in axis.sets(inputs[axis.name]).items():
            if path in ("arch", "model"):
                case[path] = value
            elif path.startswith("scenario."):
                case["scenario"][path.split(".", 1)[1]] = value
            else:
                case["sets"][path] = value
    return case


def constraint_env(spec: SweepSpec, inputs: dict, case: dict) -> dict:
    env = {f"scenario.{k}": case["scenario"].get(k, SCENARIO_DEFAULTS[k]) for k in SCENARIO_KEYS}
    env.update(arch=case["arch"], model=case["model"])
    env.update(case["sets"])
    for axis in spec.axes:
        # a `unit:` axis's path holds its quantity ('1.41 GHz', compared in SI units like any
        # quantity); its column keeps the number
        if axis.unit is None or axis.name != axis.path:
            env[axis.name] = inputs[axis.name]
        if axis.path is not None and axis.unit is None:
            env[axis.path] = inputs[axis.name]
    return env


def generate(spec: SweepSpec) -> tuple[list[Point], int]:
    """The sweep's points in order, and how many the `where` constraints left out."""
    rows = _grid(spec.axes) if spec.sampling == "grid" else _sampled(spec)
    points, dropped = [], 0
    for values in rows:
        inputs = {a.name: v for a, v in zip(spec.axes, values)}
        case = make_case(spec, inputs)
        if spec.where:
            env = constraint_env(spec, inputs, case)
            if not all(w(env) for w in spec.where):
                dropped += 1
                continue
        points.append(Point(len(points), inputs, case))
    return points, dropped

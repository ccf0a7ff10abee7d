"""Cases of a sweep point: run them with the public API, resolve them for their id.

The point id is a hash of the fully resolved inputs (the arch config with every default and
unit applied, the model spec, the scenario, the fidelity and the seed), so '2 TB/s' and
'2000 GB/s' are one point, and a changed base config gives new points instead of stale rows.
"""

from __future__ import annotations

import hashlib
import json
import math

import yaml

from archsim.errors import ConfigError

ID_CHARS = 20   # 80 bits of sha256: no collision in any sweep anyone will run


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    return obj


def canonical_json(obj) -> str:
    """Key-sorted, compact JSON: equal inputs give equal text (floats as shortest repr)."""
    return json.dumps(_plain(obj), sort_keys=True, separators=(",", ":"), default=str)


def point_id(resolved) -> str:
    return hashlib.sha256(canonical_json(resolved).encode()).hexdigest()[:ID_CHARS]


def set_strings(sets: dict) -> list[str]:
    """{path: value} as the API's 'path=value' strings, each reading back to the same value."""
    from archsim.config.loader import parse_set

    out = []
    for path, value in sets.items():
        plain = _plain(value)
        text = yaml.safe_dump(plain, default_flow_style=True, width=1 << 30).strip()
        if text.endswith("\n..."):
            text = text[:-4].rstrip()
        item = f"{path}={text}"
        if parse_set(item)[1] != plain:
            raise ConfigError(f"value {value!r} does not survive as an override", "sweep", path)
        out.append(item)
    return out


def evaluate_case(case: dict) -> dict:
    """The `archsim run --format json` object of one case."""
    from archsim.api import run_case

    return run_case(case["arch"], case["model"], case["scenario"], set_strings(case["sets"]),
                    case["fidelity"], case.get("seed", 0))


class Resolver:
    """resolve_case with each distinct (arch, overrides) and (model, overrides) loaded once:
    a sweep's points mostly share them, and reading YAML is most of the cost. Keep one per
    plan, so edits to config files between sweeps are always seen."""

    def __init__(self):
        self._arch: dict = {}
        self._model: dict = {}

    def __call__(self, case: dict) -> dict:
        from archsim.api import make_scenario, split_sets
        from archsim.system.arch import load_arch
        from archsim.system.mapping import run_precision
        from archsim.workload.model_spec import load_model

        arch_sets, model_sets = split_sets(set_strings(case["sets"]))
        akey = (str(case["arch"]), tuple(arch_sets))
        if akey not in self._arch:
            self._arch[akey] = load_arch(case["arch"], arch_sets).resolved()
        mkey = (str(case["model"]), tuple(model_sets))
        if mkey not in self._model:
            model = load_model(case["model"], model_sets)
            spec = {k: v for k, v in model.to_dict().items() if k != "path"}   # where it lives is no input
            self._model[mkey] = spec
        spec = self._model[mkey]
        scenario = make_scenario(case["scenario"])
        scen = {"batch": scenario.batch, "input_len": scenario.input_len, "output_len": scenario.output_len,
                "precision": run_precision(scenario.precision, self._arch[akey]["mapping"],
                                           spec["default_precision"])}
        return {"arch": self._arch[akey], "model": spec, "scenario": scen, "fidelity": case["fidelity"],
                "seed": case.get("seed", 0)}


def resolve_case(case: dict) -> dict:
    """Everything that decides the result of `case`, resolved (raises ConfigError if invalid)."""
    return Resolver()(case)


def identity_resolve(case: dict) -> dict:
    """For injected evaluation functions: the case is its own resolved form."""
    return case

"""The Python API behind the CLI: one call per question an architect asks.

    run_case("a100", "llama3-8b", {"batch": 1, "input_len": 4096, "output_len": 1})
    run_op("a100", "gemv", m=1, k=32768, n=32768, precision="fp16")

`sets` are dotted overrides ("gpu.memory_bandwidth=1.5 TB/s"); a path whose first key is
`model` (and that names no component of the arch) overrides the model spec instead.
"""

from __future__ import annotations

from archsim.errors import ConfigError
from archsim.system.arch import load_arch
from archsim.system.simulate import RunResult, Scenario, run
from archsim.system.system import System

SCENARIO_KEYS = ("batch", "input_len", "output_len", "precision")


def split_sets(sets) -> tuple[list, list]:
    """Separate `model.*` overrides from arch overrides."""
    arch_sets, model_sets = [], []
    for s in sets or ():
        key = s.split("=", 1)[0].strip()
        if key.startswith("model."):
            model_sets.append(s[len("model."):])
        else:
            arch_sets.append(s)
    return arch_sets, model_sets


def _no_model_sets(model_sets, why: str) -> None:
    if model_sets:
        key = "model." + model_sets[0].split("=", 1)[0].strip()
        raise ConfigError(f"{why}; model.* overrides do not apply", "--set", key)


def make_scenario(scenario: dict | None, file: str = "scenario") -> Scenario:
    scenario = dict(scenario or {})
    unknown = set(scenario) - set(SCENARIO_KEYS)
    if unknown:
        raise ConfigError(f"unknown scenario key(s): {', '.join(sorted(unknown))}", file)
    for key in ("batch", "input_len", "output_len"):
        if key in scenario:
            v = scenario[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < 0 or (key == "batch" and v == 0):
                raise ConfigError(f"must be a {'positive' if key == 'batch' else 'non-negative'} integer, "
                                  f"got {v!r}", file, key)
    if scenario.get("input_len", 1) == 0 and scenario.get("output_len", 1) == 0:
        raise ConfigError("input_len and output_len are both 0: nothing to simulate", file)
    return Scenario(**scenario)


def simulate_case(arch, model, scenario: dict | None = None, sets=(), fidelity: str = "cycle",
                  seed: int = 0, trace=None) -> RunResult:
    """Full result (summary, timeline, resolved config) of one model run or one user trace."""
    from archsim.workload.model_spec import load_model

    arch_sets, model_sets = split_sets(sets)
    arch_spec = load_arch(arch, arch_sets)
    scen = make_scenario(scenario)
    if trace is not None:
        _no_model_sets(model_sets, "a trace run has no model to change (its rows are the workload)")
        return run(arch_spec, None, scen, fidelity, trace=trace, seed=seed)
    spec = load_model(model, model_sets)
    result = run(arch_spec, spec, scen, fidelity, seed=seed)
    # what rebuilds the same workload from the result (a model file or name and its overrides)
    result.summary["provenance"].update({"model_source": str(model), "model_sets": list(model_sets)})
    return result


def run_case(arch, model, scenario: dict | None = None, sets=(), fidelity: str = "cycle", seed: int = 0) -> dict:
    """The `archsim run --format json` object for one case."""
    return simulate_case(arch, model, scenario, sets, fidelity, seed).summary


def op_trace(kind: str, m: int, k: int, n: int, precision: str = "fp16", heads: int = 1, kv_heads: int | None = None):
    """A one-op trace for `archsim op`: gemv/gemm (out[m,n] = A[m,k] W[k,n]) or attention
    (m query tokens, head dim k, n KV positions, `heads` query heads)."""
    from archsim.workload.precision import parse_precision
    from archsim.workload.trace import Trace

    for name, v in (("m", m), ("k", k), ("n", n), ("heads", heads)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ConfigError(f"must be a positive integer, got {v!r}", "op", name)
    if m * k * n * heads * 2 >= 2 ** 63:
        # the trace holds FLOPs and bytes as int64
        raise ConfigError(f"{m} x {k} x {n} (x {heads} heads) is too large: its FLOPs pass an int64",
                          "op", "m")
    p = parse_precision(precision)
    wb, ab, kvb = p.weight_bits / 8, p.act_bits / 8, p.kv_bits / 8
    kv_heads = heads if kv_heads is None else kv_heads
    base = {"layer": 0, "phase": "decode", "step": 0, "batch": 1, "heads": 1, "kv_heads": 1, "kv_len": 0,
            "expert": -1, "dtype_w": p.weight_dtype, "dtype_a": p.act_dtype, "bytes_kv": 0}
    if kind in ("gemv", "gemm"):
        if kind == "gemv" and m != 1:
            raise ConfigError(f"a gemv has m = 1 (got {m}); use gemm", "op", "m")
        rows = [{**base, "op": "gemv" if m == 1 else "gemm", "name": kind, "m": m, "n": n, "k": k,
                 "bytes_w": int(k * n * wb), "bytes_a": int((m * k + m * n) * ab), "flops": 2 * m * n * k}]
    elif kind == "attention":
        att = {**base, "heads": heads, "kv_heads": kv_heads, "kv_len": n, "dtype_w": p.kv_dtype}
        kv_bytes = int(n * k * kv_heads * kvb)
        rows = [
            {**att, "op": "attention_qk", "name": "attention_qk", "m": m, "k": k, "n": n, "bytes_w": 0,
             "bytes_a": int((m * k * heads + m * n * heads) * ab), "bytes_kv": kv_bytes,
             "flops": 2 * heads * m * k * n},
            {**att, "op": "softmax", "name": "softmax", "m": m, "k": 0, "n": n, "bytes_w": 0,
             "bytes_a": int(2 * m * n * heads * ab), "bytes_kv": 0, "flops": 5 * m * n * heads},
            {**att, "op": "attention_av", "name": "attention_av", "m": m, "k": n, "n": k, "bytes_w": 0,
             "bytes_a": int((m * n * heads + m * k * heads) * ab), "bytes_kv": kv_bytes,
             "flops": 2 * heads * m * k * n},
        ]
    else:
        raise ConfigError(f"unknown op kind {kind!r}; expected gemv, gemm or attention", "op", "kind")
    return Trace.from_rows(rows, {"model": f"op:{kind}", "precision": precision})


def run_op(arch, kind: str, m: int, k: int, n: int, precision: str | None = None, sets=(),
           fidelity: str = "cycle", heads: int = 1) -> dict:
    """`archsim op --format json`: {seconds, cycles, energy_j, breakdown} for one op, at
    `precision` (None: the arch's `mapping.precision`, else fp16).

    cycles are counted in the clock of the component that runs the op's first job."""
    from archsim.system.mapping import run_precision
    from archsim.system.scheduler import PS_PER_S, schedule
    from archsim.system.simulate import elapsed_cycles

    arch_sets, model_sets = split_sets(sets)
    _no_model_sets(model_sets, "`archsim op` runs one op, not a model")
    arch_spec = load_arch(arch, arch_sets)
    precision = run_precision(precision, arch_spec.mapping, "fp16")
    system = System(arch_spec, fidelity)
    for comp in system.components.values():
        comp.cold_start()
    trace = op_trace(kind, m, k, n, precision, heads)
    graph = system.mapping.build(trace)
    if not len(graph.jobs):
        from archsim.errors import ConfigError
        raise ConfigError(f"the {system.mapping.strategy} mapping gives the {kind} op no work on this "
                          "machine (it runs no such op)", arch_spec.file, "mapping.strategy")
    components = graph.components
    costs = [system.cost(c, j) for c, j in zip(components, graph.jobs)]
    names = list(system.components)
    start, finish = schedule([names.index(c) for c in components],
                             [int(round(c.seconds * PS_PER_S)) for c in costs], (graph.dep_ptr, graph.dep_idx),
                             [system.components[c].lanes for c in names])
    seconds = float(finish.max()) / PS_PER_S if len(finish) else 0.0
    breakdown: dict = {}
    for comp, job, cost in zip(components, graph.jobs, costs):
        b = breakdown.setdefault(comp, {"seconds": 0.0, "energy_j": 0.0, "bytes": 0.0, "jobs": []})
        b["seconds"] += cost.seconds
        b["energy_j"] += cost.energy_pj * 1e-12
        b["bytes"] += cost.bytes
        # a job's parts (counts, labels, per-job settings) do not add up over jobs: each job
        # keeps its own, and a component that ran one job shows them as `parts` too
        b["jobs"].append({"label": job.label or job.kind, "seconds": cost.seconds,
                          "energy_j": cost.energy_pj * 1e-12, "bytes": cost.bytes,
                          "parts": dict(cost.breakdown)})
    for b in breakdown.values():
        if len(b["jobs"]) == 1:
            b["parts"] = b["jobs"][0]["parts"]
    static = sum(c.static_power_w for c in system.components.values()) * seconds
    first = components[0] if components else names[0]
    return {"arch": arch_spec.name, "op": kind, "m": m, "k": k, "n": n, "precision": precision,
            "fidelity": fidelity, "seconds": seconds,
            "cycles": elapsed_cycles(system, first, seconds),
            "energy_j": sum(c.energy_pj for c in costs) * 1e-12 + static,
            "static_energy_j": static, "breakdown": breakdown,
            # as `archsim run` reports them: e.g. the grid each part of the op ran on
            "stats": {"mapping": system.mapping.stats() if hasattr(system.mapping, "stats") else {}}}

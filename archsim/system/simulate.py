"""Run a workload on a system: trace -> task graph -> schedule -> the result contract.

Phases: prefill processes `input_len` tokens per sequence; decode runs `output_len` steps,
each producing one token per sequence. TTFT is the prefill time; TPOT the decode time per
step. tokens_per_s is per request, times the batch (tokens of all sequences per second).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from archsim import __version__
from archsim.errors import ConfigError
from archsim.revision import git_revision
from archsim.system.scheduler import PS_PER_S, schedule
from archsim.system.system import System


@dataclass(frozen=True)
class Scenario:
    batch: int = 1
    input_len: int = 2048
    output_len: int = 128
    precision: str | None = None

    def as_dict(self, precision: str) -> dict:
        return {"batch": self.batch, "input_len": self.input_len, "output_len": self.output_len,
                "precision": precision}


@dataclass
class RunResult:
    summary: dict                       # the `--format json` contract
    timeline: dict = field(default_factory=dict)   # column arrays, one row per task
    config: dict = field(default_factory=dict)     # fully resolved arch config


def provenance(system: System, model_name: str, extra: dict | None = None) -> dict:
    return {"archsim_version": __version__, "git_revision": git_revision(),
            "arch_file": system.arch.file, "model": model_name, "fidelity": system.fidelity,
            **(extra or {})}


INT64_MAX = 2 ** 63 - 1


def _check_time_fits(system: System, graph, pair_costs) -> None:
    """The schedule counts int64 picoseconds (about 106 days): a run whose jobs add up to
    more comes from a component set far too slow, and would wrap to negative times."""
    uses = np.bincount(graph.pair_index, minlength=len(pair_costs)) if len(graph) else []
    total = 0.0
    for (comp, job), cost, k in zip(graph.pairs, pair_costs, uses):
        ps = cost.seconds * PS_PER_S
        total += ps * int(k)
        if not np.isfinite(ps) or ps < 0 or total > INT64_MAX:
            raise ConfigError(f"the run's jobs add up to more simulated time than int64 "
                              f"picoseconds hold ({INT64_MAX / PS_PER_S / 86400:.0f} days), passed "
                              f"at a {job.kind} ({job.label}) of {cost.seconds:.3g} s; check this "
                              "component's rates and latencies", system.arch.file, comp)


def run_trace(system: System, trace, model_name: str, scenario: dict, capacity) -> RunResult:
    """Schedule every op of `trace` on `system` and assemble the result."""
    graph = system.mapping.build(trace)
    comp_names = list(system.components)
    comp_id = {n: i for i, n in enumerate(comp_names)}
    n = len(graph)
    # cost each distinct (component, job) once, then spread over the tasks by index
    pair_costs = [system.cost(c, j) for c, j in graph.pairs]
    pick = graph.pair_index

    def spread(values, dtype):
        return np.asarray(values, dtype=dtype)[pick] if n else np.zeros(0, dtype=dtype)

    _check_time_fits(system, graph, pair_costs)
    resource = spread([comp_id[c] for c, _ in graph.pairs], np.int64)
    dur = spread([int(round(c.seconds * PS_PER_S)) for c in pair_costs], np.int64)
    energy = spread([c.energy_pj for c in pair_costs], np.float64)
    nbytes = spread([c.bytes for c in pair_costs], np.float64)
    channel_bytes = spread([c.breakdown.get("channel_bytes", 0.0) for c in pair_costs], np.float64)
    lanes = [system.components[c].lanes for c in comp_names]
    start, finish = schedule(resource, dur, (graph.dep_ptr, graph.dep_idx), lanes)

    op_idx = graph.op_index
    phase = trace["phase"][op_idx] if n else np.zeros(0, dtype=object)
    is_pre = phase == "prefill"
    is_dec = phase == "decode"
    # prefill ends with the first token: its lm_head's logits (work a mapping leaves running
    # behind it, such as a drive programming the prompt's KV, overlaps the decode)
    first = is_pre & (trace["op"][op_idx] == "lm_head") if n else is_pre
    pre_end = int(finish[first].max()) if first.any() else int(finish[is_pre].max()) if is_pre.any() else 0
    end = int(finish.max()) if n else 0
    pre_s = pre_end / PS_PER_S
    dec_s = (end - pre_end) / PS_PER_S if is_dec.any() else 0.0
    # without a decode to overlap it, what the prefill leaves running ends the run alone
    tail_s = (end - pre_end) / PS_PER_S if not is_dec.any() else 0.0
    run_s = pre_s + dec_s + tail_s
    batch = scenario["batch"]
    out_len = scenario["output_len"] if is_dec.any() else 0
    in_tokens = scenario["input_len"] * batch

    static_w = {c: system.components[c].static_power_w for c in comp_names}
    static_total = sum(static_w.values())
    pre_e = energy[is_pre].sum() * 1e-12 + static_total * (pre_s + tail_s)
    dec_e = energy[is_dec].sum() * 1e-12 + static_total * dec_s

    breakdown = {}
    for c in comp_names:
        sel = resource == comp_id[c]
        breakdown[c] = {"seconds": float(dur[sel].sum() / PS_PER_S),
                        "energy_j": float(energy[sel].sum() * 1e-12 + static_w[c] * end / PS_PER_S),
                        "bytes": float(nbytes[sel].sum()),
                        "jobs": int(sel.sum())}
    ops = {}
    # per op: the op a task works for (a prefetch of the next op's weights is that op's)
    serves = graph.serves_index
    names = trace["name"][serves] if n else np.zeros(0, dtype=object)
    if n:
        # names numbered in order of first appearance: sums by number, not a pass per name
        row_code, uniques = pd.factorize(trace["name"])
        code = row_code[serves]
        order = pd.unique(code)
        k = len(uniques)
        secs = np.zeros(k, np.int64)
        np.add.at(secs, code, dur)
        flops = np.zeros(k, np.int64)
        served = np.zeros(len(trace), bool)
        served[serves] = True
        rows = np.flatnonzero(served)
        np.add.at(flops, row_code[rows], trace["flops"][rows].astype(np.int64))
        joules = np.bincount(code, weights=energy, minlength=k) * 1e-12
        moved = np.bincount(code, weights=nbytes, minlength=k)
        for c in order.tolist():
            ops[str(uniques[c])] = {"seconds": float(secs[c] / PS_PER_S), "energy_j": float(joules[c]),
                                    "flops": float(flops[c]), "bytes": float(moved[c])}

    dec_tokens = out_len * batch
    # a request's tokens: the prefill's (its lm_head's logits) and one per decode step
    all_tokens = dec_tokens + (batch if first.any() else 0)
    summary = {
        "arch": system.arch.name, "model": model_name, "fidelity": system.fidelity,
        "scenario": scenario,
        "prefill": {"seconds": pre_s, "cycles": elapsed_cycles(system, comp_names[int(resource[np.argmax(is_pre)])], pre_s)
                    if is_pre.any() else 0,
                    "tokens_per_s": in_tokens / pre_s if pre_s > 0 else 0.0, "energy_j": float(pre_e)},
        "decode": {"seconds": dec_s, "seconds_per_token": dec_s / dec_tokens if dec_tokens else 0.0,
                   "tokens_per_s": dec_tokens / dec_s if dec_s > 0 else 0.0, "energy_j": float(dec_e),
                   "energy_j_per_token": float(dec_e / dec_tokens) if dec_tokens else 0.0},
        "end_to_end": {"seconds": run_s,
                       "tokens_per_s": all_tokens / run_s if all_tokens and run_s > 0 else 0.0},
        "ttft_s": pre_s,
        "tpot_s": dec_s / out_len if out_len else 0.0,
        "breakdown": breakdown,
        "ops": ops,
        "capacity": capacity.as_dict(),
        "stats": {"ops": len(trace), "jobs": n, "distinct_jobs": len(graph.pairs),
                  "memo_hits": n - len(graph.pairs)},
    }
    # channel use over the span of each phase's work (a prefill's background work runs past
    # its first token)
    pre_span = int(finish[is_pre].max()) / PS_PER_S if is_pre.any() else 0.0
    phases = (("prefill", is_pre, pre_span, in_tokens), ("decode", is_dec, dec_s, dec_tokens))
    flash = _flash_channels(system, comp_names, resource, nbytes, channel_bytes, phases)
    if flash:
        summary["stats"]["flash"] = flash
    if hasattr(system.mapping, "stats"):
        # mapping-specific counters, e.g. mesh lines simulated once and reused
        summary["stats"]["mapping"] = system.mapping.stats()
    timeline = {"component": spread([c for c, _ in graph.pairs], object), "op": trace["op"][op_idx],
                "name": names, "phase": phase, "layer": trace["layer"][op_idx], "step": trace["step"][op_idx],
                "start_ps": start, "finish_ps": finish, "energy_pj": energy, "bytes": nbytes}
    return RunResult(summary, timeline, system.arch.resolved())


def elapsed_cycles(system: System, first: str, seconds: float) -> int:
    """`seconds` in the clock of `first`, the component that runs the first job (busy cycles of
    parts in other clock domains do not add up to an elapsed count)."""
    return int(round(seconds * system.components[first].clock_hz))


def _flash_channels(system: System, comp_names, resource, nbytes, channel_bytes, phases) -> dict:
    """Per flash component (one with a `channel_bandwidth`) and phase: the bytes its array
    read or wrote and the bytes its channel buses carried, in all and per token, and the
    channels' mean utilisation over the span of the phase's work (channel bytes / (bus limit x
    span)). In-flash compute keeps most weight bytes off the channels, so the two differ."""
    out = {}
    for i, c in enumerate(comp_names):
        bw = getattr(system.components[c], "channel_bandwidth", None)
        if not bw:
            continue
        per = {}
        for name, mask, secs, tokens in phases:
            sel = mask & (resource == i)
            arr = float(nbytes[sel].sum())
            chan = float(channel_bytes[sel].sum())
            per[name] = {"bytes": arr, "channel_bytes": chan,
                         "bytes_per_token": arr / tokens if tokens else 0.0,
                         "channel_bytes_per_token": chan / tokens if tokens else 0.0,
                         "channel_utilisation": chan / (bw * secs) if secs > 0 else 0.0}
        out[c] = {"channel_bandwidth": float(bw), **per}
    return out


def trace_capacity(trace) -> tuple[float, float]:
    """Weights and KV bytes per token implied by a user trace (one forward pass's weights)."""
    meta = trace.meta
    if "weights_bytes" in meta and "kv_bytes_per_token" in meta:
        return float(meta["weights_bytes"]), float(meta["kv_bytes_per_token"])
    return trace.step_weight_bytes(), 0.0


def run(arch, model, scenario: Scenario, fidelity: str = "cycle", trace=None, seed: int = 0) -> RunResult:
    """Simulate `model` (a ModelSpec) or a user `trace` on `arch` (an ArchSpec)."""
    from archsim.system.mapping import run_precision
    from archsim.workload.precision import parse_precision
    from archsim.workload.trace_builder import build_trace

    system = System(arch, fidelity)
    if trace is None:
        precision = run_precision(scenario.precision, system.arch.mapping, model.default_precision)
        prec = parse_precision(precision)
        context = scenario.input_len + scenario.output_len
        cap = system.mapping.capacity(model.weight_bytes(prec), model.kv_bytes_per_token(prec),
                                      scenario.batch, context, model.cached_kv_heads)
        trace = build_trace(model, batch=scenario.batch, input_len=scenario.input_len,
                            output_len=scenario.output_len, precision=precision, seed=seed)
        model_name = model.name
    else:
        meta = trace.meta
        # the trace's own scenario (meta, else its rows); the caller's only where it says nothing
        own = trace.scenario()
        precision = str(meta.get("precision", trace["dtype_w"][0]))
        weights, kv = trace_capacity(trace)
        scen = {k: int(own[k] if own[k] is not None else getattr(scenario, k))
                for k in ("batch", "input_len", "output_len")}
        scenario = Scenario(precision=precision, **scen)
        cap = system.mapping.capacity(weights, kv, scenario.batch, scenario.input_len + scenario.output_len,
                                      trace.cached_kv_heads())
        model_name = str(meta.get("model", "trace"))
        seed = meta.get("seed")       # the trace's rows carry its routing: its seed, if it says
    result = run_trace(system, trace, model_name, scenario.as_dict(precision), cap)
    extra = {"seed": seed}
    if getattr(trace, "source", None):
        extra["trace_file"] = trace.source
    result.summary["provenance"] = provenance(system, model_name, extra)
    result.summary["config"] = result.config
    return result

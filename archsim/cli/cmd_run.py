"""`archsim run ARCH MODEL`: simulate prefill and decode of a model (or a trace file)."""

from __future__ import annotations

from pathlib import Path

from archsim.cli.common import add_format_option, add_set_option, emit_json, seed


def register(sub) -> None:
    p = sub.add_parser(
        "run", help="simulate a model (or a trace) on a machine",
        description="Simulate prefill over --input-len tokens and --output-len decode steps. "
                    "tokens_per_s counts the tokens of every sequence: per request times --batch.")
    p.add_argument("arch", help="bundled arch name (see `archsim list arch`) or a YAML path")
    p.add_argument("model", nargs="?", help="bundled model name or a YAML path (omit with --trace)")
    p.add_argument("--trace", help="run this trace file (.h5 or .csv) instead of a model; its meta line or "
                                    "its rows give the scenario (--batch/--input-len/--output-len only "
                                    "where they do not, and must agree where they do)")
    # None: not given (a trace's own scenario then applies); DEFAULTS otherwise
    p.add_argument("--batch", type=int, help="sequences per batch (default 1)")
    p.add_argument("--input-len", type=int, help="prompt tokens (default 2048)")
    p.add_argument("--output-len", type=int, help="decode steps (default 128)")
    p.add_argument("--precision", help="fp16, bf16, fp32, int8, w4a16, w2a8, ... (default: the model's)")
    p.add_argument("--fidelity", choices=("cycle", "analytic"), default="cycle")
    p.add_argument("--seed", type=seed, default=None,
                   help="seed for MoE expert routing (default 0; a trace keeps its own)")
    add_set_option(p)
    add_format_option(p)
    p.add_argument("--out", help="write result, per-op timeline and resolved config to this HDF5 "
                                 "file (.h5 or .hdf5)")
    p.add_argument("--timeline", help="write a Chrome/Perfetto trace (JSON) of the ops on each component")
    p.set_defaults(func=main)


DEFAULTS = {"batch": 1, "input_len": 2048, "output_len": 128}
FLAGS = {"batch": "--batch", "input_len": "--input-len", "output_len": "--output-len"}


def trace_scenario(trace, path, args) -> dict:
    """The trace's scenario (meta, else rows); the flags fill only what it does not say."""
    from archsim.errors import ConfigError, TraceError

    if args.model:
        raise ConfigError(f"give a MODEL or --trace FILE, not both (a trace is run as written; "
                          f"got MODEL {args.model!r})", "archsim run", "model")
    if args.precision:
        raise ConfigError("--precision does not apply to a trace: its dtype_w/dtype_a columns fix the "
                          "element types", "archsim run", "precision")
    scenario = trace.scenario(str(path))
    own_seed = trace.meta.get("seed")
    if args.seed is not None and own_seed is not None and args.seed != own_seed:
        raise ConfigError(f"--seed {args.seed} disagrees with the trace, whose expert routing was "
                          f"drawn with seed {own_seed} (a trace is run as written)", str(path), "seed")
    missing = []
    for key, value in scenario.items():
        given = getattr(args, key)
        if value is None:
            scenario[key] = given
            missing += [key] if given is None else []
        elif given is not None and given != value:
            raise ConfigError(f"{FLAGS[key]} {given} disagrees with the trace, which was built for "
                              f"{key} = {value}", str(path), key)
    if missing:
        raise TraceError(f"the trace has no scenario: neither its meta nor its rows give "
                         f"{', '.join(missing)}; add them to the meta (CSV: a line "
                         f"'# meta: {{\"batch\": 1, \"input_len\": 128, \"output_len\": 16}}' before the "
                         f"header) or give {' '.join(FLAGS[k] + ' N' for k in missing)}", str(path), missing[0])
    return scenario


def main(args) -> int:
    from archsim.api import simulate_case
    from archsim.errors import ConfigError

    if args.out and not str(args.out).lower().endswith((".h5", ".hdf5")):
        # the file is HDF5 whatever its name; `archsim plot` reads it by its extension
        raise ConfigError(f"the result file is HDF5: name it .h5 or .hdf5, got {args.out!r}",
                          key="--out")
    if args.out and args.timeline and Path(args.out).resolve() == Path(args.timeline).resolve():
        raise ConfigError("--out and --timeline name the same file; the timeline would overwrite the results",
                          key="--timeline")
    trace = None
    if args.trace:
        from archsim.workload.trace_io import read_trace
        trace = read_trace(args.trace)
        scenario = trace_scenario(trace, args.trace, args)
    elif not args.model:
        raise ConfigError("give a MODEL or --trace FILE", "archsim run", "model")
    else:
        scenario = {k: v if (v := getattr(args, k)) is not None else DEFAULTS[k] for k in DEFAULTS}
    if args.precision:
        scenario["precision"] = args.precision
    seed = 0 if args.seed is None else args.seed
    result = simulate_case(args.arch, args.model, scenario, args.sets, args.fidelity, seed, trace)
    if args.out:
        from archsim.results.hdf5_io import write_result_h5
        write_result_h5(result, args.out)
    if args.timeline:
        from archsim.results.perfetto import write_perfetto
        write_perfetto(result, args.timeline)
    if args.format == "json":
        emit_json(result.summary)
    else:
        from archsim.results.text_table import format_summary
        print(format_summary(result.summary))
    return 0

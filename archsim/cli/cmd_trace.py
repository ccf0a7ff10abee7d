"""`archsim trace MODEL --out trace.h5|.csv`: write the per-op workload trace of a model."""

from __future__ import annotations

from archsim.cli.common import add_set_option, seed


def register(sub) -> None:
    p = sub.add_parser("trace", help="write a model's per-op workload trace (HDF5 or CSV)")
    p.add_argument("model", help="bundled model name or a YAML path")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--input-len", type=int, default=2048)
    p.add_argument("--output-len", type=int, default=128)
    p.add_argument("--precision", help="default: the model's")
    p.add_argument("--seed", type=seed, default=0, help="seed for MoE expert routing")
    p.add_argument("--out", required=True, help="trace file: .h5/.hdf5 or .csv")
    add_set_option(p)
    p.set_defaults(func=main)


def main(args) -> int:
    from archsim.api import make_scenario
    from archsim.workload.model_spec import load_model
    from archsim.workload.trace_builder import build_trace
    from archsim.workload.trace_io import write_trace

    sets = [s[len("model."):] if s.startswith("model.") else s for s in args.sets]
    model = load_model(args.model, sets)
    scen = make_scenario({"batch": args.batch, "input_len": args.input_len, "output_len": args.output_len})
    trace = build_trace(model, batch=scen.batch, input_len=scen.input_len, output_len=scen.output_len,
                        precision=args.precision or model.default_precision, seed=args.seed)
    write_trace(trace, args.out)
    print(f"wrote {len(trace)} ops of {model.name} to {args.out}")
    return 0

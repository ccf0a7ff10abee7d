"""`archsim op ARCH gemv|gemm|attention --m M --k K --n N`: cost of one op on a machine."""

from __future__ import annotations

from archsim.cli.common import add_format_option, add_set_option, emit_json
from archsim.results.text_table import text_table


def register(sub) -> None:
    p = sub.add_parser("op", help="cost of one op (gemv, gemm, attention) on a machine",
                       description="gemv/gemm: out[m,n] = A[m,k] x W[k,n]. attention: m query tokens, "
                                   "head dim k, n KV positions, --heads query heads.")
    p.add_argument("arch")
    p.add_argument("kind", choices=("gemv", "gemm", "attention"))
    p.add_argument("--m", type=int, required=True)
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--heads", type=int, help="query heads (attention only; default 1)")
    p.add_argument("--precision", default=None,
                   help="default: the arch's mapping.precision, else fp16")
    p.add_argument("--fidelity", choices=("cycle", "analytic"), default="cycle")
    add_set_option(p)
    add_format_option(p)
    p.set_defaults(func=main)


def main(args) -> int:
    from archsim.api import run_op

    from archsim.errors import ConfigError
    if args.heads is not None and args.kind != "attention":
        raise ConfigError(f"only attention has heads (this op is {args.kind})", key="--heads")
    if args.precision is not None and not args.precision.strip():
        raise ConfigError("expected an element type (fp16, bf16, int8, ...), got ''",
                          key="--precision")
    out = run_op(args.arch, args.kind, args.m, args.k, args.n, args.precision, args.sets,
                 args.fidelity, 1 if args.heads is None else args.heads)
    if args.format == "json":
        emit_json(out)
        return 0
    print(f"{out['arch']}: {args.kind} m={args.m} k={args.k} n={args.n} {out['precision']}: "
          f"{out['seconds'] * 1e6:.3f} us, {out['cycles']} cycles, {out['energy_j'] * 1e3:.4f} mJ")
    rows = [[c, f"{b['seconds'] * 1e6:.3f}", f"{b['energy_j'] * 1e3:.4f}", f"{b['bytes'] / 1e6:.3f}"]
            for c, b in out["breakdown"].items()]
    print(text_table(rows, ["component", "us", "mJ", "MB"]))
    grids = out["stats"]["mapping"].get("op_grid")
    if grids:
        print("grid: " + ", ".join(f"{part} {g}" for part, g in grids.items()))
    return 0

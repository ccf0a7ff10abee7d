"""`archsim systolic`: one GEMM on one systolic array, as SCALE-Sim runs it."""

from __future__ import annotations

from archsim.cli.common import add_format_option, emit_json
from archsim.results.text_table import text_table
from archsim.errors import ConfigError

HELP = """Simulate out[M,N] = A[M,K] x W[K,N] on a rows x cols systolic array with the
cycle-level kernel. Prints {cycles, utilisation, wall_s, ...}: cycles counted as SCALE-Sim v3
counts its "total cycles" (the index of the last output write, stalls included, the initial
SRAM fill excluded); utilisation = MACs / (PEs x elapsed cycles); wall_s = the simulation
alone (the kernel's first load, compile_s, is reported apart). With --bandwidth 0 (default)
the DRAM interface never stalls the array, as SCALE-Sim's CALC interface."""


def _gemm(text: str) -> tuple[int, int, int]:
    try:
        m, k, n = (int(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"expected M,K,N (three integers), got {text!r}", key="--gemm") from None
    return m, k, n


def register(subparsers) -> None:
    p = subparsers.add_parser("systolic", help="one GEMM on a systolic array (SCALE-Sim's job)",
                              description=HELP)
    p.add_argument("--rows", type=int, default=128)
    p.add_argument("--cols", type=int, default=128)
    p.add_argument("--dataflow", default="os", help="os | ws | is (default: os)")
    p.add_argument("--gemm", required=True, metavar="M,K,N")
    p.add_argument("--lanes", type=int, default=1, help="MACs per PE per cycle (K is divided by it)")
    p.add_argument("--bandwidth", type=float, default=0.0, metavar="WORDS_PER_CYCLE",
                   help="DRAM interface words per cycle, a whole number; 0 = unlimited "
                        "(default)")
    p.add_argument("--ifmap-sram-kb", type=float, default=512, help="KiB, > 0 (default 512)")
    p.add_argument("--filter-sram-kb", type=float, default=512, help="KiB, > 0 (default 512)")
    add_format_option(p)
    p.set_defaults(func=main)


def main(args) -> int:
    from archsim.components.systolic.api import simulate
    m, k, n = _gemm(args.gemm)
    r = simulate(args.rows, args.cols, args.dataflow, m, k, n, lanes=args.lanes,
                 bw_words_per_cycle=args.bandwidth, ifmap_sram_kb=args.ifmap_sram_kb,
                 filter_sram_kb=args.filter_sram_kb)
    if args.format == "json":
        emit_json(r)
    else:
        rows = [["cycles", r["cycles"]], ["closed form", r["closed_form_cycles"]],
                ["utilisation", f"{100 * r['utilisation']:.2f} %"],
                ["SCALE-Sim compute util", f"{100 * r['compute_util_scalesim']:.2f} %"],
                ["folds", f"{r['folds']} ({r['row_folds']} x {r['col_folds']})"],
                ["stall cycles", r["stall_cycles"]], ["wall", f"{r['wall_s'] * 1e3:.3f} ms"]]
        print(text_table(rows, ["systolic " + r["array"] + " " + r["dataflow"], ""]))
    return 0

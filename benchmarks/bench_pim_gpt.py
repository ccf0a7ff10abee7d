"""PIM-GPT vs the T4 baseline on the 8 GPT models of the paper.

    python benchmarks/bench_pim_gpt.py [--input-len N] [--output-len N] [--json out.json]

Published (PIM-GPT, npj Unconventional Computing 2024, abstract): 41-137x decode speedup and
123-383x (v1) / 339-1085x (v2) energy efficiency over their GPU baseline, batch 1. Here both
sides are archsim models: `pim-gpt` (cycle-level GDDR6-PIM channels + ASIC) and `t4` (the
foundation's calibrated GPU baseline). Nothing is fitted to the published band.
"""

from __future__ import annotations

import argparse
import json
import time

MODELS = ["gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl",
          "gpt3-small", "gpt3-medium", "gpt3-large", "gpt3-xl"]
BAND = (41.0, 137.0)


def run(input_len: int, output_len: int) -> list[dict]:
    from archsim.api import simulate_case
    scen = {"batch": 1, "input_len": input_len, "output_len": output_len}
    rows = []
    for m in MODELS:
        t0 = time.perf_counter()
        pim = simulate_case("pim-gpt", m, scen).summary
        gpu = simulate_case("t4", m, scen).summary
        p, g = pim["decode"], gpu["decode"]
        rows.append({"model": m, "pim_tokens_per_s": p["tokens_per_s"], "t4_tokens_per_s": g["tokens_per_s"],
                     "speedup": p["tokens_per_s"] / g["tokens_per_s"],
                     "pim_j_per_token": p["energy_j_per_token"], "t4_j_per_token": g["energy_j_per_token"],
                     "energy_efficiency": g["energy_j_per_token"] / p["energy_j_per_token"],
                     "wall_s": time.perf_counter() - t0})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input-len", type=int, default=64)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    rows = run(args.input_len, args.output_len)
    print(f"PIM-GPT vs t4, batch 1, input {args.input_len}, output {args.output_len} (decode tokens/s)")
    print("model | pim-gpt tok/s | t4 tok/s | speedup | pim J/tok | t4 J/tok | energy eff.")
    for r in rows:
        print(f"{r['model']} | {r['pim_tokens_per_s']:,.0f} | {r['t4_tokens_per_s']:,.1f} | {r['speedup']:.1f}x | "
              f"{r['pim_j_per_token'] * 1e3:.3f} mJ | {r['t4_j_per_token'] * 1e3:.2f} mJ | {r['energy_efficiency']:.0f}x")
    sp = [r["speedup"] for r in rows]
    lo, hi = BAND
    print(f"speedup range {min(sp):.1f}-{max(sp):.1f}x; published {lo:.0f}-{hi:.0f}x "
          f"(tolerance 25%: {lo * 0.75:.1f}-{hi * 1.25:.1f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""PIM-GPT vs the T4 and Xeon baselines on the 8 GPT models of the paper.

    python benchmarks/bench_pim_gpt.py [--input-len N] [--output-len N]
                                       [--baseline-precision P] [--json out.json]

Published (PIM-GPT, npj Unconventional Computing 2024, abstract of arXiv 2310.09385): decode
speedup 41-137x over the GPU (a T4) and 631-1074x over the CPU (a Xeon Gold 6154), batch 1;
energy efficiency 123-383x / 320-602x (v2 of the abstract; v1 printed 339-1085x / 890-1632x).
Here every side is an archsim model: `pim-gpt` (cycle-level GDDR6-PIM channels + ASIC), `t4`
and `xeon-gold-6154` (the foundation's calibrated baselines). Nothing is fitted to the bands.
Each machine runs at its own `mapping.precision` unless --baseline-precision names one for the
baselines: pim-gpt at bf16 (its MACs), t4 at fp32 (PyTorch's default dtype, read as the paper's
set-up, see arch_configs/t4.yaml), the Xeon at the model's default (fp16). The paper's text
that would say which precision its GPU and CPU ran was not available, so
`--baseline-precision fp16` prints the other reading.
"""

from __future__ import annotations

import argparse
import json
import time

MODELS = ["gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl",
          "gpt3-small", "gpt3-medium", "gpt3-large", "gpt3-xl"]
BAND = (41.0, 137.0)
CPU_BAND = (631.0, 1074.0)


def run(input_len: int, output_len: int, baseline_precision: str | None = None) -> list[dict]:
    from archsim.api import simulate_case
    scen = {"batch": 1, "input_len": input_len, "output_len": output_len}
    base = dict(scen, precision=baseline_precision) if baseline_precision else scen
    rows = []
    for m in MODELS:
        t0 = time.perf_counter()
        runs = [simulate_case(a, m, s).summary for a, s in
                (("pim-gpt", scen), ("t4", base), ("xeon-gold-6154", base))]
        p, g, c = (r["decode"] for r in runs)
        rows.append({"model": m, "precisions": [r["scenario"]["precision"] for r in runs], "pim_tokens_per_s": p["tokens_per_s"], "t4_tokens_per_s": g["tokens_per_s"],
                     "speedup": p["tokens_per_s"] / g["tokens_per_s"],
                     "pim_j_per_token": p["energy_j_per_token"], "t4_j_per_token": g["energy_j_per_token"],
                     "energy_efficiency": g["energy_j_per_token"] / p["energy_j_per_token"],
                     "cpu_tokens_per_s": c["tokens_per_s"],
                     "cpu_speedup": p["tokens_per_s"] / c["tokens_per_s"],
                     "cpu_energy_efficiency": c["energy_j_per_token"] / p["energy_j_per_token"],
                     "wall_s": time.perf_counter() - t0})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input-len", type=int, default=64)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--baseline-precision", help="run t4 and the Xeon at this precision "
                    "(default: each arch's mapping.precision, else the model's)")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    rows = run(args.input_len, args.output_len, args.baseline_precision)
    at = "/".join(rows[0]["precisions"]) if rows else "-"
    print(f"PIM-GPT vs t4 and xeon-gold-6154 (at {at}), "
          f"batch 1, input {args.input_len}, output {args.output_len} (decode tokens/s)")
    print("model | pim-gpt tok/s | t4 tok/s | speedup | pim J/tok | t4 J/tok | energy eff. | "
          "xeon tok/s | speedup | energy eff.")
    for r in rows:
        print(f"{r['model']} | {r['pim_tokens_per_s']:,.0f} | {r['t4_tokens_per_s']:,.1f} | {r['speedup']:.1f}x | "
              f"{r['pim_j_per_token'] * 1e3:.3f} mJ | {r['t4_j_per_token'] * 1e3:.2f} mJ | {r['energy_efficiency']:.0f}x | "
              f"{r['cpu_tokens_per_s']:,.1f} | {r['cpu_speedup']:.1f}x | {r['cpu_energy_efficiency']:.0f}x")
    for key, (lo, hi), name in (("speedup", BAND, "GPU"), ("cpu_speedup", CPU_BAND, "CPU")):
        sp = [r[key] for r in rows]
        print(f"{name} speedup range {min(sp):.1f}-{max(sp):.1f}x (max/min {max(sp) / min(sp):.2f}); "
              f"published {lo:.0f}-{hi:.0f}x (max/min {hi / lo:.2f}; tolerance 25%: "
              f"{lo * 0.75:.1f}-{hi * 1.25:.1f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

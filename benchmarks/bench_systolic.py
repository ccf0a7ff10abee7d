"""Systolic kernel vs SCALE-Sim v3: same total cycles, and how much faster.

    python benchmarks/bench_systolic.py [--process] [--json]

For each array, dataflow and GEMM of the peers note (../shared/peers/README.md) prints the
SCALE-Sim total cycles, archsim's, the difference, SCALE-Sim's measured wall time and
archsim's (the simulation alone, best of 3 after the kernel is loaded) and their ratio.
--process also times a whole `archsim systolic ...` process (interpreter start and the
kernel's load included) for a process-to-process comparison. Wall times on a shared
2-core machine are noisy; ratios are what to compare.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from archsim.components.systolic.api import simulate

# (rows, dataflow, M, K, N, SCALE-Sim total cycles, SCALE-Sim wall seconds)
PEERS = [
    (128, "os", 1, 4096, 4096, 139199, 71), (128, "os", 128, 4096, 4096, 139199, 188),
    (128, "os", 512, 512, 512, 12255, 7), (128, "ws", 1, 4096, 4096, 392191, 75),
    (128, "ws", 128, 4096, 4096, 522239, 135), (128, "ws", 512, 512, 512, 14303, 8),
    (32, "os", 1, 4096, 4096, 532223, 78), (32, "os", 128, 4096, 4096, 2128895, 620),
    (32, "os", 512, 512, 512, 146943, 35), (32, "ws", 1, 4096, 4096, 1556479, 119),
    (32, "ws", 128, 4096, 4096, 3637247, 642), (32, "ws", 512, 512, 512, 155135, 27),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--process", action="store_true", help="also time whole archsim processes")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for r, df, m, k, n, ref, peer_s in PEERS:
        best = None
        for _ in range(3):
            res = simulate(r, r, df, m, k, n)
            best = res["wall_s"] if best is None else min(best, res["wall_s"])
        row = {"array": f"{r}x{r}", "dataflow": df, "gemm": f"{m}x{k}x{n}", "scalesim_cycles": ref,
               "archsim_cycles": res["cycles"], "diff_pct": 100.0 * (res["cycles"] - ref) / ref,
               "utilisation_pct": 100 * res["utilisation"],
               "compute_util_scalesim_pct": 100 * res["compute_util_scalesim"],
               "scalesim_wall_s": peer_s, "archsim_wall_s": best, "speedup": peer_s / best}
        if args.process:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "archsim.cli.main", "systolic", "--rows", str(r),
                            "--cols", str(r), "--dataflow", df, "--gemm", f"{m},{k},{n}",
                            "--format", "json"], check=True, capture_output=True)
            row["process_wall_s"] = time.perf_counter() - t0
            row["process_speedup"] = peer_s / row["process_wall_s"]
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    hdr = ["array", "df", "GEMM MxKxN", "SCALE-Sim cycles", "archsim cycles", "diff %",
           "SCALE-Sim s", "archsim s", "speed-up"]
    if args.process:
        hdr += ["process s", "process speed-up"]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for x in rows:
        cells = [x["array"], x["dataflow"], x["gemm"], f"{x['scalesim_cycles']:,}", f"{x['archsim_cycles']:,}",
                 f"{x['diff_pct']:+.4f}", f"{x['scalesim_wall_s']}", f"{x['archsim_wall_s']:.2e}",
                 f"{x['speedup']:,.0f}x"]
        if args.process:
            cells += [f"{x['process_wall_s']:.2f}", f"{x['process_speedup']:,.0f}x"]
        print("| " + " | ".join(cells) + " |")
    worst = max(abs(x["diff_pct"]) for x in rows)
    slow = min(x["speedup"] for x in rows)
    print(f"\nworst cycle difference {worst:.4f} %; smallest speed-up {slow:,.0f}x (simulation alone)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

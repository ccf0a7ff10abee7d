"""NoC engine vs BookSim2 (figures from ../shared/peers/README.md, same configuration).

    python benchmarks/bench_noc.py [--quick] [--seeds N] [--repeat R] [--mesh K] [--threads T]
                                   [--json out.json]

BookSim2 config: mesh 8x8 / 16x16, DOR, 16 VCs x 8 flits, wait for tail credit, iSLIP 2 iters,
credit delay 2, routing 0, VC alloc 1, switch alloc 1, traversal 1; latency mode, 3 warm-up
periods, 1,000-cycle sample periods; uniform random traffic; rate in flits/node/cycle.
Wall times on a shared machine are noisy, so each seed runs --repeat times (same results, the
runs are deterministic) and its fastest wall time counts; the JIT compile is reported apart and
is in no row. Mfh/s: million flit-hops (router-to-router and ejection link traversals) per
wall-second; BookSim2's is rate * nodes * cycles * hops / wall from its own run (one thread;
--threads 2 runs half the routers on this machine's second core, with the same results).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from archsim.components.noc import RouterConfig, simulate_traffic

# (mesh, flits/packet, rate): (latency or None if saturated, accepted, hops, cycles, wall s)
BOOKSIM = {
    (8, 1, 0.05): (27.02, 0.0506, 6.23, 6106, 0.89),
    (8, 1, 0.10): (27.20, 0.0999, 6.24, 6114, 1.12),
    (8, 1, 0.20): (27.79, 0.2002, 6.25, 6110, 2.21),
    (8, 1, 0.30): (29.12, 0.2986, 6.26, 6110, 2.88),
    (8, 4, 0.05): (30.34, 0.0486, 6.20, 6100, 0.35),
    (8, 4, 0.10): (31.39, 0.0987, 6.24, 6093, 0.68),
    (8, 4, 0.20): (34.53, 0.2021, 6.28, 6116, 1.33),
    (8, 4, 0.30): (41.58, 0.2996, 6.26, 6127, 2.24),
    (16, 1, 0.05): (48.67, 0.0502, 11.59, 6207, 6.16),
    (16, 1, 0.10): (49.37, 0.1005, 11.62, 6239, 16.41),
    (16, 1, 0.20): (56.37, 0.2001, 11.62, 6268, 37.02),
    (16, 1, 0.30): (None, 0.2166, None, None, 41.48),
    (16, 4, 0.05): (52.78, 0.0497, 11.64, 6212, 2.97),
    (16, 4, 0.10): (55.22, 0.1003, 11.56, 6214, 5.10),
    (16, 4, 0.20): (90.87, 0.2013, 11.61, 6403, 14.51),
    (16, 4, 0.30): (None, 0.2201, None, None, 23.43),
}


def booksim_flit_hops_per_s(k, pf, rate):
    lat, acc, hops, cyc, wall = BOOKSIM[(k, pf, rate)]
    if cyc is None:
        return None
    return rate * k * k * cyc * hops / wall


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="seeds averaged per point (default 3)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per seed, fastest counts (default 3)")
    ap.add_argument("--quick", action="store_true", help="one seed, 8x8 only")
    ap.add_argument("--mesh", type=int, action="append", help="only this mesh size (repeatable)")
    ap.add_argument("--threads", type=int, default=1, choices=(1, 2),
                    help="engine threads (default 1; 2 needs both cores free)")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)
    seeds = 1 if args.quick else args.seeds
    meshes = args.mesh or ([8] if args.quick else [8, 16])
    router = RouterConfig()
    t0 = time.perf_counter()
    simulate_traffic((2, 2), "uniform", 0.1, 1, router, cycles=40, threads=args.threads)
    print(f"JIT compile / cache load: {time.perf_counter() - t0:.2f} s (not in any row)", flush=True)
    rows = []
    hdr = ("mesh", "pf", "rate", "lat", "bs_lat", "lat_err%", "acc", "bs_acc", "acc_err%",
           "hops", "cycles", "wall_s", "Mfh/s", "bs_Mfh/s", "ratio")
    print(" ".join(f"{h:>9}" for h in hdr))
    for (k, pf, rate), ref in BOOKSIM.items():
        if k not in meshes:
            continue
        res = []
        for s in range(seeds):
            runs = [simulate_traffic((k, k), "uniform", rate, pf, router, seed=s + 1,
                                     threads=args.threads)
                    for _ in range(max(1, args.repeat))]
            res.append(min(runs, key=lambda r: r.wall_s))
        sat = any(r.saturated for r in res)
        lat = float(np.mean([r.avg_packet_latency_cycles for r in res]))
        acc = float(np.mean([r.accepted_flit_rate for r in res]))
        hops = float(np.mean([r.avg_hops for r in res]))
        cyc = float(np.mean([r.cycles for r in res]))
        wall = float(np.mean([r.wall_s for r in res]))
        fh = float(np.sum([r.flit_hops for r in res]) / np.sum([r.wall_s for r in res]))
        bs_fh = booksim_flit_hops_per_s(k, pf, rate)
        bs_lat, bs_acc = ref[0], ref[1]
        lat_err = (lat / bs_lat - 1) * 100 if bs_lat and not sat else float("nan")
        acc_err = (acc / bs_acc - 1) * 100
        row = dict(mesh=f"{k}x{k}", packet_flits=pf, rate=rate, latency=None if sat else lat,
                   booksim_latency=bs_lat, latency_err_pct=lat_err, accepted=acc,
                   booksim_accepted=bs_acc, accepted_err_pct=acc_err, avg_hops=hops,
                   cycles=cyc, wall_s=wall, flit_hops_per_wall_s=fh,
                   booksim_flit_hops_per_wall_s=bs_fh,
                   speedup=(fh / bs_fh) if bs_fh else None, saturated=sat, seeds=seeds,
                   threads=args.threads)
        rows.append(row)
        vals = (f"{k}x{k}", pf, rate, "sat" if sat else f"{lat:.2f}", bs_lat or "sat",
                f"{lat_err:+.1f}", f"{acc:.4f}", bs_acc, f"{acc_err:+.1f}", f"{hops:.2f}",
                f"{cyc:.0f}", f"{wall:.3f}", f"{fh / 1e6:.2f}",
                f"{bs_fh / 1e6:.3f}" if bs_fh else "-", f"{fh / bs_fh:.0f}x" if bs_fh else "-")
        print(" ".join(f"{str(v):>9}" for v in vals), flush=True)
    # 16x16 in aggregate: all flit-hops over all wall time, ours against BookSim's
    for k in meshes:
        ok = [r for r in rows if r["mesh"] == f"{k}x{k}" and r["booksim_flit_hops_per_wall_s"]]
        if ok:
            ours = sum(r["flit_hops_per_wall_s"] * r["wall_s"] for r in ok) / sum(r["wall_s"] for r in ok)
            bs_fh = sum(r["booksim_flit_hops_per_wall_s"] * BOOKSIM[(k, r["packet_flits"], r["rate"])][4]
                        for r in ok)
            bs = bs_fh / sum(BOOKSIM[(k, r["packet_flits"], r["rate"])][4] for r in ok)
            print(f"{k}x{k} unsaturated runs together: {ours / 1e6:.2f} M flit-hops/s vs BookSim2 "
                  f"{bs / 1e6:.3f} M/s = {ours / bs:.0f}x")
        sat = [r for r in rows if r["mesh"] == f"{k}x{k}" and r["saturated"]]
        for r in sat:
            bw = BOOKSIM[(k, r["packet_flits"], r["rate"])][4]
            print(f"{k}x{k} pf={r['packet_flits']} rate={r['rate']} saturated: wall {r['wall_s']:.3f} s "
                  f"vs BookSim2 {bw} s = {bw / r['wall_s']:.0f}x (both stop at the latency limit)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

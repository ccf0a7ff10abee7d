"""Op-cost evaluations per second of the GPU, CPU and link baselines, and whole runs.

    python benchmarks/bench_baselines.py [--seconds S] [--json]

Each baseline's `cost()` is called directly (no memo) on a rotating set of distinct jobs
(GEMV, GEMM, fused attention, softmax, elementwise, all-reduce) for about S seconds; then
`archsim run`-equivalent simulations of Llama-3-8B (4096-token prefill + 1 decode step) time
the whole path (trace, mapping, memoised costs, scheduler). Wall times on a shared 2-core
machine are noisy; compare rates with a wide margin.
"""

from __future__ import annotations

import argparse
import json
import time

from archsim.components.base import Job
from archsim.system.arch import load_arch
from archsim.system.simulate import Scenario, run
from archsim.system.system import System
from archsim.workload.model_spec import load_model


def gpu_jobs():
    for m in (1, 8, 512, 4096):
        for n, k in ((6144, 4096), (4096, 4096), (28672, 4096), (4096, 14336)):
            kind = "gemv" if m == 1 else "gemm"
            yield Job(kind, m=m, n=n, k=k, flops=2.0 * m * n * k, bytes_read=2.0 * (k * n + m * (k + n)))
    for q in (1, 4096):
        yield Job("attention_qk", m=q, n=4097, k=128, batch=32, flops=2.0 * 128 * 32 * q * 4097, bytes_read=1.7e7)
        yield Job("softmax", m=q, n=4097, batch=32, flops=5.0 * 32 * q * 4097,
                  extra=(("exps", 32 * q * 4097), ("fused", True)))
    for m in (1, 4096):
        yield Job("norm", m=m, n=4096, flops=4.0 * m * 4096, bytes_read=4.0 * m * 4096)


def rate(component, jobs, seconds):
    jobs = list(jobs)
    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for j in jobs:
            component.cost(j)
        calls += len(jobs)
    return calls / (time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="time per rate measurement")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    out = {"cost_evals_per_s": {}, "runs": {}}
    for arch in ("a100", "h100", "t4", "xeon-gold-6154", "neoverse-n1"):
        system = System(load_arch(arch))
        comp = system.components[system.arch.mapping["device"]]
        out["cost_evals_per_s"][arch] = rate(comp, gpu_jobs(), args.seconds)
    link = System(load_arch("a100x8")).components["nvlink"]
    out["cost_evals_per_s"]["nvlink"] = rate(
        link, [Job("allreduce", bytes_read=float(2 ** i), extra=(("ranks", 8),)) for i in range(10, 26)], args.seconds)

    model = load_model("llama3-8b")
    scen = Scenario(batch=1, input_len=4096, output_len=1, precision="fp16")
    for arch in ("a100", "a100x8", "xeon-gold-6154"):
        spec = load_arch(arch)
        t0 = time.perf_counter()
        s = run(spec, model, scen).summary
        wall = time.perf_counter() - t0
        out["runs"][arch] = {"wall_s": wall, "jobs": s["stats"]["jobs"], "distinct_jobs": s["stats"]["distinct_jobs"],
                             "prefill_tokens_per_s": s["prefill"]["tokens_per_s"],
                             "decode_tokens_per_s": s["decode"]["tokens_per_s"]}
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print("op-cost evaluations per second (no memo)")
    for name, r in out["cost_evals_per_s"].items():
        print(f"  {name:16s} {r:12,.0f} /s")
    print("llama3-8b, 4096-token prefill + 1 decode step (fp16)")
    for name, r in out["runs"].items():
        print(f"  {name:16s} {r['wall_s']:6.2f} s wall, {r['jobs']:5d} jobs ({r['distinct_jobs']} distinct)"
              f"  prefill {r['prefill_tokens_per_s']:9.1f} tok/s  decode {r['decode_tokens_per_s']:7.2f} tok/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Flash, Cambricon-LLM and InstInfer: the measured tables of docs/flash_npu.md.

    python benchmarks/bench_flash.py [--section all|bandwidth|cambricon|ablation|instinfer] [--json]

bandwidth   `archsim flash` patterns on the bundled flash configs: bandwidth against the bus
            and array limits, latency, channel utilisation, wall time.
cambricon   decode tokens/s of Cambricon-LLM-S/M/L against every figure the paper prints in
            its text (Fig. 9), the three validation cases among them.
ablation    Cambricon-LLM-S with read slicing off, hardware-aware tiling off, and the three
            tile shapes of Fig. 13.
instinfer   a6000-instcsd (dense and SparF) and a6000-flexgen-ssd on OPT-13B, batch 64,
            1024/1024: the flash I/O of InstAttention's Table III (per layer) and tokens/s.
Wall times on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from archsim.api import simulate_case

# Cambricon-LLM decode tokens/s: "text" = printed in Sec. VIII-A (abstract for L-70B);
# "fig9" = the bar labels of Fig. 9 (one decimal) where the text prints none
CAMBRICON = [
    ("cambricon-llm-s", "opt-6.7b", 3.56, "text"), ("cambricon-llm-s", "opt-13b", 1.9, "fig9"),
    ("cambricon-llm-s", "opt-30b", 0.8, "fig9"), ("cambricon-llm-s", "opt-66b", 0.4, "fig9"),
    ("cambricon-llm-m", "opt-6.7b", 10.96, "text"), ("cambricon-llm-m", "opt-13b", 4.68, "text"),
    ("cambricon-llm-m", "opt-30b", 2.50, "text"), ("cambricon-llm-m", "opt-66b", 1.15, "text"),
    ("cambricon-llm-l", "opt-6.7b", 36.34, "text"), ("cambricon-llm-l", "opt-13b", 14.2, "fig9"),
    ("cambricon-llm-l", "opt-30b", 7.6, "fig9"), ("cambricon-llm-l", "opt-66b", 2.59, "text"),
    ("cambricon-llm-s", "llama2-7b", 3.55, "text"), ("cambricon-llm-s", "llama2-13b", 1.9, "fig9"),
    ("cambricon-llm-s", "llama2-70b", 0.3, "fig9"), ("cambricon-llm-m", "llama2-7b", 10.4, "fig9"),
    ("cambricon-llm-m", "llama2-13b", 4.7, "fig9"), ("cambricon-llm-m", "llama2-70b", 1.0, "fig9"),
    ("cambricon-llm-l", "llama2-7b", 34.0, "fig9"), ("cambricon-llm-l", "llama2-13b", 14.0, "fig9"),
    ("cambricon-llm-l", "llama2-70b", 3.44, "text"),
]
VALIDATION = {("cambricon-llm-l", "opt-6.7b"): 0.15, ("cambricon-llm-s", "opt-6.7b"): 0.15,
              ("cambricon-llm-m", "opt-13b"): 0.15}
SCEN = {"batch": 1, "input_len": 1000, "output_len": 1, "precision": "int8"}


def bandwidth():
    from archsim.cli.cmd_flash import load_flash
    from archsim.components.flash.api import run_pattern
    rows = []
    for cfg in ("flash_cambricon_s", "flash_980pro"):
        spec, _, _ = load_flash(cfg)
        for pattern in ("seq", "random"):
            for rb, qd in ((4096, 64), (16384, 64), (131072, 256)):
                r = run_pattern(spec, pattern, 20000, rb, queue_depth=qd)
                lim = min(r["limits_gbps"].values())
                rows.append({"config": cfg, "pattern": pattern, "request_bytes": rb, "queue_depth": qd,
                             "bandwidth_gbps": r["bandwidth_gbps"], "bus_gbps": r["limits_gbps"]["bus"],
                             "array_gbps": r["limits_gbps"]["array"], "of_limit": r["bandwidth_gbps"] / lim,
                             "avg_latency_us": r["avg_latency_us"], "channel_utilisation": r["channel_utilisation"],
                             "wall_s": r["wall_s"]})
    return rows


def decode_tps(arch, model, sets=(), full=False):
    t0 = time.perf_counter()
    res = simulate_case(arch, model, SCEN, sets=list(sets))
    wall = time.perf_counter() - t0
    return (res if full else res.summary), wall


def decode_flash_stats(res) -> dict:
    """Flash bytes read and channel bytes per decode token, and the channels' mean utilisation
    over the decode: the run's own report (stats.flash)."""
    f = res.summary["stats"]["flash"]["flash"]["decode"]
    return {"flash_gb_per_token": f["bytes_per_token"] / 1e9,
            "channel_gb_per_token": f["channel_bytes_per_token"] / 1e9,
            "channel_utilisation": f["channel_utilisation"]}


def cambricon():
    rows = []
    for arch, model, pub, where in CAMBRICON:
        res, wall = decode_tps(arch, model, full=True)
        pred = res.summary["decode"]["tokens_per_s"]
        tol = VALIDATION.get((arch, model))
        rows.append({"arch": arch, "model": model, "source": where, "published": pub, "predicted": pred,
                     "error": (pred - pub) / pub, "validation_tolerance": tol,
                     **decode_flash_stats(res), "wall_s": wall})
    return rows


def ablation():
    rows = []
    for model in ("opt-6.7b", "opt-13b", "llama2-7b", "llama2-13b"):
        res, _ = decode_tps("cambricon-llm-s", model, full=True)
        b = res.summary["decode"]["tokens_per_s"]
        row = {"model": model, "base": b, "base_channel_util": decode_flash_stats(res)["channel_utilisation"]}
        for key, sets in (("no_slicing", ["flash.slicing.enabled=false"]),
                          ("no_tiling", ["flash.tiling.enabled=false"]),
                          ("tile_256x2048", ["flash.tiling.tile=256x2048"]),
                          ("tile_128x4096", ["flash.tiling.tile=128x4096"]),
                          ("tile_4096x128", ["flash.tiling.tile=4096x128"])):
            r, _ = decode_tps("cambricon-llm-s", model, sets, full=True)
            row[key] = r.summary["decode"]["tokens_per_s"]
            if key in ("no_slicing", "no_tiling"):
                row[key + "_channel_util"] = decode_flash_stats(r)["channel_utilisation"]
        row["slicing_speedup"] = b / row["no_slicing"]
        row["tiling_speedup"] = b / row["no_tiling"]
        row["256x2048_vs_128x4096"] = row["tile_256x2048"] / row["tile_128x4096"] - 1
        row["256x2048_vs_4096x128"] = row["tile_256x2048"] / row["tile_4096x128"] - 1
        rows.append(row)
    return rows


def instinfer():
    scen = {"batch": 64, "input_len": 1024, "output_len": 1024, "precision": "fp16"}
    rows = []
    for arch, sets in (("a6000-instcsd", ["flash.kv.attention=sparf"]), ("a6000-instcsd", ["flash.kv.attention=dense"]),
                       ("a6000-flexgen-ssd", [])):
        t0 = time.perf_counter()
        r = simulate_case(arch, "opt-13b", scen, sets=sets).summary
        wall = time.perf_counter() - t0
        io = r["stats"].get("mapping", {}).get("csd_io")
        row = {"arch": arch, "sets": " ".join(sets), "flash_bytes": r["breakdown"]["flash"]["bytes"]}
        if io:
            # Table III (per layer): prefill write 1.34 GB, decoding read 1085.65 GB, decoding write 1.93 GB
            row.update({"prefill_write_gb_per_layer": io["prefill_write_bytes_per_layer"] / 1e9,
                        "decode_read_gb_per_layer": io["decode_read_bytes_per_layer"] / 1e9,
                        "decode_write_gb_per_layer": io["decode_write_bytes_per_layer"] / 1e9,
                        "prefill_p2p_gb_per_layer": io["prefill_p2p_bytes_per_layer"] / 1e9,
                        "decode_p2p_gb_per_layer": io["decode_p2p_bytes_per_layer"] / 1e9,
                        "error_decode_read": io["decode_read_bytes_per_layer"] / 1.08565e12 - 1,
                        "decode_read_gb_per_s": io["decode_read_bytes"] / r["decode"]["seconds"] / 1e9})
        row.update({"decode_tokens_per_s": r["decode"]["tokens_per_s"],
                    "end_to_end_tokens_per_s": r["end_to_end"]["tokens_per_s"], "wall_s": wall})
        rows.append(row)
    return rows


def _print(title, rows):
    print(f"\n## {title}\n")
    if not rows:
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        cells = []
        for k in keys:
            v = r.get(k, "")
            if isinstance(v, float):
                cells.append(f"{v:.4g}")
            else:
                cells.append(str(v))
        print("| " + " | ".join(cells) + " |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--section", default="all", choices=("all", "bandwidth", "cambricon", "ablation", "instinfer"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    out = {}
    for name, fn in (("bandwidth", bandwidth), ("cambricon", cambricon), ("ablation", ablation),
                     ("instinfer", instinfer)):
        if a.section in ("all", name):
            out[name] = fn()
            if not a.json:
                _print(name, out[name])
    if a.json:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A stand-in for the simulator with the same result shape, for testing and timing the sweep
machinery itself (executors, result file, resume) in milliseconds.

A roofline toy: decode streams `toy.weights` bytes per step at `toy.bandwidth` or computes at
`toy.flops`, whichever is slower. Set paths it reads (all optional, units allowed):
  toy.bandwidth (B/s), toy.flops (FLOP/s), toy.memory (B), toy.weights (B),
  toy.sleep (s, wall time a point takes), toy.error (raise with this text),
  toy.crash (kill the worker every time), toy.crash_once (a folder: kill the worker the first
  time this case runs, leaving a marker there).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from pathlib import Path

from archsim.errors import CapacityError
from archsim.sweep.expr import as_number


def _get(sets, key, default):
    return float(as_number(sets.get(key, default)))


def toy_evaluate(case: dict) -> dict:
    sets = case.get("sets", {})
    scen = case.get("scenario", {})
    if sets.get("toy.sleep"):
        time.sleep(_get(sets, "toy.sleep", 0))
    if sets.get("toy.crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    if sets.get("toy.crash_once"):
        tag = hashlib.sha256(json.dumps(case, sort_keys=True, default=str).encode()).hexdigest()[:16]
        marker = Path(sets["toy.crash_once"]) / f"crashed-{tag}"
        if not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
    if sets.get("toy.error"):
        raise ValueError(str(sets["toy.error"]))
    batch = int(scen.get("batch", 1))
    input_len = int(scen.get("input_len", 2048))
    output_len = int(scen.get("output_len", 128))
    bw = _get(sets, "toy.bandwidth", 2e12)
    flops = _get(sets, "toy.flops", 300e12)
    memory = _get(sets, "toy.memory", 80e9)
    weights = _get(sets, "toy.weights", 16e9)
    kv_per_token = 131072.0
    needed = weights + kv_per_token * batch * (input_len + output_len)
    if needed > memory:
        raise CapacityError(f"the workload does not fit: it needs {needed / 2**30:.2f} GiB, the machine has "
                            f"{memory / 2**30:.2f} GiB", "toy", "toy.memory")
    params = weights / 2
    step = max(weights / bw, 2 * params * batch / flops)
    prefill = max(weights / bw, 2 * params * batch * input_len / flops)
    decode = step * output_len
    e_step = weights * 8 * 3.9e-12 + 2 * params * batch * 0.5e-12
    return {
        "arch": case.get("arch"), "model": case.get("model"), "fidelity": case.get("fidelity"),
        "scenario": {"batch": batch, "input_len": input_len, "output_len": output_len, "precision": "fp16"},
        "prefill": {"seconds": prefill, "cycles": int(prefill * 1e9), "tokens_per_s": batch * input_len / prefill,
                    "energy_j": e_step * input_len},
        "decode": {"seconds": decode, "seconds_per_token": step / batch, "tokens_per_s": batch / step,
                   "energy_j": e_step * output_len, "energy_j_per_token": e_step / batch},
        "end_to_end": {"seconds": prefill + decode, "tokens_per_s": batch * output_len / (prefill + decode)},
        "ttft_s": prefill, "tpot_s": step,
        "breakdown": {"memory": {"seconds": weights / bw * (output_len + 1), "energy_j": weights * 8 * 3.9e-12,
                                 "bytes": weights * (output_len + 1)},
                      "compute": {"seconds": 2 * params * batch * (input_len + output_len) / flops,
                                  "energy_j": 2 * params * batch * 0.5e-12, "bytes": 0.0}},
        "capacity": {"weights_bytes": int(weights), "kv_bytes_per_token": int(kv_per_token),
                     "max_decode_tokens": int((memory - weights) // (kv_per_token * batch))},
        "provenance": {},
    }

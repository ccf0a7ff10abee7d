import json
import os
import struct

import h5py
import numpy as np
import pytest

from archsim.errors import ArchsimError
from archsim.results import (atomic_open, atomic_write_text, format_summary, read_result_h5, write_perfetto,
                             write_result_h5)
from archsim.system.simulate import RunResult


def _result(n: int = 6) -> RunResult:
    rng = np.random.default_rng(7)
    comps = np.array(["core", "dram", "core", "noc", "dram", "core"][:n], dtype=object)
    timeline = {
        "component": comps,
        "op": np.array(["gemv"] * n, dtype=object),
        "name": np.array(["q_proj", "ffn_up", "attn·qk", "kv", "ffn_down", "lm_head"][:n], dtype=object),
        "phase": np.array((["prefill"] * 3 + ["decode"] * 3)[:n], dtype=object),
        "layer": np.arange(n, dtype=np.int64) - 1,
        "step": np.zeros(n, dtype=np.int64),
        "start_ps": np.arange(n, dtype=np.int64) * 1_000_000,
        "finish_ps": np.arange(n, dtype=np.int64) * 1_000_000 + 750_000,
        "energy_pj": rng.random(n) * 1e6,
        "bytes": rng.random(n) * 1e9,
    }
    config = {"name": "toy", "mapping": {"strategy": "mesh", "grid": (420, 420)},
              "core": {"type": "core", "clock": 1.1e9, "sram": 49152.0}}
    summary = {
        "arch": "toy", "model": "tiny", "fidelity": "cycle",
        "scenario": {"batch": 2, "input_len": 128, "output_len": 3, "precision": "fp16"},
        "prefill": {"seconds": 0.1 + 0.2, "cycles": 123456789012, "tokens_per_s": 256 / 0.3, "energy_j": 1 / 3},
        "decode": {"seconds": 2.5e-3, "seconds_per_token": 2.5e-3 / 6, "tokens_per_s": 6 / 2.5e-3,
                   "energy_j": 0.07, "energy_j_per_token": 0.07 / 6},
        "end_to_end": {"seconds": 0.3025, "tokens_per_s": 6 / 0.3025},
        "ttft_s": 0.3, "tpot_s": 2.5e-3 / 3,
        "breakdown": {"core": {"seconds": 0.2, "energy_j": 0.3, "bytes": 1e9, "jobs": 3},
                      "dram": {"seconds": 0.1, "energy_j": 0.1, "bytes": 4e9, "jobs": 2}},
        "ops": {"q_proj": {"seconds": 0.05, "energy_j": 0.01, "flops": 1e12, "bytes": 2e9},
                "ffn_up": {"seconds": 0.15, "energy_j": 0.02, "flops": 3e12, "bytes": 6e9}},
        "capacity": {"weights_bytes": 16_060_522_496, "kv_bytes_per_token": 131072, "max_decode_tokens": 137548},
        "odd": {"nan": float("nan"), "neg_zero": -0.0, "tiny": 5e-324, "tuple": (1, 2.5)},
        "config": config,
    }
    return RunResult(summary, timeline, config)


def _bits(x):
    return struct.pack("<d", x) if isinstance(x, float) else x


def _same(a, b):
    """Deep equality with floats compared bit for bit (NaN included) and types kept."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert _bits(a) == _bits(b), (a, b)


def test_h5_round_trip_is_exact(tmp_path):
    res = _result()
    path = tmp_path / "run.h5"
    write_result_h5(res, path)
    back = read_result_h5(path)
    _same(res.summary, back.summary)
    _same(res.config, back.config)
    assert list(back.timeline) == list(res.timeline)
    for name, col in res.timeline.items():
        got = back.timeline[name]
        assert got.dtype == col.dtype, name
        if col.dtype.kind == "f":
            assert np.array_equal(col.view(np.uint64), got.view(np.uint64)), name
        else:
            assert got.tolist() == col.tolist(), name
    assert [p.name for p in tmp_path.iterdir()] == ["run.h5"]     # no temp file left behind


def test_h5_layout_is_plain_hdf5(tmp_path):
    path = tmp_path / "run.h5"
    write_result_h5(_result(), path)
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "archsim.result"
        assert json.loads(f["summary"].asstr()[()].replace("NaN", "null"))["arch"] == "toy"
        assert f["timeline/phase"].dtype.kind == "S"                      # fixed-length bytes
        assert h5py.check_string_dtype(f["timeline/phase"].dtype).encoding == "utf-8"
        assert "archsim_version" in json.loads(f["provenance"].asstr()[()])


def test_h5_empty_timeline_and_long_columns(tmp_path):
    res = _result()
    res.timeline = {k: v[:0] for k, v in res.timeline.items()}
    write_result_h5(res, tmp_path / "empty.h5")
    back = read_result_h5(tmp_path / "empty.h5")
    assert all(len(v) == 0 for v in back.timeline.values())
    big = RunResult({"arch": "x"}, {"t": np.arange(10000, dtype=np.int64),
                                    "s": np.array(["ab"] * 10000, dtype=object)}, {})
    write_result_h5(big, tmp_path / "big.h5")
    back = read_result_h5(tmp_path / "big.h5")
    assert np.array_equal(back.timeline["t"], big.timeline["t"]) and back.timeline["s"][-1] == "ab"


def test_h5_read_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    with pytest.raises(ArchsimError, match="bad.h5"):
        read_result_h5(bad)
    with h5py.File(tmp_path / "other.h5", "w"):
        pass
    with pytest.raises(ArchsimError, match="not an archsim result"):
        read_result_h5(tmp_path / "other.h5")


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "out.txt"
    atomic_write_text(path, "old")
    os.chmod(path, 0o640)
    with pytest.raises(RuntimeError):
        with atomic_open(path) as fh:
            fh.write("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and (path.stat().st_mode & 0o777) == 0o640
    atomic_write_text(tmp_path / "sub" / "dir" / "f.txt", "x")          # folders are made
    assert (tmp_path / "sub" / "dir" / "f.txt").read_text() == "x"


def test_perfetto_events(tmp_path):
    res = _result()
    path = tmp_path / "trace.json"
    write_perfetto(res, path)
    doc = json.loads(path.read_text())
    events = doc["traceEvents"]
    xs = [e for e in events if e["ph"] == "X"]
    assert len(xs) == len(res.timeline["op"])
    threads = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert sorted(threads.values()) == ["core", "dram", "noc"]
    procs = [e for e in events if e["name"] == "process_name"]
    assert len(procs) == 1 and "toy" in procs[0]["args"]["name"]
    first = xs[0]
    assert first["name"] == "q_proj" and threads[first["tid"]] == "core"
    assert first["ts"] == 0.0 and first["dur"] == pytest.approx(0.75)          # microseconds
    assert xs[1]["ts"] == pytest.approx(1.0)
    assert set(first["args"]) >= {"phase", "layer", "step", "bytes", "energy_j"}
    assert first["args"]["phase"] == "prefill" and first["args"]["layer"] == -1
    assert first["args"]["energy_j"] == pytest.approx(res.timeline["energy_pj"][0] * 1e-12)
    assert all(isinstance(e["ts"], float) for e in xs)


def test_format_summary_lists_the_essentials():
    text = format_summary(_result().summary)
    for words in ("tiny on toy", "prefill", "decode", "end to end", "tokens/s", "TTFT", "TPOT",
                  "energy/token", "max decode tokens 137,548", "core", "dram", "busy",
                  "66.1%", "top ops by time (2 of 2)", "ffn_up", "75.0%"):
        assert words in text, words
    assert text.index("ffn_up") < text.index("q_proj")                 # ranked by time
    # a component's busy time over the run's (0.2 of 0.3025 s), not over the parts' sum
    assert format_summary({"arch": "a", "model": "m"})                   # partial summaries still print

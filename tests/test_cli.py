"""The command line: the run contract, one-line errors with exit code 2, determinism."""

import json

import pytest

from archsim.cli.main import main

CONTRACT = {
    "arch", "model", "fidelity", "scenario", "prefill", "decode", "end_to_end", "ttft_s", "tpot_s",
    "breakdown", "capacity",
}


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_json_contract(capsys):
    code, out, _ = run_cli(capsys, "run", "a100", "llama3-8b", "--input-len", "512", "--output-len", "2",
                           "--format", "json")
    assert code == 0
    res = json.loads(out)
    assert CONTRACT <= set(res)
    assert set(res["scenario"]) == {"batch", "input_len", "output_len", "precision"}
    assert {"seconds", "cycles", "tokens_per_s", "energy_j"} <= set(res["prefill"])
    assert {"seconds", "seconds_per_token", "tokens_per_s", "energy_j", "energy_j_per_token"} <= set(res["decode"])
    assert {"seconds", "tokens_per_s"} <= set(res["end_to_end"])
    assert {"weights_bytes", "kv_bytes_per_token", "max_decode_tokens"} == set(res["capacity"])
    for comp in res["breakdown"].values():
        assert {"seconds", "energy_j", "bytes"} <= set(comp)
    assert res["ttft_s"] == res["prefill"]["seconds"] > 0
    assert res["decode"]["tokens_per_s"] == pytest.approx(2 / res["decode"]["seconds"])
    assert res["config"]["gpu"]["memory_bandwidth"] == pytest.approx(2.039e12)


def test_per_token_figures_are_per_token_of_the_batch():
    from archsim.api import simulate_case
    d = simulate_case("a100", "gpt2-small", {"batch": 4, "input_len": 16, "output_len": 3},
                      fidelity="analytic").summary
    dec = d["decode"]
    assert dec["seconds_per_token"] == pytest.approx(1 / dec["tokens_per_s"])
    assert dec["energy_j_per_token"] == pytest.approx(dec["energy_j"] / 12)
    assert d["tpot_s"] == pytest.approx(4 * dec["seconds_per_token"])


def test_run_is_deterministic(capsys):
    argv = ("run", "a100", "mixtral-8x7b", "--input-len", "64", "--output-len", "3", "--batch", "2",
            "--seed", "7", "--precision", "w4a16", "--format", "json")
    first = run_cli(capsys, *argv)[1]
    assert first == run_cli(capsys, *argv)[1]


def test_op_json(capsys):
    code, out, _ = run_cli(capsys, "op", "a100", "gemv", "--m", "1", "--k", "4096", "--n", "4096", "--format", "json")
    assert code == 0
    res = json.loads(out)
    assert {"seconds", "cycles", "energy_j", "breakdown"} <= set(res) and res["seconds"] > 0


@pytest.mark.parametrize("arch", ["cambricon-llm-s", "pim-gpt", "cambricon-flexgen-ssd"])
def test_op_on_machines_whose_costs_carry_labels(capsys, arch):
    # the flash's breakdown names its tile ("256x2048"): a label, not an amount to add up
    code, out, err = run_cli(capsys, "op", arch, "gemv", "--m", "1", "--k", "4096", "--n", "4096",
                             "--format", "json")
    assert code == 0, err
    res = json.loads(out)
    assert res["seconds"] > 0 and res["energy_j"] > 0
    if arch == "cambricon-llm-s":
        assert "x" in res["breakdown"]["flash"]["parts"]["tile"]


def test_run_table_shows_flash_channels(capsys):
    args = ("run", "cambricon-llm-s", "gpt2-small", "--input-len", "16", "--output-len", "2")
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "flash channels" in out and "channel use" in out
    code, out, err = run_cli(capsys, "run", "a100", "gpt2-small", "--input-len", "16", "--output-len", "2")
    assert code == 0, err
    assert "flash channels" not in out


def test_op_precision_defaults_to_the_arch(capsys):
    gemv = ("op", "t4", "gemv", "--m", "1", "--k", "4096", "--n", "4096", "--format", "json")
    fp32 = json.loads(run_cli(capsys, *gemv)[1])
    fp16 = json.loads(run_cli(capsys, *gemv, "--precision", "fp16")[1])
    assert fp32["precision"] == "fp32" and fp16["precision"] == "fp16"
    assert fp32["seconds"] > 1.5 * fp16["seconds"]      # a weight stream twice the bytes
    assert json.loads(run_cli(capsys, "op", "a100", *gemv[2:])[1])["precision"] == "fp16"


def test_a_closed_pipe_ends_quietly():
    """`archsim ... | head -1`: no traceback when the reader leaves early."""
    import subprocess
    import sys
    # stdout is a pipe whose reader has gone; the listing is longer than the pipe's buffer
    code = ("import os, sys\n"
            "from archsim.cli.main import main\n"
            "r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"
            "sys.exit(main(['list', 'components']))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 141, res.stderr
    assert "Traceback" not in res.stderr


def test_list(capsys):
    for what in ("arch", "models", "components", "mappings"):
        code, out, _ = run_cli(capsys, "list", what)
        assert code == 0 and out.strip()
    assert "llama3-8b" in run_cli(capsys, "list", "models")[1]


def one_line_error(capsys, *argv):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("archsim: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_typo_key_in_config(capsys, tmp_path):
    f = tmp_path / "typo.yaml"
    f.write_text("base: a100\nname: typo\ngpu: {memory_bandwidht: 1 TB/s}\n")
    line = one_line_error(capsys, "run", str(f), "llama3-8b")
    assert str(f) in line and "gpu.memory_bandwidht" in line and "memory_bandwidth" in line


def test_negative_bandwidth(capsys):
    line = one_line_error(capsys, "run", "a100", "llama3-8b", "--set", "gpu.memory_bandwidth=-2 TB/s")
    assert "a100.yaml" in line and "gpu.memory_bandwidth" in line and "positive" in line


def test_model_does_not_fit(capsys):
    line = one_line_error(capsys, "run", "a100", "llama3.1-405b")
    assert "does not fit" in line and "short by" in line


@pytest.mark.parametrize("argv,tier", [
    # a drive's terabytes hold the KV cache, not the GPU's weights
    (("a6000-instcsd", "llama2-70b"), "the weights"),
    (("a6000-flexgen-ssd", "llama2-70b"), "the weights"),
    # the LPDDR5X holds the KV cache only, so a shrunken flash cannot lean on it
    (("cambricon-llm-s", "opt-6.7b", "--set", "flash.blocks_per_plane=1"), "the weights"),
    # and the KV cache must fit the LPDDR5X, whatever the flash's size
    (("cambricon-llm-s", "opt-6.7b", "--batch", "64", "--input-len", "1024"), "the KV cache"),
])
def test_each_tier_must_hold_what_the_mapping_keeps_there(capsys, argv, tier):
    line = one_line_error(capsys, "run", *argv, "--output-len", "2")
    assert "does not fit" in line and tier in line and "mapping.memory" in line


@pytest.mark.parametrize("argv,key", [
    (("a100", "gpt2-small", "--set", "gpu.clock=1e-6"), "gpu"),
    (("cambricon-llm-s", "gpt2-small", "--set", "d2d.bandwidth=1e-30"), "d2d"),
])
def test_a_run_too_long_for_int64_picoseconds_is_an_error(capsys, argv, key):
    line = one_line_error(capsys, "run", *argv, "--input-len", "16", "--output-len", "2")
    assert f": {key}: " in line and "int64 picoseconds" in line


def test_a_trace_run_checks_the_kv_cache_too(capsys, tmp_path):
    # the trace records the model's weights and KV bytes per token for the capacity check
    f = tmp_path / "big.csv"
    assert main(["trace", "gpt2-small", "--batch", "512", "--input-len", "1000", "--output-len", "2",
                 "--out", str(f)]) == 0
    line = one_line_error(capsys, "run", "t4", "--trace", str(f))
    assert "the KV cache needs" in line and "t4.yaml" in line


@pytest.mark.parametrize("argv,key", [
    (("flash", "flash_cambricon_s", "--requests", "99999999999999"), "--requests"),
    (("flash", "flash_cambricon_s", "--request-bytes", "99999999999999"), "--request-bytes"),
    (("op", "a100", "gemm", "--m", "99999999999999999999", "--k", "4", "--n", "4"), "op: m"),
    (("trace", "gpt2-small", "--input-len", "4", "--output-len", "1", "--out", "/proc/no/x.csv"), "cannot write"),
    (("run", "cambricon-llm-s", "gpt2-small", "--input-len", "16", "--output-len", "2",
      "--set", "flash.spare_size=20 KiB"), "flash.spare_size"),
    (("run", "cambricon-llm-s", "gpt2-small", "--input-len", "16", "--output-len", "2",
      "--set", "flash.slicing.slice_bytes=64 KiB"), "flash.slicing.slice_bytes"),
    (("run", "cambricon-llm-s", "gpt2-small", "--input-len", "16", "--output-len", "2",
      "--set", "npu.ifmap_sram=1 B"), "npu.ifmap_sram"),
])
def test_sizes_that_cannot_be_run_are_one_line_errors(capsys, argv, key):
    assert key in one_line_error(capsys, *argv)


@pytest.mark.parametrize("argv,key", [
    # sizes that would exhaust memory or run for hours are refused before the kernel runs
    (("noc", "--mesh", "100000x100000"), "mesh"),
    (("flash", "flash_980pro", "--requests", "10", "--set", "flash.planes_per_die=1000000000"),
     "planes"),
    (("systolic", "--rows", "1000000", "--gemm", "64,64,64"), "--rows"),
    (("run", "cambricon-llm-s", "gpt2-small", "--set", "npu.rows=100000"), "npu.rows"),
    # options the run would ignore
    (("noc", "--mesh", "4x4", "--hotspot-nodes", "3"), "--hotspot-nodes"),
    (("noc", "--mesh", "4x4", "--hotspot-fraction", "0.9"), "--hotspot-fraction"),
    (("flash", "flash_980pro", "--requests", "10", "--set", "bogus.key=1"), "bogus.key"),
    (("flash", "flash_980pro", "--requests", "10", "--slice-bytes", "99999999"), "--slice-bytes"),
    # argparse's own errors are one line too
    (("noc", "--rate", "abc"), "--rate"),
])
def test_out_of_range_and_ignored_inputs_are_one_line_errors(capsys, argv, key):
    assert key in one_line_error(capsys, *argv)


def test_noc_trace_refuses_traffic_options_and_unknown_columns(capsys, tmp_path):
    f = tmp_path / "flows.csv"
    f.write_text("src,dst,flits\n0,5,4\n")
    assert "--rate" in one_line_error(capsys, "noc", "--mesh", "4x4", "--trace", str(f), "--rate", "0.5")
    g = tmp_path / "extra.csv"
    g.write_text("src,dst,flits,priority\n0,5,4,9\n")
    line = one_line_error(capsys, "noc", "--mesh", "4x4", "--trace", str(g))
    assert "priority" in line and "unknown column" in line
    # a spreadsheet's byte-order mark and spaces after the commas are not part of the names
    h = tmp_path / "bom.csv"
    h.write_bytes("\ufeffsrc, dst, flits\n0,5,4\n".encode("utf-8"))
    code, out, err = run_cli(capsys, "noc", "--mesh", "4x4", "--trace", str(h), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["flows_delivered"] == 1


def test_files_that_are_not_text_are_one_line_errors(capsys, tmp_path):
    b = tmp_path / "bin.yaml"
    b.write_bytes(b"\xff\xfe\x00bad")
    c = tmp_path / "bin.csv"
    c.write_bytes(b"\xff\xfe\x00bad")
    for argv in (("run", "a100", str(b)), ("run", "a100", "--trace", str(c)),
                 ("noc", "--mesh", "4x4", "--trace", str(c)), ("flash", str(b))):
        assert "not UTF-8" in one_line_error(capsys, *argv)


def test_writing_onto_a_folder_is_a_one_line_error(capsys, tmp_path):
    (tmp_path / "x.csv").mkdir()
    line = one_line_error(capsys, "trace", "gpt2-small", "--input-len", "4", "--output-len", "1",
                          "--out", str(tmp_path / "x.csv"))
    assert "cannot write" in line and "x.csv" in line


def test_capacity_counts_the_kv_tier(capsys):
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    m = System(load_arch("a6000-instcsd")).mapping
    cap = m.capacity(26e9, 819200.0, 64, 2048)
    drive = m.system.components["flash"].memory_bytes
    # the drive stores SparF's second K copy: 1.5x the model's K+V a token
    assert cap.max_decode_tokens == int(drive // (1.5 * 819200.0 * 64))
    # no tier is named by `mapping.offload` any more: nothing streamed from it
    line = one_line_error(capsys, "run", "a100", "llama3.1-405b", "--set", "mapping.offload=gpu")
    assert "mapping.offload" in line and "unknown key" in line


def test_trace_missing_column(capsys, tmp_path):
    f = tmp_path / "t.csv"
    assert main(["trace", "gpt2-small", "--input-len", "8", "--output-len", "2", "--out", str(f)]) == 0
    capsys.readouterr()
    lines = f.read_text().splitlines()
    header_at = next(i for i, l in enumerate(lines) if not l.startswith("#"))
    cols = lines[header_at].split(",")
    drop = cols.index("bytes_kv")
    cut = [",".join(c for j, c in enumerate(l.split(",")) if j != drop) if i >= header_at else l
           for i, l in enumerate(lines)]
    f.write_text("\n".join(cut) + "\n")
    line = one_line_error(capsys, "run", "a100", "--trace", str(f))
    assert str(f) in line and "bytes_kv" in line


def test_trace_round_trip_runs_like_the_model(capsys, tmp_path):
    f = tmp_path / "t.h5"
    argv = ("--input-len", "32", "--output-len", "4")
    assert main(["trace", "llama3-8b", *argv, "--out", str(f)]) == 0
    capsys.readouterr()
    from_trace = json.loads(run_cli(capsys, "run", "a100", "--trace", str(f), "--format", "json")[1])
    from_model = json.loads(run_cli(capsys, "run", "a100", "llama3-8b", *argv, "--format", "json")[1])
    assert from_trace["decode"]["seconds"] == from_model["decode"]["seconds"]
    assert from_trace["prefill"]["seconds"] == from_model["prefill"]["seconds"]


def test_a_trace_run_keeps_the_traces_seed(capsys, tmp_path):
    # the rows hold the expert routing drawn with the trace's seed: provenance says that seed,
    # and a different --seed is refused rather than ignored
    f = tmp_path / "m.h5"
    assert main(["trace", "mixtral-8x7b", "--seed", "3", "--input-len", "8", "--output-len", "1",
                 "--out", str(f)]) == 0
    capsys.readouterr()
    res = json.loads(run_cli(capsys, "run", "a100x8", "--trace", str(f), "--format", "json")[1])
    assert res["provenance"]["seed"] == 3
    assert "seed 3" in one_line_error(capsys, "run", "a100x8", "--trace", str(f), "--seed", "4")


def test_unknown_arch_and_bad_scenario(capsys):
    assert "unknown arch" in one_line_error(capsys, "run", "a1000", "llama3-8b")
    assert "batch" in one_line_error(capsys, "run", "a100", "llama3-8b", "--batch", "0")
    assert "unknown model" in one_line_error(capsys, "run", "a100", "llama9")


def test_out_and_timeline(capsys, tmp_path):
    h5, tl = tmp_path / "r.h5", tmp_path / "t.json"
    code, _, _ = run_cli(capsys, "run", "a100", "gpt2-small", "--input-len", "16", "--output-len", "2",
                         "--out", str(h5), "--timeline", str(tl))
    assert code == 0 and h5.stat().st_size > 0
    events = json.loads(tl.read_text())["traceEvents"]
    assert any(e.get("ph") == "X" for e in events)


def _edit_trace(src, dst, edit):
    """Copy a CSV trace, passing each data row (a dict) through `edit`; the header and meta
    lines stay."""
    lines = src.read_text().splitlines()
    at = next(i for i, l in enumerate(lines) if not l.startswith("#"))
    cols = lines[at].split(",")
    rows = [dict(zip(cols, l.split(","))) for l in lines[at + 1:]]
    rows = [edit(r) for r in rows]
    cols = list(rows[0])
    dst.write_text("\n".join(lines[:at] + [",".join(cols)]
                             + [",".join(str(r[c]) for c in cols) for r in rows]) + "\n")


def test_a_trace_must_agree_with_its_meta_and_schema(capsys, tmp_path):
    f = tmp_path / "t.csv"
    assert main(["trace", "gpt2-small", "--input-len", "4", "--output-len", "2", "--out", str(f)]) == 0
    capsys.readouterr()
    # rows that read far more weights than the meta line says the model has
    big = tmp_path / "big.csv"
    _edit_trace(f, big, lambda r: {**r, "bytes_w": 50_000_000_000} if r["op"] in ("gemm", "gemv") else r)
    line = one_line_error(capsys, "run", "a100", "--trace", str(big))
    assert "meta.weights_bytes" in line
    # a column the schema does not have
    extra = tmp_path / "extra.csv"
    _edit_trace(f, extra, lambda r: {**r, "bogus": 7})
    assert "unknown column" in one_line_error(capsys, "run", "a100", "--trace", str(extra))
    # model overrides have nothing to change in a trace run, nor in a one-op run
    assert "model.layers" in one_line_error(capsys, "run", "a100", "--trace", str(f),
                                            "--set", "model.layers=3")
    assert "model.layers" in one_line_error(capsys, "op", "a100", "gemv", "--m", "1", "--k", "4",
                                            "--n", "4", "--set", "model.layers=0")
    assert "--heads" in one_line_error(capsys, "op", "a100", "gemv", "--m", "1", "--k", "4",
                                       "--n", "4", "--heads", "4")


@pytest.mark.parametrize("value", ["[a]", "{x: 1}"])
def test_a_name_that_is_not_a_string_is_an_error(capsys, value):
    line = one_line_error(capsys, "run", "a100", "gpt2-small", "--set", f"mapping.strategy={value}")
    assert "mapping.strategy" in line


def test_output_paths_that_cannot_be_written_are_one_line_errors(capsys, tmp_path):
    (tmp_path / "afile").write_text("x")
    line = one_line_error(capsys, "trace", "gpt2-small", "--input-len", "4", "--output-len", "1",
                          "--out", str(tmp_path / "afile" / "x.csv"))
    assert "is a file, not a folder" in line
    sweep = tmp_path / "s.yaml"
    sweep.write_text("name: s\narch: a100\nmodel: gpt2-small\nscenario: {input_len: 4, output_len: 1}\n"
                     "axes:\n  - {set: gpu.clock, values: [1.0 GHz]}\n")
    line = one_line_error(capsys, "sweep", str(sweep), "--out", str(tmp_path / "afile" / "sub" / "x.h5"),
                          "--workers", "0", "--no-progress")
    assert "cannot write" in line
    (tmp_path / "dir.h5").mkdir()
    line = one_line_error(capsys, "sweep", str(sweep), "--out", str(tmp_path / "dir.h5"),
                          "--workers", "0", "--no-progress")
    assert "folder" in line
    # results are HDF5, and `archsim plot` tells the kinds of file by their names
    assert ".h5" in one_line_error(capsys, "run", "a100", "gpt2-small", "--input-len", "4",
                                   "--output-len", "1", "--out", str(tmp_path / "r.txt"))
    assert ".h5" in one_line_error(capsys, "sweep", str(sweep), "--out", str(tmp_path / "s.csv"),
                                   "--workers", "0")


@pytest.mark.parametrize("out_len", [0, 1, 5])
def test_end_to_end_counts_the_prefills_token_and_one_per_step(out_len):
    from archsim.api import run_case
    res = run_case("a100", "gpt2-small", {"batch": 3, "input_len": 16, "output_len": out_len})
    e2e = res["end_to_end"]
    assert e2e["tokens_per_s"] == pytest.approx(3 * (out_len + 1) / e2e["seconds"])
    assert e2e["seconds"] == pytest.approx(res["ttft_s"] + res["decode"]["seconds"])


def test_work_left_behind_by_a_prefill_without_decode_ends_the_run():
    # a6000-instcsd: the drive programs the prompt's KV after the first token
    from archsim.api import run_case
    res = run_case("a6000-instcsd", "gpt2-medium", {"batch": 1, "input_len": 64, "output_len": 0})
    assert res["end_to_end"]["seconds"] > 2 * res["ttft_s"]
    assert res["end_to_end"]["seconds"] >= max(b["seconds"] for b in res["breakdown"].values())
    total = sum(b["energy_j"] for b in res["breakdown"].values())
    assert total == pytest.approx(res["prefill"]["energy_j"] + res["decode"]["energy_j"], rel=1e-12)


@pytest.mark.parametrize("arch, key, value, want", [
    ("pim-gpt", "mapping.pim", "asic", "must be a pim"),
    ("a6000-instcsd", "mapping.pcie", "gpu", "must be a link"),
    ("a6000-flexgen-ssd", "mapping.kv_staging", "flash", "must be a dram or cpu"),
    ("cambricon-llm-s", "mapping.dram", "flash", "must be a dram"),
    ("a100x8", "mapping.device", "nvlink", "must be a gpu"),
])
def test_a_mapping_reference_must_name_a_part_of_the_right_type(capsys, arch, key, value, want):
    line = one_line_error(capsys, "run", arch, "gpt2-small", "--input-len", "4", "--output-len", "1",
                          "--set", f"{key}={value}")
    assert key in line and want in line


@pytest.mark.parametrize("argv", [
    ("run", "a100", "gpt2-small", "--seed", "-1"),
    ("trace", "gpt2-small", "--seed", "-1", "--out", "/proc/no/x.csv"),
    ("flash", "flash_980pro", "--seed", "-1"),
])
def test_a_negative_seed_is_refused(capsys, argv):
    assert "--seed" in one_line_error(capsys, *argv)


def test_an_op_a_mapping_gives_no_work_is_refused(capsys):
    # a flash part alone streams weights: an attention op has none (it printed 0 s)
    line = one_line_error(capsys, "op", "flash_980pro", "attention", "--m", "3", "--k", "77", "--n", "129")
    assert "no work" in line


@pytest.mark.parametrize("argv, key", [
    (("dram", "ddr4-2400", "--requests", "100", "--set", "controller.wr_low=0.9", "--set",
      "controller.wr_high=0.1"), "controller.wr_low"),
    (("dram", "ddr4-2400", "--requests", "100", "--set", "controller.write_queue=0"), "controller.write_queue"),
    (("run", "cambricon-llm-s", "gpt2-small", "--input-len", "4", "--output-len", "1", "--set",
      "npu.macs_per_pe.Int8=4"), "npu.macs_per_pe.Int8"),
])
def test_controller_watermarks_queues_and_npu_types_are_checked(capsys, argv, key):
    assert key in one_line_error(capsys, *argv)


def test_a_bad_base_names_its_file_and_a_folder_is_no_trace(capsys, tmp_path):
    f = tmp_path / "x.yaml"
    f.write_text("base: nope\nname: x\n")
    line = one_line_error(capsys, "run", str(f), "gpt2-small")
    assert str(f) in line and "base" in line and "unknown arch 'nope'" in line
    d = tmp_path / "d.csv"
    d.mkdir()
    assert "is a folder" in one_line_error(capsys, "run", "a100", "--trace", str(d))
    assert "is a folder" in one_line_error(capsys, "run", "a100", "--trace", str(tmp_path))   # no extension


def test_a_trace_run_records_its_file(capsys, tmp_path):
    f = tmp_path / "t.csv"
    assert main(["trace", "gpt2-small", "--input-len", "4", "--output-len", "1", "--out", str(f)]) == 0
    capsys.readouterr()
    code, out, _ = run_cli(capsys, "run", "a100", "--trace", str(f), "--fidelity", "analytic", "--format", "json")
    assert code == 0 and json.loads(out)["provenance"]["trace_file"] == str(f.resolve())


@pytest.mark.parametrize("arch, item, key, words", [
    ("wse2", "mesh.type=gpu", "mesh.type", "type is not changed by --set"),
    ("a100", "gpu={}", "gpu", "not the whole block"),
    ("a100", "gpu=null", "gpu", "not the whole block"),
])
def test_set_changes_a_components_keys_not_its_block_or_type(capsys, arch, item, key, words):
    line = one_line_error(capsys, "run", arch, "gpt2-small", "--input-len", "4", "--output-len", "1", "--set", item)
    assert key in line and words in line

"""Trace files: round trips and malformed inputs."""

import h5py
import numpy as np
import pytest

from archsim.errors import TraceError
from archsim.workload.model_spec import load_model
from archsim.workload.trace import COLUMNS, Trace
from archsim.workload.trace_builder import build_trace
from archsim.workload.trace_io import read_trace, write_trace


@pytest.fixture(scope="module")
def trace():
    return build_trace(load_model("mixtral-8x7b"), batch=2, input_len=4, output_len=3)


def assert_same(a, b):
    assert len(a) == len(b)
    for c in COLUMNS:
        assert np.array_equal(np.asarray(a[c]), np.asarray(b[c])), c
        assert b[c].dtype == (np.int64 if COLUMNS[c] == "int" else object)
    assert a.meta == b.meta


@pytest.mark.parametrize("ext", ["h5", "hdf5", "csv"])
def test_round_trip(trace, tmp_path, ext):
    path = write_trace(trace, tmp_path / f"t.{ext}")
    assert_same(trace, read_trace(path))
    assert [p.name for p in tmp_path.iterdir()] == [f"t.{ext}"]  # no temporary left behind


def test_overwrite_and_empty_trace(tmp_path):
    empty = Trace.from_rows([], {"model": "none"})
    for ext in ("h5", "csv"):
        path = tmp_path / f"e.{ext}"
        path.write_text("old")
        write_trace(empty, path)
        back = read_trace(path)
        assert len(back) == 0 and back.meta["model"] == "none"


def test_csv_layout(trace, tmp_path):
    lines = write_trace(trace, tmp_path / "t.csv").read_text().splitlines()
    assert lines[0] == "# archsim-trace schema_version=1"
    assert lines[1].startswith("# meta: {")
    assert lines[2] == ",".join(COLUMNS)


def test_hdf5_layout(trace, tmp_path):
    path = write_trace(trace, tmp_path / "t.h5")
    with h5py.File(path) as f:
        assert set(f) == set(COLUMNS)
        assert f.attrs["schema_version"] == 1
        assert f["op"].dtype.kind == "S" and f["flops"].dtype == np.int64
        assert '"model": "mixtral-8x7b"' in f.attrs["meta"]


def _csv(tmp_path, trace, edit):
    path = write_trace(trace, tmp_path / "t.csv")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")
    return path


def _drop_column(lines, name="flops"):
    i = lines[2].split(",").index(name)
    return lines[:2] + [",".join(f for j, f in enumerate(line.split(",")) if j != i) for line in lines[2:]]


def _set_field(lines, column, value, row=3):
    i = lines[2].split(",").index(column)
    fields = lines[row].split(",")
    fields[i] = value
    return lines[:row] + [",".join(fields)] + lines[row + 1:]


@pytest.mark.parametrize("edit, column", [
    (_drop_column, "flops"),
    (lambda ls: _set_field(ls, "m", "1.5"), "m"),
    (lambda ls: _set_field(ls, "bytes_w", "-4"), "bytes_w"),
    (lambda ls: _set_field(ls, "op", "conv2d"), "op"),
    (lambda ls: _set_field(ls, "phase", "training"), "phase"),
    (lambda ls: ["# archsim-trace schema_version=2"] + ls[1:], "schema_version"),
])
def test_bad_csv(trace, tmp_path, edit, column):
    path = _csv(tmp_path, trace, edit)
    with pytest.raises(TraceError) as err:
        read_trace(path)
    assert err.value.key == column
    assert str(path) in str(err.value)


def test_bad_hdf5(trace, tmp_path):
    path = write_trace(trace, tmp_path / "t.h5")
    with h5py.File(path, "a") as f:
        del f["kv_len"]
    with pytest.raises(TraceError) as err:
        read_trace(path)
    assert err.value.key == "kv_len" and str(path) in str(err.value)

    path = write_trace(trace, tmp_path / "v.h5")
    with h5py.File(path, "a") as f:
        f.attrs["schema_version"] = 9
    with pytest.raises(TraceError) as err:
        read_trace(path)
    assert err.value.key == "schema_version"

    path = write_trace(trace, tmp_path / "f.h5")
    with h5py.File(path, "a") as f:
        data = f["m"][()].astype(float) + 0.5
        del f["m"]
        f["m"] = data
    with pytest.raises(TraceError) as err:
        read_trace(path)
    assert err.value.key == "m"


def test_hand_written_csv_without_comments(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(",".join(COLUMNS) + "\n" +
                    "0,decode,0,gemv,q_proj,1,1,4096,4096,1,1,0,-1,int4,fp16,8388608,16384,0,33554432\n")
    t = read_trace(path)
    assert len(t) == 1 and t.row(0)["bytes_w"] == 8388608 and t.meta["schema_version"] == 1


def test_unknown_extension_and_missing_file(trace, tmp_path):
    with pytest.raises(TraceError, match="unknown trace format"):
        write_trace(trace, tmp_path / "t.parquet")
    with pytest.raises(TraceError, match="unknown trace format"):
        read_trace(tmp_path / "t.json")
    with pytest.raises(TraceError, match="no such trace file"):
        read_trace(tmp_path / "absent.h5")


def test_csv_row_with_extra_field(trace, tmp_path):
    path = _csv(tmp_path, trace, lambda ls: ls[:4] + [ls[4] + ",7"] + ls[5:])
    with pytest.raises(TraceError, match="malformed CSV") as err:
        read_trace(path)
    assert str(path) in str(err.value)


def _set_rows(lines, column, value, op=None):
    """Set `column` to `value` on every data row (of op `op` if given)."""
    cols = lines[2].split(",")
    i, j = cols.index(column), cols.index("op")
    out = lines[:3]
    for line in lines[3:]:
        fields = line.split(",")
        if op is None or fields[j] == op:
            fields[i] = value
        out.append(",".join(fields))
    return out


@pytest.mark.parametrize("column, value, op", [
    ("batch", "0", None),
    ("m", "0", "gemm"),
    ("k", "0", "gemm"),
    ("n", "0", "gemv"),
    ("k", "0", "attention_qk"),
    ("kv_len", "0", "attention_av"),
    ("heads", "0", None),
    ("kv_heads", "64", "attention_qk"),
    ("dtype_w", "fp13", None),
    ("dtype_w", "int9", "gemm"),
    ("dtype_w", "", None),
    ("dtype_a", "float", "norm"),
    ("flops", "9200000000000000000", "gemm"),
    ("flops", "0", "lm_head"),
    ("flops", "1", "gemv"),
    ("flops", "9200000000000000000", "attention_qk"),
])
def test_meaningless_row_values(trace, tmp_path, column, value, op):
    path = _csv(tmp_path, trace, lambda ls: _set_rows(ls, column, value, op))
    with pytest.raises(TraceError, match=r"line \d+") as err:
        read_trace(path)
    assert err.value.key == column and str(path) in str(err.value)
    if column.startswith("dtype"):
        assert "fp16" in str(err.value) and "int1 .. int8" in str(err.value)


def test_error_names_the_csv_line(trace, tmp_path):
    path = _csv(tmp_path, trace, lambda ls: _set_field(ls, "heads", "0", row=7))
    with pytest.raises(TraceError, match="line 8: heads = 0 must be at least 1"):
        read_trace(path)


@pytest.mark.parametrize("model, precision", [
    ("gpt2-small", None), ("llama3-8b", "w4a16"), ("mixtral-8x7b", None), ("deepseek-r1", None),
    ("bitnet-b1.58-3b", None), ("falcon-7b", "w3a16"), ("gemma-2b", "fp8"),
])
def test_bundled_model_traces_stay_valid(tmp_path, model, precision):
    """Zero k on element-wise rows, MLA, MoE experts, biases and odd int widths are all legal."""
    t = build_trace(load_model(model), batch=2, input_len=3, output_len=2, precision=precision)
    for ext in ("csv", "h5"):
        assert_same(t, read_trace(write_trace(t, tmp_path / f"t.{ext}")))


@pytest.mark.parametrize("batch, input_len, output_len", [(2, 4, 3), (1, 0, 2), (3, 5, 0)])
def test_scenario_from_rows(batch, input_len, output_len):
    t = build_trace(load_model("llama3-8b"), batch=batch, input_len=input_len, output_len=output_len)
    meta = t.scenario()
    assert meta == {"batch": batch, "input_len": input_len, "output_len": output_len}
    assert Trace(t.columns, {"model": "x"}).scenario() == meta


def test_scenario_of_meta_that_contradicts_rows(trace):
    with pytest.raises(TraceError, match="disagrees with the rows") as err:
        Trace(trace.columns, {**trace.meta, "input_len": 2048}).scenario("t.csv")
    assert err.value.key == "meta.input_len"
    with pytest.raises(TraceError, match="integer") as err:
        Trace(trace.columns, {**trace.meta, "batch": "two"}).scenario("t.csv")
    assert err.value.key == "meta.batch"


# --- archsim run --trace ------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    return write_trace(build_trace(load_model("gpt2-small"), batch=1, input_len=4, output_len=1),
                       tmp_path_factory.mktemp("small") / "t.csv")


def _run(capsys, *argv):
    from archsim.cli.main import main
    code = main(["run", "a100", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_run_trace_without_meta_uses_its_rows(capsys, small_csv, tmp_path):
    import json
    lines = small_csv.read_text().splitlines()
    bare = tmp_path / "bare.csv"
    bare.write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    with_meta = json.loads(_run(capsys, "--trace", str(small_csv), "--format", "json")[1])
    code, out, _ = _run(capsys, "--trace", str(bare), "--format", "json")
    assert code == 0
    res = json.loads(out)
    assert res["scenario"] == with_meta["scenario"]
    assert res["scenario"]["input_len"] == 4 and res["scenario"]["output_len"] == 1
    assert res["end_to_end"] == with_meta["end_to_end"] and res["prefill"] == with_meta["prefill"]


def test_api_trace_runs_take_the_scenario_from_the_trace(small_csv, tmp_path):
    from archsim.api import simulate_case
    from archsim.errors import TraceError
    lines = small_csv.read_text().splitlines()
    bare = tmp_path / "bare.csv"
    bare.write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    # the caller's scenario (here the CLI's defaults) does not override what the rows say
    s = simulate_case("a100", None, {"batch": 1, "input_len": 2048, "output_len": 128},
                      trace=read_trace(bare)).summary
    assert (s["scenario"]["input_len"], s["scenario"]["output_len"]) == (4, 1)
    empty = tmp_path / "empty.csv"
    empty.write_text(lines[0] + "\n" + lines[2] + "\n")
    with pytest.raises(TraceError, match="no op rows"):
        simulate_case("a100", None, {}, trace=read_trace(empty))


def test_run_trace_rejects_conflicting_arguments(capsys, small_csv):
    for argv, key in [(("--input-len", "2048"), "input_len"), (("--batch", "4"), "batch"),
                      (("--output-len", "128"), "output_len"), (("--precision", "fp16"), "precision")]:
        code, _, err = _run(capsys, "--trace", str(small_csv), *argv)
        assert code == 2 and key in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, "gpt2-small", "--trace", str(small_csv))
    assert code == 2 and "not both" in err
    # flags that agree with the trace are accepted
    assert _run(capsys, "--trace", str(small_csv), "--input-len", "4", "--output-len", "1", "--batch", "1")[0] == 0


def test_run_trace_without_scenario(capsys, tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(",".join(COLUMNS) + "\n" +
                    "0,decode,0,gemv,q_proj,1,1,4096,4096,1,1,0,-1,int4,fp16,8388608,16384,0,33554432\n")
    code, _, err = _run(capsys, "--trace", str(path))
    assert code == 2 and "no scenario" in err and "--input-len" in err and str(path) in err
    code, out, _ = _run(capsys, "--trace", str(path), "--input-len", "100", "--format", "json")
    assert code == 0 and '"input_len": 100' in out


def test_run_empty_trace(capsys, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text(",".join(COLUMNS) + "\n")
    code, _, err = _run(capsys, "--trace", str(path))
    assert code == 2 and "no op rows" in err and "Traceback" not in err


@pytest.mark.parametrize("col", ["layer", "expert"])
def test_indexes_below_minus_one_are_errors(col):
    from archsim.workload.model_spec import load_model
    from archsim.workload.trace_builder import build_trace
    t = build_trace(load_model("gpt2-small"), batch=1, input_len=4, output_len=1)
    t.columns[col] = t.columns[col].copy()
    t.columns[col][3] = -7
    with pytest.raises(TraceError, match=f"{col} = -7"):
        t.validate()


def test_moe_expert_count_comes_from_the_meta_else_the_rows(tmp_path):
    t = build_trace(load_model("mixtral-8x7b"), batch=1, input_len=2, output_len=1, precision="bf16", seed=0)
    assert t.meta["experts"] == 8 and t.moe_experts() == 8
    seen = int(t.columns["expert"].max()) + 1
    del t.meta["experts"]
    assert t.moe_experts() == seen
    t.meta["experts"] = seen - 1
    path = tmp_path / "t.csv"
    write_trace(t, path)
    with pytest.raises(TraceError, match="meta.experts|experts must be"):
        read_trace(path)


def _reorder(trace, idx):
    return Trace({c: np.asarray(v)[idx] for c, v in trace.columns.items()}, dict(trace.meta))


@pytest.mark.parametrize("how, column, words", [
    ("reversed", "phase", "a prefill row after a decode row"),
    ("step_gap", "step", "decode step 2 follows step 0"),
    ("prefill_step", "step", "a prefill row with step 3"),
    ("layers_back", "layer", "layer 0 after layer 1"),
    ("outside_between", "layer", "between two layers' rows"),
])
def test_rows_out_of_execution_order_are_refused(trace, how, column, words):
    # rows run in file order and the prefill's end is read from them: a reordered trace gave
    # the right total with the prefill and decode times swapped
    n = len(trace)
    t = trace
    if how == "reversed":
        t = _reorder(trace, np.arange(n)[::-1])
    else:
        cols = {c: np.array(v, copy=True) for c, v in trace.columns.items()}
        dec = cols["phase"] == "decode"
        if how == "step_gap":
            cols["step"][dec & (cols["step"] == 1)] = 2
        elif how == "prefill_step":
            cols["step"][np.flatnonzero(~dec)[3]] = 3
        elif how == "layers_back":
            i = np.flatnonzero(~dec & (cols["layer"] == 1))[0]
            cols["layer"][i + 1] = 0
        else:
            i = np.flatnonzero(~dec & (cols["layer"] == 1))[0]
            cols["layer"][i] = -1
        t = Trace(cols, dict(trace.meta))
    with pytest.raises(TraceError) as e:
        t.validate()
    assert column in str(e.value) and words in str(e.value)


@pytest.mark.parametrize("how, words", [("2d", "2-D dataset"), ("group", "found a group"),
                                        ("u64", "past the int64 range")])
def test_hdf5_columns_of_the_wrong_shape_or_range(trace, tmp_path, how, words):
    path = tmp_path / "t.h5"
    write_trace(trace, path)
    with h5py.File(path, "a") as f:
        m = f["m"][()]
        del f["m"]
        if how == "2d":
            f["m"] = np.stack([m, m], 1)
        elif how == "group":
            f.create_group("m")
        else:
            u = m.astype(np.uint64)
            u[5] = 2 ** 63 + 5
            f["m"] = u
    with pytest.raises(TraceError, match=words):
        read_trace(path)


def test_a_column_named_twice_one_batch_and_a_boolean_tied_flag(trace, tmp_path):
    path = tmp_path / "t.csv"
    write_trace(trace, path)
    lines = path.read_text().splitlines()
    h = next(i for i, l in enumerate(lines) if not l.startswith("#"))
    dup = lines[:h] + [lines[h] + ",m"] + [l + ",1" for l in lines[h + 1:]]
    (tmp_path / "dup.csv").write_text("\n".join(dup) + "\n")
    with pytest.raises(TraceError, match="named twice"):
        read_trace(tmp_path / "dup.csv")
    cols = {c: np.array(v, copy=True) for c, v in trace.columns.items()}
    cols["batch"][7] = 5
    with pytest.raises(TraceError, match="a run has one batch"):
        Trace(cols, dict(trace.meta)).scenario()
    with pytest.raises(TraceError, match="true or false"):
        Trace(dict(trace.columns), {**trace.meta, "tied_embeddings": "yes"}).scenario()

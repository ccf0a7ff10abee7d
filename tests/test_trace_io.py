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

import pytest

from archsim.config.loader import apply_sets, load_with_base, load_yaml, parse_set
from archsim.config.schema import Field, validate
from archsim.errors import ConfigError

SCHEMA = {
    "clock": Field("frequency", "1 GHz"),
    "bandwidth": Field("bandwidth"),
    "sram": Field("bytes", "48 KiB"),
    "grid": Field("grid", "4x4"),
    "lanes": Field("int", 1),
    "policy": Field("str", "open", choices=("open", "closed")),
    "sub": {"depth": Field("int", 8)},
    "latency": Field("time", "1 ns"),
    "overhead": Field("time", 0.0, min=0),
    "ratio": Field("float", 0.5, gt=0, max=1),
}


def test_defaults_and_units():
    out = validate({"bandwidth": "2 TB/s", "grid": "420x420"}, SCHEMA, "x.yaml")
    assert out["clock"] == 1e9 and out["bandwidth"] == 2e12 and out["sram"] == 48 * 1024
    assert out["grid"] == (420, 420) and out["sub"]["depth"] == 8


@pytest.mark.parametrize("data, key, words", [
    ({"bandwith": "2 TB/s"}, "bandwith", "did you mean 'bandwidth'"),
    ({"bandwidth": "-2 TB/s"}, "bandwidth", "positive"),
    ({"bandwidth": "0 TB/s"}, "bandwidth", "positive"),
    ({"bandwidth": "2 GHz"}, "bandwidth", "not a bandwidth unit"),
    ({"bandwidth": 1, "lanes": "two"}, "lanes", "integer"),
    ({"bandwidth": 1, "policy": "lazy"}, "policy", "not one of"),
    ({"bandwidth": 1, "sub": {"deep": 1}}, "sub.deep", "unknown key"),
    ({}, "bandwidth", "required"),
    # numbers are finite: YAML's .inf / .nan, and a value that overflows a float
    ({"bandwidth": float("inf")}, "bandwidth", "finite"),
    ({"bandwidth": "1e400 TB/s"}, "bandwidth", "finite"),
    ({"bandwidth": 1, "sram": float("nan")}, "sram", "finite"),
    ({"bandwidth": 1, "ratio": float("inf")}, "ratio", "finite"),
    ({"bandwidth": 1, "ratio": "1e400"}, "ratio", "finite"),
    ({"bandwidth": 1, "ratio": 10 ** 400}, "ratio", "finite"),
    # ints and sizes fit an int64; a nonzero size holds a byte
    ({"bandwidth": 1, "lanes": 1e30}, "lanes", "int64"),
    ({"bandwidth": 1, "lanes": 10 ** 400}, "lanes", "int64"),
    ({"bandwidth": 1, "sram": "1e30 B"}, "sram", "int64"),
    ({"bandwidth": 1, "sram": "4 b"}, "sram", "at least 1 B"),
    # times and clock periods are whole picoseconds that fit an int64
    ({"bandwidth": 1, "latency": "0.4 ps"}, "latency", "1 ps time step"),
    ({"bandwidth": 1, "overhead": "0.4 ps"}, "overhead", "1 ps time step"),
    ({"bandwidth": 1, "latency": "1e7 s"}, "latency", "int64 picoseconds"),
    ({"bandwidth": 1, "clock": 1e-30}, "clock", "int64 picoseconds"),
    ({"bandwidth": 1, "clock": "3 THz"}, "clock", "1 ps time step"),
    # a number YAML 1.1 read where text belongs (0x2048 is hexadecimal 8264)
    ({"bandwidth": 1, "policy": 8264}, "policy", "YAML read it as a number"),
    ({"bandwidth": 1, "grid": 4}, "grid", "YAML read it as a number"),
])
def test_errors_name_file_key_reason(data, key, words):
    with pytest.raises(ConfigError) as e:
        validate(data, SCHEMA, "machine.yaml")
    line = str(e.value)
    assert line.startswith(f"machine.yaml: {key}: ") and words in line and "\n" not in line


def test_numbers_yaml_leaves_as_text_and_limits():
    # YAML 1.1 reads 1e-300 and 1e3 (no dot) as strings; they are still numbers
    data = apply_sets({}, ["ratio=1e-300", "lanes=1e3", "bandwidth=1"])
    assert data["ratio"] == "1e-300"
    out = validate(data, SCHEMA, "x.yaml")
    assert out["ratio"] == 1e-300 and out["lanes"] == 1000
    # the edges of the limits stay valid
    out = validate({"bandwidth": 1, "latency": "0.6 ps", "overhead": 0, "clock": "1.9 THz",
                    "sram": "1 B", "lanes": str(2 ** 62)}, SCHEMA, "x.yaml")
    assert out["latency"] == 0.6e-12 and out["overhead"] == 0.0 and out["clock"] == 1.9e12
    assert out["sram"] == 1.0 and out["lanes"] == 2 ** 62
    with pytest.raises(ConfigError, match="ratio: must be <= 1"):
        validate({"bandwidth": 1, "ratio": "2e0"}, SCHEMA, "x.yaml")
    with pytest.raises(ConfigError, match="policy: expected a string, got 8264 .*quote"):
        validate(apply_sets({"bandwidth": 1}, ["policy=0x2048"]), SCHEMA, "x.yaml")


def test_base_inheritance_and_sets(tmp_path):
    (tmp_path / "parent.yaml").write_text("name: p\ngpu: {type: gpu, clock: 1 GHz, memory: 40 GiB}\n")
    (tmp_path / "child.yaml").write_text("base: parent.yaml\nname: c\ngpu: {memory: 80 GiB}\n")
    data = load_with_base(tmp_path / "child.yaml", tmp_path, "arch")
    assert data == {"name": "c", "gpu": {"type": "gpu", "clock": "1 GHz", "memory": "80 GiB"}}
    data = apply_sets(data, ["gpu.clock=1.4 GHz", "mesh.decode_grid=420x420", "gpu.lanes=2"])
    assert data["gpu"]["clock"] == "1.4 GHz" and data["gpu"]["lanes"] == 2
    assert data["mesh"]["decode_grid"] == "420x420"


def test_base_cycle(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_with_base(tmp_path / "a.yaml", tmp_path, "arch")


def test_yaml_safe_and_errors(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("a: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError):
        load_yaml(f)
    f.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_yaml(f)
    with pytest.raises(ConfigError, match="dotted.path=value"):
        parse_set("novalue")


def test_a_key_given_twice_is_an_error(tmp_path):
    f = tmp_path / "dup.yaml"
    f.write_text("gpu:\n  sms: 108\n  sms: 4\n")
    with pytest.raises(ConfigError) as e:
        load_yaml(f)
    assert "'sms' given twice" in str(e.value) and "line 3" in str(e.value)
    # merge keys are not repeats: explicit keys override the merged ones, as YAML says
    g = tmp_path / "merge.yaml"
    g.write_text("a: &x {b: 1, c: 2}\nd:\n  <<: *x\n  c: 3\n")
    assert load_yaml(g)["d"] == {"b": 1, "c": 3}


def test_a_file_that_is_not_text_is_an_error(tmp_path):
    f = tmp_path / "bin.yaml"
    f.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_yaml(f)

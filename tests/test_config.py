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
])
def test_errors_name_file_key_reason(data, key, words):
    with pytest.raises(ConfigError) as e:
        validate(data, SCHEMA, "machine.yaml")
    line = str(e.value)
    assert line.startswith(f"machine.yaml: {key}: ") and words in line and "\n" not in line


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

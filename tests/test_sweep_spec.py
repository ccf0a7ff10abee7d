"""Sweep files: schema errors, axes, sampling, constraints."""

import pytest
import yaml

from archsim.errors import ConfigError
from archsim.sweep.expr import Expression, as_number
from archsim.sweep.points import generate
from archsim.sweep.spec import load_sweep, parse_sweep

BASE = {"arch": "toyarch", "model": "toymodel", "axes": [{"set": "scenario.batch", "values": [1, 2]}]}


def spec(**over):
    return parse_sweep({**BASE, **over}, "s.yaml")


def test_grid_order_units_and_cases():
    s = spec(axes=[
        {"set": "scenario.batch", "range": {"start": 1, "stop": 7, "step": 3}},
        {"set": "gpu.memory_bandwidth", "logrange": [1, 4, 3], "unit": "TB/s"},
        {"name": "hbm", "cases": {"HBM3": {"gpu.memory_capacity": "80 GB"}, "HBM3e": {"gpu.memory_capacity": "141 GB"}}},
    ])
    points, dropped = generate(s)
    assert dropped == 0 and len(points) == 3 * 3 * 2
    assert [p.inputs["scenario.batch"] for p in points[::6]] == [1, 4, 7]       # first axis slowest
    assert [p.inputs["gpu.memory_bandwidth"] for p in points[:6:2]] == [1.0, 2.0, 4.0]
    case = points[1].case
    assert case["scenario"]["batch"] == 1 and case["sets"]["gpu.memory_bandwidth"] == "1 TB/s"
    assert case["sets"]["gpu.memory_capacity"] == "141 GB" and case["fidelity"] == "analytic"


def test_ranges_are_inclusive_and_clean():
    s = spec(axes=[{"set": "a.x", "range": [0.1, 0.5, 0.1]}, {"set": "a.y", "logrange": {"start": 16, "stop": 256, "factor": 2}},
                   {"set": "a.z", "range": {"start": 0, "stop": 1, "num": 5}}])
    x, y, z = (a.values for a in s.axes)
    assert x == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert y == [16, 32, 64, 128, 256] and all(isinstance(v, int) for v in y)
    assert z == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_scenario_counts_take_whole_numbers_from_a_range():
    s = spec(axes=[{"set": "scenario.batch", "range": {"start": 1, "stop": 8, "num": 1}}])
    assert s.axes[0].values == [1] and isinstance(s.axes[0].values[0], int)
    s = spec(axes=[{"set": "scenario.input_len", "logrange": {"start": 64, "stop": 1024, "num": 5}}])
    assert s.axes[0].values == [64, 128, 256, 512, 1024]
    with pytest.raises(ConfigError, match="whole numbers; this range gives 4.5"):
        spec(axes=[{"set": "scenario.batch", "range": {"start": 1, "stop": 8, "num": 3}}])


def test_lists_of_arch_and_model_become_axes():
    s = spec(arch=["a100", "h100"], model=["llama3-8b", "mistral-7b"])
    assert s.axis_names[:2] == ["arch", "model"]
    points, _ = generate(s)
    assert len(points) == 8 and {p.case["arch"] for p in points} == {"a100", "h100"}


def test_random_and_lhs_are_seeded_and_in_range():
    axes = [{"set": "scenario.batch", "range": {"start": 1, "stop": 64}, "int": True},
            {"set": "a.bw", "logrange": {"start": 1e9, "stop": 1e12}},
            {"set": "a.kind", "values": ["x", "y", "z"]}]
    for sampling in ("random", "lhs"):
        a, _ = generate(spec(axes=axes, sampling=sampling, samples=30, seed=7))
        b, _ = generate(spec(axes=axes, sampling=sampling, samples=30, seed=7))
        c, _ = generate(spec(axes=axes, sampling=sampling, samples=30, seed=8))
        assert [p.inputs for p in a] == [p.inputs for p in b] != [p.inputs for p in c]
        assert all(1 <= p.inputs["scenario.batch"] <= 64 and isinstance(p.inputs["scenario.batch"], int) for p in a)
        assert all(1e9 <= p.inputs["a.bw"] <= 1e12 for p in a)
    # Latin hypercube: every one of the n strata of each axis holds exactly one sample
    pts, _ = generate(spec(axes=[{"set": "a.u", "range": {"start": 0, "stop": 1}}], sampling="lhs", samples=20, seed=3))
    strata = sorted(int(p.inputs["a.u"] * 20) for p in pts)
    assert strata == list(range(20))


def test_where_constraints_filter_points_with_units():
    s = spec(axes=[{"set": "scenario.batch", "values": [1, 8, 64]},
                   {"set": "gpu.memory_bandwidth", "values": ["2 TB/s", "3.35 TB/s"]}],
             constraints={"where": ["scenario.batch * scenario.input_len <= 16384",
                                    "gpu.memory_bandwidth > 2.5e12 or scenario.batch == 1"]})
    points, dropped = generate(s)
    got = [(p.inputs["scenario.batch"], p.inputs["gpu.memory_bandwidth"]) for p in points]
    assert got == [(1, "2 TB/s"), (1, "3.35 TB/s"), (8, "3.35 TB/s")] and dropped == 3
    assert [p.index for p in points] == [0, 1, 2]


def test_a_unit_axis_compares_in_si_units_like_any_quantity():
    # 1.41 with `unit: GHz` is 1.41e9 Hz: '1.2 GHz' keeps it (it compared the bare 1.41)
    s = spec(axes=[{"set": "gpu.clock", "values": [1.0, 1.41], "unit": "GHz"}],
             constraints={"where": ["gpu.clock >= '1.2 GHz'"]})
    points, dropped = generate(s)
    assert [p.inputs["gpu.clock"] for p in points] == [1.41] and dropped == 1
    named = spec(axes=[{"set": "gpu.clock", "name": "clk", "values": [1.0, 1.41], "unit": "GHz"}],
                 constraints={"where": ["clk >= 1.2 and gpu.clock >= 1.2e9"]})
    assert [p.inputs["clk"] for p in generate(named)[0]] == [1.41]


def test_expression_is_restricted():
    assert Expression("max(a, 2) ** 2 >= 9 and b in ['x', 'y']", {"a", "b"})({"a": 3, "b": "x"})
    assert as_number("80 GB") == 80e9 and as_number("x") == "x"
    for bad, words in [("__import__('os')", "not allowed"), ("a.__class__", "not an axis"),
                       ("open('f')", "not allowed"), ("a +", "cannot read"), ("c > 1", "not an axis")]:
        with pytest.raises(ConfigError) as e:
            Expression(bad, {"a"}, "s.yaml", "constraints.where[0]")
        assert words in str(e.value) and str(e.value).startswith("s.yaml: constraints.where[0]: ")
    with pytest.raises(ConfigError, match="too large"):
        Expression("2 ** 10 ** 5 > 1", set())({})
    # exponents under the limit whose exact integer result would take hours
    with pytest.raises(ConfigError, match="4096 bits"):
        Expression("((9 ** 999) ** 999) ** 999 > 1", set())({})
    assert Expression("2 ** 1000 > 1 and 2.5 ** 700 > 1", set())({})


@pytest.mark.parametrize("over, key, words", [
    ({"axes": [{"set": "scenario.batch", "valeus": [1]}]}, "axes[0].valeus", "did you mean 'values'"),
    ({"axes": [{"set": "scenario.batch"}]}, "axes[0]", "exactly one of values"),
    ({"axes": [{"values": [1]}]}, "axes[0].set", "required"),
    ({"axes": [{"set": "scenario.bacth", "values": [1]}]}, "axes[0].set", "scenario has the keys"),
    ({"axes": [{"set": "a.b", "range": {"start": 4, "stop": 1, "step": 1}}]}, "axes[0].range", "below start"),
    ({"axes": [{"set": "a.b", "range": {"start": 1, "stop": 4}}]}, "axes", "a grid needs step or num"),
    ({"axes": [{"set": "a.b", "logrange": {"start": 0, "stop": 4, "num": 3}}]}, "axes[0].logrange.start", "above 0"),
    ({"axes": [{"set": "a.b", "values": ["2 TB/s"], "unit": "TB/s"}]}, "axes[0].values", "plain numbers"),
    ({"axes": [{"name": "h", "cases": []}]}, "axes[0].cases", "label"),
    ({"axes": [{"set": "a.b", "values": [1]}, {"set": "a.b", "values": [2], "name": "c"}]}, "axes", "set by two axes"),
    ({"axes": []}, "axes", "non-empty"),
    ({"sampling": "sobol"}, "sampling", "not one of"),
    ({"sampling": "random"}, "samples", "needs `samples:`"),
    ({"samples": 5}, "samples", "for random or lhs"),
    ({"metrics": ["decod.tokens_per_s"]}, "metrics[0]", "did you mean 'decode'"),
    ({"metrics": ["decode.tokens_per_sec"]}, "metrics[0]", "nearest valid names: decode.tokens_per_s"),
    ({"metrics": ["ttft_s", "breakdown.gpu.secs"]}, "metrics[1]", "breakdown.gpu.seconds"),
    ({"metrics": ["decode"]}, "metrics[0]", "decode.seconds"),
    ({"axes": [{"set": "a.b", "range": {"start": 1, "stop": float("inf"), "step": 1}}]}, "axes[0].range.stop",
     "expected a finite number"),
    ({"axes": [{"set": "a.b", "logrange": [1, float("nan"), 3]}]}, "axes[0].logrange.stop", "finite"),
    ({"axes": [{"set": "a.b", "range": {"start": 1, "stop": 1e9, "step": 1}}]}, "axes[0].range",
     "more than 2000000"),
    ({"axes": [{"set": "a.b", "range": {"start": 1, "stop": 2, "num": 10**9}}]}, "axes[0].range.num", "more than"),
    ({"axes": [{"set": "a.b", "logrange": {"start": 1, "stop": 1e300, "factor": 1.000001}}]}, "axes[0].logrange",
     "more than"),
    ({"sampling": "random", "samples": 10**9}, "samples", "more than the 2000000"),
    ({"constraints": {"fits": "maybe"}}, "constraints.fits", "not one of"),
    ({"constraints": {"where": ["batch >"]}}, "constraints.where[0]", "cannot read"),
    ({"fidelity": "exact"}, "fidelity", "not one of"),
    ({"scenario": {"batch": 0}}, "scenario.batch", "positive"),
    ({"arch": 3}, "arch", "name or path"),
    ({"colour": "red"}, "colour", "unknown key"),
])
def test_bad_sweep_files_give_one_line(over, key, words):
    with pytest.raises(ConfigError) as e:
        spec(**over)
    line = str(e.value)
    assert line.startswith(f"s.yaml: {key}: ") and words in line and "\n" not in line, line


def test_load_by_path_and_bad_yaml(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text(yaml.safe_dump({**BASE, "name": "x"}))
    s = load_sweep(p)
    assert s.name == "x" and s.file == str(p) and "toyarch" in s.text
    p.write_text("arch: [a100\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_sweep(p)


def test_bundled_sweeps_parse():
    from archsim.paths import SWEEPS_DIR
    files = sorted(SWEEPS_DIR.glob("*.yaml"))
    assert len(files) >= 3
    for f in files:
        s = load_sweep(f)
        points, _ = generate(s)
        assert points and s.name == f.stem and s.metrics
    hbm = load_sweep("hbm_vs_batch")
    assert len(generate(hbm)[0]) == 1000 and hbm.fidelity == "analytic"


def test_result_keys_match_a_real_run():
    from archsim.api import run_case
    from archsim.results.result_keys import RUN_RESULT
    res = run_case("a100", "gpt2-small", {"batch": 1, "input_len": 16, "output_len": 2}, fidelity="analytic")
    for head, subs in RUN_RESULT.fixed.items():   # the contract is the result's, key for key
        assert (not isinstance(res[head], dict)) if subs is None else set(res[head]) == set(subs), head
    for head, subs in RUN_RESULT.named.items():
        assert res[head] and all(set(v) == set(subs) for v in res[head].values()), head
    assert set(res) - {"config"} == {*RUN_RESULT.fixed, *RUN_RESULT.named, *RUN_RESULT.open}
    # the keys some machines add are known too (a sweep over them was refused)
    for arch, model in (("wse2", "gpt2-small"), ("a100x8", "falcon-7b")):
        cap = run_case(arch, model, {"batch": 1, "input_len": 16, "output_len": 2}, fidelity="analytic")["capacity"]
        assert set(cap) - set(RUN_RESULT.fixed["capacity"]) <= set(RUN_RESULT.optional["capacity"]), arch
        assert RUN_RESULT.problem("capacity.kv_stored_bytes_per_token") is None


def test_metric_missing_from_the_first_result_stops_the_run(tmp_path):
    from archsim.sweep import run_sweep
    from archsim.sweep.toy import toy_evaluate
    s = spec(metrics=["decode.tokens_per_s", "breakdown.memroy.seconds"])
    with pytest.raises(ConfigError) as e:
        run_sweep(s, tmp_path / "o.h5", evaluate=toy_evaluate, workers=0, progress=False)
    assert e.value.key == "metrics[1]" and "'breakdown.memroy.seconds' is not a key" in str(e.value)
    assert "nearest valid names: breakdown.memory.seconds" in str(e.value)
    assert not (tmp_path / "o.h5").exists()      # no file with a column that could only be NaN
    s = spec(metrics=["breakdown.memory.seconds"])
    assert run_sweep(s, tmp_path / "o.h5", evaluate=toy_evaluate, workers=0, progress=False).ok == 2


def test_an_axis_over_the_model_or_arch_stands_for_the_top_level_key():
    base = {k: v for k, v in BASE.items() if k not in ("model", "axes")}
    spec = parse_sweep({**base, "axes": [{"set": "model", "values": ["gpt2-small", "gpt2-medium"]}]}, "s.yaml")
    assert [a.values for a in spec.axes if a.path == "model"] == [["gpt2-small", "gpt2-medium"]]
    with pytest.raises(ConfigError, match="required key is missing"):
        parse_sweep({**base, "axes": [{"set": "scenario.batch", "values": [1, 2]}]}, "s.yaml")


def test_an_axis_may_not_take_a_provenance_column_name():
    # `code` is the store's own column: the axis's values were overwritten by the code hash
    with pytest.raises(ConfigError, match="code"):
        spec(axes=[{"set": "scenario.batch", "name": "code", "values": [1, 2]}])

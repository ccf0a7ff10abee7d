"""`archsim plot`: every kind draws PNG and SVG from saved results; discovery of plot modules."""

import json
import sys

import pytest
import yaml

import archsim.plots as plots
from archsim.cli.main import main
from archsim.errors import ArchsimError, ConfigError
from archsim.paths import ARCH_DIR
from archsim.sweep import load_sweep, run_sweep, to_dataframe
from archsim.sweep.analysis import pareto_front
from archsim.sweep.toy import toy_evaluate

RUN = {
    "arch": "toy", "model": "m", "fidelity": "analytic",
    "breakdown": {"gpu": {"seconds": 2.0, "energy_j": 5.0, "bytes": 1e9}, "link": {"seconds": 0.5, "energy_j": 1.0, "bytes": 1e8}},
    "ops": {"qkv_proj": {"seconds": 1e-3, "energy_j": 1e-3, "flops": 1e10, "bytes": 1e9},
            "ffn": {"seconds": 4e-3, "energy_j": 3e-3, "flops": 1e12, "bytes": 2e9},
            "softmax": {"seconds": 1e-4, "energy_j": 1e-5, "flops": 1e7, "bytes": 0}},
    "config": {"gpu": {"memory_bandwidth": 2e12, "l2_bandwidth": 8e12, "peak": {"fp16": 3e14, "fp32": 2e13},
                       "matmul_efficiency": 0.8}},
}
TRACE = {"traceEvents": [
    {"name": "thread_name", "ph": "M", "pid": 1, "tid": 1, "args": {"name": "gpu"}},
    {"name": "thread_name", "ph": "M", "pid": 1, "tid": 2, "args": {"name": "link"}},
    {"name": "qkv", "cat": "gemm", "ph": "X", "pid": 1, "tid": 1, "ts": 0.0, "dur": 5.0},
    {"name": "ffn", "cat": "gemm", "ph": "X", "pid": 1, "tid": 1, "ts": 5.0, "dur": 9.0},
    {"name": "ar", "cat": "allreduce", "ph": "X", "pid": 1, "tid": 2, "ts": 14.0, "dur": 2.0}]}


@pytest.fixture(scope="module")
def sweep_h5(tmp_path_factory):
    d = tmp_path_factory.mktemp("plots")
    data = {"name": "toyplot", "arch": "toyarch", "model": "toymodel", "scenario": {"input_len": 256, "output_len": 16},
            "axes": [{"set": "scenario.batch", "values": [1, 2, 4, 8, 16]},
                     {"name": "hbm", "cases": {"A": {"toy.bandwidth": "2 TB/s"}, "B": {"toy.bandwidth": "4 TB/s"}}}],
            "metrics": ["decode.tokens_per_s", "decode.energy_j_per_token", "breakdown.memory.seconds",
                        "breakdown.compute.seconds", "breakdown.memory.energy_j", "breakdown.compute.energy_j"],
            "keep_result": True}
    (d / "s.yaml").write_text(yaml.safe_dump(data))
    out = d / "s.h5"
    run_sweep(load_sweep(d / "s.yaml"), out, evaluate=toy_evaluate, workers=0, progress=False)
    return out


def drawn(path):
    head = path.read_bytes()[:200]
    return head.startswith(b"\x89PNG") if path.suffix == ".png" else b"<svg" in path.read_bytes()[:2000]


@pytest.mark.parametrize("suffix", [".png", ".svg"])
@pytest.mark.parametrize("kind, opts", [
    ("line", {"x": "scenario.batch", "y": "decode.tokens_per_s", "hue": "hbm", "logx": True}),
    ("line", {}),
    ("heatmap", {"x": "scenario.batch", "y": "hbm", "z": "decode.tokens_per_s"}),
    ("pareto", {"hue": "hbm"}),
    ("breakdown", {"where": "hbm == 'A'"}),
    ("breakdown", {"point": 3}),
    ("roofline", {"point": 0, "bandwidth": "2 TB/s", "peak_flops": "300 TFLOP/s"}),
])
def test_sweep_kinds(sweep_h5, tmp_path, kind, opts, suffix):
    out = tmp_path / f"fig{suffix}"
    assert plots.plot(sweep_h5, out, kind, **opts) == out and drawn(out)


@pytest.mark.parametrize("kind", ["roofline", "breakdown"])
def test_run_kinds_from_json(tmp_path, kind):
    src = tmp_path / "run.json"
    src.write_text(json.dumps(RUN))
    out = tmp_path / "f.png"
    assert main(["plot", str(src), "--kind", kind, "--out", str(out)]) == 0 and drawn(out)


def test_roofs_found_in_config():
    from archsim.plots.roofline import roofs_from_config
    bw, peaks = roofs_from_config(RUN["config"])
    assert [b[0] for b in bw] == ["gpu.l2_bandwidth", "gpu.memory_bandwidth"]
    assert [p[0] for p in peaks] == ["gpu.peak.fp16", "gpu.peak.fp32"]


def test_timeline_from_perfetto_json(tmp_path):
    src = tmp_path / "t.json"
    src.write_text(json.dumps(TRACE))
    out = tmp_path / "t.svg"
    assert plots.plot(src, out, "timeline", start_us=1.0) == out and drawn(out)


@pytest.mark.parametrize("ts,dur", [(0, "abc"), (0, -3), ("x", 1), (float("nan"), 1)])
def test_timeline_events_must_carry_numbers(tmp_path, ts, dur):
    src = tmp_path / "t.json"
    src.write_text(json.dumps({"traceEvents": [{"ph": "X", "name": "a", "ts": ts, "dur": dur,
                                                "pid": 1, "tid": 1}]}))
    with pytest.raises(ConfigError, match="event 0"):
        plots.plot(src, tmp_path / "t.svg", "timeline")


@pytest.mark.skipif(not (ARCH_DIR / "h100.yaml").exists(), reason="needs the h100 baseline")
def test_plots_of_a_real_run(tmp_path):
    from archsim.api import simulate_case
    from archsim.results.hdf5_io import write_result_h5
    from archsim.results.perfetto import write_perfetto
    result = simulate_case("h100", "gpt2-small", {"batch": 1, "input_len": 32, "output_len": 2}, fidelity="analytic")
    write_result_h5(result, tmp_path / "r.h5")
    write_perfetto(result, tmp_path / "r.json")
    (tmp_path / "s.json").write_text(json.dumps(result.summary))
    for kind, src in [("roofline", "s.json"), ("breakdown", "r.h5"), ("timeline", "r.json"), ("timeline", "r.h5"),
                      ("roofline", "r.h5")]:
        out = tmp_path / f"{kind}-{src}.png"
        plots.plot(tmp_path / src, out, kind)
        assert drawn(out)


@pytest.mark.parametrize("kind, source, opts, words", [
    ("heatmap", "sweep", {"x": "hbm"}, "x and y must be different"),
    ("heatmap", "sweep", {"x": "hbm", "y": "decode.tokens_per_s"}, "vary too"),
    ("line", "sweep", {"y": "decode.tokens"}, "did you mean 'decode.tokens_per_s'"),
    ("line", "sweep", {"z": "x"}, "unknown: z"),
    ("line", "sweep", {"where": "scenario.batch > 1000"}, "no finished points"),
    ("timeline", "sweep", {}, "timeline plots read a Perfetto trace or a run result"),
    ("pareto", "sweep", {"x_goal": "up"}, "expected max or min"),
    ("nosuch", "sweep", {}, "unknown plot kind 'nosuch'"),
    ("noc-heatmap", "sweep", {"phase": "foo"}, "phase must be prefill or decode"),
    ("timeline", "sweep", {"start_us": -5}, "not negative"),
])
def test_plot_errors_are_one_line(sweep_h5, tmp_path, kind, source, opts, words):
    with pytest.raises(ConfigError) as e:
        plots.plot(sweep_h5, tmp_path / "x.png", kind, **opts)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_bad_sources_and_formats(sweep_h5, tmp_path, capsys):
    with pytest.raises(ConfigError, match="figure format"):
        plots.plot(sweep_h5, tmp_path / "x.jpg", "line")
    (tmp_path / "x.json").write_text("[1, 2")
    with pytest.raises(ArchsimError, match="cannot read as JSON"):
        plots.plot(tmp_path / "x.json", tmp_path / "x.png", "timeline")
    assert main(["plot", str(tmp_path / "missing.h5"), "--kind", "line", "--out", str(tmp_path / "x.png")]) == 2
    assert "no such results file" in capsys.readouterr().err


def test_discovery_ignores_helpers_and_survives_broken_modules(tmp_path, monkeypatch):
    (tmp_path / "zz_custom.py").write_text(
        "KIND = 'custom'\n"
        "def plot(source, out, **opts):\n    return ('custom', out, opts)\n")
    (tmp_path / "zz_helper.py").write_text("VALUE = 1\n")
    (tmp_path / "zz_broken.py").write_text("raise ImportError('missing optional dependency')\n")
    (tmp_path / "zz_line_again.py").write_text("KIND = 'line'\ndef plot(source, out, **opts):\n    return 'second'\n")
    monkeypatch.setattr(plots, "__path__", [*plots.__path__, str(tmp_path)])
    monkeypatch.setattr(plots, "_FOUND", None)
    monkeypatch.setattr(plots, "_BROKEN", {})
    try:
        kinds = plots.kinds()
        assert {"custom", "line", "roofline", "breakdown", "heatmap", "pareto", "timeline"} <= set(kinds)
        assert "zz_helper" not in [m.__name__.rsplit(".", 1)[-1] for m in kinds.values()]
        assert kinds["line"].__name__ == "archsim.plots.line"   # the first module of a kind wins
        assert plots.plot("src", "o.png", "custom", x=1) == ("custom", "o.png", {"x": 1})
        with pytest.raises(ConfigError, match="zz_broken: ImportError: missing optional dependency"):
            plots.plot("src", "o.png", "nosuch")
    finally:
        for name in ("zz_custom", "zz_helper", "zz_broken", "zz_line_again"):
            sys.modules.pop(f"archsim.plots.{name}", None)


def test_pareto_front_and_dataframe(sweep_h5):
    df = to_dataframe(sweep_h5, status="ok")
    assert len(df) == 10 and df.attrs["axes"] == ["scenario.batch", "hbm"]
    front = pareto_front(df, "decode.tokens_per_s", "decode.energy_j_per_token")
    x, y = front["decode.tokens_per_s"].to_numpy(), front["decode.energy_j_per_token"].to_numpy()
    assert (x[1:] >= x[:-1]).all() and (y[1:] >= y[:-1]).all()   # more speed costs more energy along it
    for _, row in df.iterrows():   # nothing beats a front point on both metrics
        assert not ((row["decode.tokens_per_s"] > x) & (row["decode.energy_j_per_token"] < y)).any()


def test_a_column_without_values_is_refused(sweep_h5, tmp_path, capsys):
    df = to_dataframe(sweep_h5)
    df["decode.tokens_per_sec"] = float("nan")       # a misspelt metric of an older results file
    df.attrs["metrics"] = [*df.attrs["metrics"], "decode.tokens_per_sec"]
    for kind, opts in [("line", {"x": "scenario.batch", "y": "decode.tokens_per_sec"}),
                       ("pareto", {"x": "decode.tokens_per_sec"}),
                       ("heatmap", {"x": "scenario.batch", "y": "hbm", "z": "decode.tokens_per_sec"})]:
        with pytest.raises(ConfigError, match="'decode.tokens_per_sec' has no value in any row plotted"):
            plots.plot(df, tmp_path / "x.png", kind, **opts)
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("kind, opt, words", [
    ("roofline", "bandwidth=0", "--opt bandwidth: must be a positive finite bandwidth"),
    ("roofline", "bandwidth=-1 TB/s", "--opt bandwidth: must be a positive finite bandwidth"),
    ("roofline", "peak_flops=2 TFLOP/s,0", "--opt peak_flops: must be a positive finite"),
    ("roofline", "max_roofs=-3", "--opt max_roofs: expected an integer >= 1"),
    ("roofline", "labels=zz", "--opt labels: expected true or false"),
    ("breakdown", "point=1.5", "--opt point: expected a point index"),
    ("line", "marker=zz", "--opt marker: not a valid marker"),
    ("line", "logy=3", "--opt logy: expected true or false"),
    ("heatmap", "cmap=zz", "--opt cmap: not a valid cmap"),
    ("heatmap", "annotate=7", "--opt annotate: expected true or false"),
    ("timeline", "start_us=abc", "--opt start_us: expected a finite number"),
    ("timeline", "colors=-1", "--opt colors: expected an integer >= 0"),
])
def test_bad_options_exit_2_naming_them(sweep_h5, tmp_path, capsys, kind, opt, words):
    src = {"roofline": "run.json", "breakdown": sweep_h5, "timeline": "t.json"}.get(kind, sweep_h5)
    (tmp_path / "run.json").write_text(json.dumps(RUN))
    (tmp_path / "t.json").write_text(json.dumps(TRACE))
    argv = ["plot", str(tmp_path / src), "--kind", kind, "--out", str(tmp_path / "x.png"), "--opt", opt]
    if kind == "heatmap":
        argv += ["--x", "scenario.batch", "--y", "hbm"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "x.png").exists()



@pytest.mark.parametrize("kind", ["breakdown", "roofline"])
def test_a_sweep_row_picked_from_one_run_is_an_error(tmp_path, kind):
    src = tmp_path / "run.json"
    src.write_text(json.dumps(RUN))
    with pytest.raises(ConfigError, match="one run"):
        plots.plot(src, tmp_path / "f.png", kind, point=3)


def test_rows_of_points_a_sweep_no_longer_has_are_not_plotted(tmp_path):
    import pandas as pd
    from archsim.plots.common import Source, sweep_frame
    df = pd.DataFrame({"index": [0, 1, -1], "status": ["ok", "ok", "ok"], "scenario.batch": [1, 2, 1],
                       "decode.tokens_per_s": [10.0, 20.0, 99.0]})
    got = sweep_frame(Source("sweep", df, "s.h5"))
    assert got["decode.tokens_per_s"].tolist() == [10.0, 20.0]


@pytest.mark.parametrize("arch, model, want", [
    ("cambricon-llm-s", "gpt2-small", {"dram.lpddr5x-8533 x3", "flash.array", "flash.channels", "npu.int8",
                                       "flash.cores.int8"}),
    ("pim-gpt", "gpt2-small", {"pim.bank_bandwidth", "pim.bf16", "asic.bf16"}),
    ("wse2", "gpt2-small", {"mesh.sram", "mesh.fp16"}),
    ("xeon-gold-6154", "gpt2-small", {"cpu.memory_bandwidth", "cpu.fp32"}),
    ("a100", "gpt2-small", {"gpu.memory_bandwidth", "gpu.peak.bf16"}),
])
def test_every_machine_gets_the_roofs_of_its_parts(arch, model, want):
    from archsim.api import run_case
    from archsim.plots.roofline import machine_roofs
    res = run_case(arch, model, {"batch": 1, "input_len": 16, "output_len": 2})
    bw, peaks = machine_roofs(res)
    labels = {part for lab, _ in bw + peaks for part in lab.split(" = ")}
    assert want <= labels, labels
    if arch in ("pim-gpt", "wse2", "xeon-gold-6154", "a100"):
        # every op lies under the roofs (ops run from off-chip memory or the part's own SRAM)
        roof_bw, roof_flops = max(v for _, v in bw), max(v for _, v in peaks)
        for name, op in res["ops"].items():
            if op["flops"] > 0 and op["bytes"] > 0 and op["seconds"] > 0:
                rate = op["flops"] / op["seconds"]
                assert rate <= min(roof_bw * op["flops"] / op["bytes"], roof_flops) * (1 + 1e-9), name


def test_plot_and_run_small_fixes(tmp_path, capsys):
    from archsim.plots.common import number_opt
    assert number_opt({"end_us": "2e4"}, "end_us", None) == 2e4          # YAML reads 2e4 as text
    src = tmp_path / "run.json"
    src.write_text(json.dumps(RUN))
    upper = tmp_path / "RUN.JSON"
    upper.write_text(json.dumps(RUN))
    assert main(["plot", str(upper), "--kind", "breakdown", "--out", str(tmp_path / "b.png")]) == 0
    same = tmp_path / "r.h5"
    assert main(["run", "a100", "gpt2-small", "--input-len", "8", "--output-len", "1", "--out", str(same),
                 "--timeline", str(same)]) == 2
    assert "same file" in capsys.readouterr().err


def _toy_sweep(tmp_path, axes):
    """A finished toy sweep over `axes` (decode tokens/s), its results file."""
    data = {"name": "q", "arch": "toyarch", "model": "toymodel", "scenario": {"input_len": 256, "output_len": 16},
            "axes": axes, "metrics": ["decode.tokens_per_s"]}
    (tmp_path / "q.yaml").write_text(yaml.safe_dump(data))
    out = tmp_path / "q.h5"
    run_sweep(load_sweep(tmp_path / "q.yaml"), out, evaluate=toy_evaluate, workers=0, progress=False)
    return out


def _drawn_figures(monkeypatch, what) -> list:
    """what(figure) of every figure saved from now on."""
    import matplotlib.figure
    seen = []
    real = matplotlib.figure.Figure.savefig

    def grab(fig, *a, **k):
        seen.append(what(fig))
        return real(fig, *a, **k)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", grab)
    return seen


def test_a_quantity_axis_is_placed_by_value(tmp_path, monkeypatch):
    # '500 GB/s', '2 TB/s', '3.35 TB/s' are values, not categories: a log x axis places them
    # (the categories 0, 1, 2 lost the first point off a log axis)
    out = _toy_sweep(tmp_path, [{"set": "toy.bandwidth", "values": ["2 TB/s", "500 GB/s", "3.35 TB/s"]}])
    seen = _drawn_figures(monkeypatch, lambda fig: [list(ln.get_xdata()) for ax in fig.axes for ln in ax.get_lines()])
    plots.plot(out, tmp_path / "q.png", "line", x="toy.bandwidth", logx=True)
    assert seen == [[[5e11, 2e12, 3.35e12]]]
    # words that are no quantities cannot go on a log axis
    with pytest.raises(ConfigError, match="logx needs numbers"):
        plots.plot(out, tmp_path / "r.png", "line", x="point", logx=True)


def test_a_pareto_front_over_quantities(tmp_path):
    # '900 GB/s' < '1 TB/s' < '1.5 TB/s' by value (it raised converting '1 TB/s' to float)
    out = _toy_sweep(tmp_path, [{"set": "toy.bandwidth", "values": ["1 TB/s", "1.5 TB/s", "900 GB/s"]}])
    assert drawn(plots.plot(out, tmp_path / "p.png", "pareto", x="toy.bandwidth", y="decode.tokens_per_s",
                            x_goal="min", y_goal="max"))
    with pytest.raises(ConfigError, match="needs numbers"):
        plots.plot(out, tmp_path / "r.png", "pareto", x="point", y="decode.tokens_per_s")


def test_a_quantity_hue_is_in_order_of_value(tmp_path, monkeypatch):
    out = _toy_sweep(tmp_path, [{"set": "scenario.batch", "values": [1, 2]},
                                {"set": "toy.bandwidth", "values": ["1 TB/s", "1.5 TB/s", "900 GB/s"]}])
    seen = _drawn_figures(monkeypatch, lambda fig: [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()])
    plots.plot(out, tmp_path / "h.png", "line", x="scenario.batch", hue="toy.bandwidth")
    assert seen == [["900 GB/s", "1 TB/s", "1.5 TB/s"]]


def test_a_numeric_axis_keeps_matplotlibs_ticks(tmp_path, monkeypatch):
    # only quantities are labelled as written: a plain number axis kept a forced tick per
    # value, labelled 0.000373136501 and so on
    out = _toy_sweep(tmp_path, [{"set": "scenario.batch", "values": [1, 2, 3]}])
    seen = _drawn_figures(monkeypatch, lambda fig: [t.get_text() for ax in fig.axes for t in ax.get_xticklabels()])
    plots.plot(out, tmp_path / "n.png", "line", x="decode.tokens_per_s", y="scenario.batch")
    labels = [t for t in seen[0] if t]
    assert labels and labels != ["125.0", "250.0", "375.0"], labels     # the toy's 125/250/375 tokens/s


def test_plot_where_takes_a_named_unit_axis_by_its_path(tmp_path):
    # a named `unit:` axis: its column is the name, its set path compares in SI units, in
    # the sweep's `where` and in `plot --where` alike (the path was refused here)
    out = _toy_sweep(tmp_path, [{"set": "toy.bandwidth", "name": "bw", "values": [0.5, 2, 3.35], "unit": "TB/s"}])
    df = to_dataframe(out)
    from archsim.plots.common import load_source, sweep_frame
    kept = sweep_frame(load_source(out), "toy.bandwidth >= '1 TB/s'")
    assert sorted(kept["bw"]) == [2, 3.35] and len(df) == 3
    assert drawn(plots.plot(out, tmp_path / "w.png", "line", x="bw", where="toy.bandwidth >= '1 TB/s'"))


def test_a_log_axis_refuses_values_it_would_drop(tmp_path):
    out = _toy_sweep(tmp_path, [{"set": "scenario.batch", "values": [1, 2]},
                                {"set": "toy.crash_once", "values": [False]}])
    with pytest.raises(ConfigError, match="above zero"):
        plots.plot(out, tmp_path / "b.png", "line", x="toy.crash_once", logx=True)
    assert drawn(plots.plot(out, tmp_path / "ok.png", "line", x="scenario.batch", logx=True))

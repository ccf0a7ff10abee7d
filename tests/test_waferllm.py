"""The WaferLLM mappings: allreduce numerics, KV shift invariant, layouts, pipeline, runs."""

import numpy as np
import pytest

from archsim.api import run_case, run_op, simulate_case
from archsim.components.wafer import FabricContext
from archsim.mappings.waferllm.comm import KTreeAllreduce, ktree_groups
from archsim.mappings.waferllm.kv_cache import ConcatKVCache, KVPolicy, ShiftKVCache
from archsim.mappings.waferllm.layouts import (check_conservation, decode_tile, decode_weight_bytes_per_core,
                                               placed_elements, Linear)
from archsim.mappings.waferllm.meshgemm import gemm_program
from archsim.mappings.waferllm.meshgemv import gemv_program, reduce_values
from archsim.mappings.waferllm.pipeline import plan_regions, plan_streamed
from archsim.system.arch import load_arch
from archsim.system.system import System


@pytest.fixture(scope="module")
def wafer():
    return System(load_arch("wse2")).components["mesh"]


# --- allreduce: the reduced vector equals the sum ------------------------------------------------
@pytest.mark.parametrize("n", [3, 7, 20, 21, 64, 101])
@pytest.mark.parametrize("k,root", [(2, "center"), (1, "center"), (3, "center"), (1, "end")])
def test_allreduce_pattern_sums(n, k, root):
    rng = np.random.default_rng(n * 10 + k)
    vals = rng.standard_normal((n, 5))
    out, stages, hops = reduce_values(vals, k=k, root=root)
    assert np.allclose(out, np.tile(vals.sum(axis=0), (n, 1)))
    assert hops >= n - 1           # every core's partial reaches the root and comes back


def test_two_way_tree_has_about_sqrt_n_routing_stages():
    n = 420
    _, stages2, _ = reduce_values(np.ones((n, 1)), k=2)
    _, stages_pipe, _ = reduce_values(np.ones((n, 1)), k=1, root="end")
    assert stages_pipe == n - 1
    assert stages2 <= 2 * int(np.ceil(np.sqrt(n)))
    assert np.prod(ktree_groups(n, 2)) >= n


def test_ktree_beats_the_pipelined_allreduce_at_scale(wafer):
    ctx = FabricContext(wafer)
    tree = KTreeAllreduce(720, 1, "y", 46, k=2).run(ctx).cycles
    pipe = KTreeAllreduce(720, 1, "y", 46, k=1, root="end").run(ctx).cycles
    assert pipe > 3 * tree


# --- KV cache --------------------------------------------------------------------------------------
@pytest.mark.parametrize("rows", [1, 4, 9])
def test_shift_kv_stays_balanced_and_ordered(rows):
    kv = ShiftKVCache(rows, prompt=range(13))
    for t in range(13, 60):
        moves = kv.append(t)
        assert kv.balanced() and kv.ordered()
        assert kv.tokens() == list(range(t + 1))          # nothing lost, nothing duplicated
        assert moves <= rows - 1                          # each move is one hop up
    conc = ConcatKVCache(rows, prompt=range(13))
    for t in range(13, 60):
        conc.append(t)
    assert sorted(conc.tokens()) == list(range(60))
    assert conc.counts()[-1] >= 60 - 13                   # the last row takes every new token


def test_shift_holds_rows_times_more_tokens_than_concat():
    rows = 360
    shift = KVPolicy("shift").max_tokens(1e10, 1e5, rows)
    concat = KVPolicy("concat").max_tokens(1e10, 1e5, rows)
    assert shift == rows * concat or shift // rows == concat
    assert KVPolicy("concat").tokens_on_busiest_row(rows, 4096 + 100, 4096) > \
        KVPolicy("shift").tokens_on_busiest_row(rows, 4096 + 100, 4096)


# --- layouts ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("k,n,rows,cols", [(4096, 6144, 420, 420), (14336, 4096, 360, 360), (5, 7, 3, 4),
                                           (128256, 4096, 540, 540), (1, 1, 3, 3)])
def test_layout_places_every_element_once(k, n, rows, cols):
    assert check_conservation(k, n, rows, cols)
    assert placed_elements(k, n, rows, cols) == k * n


def test_decode_layout_padding_only_adds_bytes():
    lins = [Linear("qkv_proj", 4096, 6144, 16), Linear("o_proj", 4096, 4096, 16),
            Linear("ffn_gate_up", 4096, 28672, 16), Linear("ffn_down", 14336, 4096, 16)]
    for g in ((360, 360), (420, 420), (540, 540)):
        per_core = decode_weight_bytes_per_core(lins, g)
        exact = sum(l.k * l.n * 2 for l in lins)
        assert exact <= per_core * g[0] * g[1] <= 1.25 * exact
    # o_proj and ffn_down read the column-split vector: transposed tiles
    assert decode_tile(Linear("ffn_down", 14336, 4096, 16), (420, 420)) == (35, 10)
    assert decode_tile(Linear("ffn_gate_up", 4096, 28672, 16), (420, 420)) == (10, 69)


def test_pipeline_regions_and_bubble():
    plan = plan_regions((360, 360), 32, 3700, 8000, 46000, 745500, "decode")
    assert plan.regions >= 3
    assert plan.busy_fraction == pytest.approx(1 / plan.regions)
    assert sum(plan.boundary(l) for l in range(32)) == max(plan.region_of_layer)


# --- algorithms on the machine ---------------------------------------------------------------------
def test_meshgemm_beats_summa_and_cannon(wafer):
    t = {a: wafer.run_program(gemm_program(480, 2048, 2048, 2048, algorithm=a)).seconds
         for a in ("meshgemm", "cannon", "summa")}
    assert t["meshgemm"] < t["cannon"] and t["meshgemm"] < t["summa"]


def test_gemv_on_a_larger_grid_is_slower_because_of_the_fabric(wafer):
    small = wafer.run_program(gemv_program((240, 240), 4096, 4096))
    big = wafer.run_program(gemv_program((480, 480), 4096, 4096))
    assert big.seconds > small.seconds
    assert big.breakdown["compute_s"] < small.breakdown["compute_s"]
    assert big.breakdown["comm_s"] > small.breakdown["comm_s"]


def test_op_command_goes_through_the_mapping():
    out = run_op("wse2", "gemv", 1, 8192, 8192, "fp16", ["mesh.op_grid=300x300"])
    parts = out["breakdown"]["mesh"]["parts"]
    assert out["seconds"] > 0 and parts["lines_reused"] == 299
    auto = run_op("wse2", "gemv", 1, 8192, 8192, "fp16")
    assert auto["seconds"] <= out["seconds"] * 1.0001


# --- whole runs (small model, short prompt) --------------------------------------------------------
def test_run_reports_capacity_pipeline_and_shift_vs_concat():
    scen = {"batch": 1, "input_len": 64, "output_len": 2}
    shift = run_case("wse2", "gpt2-small", scen)
    concat = run_case("wse2", "gpt2-small", scen, ["mapping.kv_cache=concat"])
    cap = shift["capacity"]
    assert cap["kv_cache"] == "shift" and cap["decode_regions"] >= 1
    assert cap["max_decode_tokens"] > 300 * concat["capacity"]["max_decode_tokens"]
    assert shift["decode"]["tokens_per_s"] > 0 and shift["prefill"]["tokens_per_s"] > 0
    assert concat["decode"]["seconds"] >= shift["decode"]["seconds"] * 0.9


def test_the_capacity_is_the_longest_context_the_layout_runs():
    # the run accepts a context of max_decode_tokens and refuses one more: the working buffers
    # that grow with the context (the scores) count, so the bytes at the run's own context are
    # only an upper bound (LLaMA2-13B on 360x360, six overlapping regions at the top)
    from archsim.errors import CapacityError
    sets = ["mesh.decode_grid=360x360", "model.max_seq_len=20000"]
    cap = run_case("wse2", "llama2-13b", {"batch": 1, "input_len": 63, "output_len": 1}, sets,
                   fidelity="analytic")["capacity"]
    top = cap["max_decode_tokens"]
    assert 0 < top < cap["max_tokens_by_bytes"]
    assert run_case("wse2", "llama2-13b", {"batch": 1, "input_len": top - 1, "output_len": 1}, sets,
                    fidelity="analytic")["capacity"]["max_decode_tokens"] == top
    with pytest.raises(CapacityError):
        run_case("wse2", "llama2-13b", {"batch": 1, "input_len": top, "output_len": 1}, sets, fidelity="analytic")


@pytest.mark.parametrize("prompt", [64, 2048])
def test_the_concat_capacity_counts_the_prompt_spread_over_the_rows(prompt):
    # concatenation spreads the prompt over every row and piles the new tokens on the last:
    # the longest context is the prompt plus what the last row has left, and the run takes
    # exactly that many new tokens (the capacity once ignored the prompt: 353 on llama3-8b,
    # while 64 + 352 ran and 2048 + 347 was refused)
    from archsim.errors import CapacityError
    sets = ["mapping.kv_cache=concat"]
    cap = run_case("wse2", "llama3-8b", {"batch": 1, "input_len": prompt, "output_len": 1}, sets,
                   fidelity="analytic")["capacity"]
    new = cap["max_decode_tokens"] - prompt
    assert new > 1
    run_case("wse2", "llama3-8b", {"batch": 1, "input_len": prompt, "output_len": new}, sets,
             fidelity="analytic")
    with pytest.raises(CapacityError):
        run_case("wse2", "llama3-8b", {"batch": 1, "input_len": prompt, "output_len": new + 1}, sets,
                 fidelity="analytic")


def test_decode_grid_trend_comes_from_the_fabric():
    scen = {"batch": 1, "input_len": 256, "output_len": 1}
    t = [run_case("wse2", "gpt2-small", scen, [f"mesh.decode_grid={g}x{g}"])["decode"]["seconds"]
         for g in (240, 480)]
    assert t[1] > t[0]


def test_noc_heatmap_plot(tmp_path):
    from archsim.plots.noc_heatmap import plot
    res = simulate_case("wse2", "gpt2-small", {"batch": 1, "input_len": 32, "output_len": 1})
    out = plot(res, tmp_path / "heat.png")
    assert out.exists() and out.stat().st_size > 1000


def test_noc_heatmap_places_as_many_lines_as_each_collective_ran():
    from archsim.plots.noc_heatmap import _place_lines
    line = np.arange(1, 9, dtype=np.float64).reshape(2, 4)          # a 2-core line
    for axis, lines in (("y", 3), ("y", 6 * 2 + 2), ("x", 5), ("y", 10 ** 6)):
        total = np.zeros((6, 6, 4))
        _place_lines(total, axis, line, lines)
        assert total.sum() == line.sum() * min(lines, 6 * 3)      # 3 blocks of 2 x 6 lines
    total = np.zeros((6, 6, 4))
    _place_lines(total, "y", line, 3)                                # 3 columns, rows 0-1 only
    assert total[:2, :3].sum() == 3 * line.sum() and total[2:].sum() == 0 and total[:, 3:].sum() == 0


def test_collectives_run_together_keep_each_ones_lines(wafer):
    # MeshGEMM's step shifts along rows and columns at once (a Parallel of two collectives):
    # both reach the link log, each with its own axis and line count
    from archsim.mappings.waferllm.comm import InterleavedShift, Parallel
    res = Parallel((InterleavedShift(8, 6, "x", 16, 16), InterleavedShift(6, 8, "y", 16, 16))).run(
        FabricContext(wafer))
    assert sorted((axis, line.shape[0], lines) for axis, line, lines in res.line_loads) == \
        [("x", 8, 6), ("y", 6, 8)]
    assert sum(line.sum() * lines for _, line, lines in res.line_loads) > 0


def test_noc_heatmap_draws_a_short_ring_on_its_own_lines_only(monkeypatch):
    # a batch-1 prefill of 64 tokens rings K/V around 64 rows of each of the 660 columns: the
    # map once tiled that ring down all 660 rows (10 copies a column)
    from archsim.plots import noc_heatmap
    from archsim.workload.model_spec import load_model
    from archsim.workload.trace_builder import build_trace
    placed = []
    real = noc_heatmap._place_lines
    monkeypatch.setattr(noc_heatmap, "_place_lines",
                        lambda total, axis, line, lines: placed.append((axis, line.shape[0], lines, line.sum()))
                        or real(total, axis, line, lines))
    system = System(load_arch("wse2"))
    trace = build_trace(load_model("gpt2-small"), batch=1, input_len=64, output_len=0)
    loads = noc_heatmap.layer_link_loads(system, trace, "prefill", 0)
    rows, cols = loads["grid"]
    assert any(axis == "y" and n == 64 and lines == cols for axis, n, lines, _ in placed)
    cap = {"x": lambda n: rows * (cols // n), "y": lambda n: cols * (rows // n)}
    expected = sum(s * min(lines, cap[axis](n)) for axis, n, lines, s in placed)
    assert loads["links"].sum() == pytest.approx(expected)


def test_noc_heatmap_redraws_the_run_with_its_model_overrides_and_refuses_other_machines(tmp_path, monkeypatch):
    from archsim.errors import ConfigError
    from archsim.plots import noc_heatmap
    from archsim.plots.noc_heatmap import plot
    sc = {"batch": 1, "input_len": 32, "output_len": 1}
    res = simulate_case("wse2", "gpt2-small", sc, ["model.ffn_dim=6144"])
    assert res.summary["provenance"]["model_sets"] == ["ffn_dim=6144"]
    seen = []
    real = noc_heatmap.layer_link_loads
    monkeypatch.setattr(noc_heatmap, "layer_link_loads", lambda system, trace, *a: seen.append(trace) or real(system, trace, *a))
    plot(res, tmp_path / "heat.png")
    down = seen[0]["name"] == "ffn_down"
    assert set(seen[0]["k"][down].tolist()) == {6144}        # the run's FFN, not gpt2-small's 3072
    other = simulate_case("pim-gpt", "gpt2-small", sc)
    with pytest.raises(ConfigError, match="need a wafer machine"):
        plot(other, tmp_path / "x.png")


# --- the decode kernel's op sequence ---------------------------------------------------------------
def test_fused_linears_multiply_part_by_part_with_one_allreduce(wafer):
    fused = gemv_program((420, 420), 4096, 6144)
    split = gemv_program((420, 420), 4096, 6144, parts=(4096, 1024, 1024))
    seg_f, seg_s = fused.segments[0], split.segments[0]
    assert sum(o.count for o in seg_s.compute if o.kind == "fmac") == 3 * 10
    assert sum(o.count for o in seg_f.compute if o.kind == "fmac") == 10
    assert seg_s.comm.elements == 10 + 3 + 3 and seg_f.comm.elements == 15
    assert wafer.run_program(split).cycles > wafer.run_program(fused).cycles


def test_decode_attention_row_reduces_across_the_whole_row():
    from archsim.mappings.waferllm.ops import decode_qk
    group = decode_qk((420, 420), 32, 8, 128, 10, 1, 16, "ktree", 2)
    row = decode_qk((420, 420), 1, 1, 32 * 128, 10, 1, 16, "ktree", 2)
    assert group.segments[0].comm.n == 420 // 8 and row.segments[0].comm.n == 420


def test_sigmoid_activations_are_scalar_loops_over_the_core_share(wafer):
    from archsim.mappings.waferllm.ops import decode_activation
    t = [wafer.run_program(decode_activation((g, g), 14336, 1, 16, True)).cycles for g in (420, 540)]
    assert t[0] > t[1] > 0                      # fewer elements per core on the larger grid
    relu = wafer.run_program(decode_activation((420, 420), 14336, 1, 16, False, "relu")).cycles
    assert relu < t[0] / 10                     # a vector max, no scalar code


def test_a_centre_root_reads_its_two_streams_one_after_the_other(wafer):
    ctx = FabricContext(wafer)
    # the same line reduced toward an end takes one stream per root: compare a 3-core line's
    # centre root (two streams) with the cost of a single stream plus a second receive
    three = KTreeAllreduce(3, 1, "y", 64, k=1, root="center", broadcast=False).run(ctx).cycles
    two = KTreeAllreduce(2, 1, "y", 64, k=1, root="end", broadcast=False).run(ctx).cycles
    f = ctx.wavelets(64)
    assert three >= two + ctx.fabric_op_issue() + f - 1


# --- configuration errors ----------------------------------------------------------------------------
@pytest.mark.parametrize("sets, key, needs", [
    (["mesh.core.sram=1 KiB"], "mesh.core.sram", "more than 2048 B needed"),
    (["mesh.core.sram=2 KiB"], "mesh.core.sram", "more than 2048 B needed"),
    (["mesh.decode_grid=3x3"], "mesh.decode_grid", "working buffers need"),
    (["mesh.prefill_grid=3x3"], "mesh.prefill_grid", "working buffers need"),
])
def test_capacity_errors_say_what_is_needed_and_what_is_free(sets, key, needs):
    from archsim.errors import ArchsimError
    with pytest.raises(ArchsimError) as e:
        run_case("wse2", "llama3-8b", {"batch": 1, "input_len": 16, "output_len": 1}, sets)
    msg = str(e.value)
    assert key in msg and needs in msg
    assert " -" not in msg                      # no negative capacity


def test_sram_total_is_reference_only():
    from archsim.components.wafer import WAFER_SCHEMA
    assert "reference only" in WAFER_SCHEMA["sram_total"].doc
    wafer = System(load_arch("wse2", ["mesh.sram_total=1 KiB"])).components["mesh"]
    assert wafer.memory_bytes == 750 * 994 * 48 * 1024


@pytest.mark.parametrize("kind, m, k, n, grid, fit", [("gemv", 1, 64, 64, "700x700", "64x64"),
                                                      ("gemv", 1, 64, 64, "65x64", "64x64"),
                                                      ("gemv", 1, 4096, 32, "64x64", "64x32"),
                                                      ("gemm", 64, 32, 4096, "64x64", "32x32")])
def test_op_grid_larger_than_the_weights_is_an_error(kind, m, k, n, grid, fit):
    # the extra rows or columns of cores would hold no weights yet be charged for the op
    from archsim.errors import ConfigError
    with pytest.raises(ConfigError) as e:
        run_op("wse2", kind, m, k, n, "fp16", [f"mesh.op_grid={grid}"])
    assert "mesh.op_grid" in str(e.value) and f"at most {fit}" in str(e.value)
    assert run_op("wse2", kind, m, k, n, "fp16", [f"mesh.op_grid={fit}"])["seconds"] > 0


def test_a_lone_attention_runs_all_its_parts_on_one_grid():
    # the scores stay on the cores QK^T left them on, so softmax and AV may not pick grids of
    # their own (QK^T on 720x720, softmax on 120x120, AV on 180x180 moved them uncosted); the
    # grid is the one candidate with the least total time, and the output names it
    auto = run_op("wse2", "attention", 1, 128, 1024, "fp16", fidelity="analytic", heads=32)
    grids = auto["stats"]["mapping"]["op_grid"]
    assert set(grids) == {"attention_qk", "softmax", "attention_av"} and len(set(grids.values())) == 1
    for p in range(60, 721, 60):
        fixed = run_op("wse2", "attention", 1, 128, 1024, "fp16", [f"mesh.op_grid={p}x{p}"], "analytic", 32)
        assert set(fixed["stats"]["mapping"]["op_grid"].values()) == {f"{p}x{p}"}
        assert auto["seconds"] <= fixed["seconds"]


@pytest.mark.parametrize("k, n, grid", [(1, 1, "3x3"), (100, 100, "60x60"), (4096, 32, "32x32")])
def test_the_auto_op_grid_leaves_no_core_without_weights(k, n, grid):
    # the auto search holds its candidates to the rule an explicit op_grid is checked by: a
    # 1x1 matrix ran on 60x60 (3,600 cores charged) where an explicit 60x60 was refused; a
    # matrix narrower than the smallest grid (3x3) runs on that
    auto = run_op("wse2", "gemv", 1, k, n, "fp16")
    assert auto["stats"]["mapping"]["op_grid"] == {"gemv": grid}
    assert run_op("wse2", "gemv", 1, k, n, "fp16", [f"mesh.op_grid={grid}"])["seconds"] == auto["seconds"]


@pytest.fixture(scope="module")
def streamed_prefill():
    """LLaMA3-8B's 2,048-token prefill on WSE-3 (it streams its last layers), scheduled."""
    from archsim.system.scheduler import PS_PER_S, schedule
    from archsim.workload.model_spec import load_model
    from archsim.workload.trace_builder import build_trace
    system = System(load_arch("wse3"), "analytic")
    trace = build_trace(load_model("llama3-8b"), input_len=2048, output_len=0, precision="fp16")
    graph = system.mapping.build(trace)
    dur = np.array([round(system.cost(*graph.pairs[p]).seconds * PS_PER_S) for p in graph.pair_index.tolist()])
    start, finish = schedule(np.zeros(len(graph), np.int64), dur, (graph.dep_ptr, graph.dep_idx),
                             [system.components["mesh"].lanes])
    return system, trace, graph, start, finish


def test_a_streamed_prefill_keeps_the_head_and_streams_only_the_layers_that_do_not_fit(streamed_prefill):
    # LLaMA3-8B's prefill on 660x660 with a 2,048-token prompt (WSE-3's default): 35 layers'
    # bytes fit a core's free room, but beside the head only 30 do, so the plan streams;
    # 28 stay and 4 stream through two layers' room (it reported 35 resident of 32)
    from archsim.errors import CapacityError
    free, head, layer = 42304, 5460, 1194
    plan = plan_streamed((660, 660), 32, layer, head, free, 883350, 2 ** 40, "prefill")
    d = plan.as_dict()
    assert d["streamed"] and d["layers_resident"] == 28 and d["layers_streamed"] == 4
    assert d["bytes_per_core"] == {"free": free, "head": head, "layer": layer}
    assert head + (28 + 2) * layer <= free < head + (28 + 3) * layer
    # a grid with room for two layers but not beside the head cannot stream
    with pytest.raises(CapacityError, match="the head and two layers"):
        plan_streamed((660, 660), 32, layer, free - layer, free, 883350, 2 ** 40, "prefill")
    # the run streams those layers' weights and no others
    system, trace, graph, start, finish = streamed_prefill
    pp = system.mapping.stats()["prefill_pipeline"]
    assert pp["layers_resident"] + pp["layers_streamed"] == 32 and pp["layers_streamed"] >= 1
    streams = [t for t, j in enumerate(graph.jobs) if j.label.endswith(":weight_stream")]
    served = trace["layer"][graph.serves_index[streams]]
    assert served.tolist() == list(range(pp["layers_resident"], 32))


def test_a_streamed_layers_weights_load_while_the_layer_before_computes(streamed_prefill):
    # a layer's stream starts once the layer before the one before has computed (its buffer is
    # free) and, shorter than a layer's compute, has landed by the time its layer is due: no
    # layer waits, and the prefill takes what the same compute would take all resident (each
    # streamed layer used to wait 87.6 us for a stream issued only as it was due)
    system, trace, graph, start, finish = streamed_prefill
    stream = np.array([j.label.endswith(":weight_stream") for j in graph.jobs])
    row_last = {r: t for t, r in enumerate(graph.op_index.tolist())}
    first_rows = np.flatnonzero(trace["name"] == "attn_norm")
    for s in np.flatnonzero(stream):
        row = int(graph.serves_index[s])
        layer = int(trace["layer"][row])
        compute = next(t for t in np.flatnonzero(graph.op_index == row) if not stream[t])
        # it lands before its layer is due; issued by the layer before, after the layer
        # before that (or the embedding)
        assert finish[s] <= start[compute] == finish[row_last[row - 1]]
        assert trace["layer"][graph.op_index[s]] == layer - 1
        assert start[s] == finish[row_last[first_rows[layer - 1] - 1]]
    assert stream.sum() >= 1
    chain = np.flatnonzero(~stream)
    assert finish.max() == (finish - start)[chain].sum()


def test_a_long_rotation_is_bandwidth_bound_at_any_link_latency():
    # the two short runs it extends can both be latency-bound when a link takes 2+ cycles;
    # the busiest link still moves one wavelet a cycle
    from archsim.components.wafer import FabricContext
    from archsim.mappings.waferllm.comm import BulkRotate
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    times = []
    for latency in (1, 2, 3):
        s = System(load_arch("wse2", [f"mesh.router.link_latency={latency}"]))
        wafer = next(c for c in s.components.values() if hasattr(c, "fabric"))
        ctx = FabricContext(wafer)
        rot = BulkRotate(64, 1, "x", 100_000)
        cyc, closed = rot.run(ctx).cycles, rot.analytic(ctx).cycles
        assert cyc == pytest.approx(closed, rel=0.01)
        times.append(cyc)
    assert times == sorted(times)


def test_row_attention_stores_every_query_heads_kv():
    # one hidden-wide head: K and V expanded to every query head (4 per KV head on LLaMA3-8B)
    scen = {"batch": 1, "input_len": 63, "output_len": 1}
    sets = ["mesh.decode_grid=360x360"]
    group, row = (run_case("wse2", "llama3-8b", scen, sets + [f"mapping.decode_attention={m}"],
                           fidelity="analytic")["capacity"] for m in ("group", "row"))
    assert row["kv_bytes_per_token_placed"] == 4 * group["kv_bytes_per_token_placed"]
    assert row["max_decode_tokens"] < group["max_decode_tokens"] / 3



def _fmac_elements(prog):
    return sum(seg.repeat * op.n * op.count for seg in prog.segments for op in seg.compute if op.kind == "fmac")


@pytest.mark.parametrize("batch", [1, 2, 4, 5, 12])
def test_prefill_attention_keeps_each_sequence_to_its_own_keys(batch):
    # a batch's sequences never attend to each other: on p rows each takes p // batch of them,
    # so q.K^T and p.V step around that ring only, over tiles of the sequence's own tokens
    from archsim.mappings.waferllm.ops import prefill_av, prefill_attention_rows, prefill_qk
    p, m, heads, hd = 60, 120, 4, 64
    d_t = -(-(hd * heads) // p)
    ring, mt, seqs = prefill_attention_rows(p, m, batch)
    assert (ring, seqs) == (p // batch, 1) and ring * mt >= m > (ring - 1) * mt
    qk = prefill_qk(p, m, batch, heads, hd, 16, "kn")
    assert _fmac_elements(qk) == ring * mt * mt * d_t
    assert _fmac_elements(prefill_av(p, m, batch, heads, hd, 16, "kn")) == ring * mt * mt * d_t
    assert qk.segments[0].repeat == ring and qk.segments[0].comm.n == ring
    # the batch as one sequence would multiply every query by every sequence's keys
    whole = prefill_qk(p, m * batch, 1, heads, hd, 16, "kn")
    assert _fmac_elements(whole) == batch * _fmac_elements(qk)


def test_a_short_sequence_rings_over_the_rows_holding_its_tokens():
    from archsim.mappings.waferllm.ops import prefill_qk
    # 32 tokens on 660 rows sit on 32 rows: its keys step around those, not 660 rows (which
    # made one short prompt's prefill slower than a batch of four)
    from archsim.mappings.waferllm.ops import prefill_attention_rows
    assert prefill_attention_rows(660, 32, 1) == (32, 1, 1)
    assert prefill_attention_rows(660, 32, 4) == (32, 1, 1)
    assert prefill_attention_rows(660, 200, 4) == (165, 2, 1)
    ttft = [run_case("wse2", "gpt2-small", {"input_len": 32, "output_len": 1, "batch": b})["ttft_s"]
            for b in (1, 2, 4)]
    assert ttft == sorted(ttft)
    # the keys travel around one ring a sequence: a short prompt's other rows carry none (the
    # shift counted 660 // 32 rings a column at batch 1: 20x its traffic, and one token more
    # past that point read 2% fewer bytes)
    qk = prefill_qk(660, 32, 1, 12, 64, 16, "kn")
    assert qk.segments[0].comm.lines == 660
    att = [run_case("wse2", "gpt2-small", {"input_len": 32, "output_len": 1, "batch": b})["ops"]["attention_qk"]["bytes"]
           for b in (1, 2, 20)]
    assert att == sorted(att) and att[0] < att[-1]
    mesh = [run_case("wse2", "gpt2-small", {"input_len": n, "output_len": 1})["breakdown"]["mesh"]["bytes"]
            for n in (330, 331)]
    assert mesh[0] <= mesh[1]


def test_more_sequences_than_rows_keep_whole_sequences_on_a_core():
    from archsim.mappings.waferllm.ops import prefill_attention_rows, prefill_qk
    p, m, heads, hd = 60, 120, 4, 64
    assert prefill_attention_rows(p, m, 130) == (1, m, 3)
    qk = prefill_qk(p, m, 130, heads, hd, 16, "kn")
    assert _fmac_elements(qk) == 3 * m * m * -(-(hd * heads) // p)
    assert qk.segments[0].comm is None          # nothing to shift: a core holds all its keys


def test_batched_prefill_attention_grows_with_the_batch_not_its_square():
    sets = ["mesh.prefill_grid=64x64", "mesh.decode_grid=64x64"]
    sc = {"input_len": 256, "output_len": 1}
    one = run_case("wse2", "gpt2-small", {**sc, "batch": 1}, sets)["ops"]
    four = run_case("wse2", "gpt2-small", {**sc, "batch": 4}, sets)["ops"]
    for op in ("attention_qk", "attention_av"):
        # four sequences on 16 rows each: a quarter of the steps over the same tiles, so
        # about the time of one sequence on the whole grid (16x as one 1024-token sequence)
        assert four[op]["seconds"] < 1.5 * one[op]["seconds"]


def test_a_moe_layer_places_every_expert():
    # the decode routes to 2 of 8 experts, but all 8 must stay on the wafer
    sets = ["model.layers=2"]
    sc = {"batch": 1, "input_len": 16, "output_len": 1, "precision": "w2a16"}
    cap = run_case("wse3", "mixtral-8x7b", sc, sets)["capacity"]
    assert cap["weights_bytes"] <= cap["placed_weights_bytes"] < 1.15 * cap["weights_bytes"]


def test_mla_caches_the_latent_once():
    # DeepSeek's absorbed decode attends over a 576-wide latent that serves as K and V
    sets = ["model.layers=4", "model.moe.experts=16"]
    sc = {"batch": 1, "input_len": 16, "output_len": 1, "precision": "w2a16"}
    cap = run_case("wse3", "deepseek-r1", sc, sets)["capacity"]
    assert cap["kv_bytes_per_token"] == 4 * 576 * 2
    assert cap["kv_bytes_per_token"] <= cap["kv_bytes_per_token_placed"] < 1.3 * cap["kv_bytes_per_token"]
    assert cap["weights_bytes"] <= cap["placed_weights_bytes"] < 1.15 * cap["weights_bytes"]


def test_tied_embeddings_are_placed_once():
    sc = {"batch": 1, "input_len": 16, "output_len": 1}
    cap = run_case("wse2", "gpt2-medium", sc)["capacity"]        # lm_head is the embedding table
    table = 50257 * 1024 * 2
    assert cap["weights_bytes"] <= cap["placed_weights_bytes"] < cap["weights_bytes"] + table


@pytest.mark.parametrize("cols, kv_heads", [(60, 32), (60, 8), (360, 8), (420, 8), (8, 32), (61, 1)])
def test_decode_attention_covers_every_dim_of_a_head(cols, kv_heads):
    # a head's dims, d_c to a core, must fit the columns its scores are reduced over (60
    # columns and 32 heads put 69 of a head's 128 dims on one column and reduced nothing)
    from archsim.mappings.waferllm.ops import decode_attention_dims, decode_qk
    hpg, group_cols, d_c, groups = decode_attention_dims((60, cols), 32, kv_heads, 128)
    assert group_cols * d_c >= 128
    qk = decode_qk((60, cols), 32, kv_heads, 128, 10, 1, 16, "ktree", 2)
    assert (qk.segments[0].comm is not None) == (group_cols > 1)


def test_meshgemm_aligns_every_row():
    # every row of A rotates into place before the first step: p lines, not one
    from archsim.mappings.waferllm.meshgemm import gemm_program
    for algo in ("meshgemm", "cannon"):
        prog = gemm_program(60, 4096, 4096, 4096, algorithm=algo)
        align = prog.segments[0]
        assert align.label == "align" and align.comm.lines == 60 and align.comm.n == 60


def test_prefill_softmax_covers_the_scores_a_root_core_holds():
    # each ring step's mt x mt scores are reduced to one root of the head's columns: with
    # fewer steps than columns (many sequences) a root holds whole rows of scores (the exp
    # loop counted tokens / columns: 3 of 128 scores at 400 sequences of 128 tokens)
    from archsim.mappings.waferllm.ops import prefill_attention_rows, prefill_softmax
    p, heads, hd = 660, 12, 64
    gc = p // heads
    for tokens, batch in ((128, 400), (32, 20), (4096, 1)):
        ring, mt, seqs = prefill_attention_rows(p, tokens, batch)
        sm = prefill_softmax(p, tokens, batch, heads, hd, 16, "ktree", 2)
        local = sm.segments[0].compute[0].n
        assert local == mt * -(-ring // gc)
        assert local * min(ring, gc) >= tokens           # the group's roots hold every score


# --- prefill linears with a row per sequence ------------------------------------------------------
def _prefill(batch, input_len):
    return run_case("wse2", "llama3-8b", {"batch": batch, "input_len": input_len, "output_len": 1})


def test_a_batch_prefill_lm_head_multiplies_its_vectors_with_meshgemv(wafer):
    # the lm_head reads each sequence's last token: at batch 2 it is two vectors, not a
    # 660-step MeshGEMM of one-row tiles (which added 8.2 ms, 7% of the TTFT)
    one, two = _prefill(1, 128), _prefill(2, 128)
    # 256 tokens sit one to a row of 660 as 128 did: the linears cost the same, and what grows
    # (attention, norms, the reshuffled KV, the head's second vector) is well under 1%
    assert two["ttft_s"] - one["ttft_s"] < 0.01 * one["ttft_s"]
    h1, h2 = (r["stats"]["mapping"]["prefill_kernels"]["lm_head"] for r in (one, two))
    assert h1["kernel"] == h2["kernel"] == "meshgemv" and h2["rows"] == 2
    assert h2["meshgemv_s"] <= 2 * h1["meshgemv_s"] < h2["meshgemm_s"]
    # two vectors in one pass cost no more than a MeshGEMV per sequence
    prog = lambda m: gemv_program((660, 660), 4096, 128256, batch=m)
    assert wafer.run_program(prog(2)).seconds <= 2 * wafer.run_program(prog(1)).seconds


def test_one_token_prompts_of_a_batch_run_their_linears_as_gemvs():
    # a one-token prompt's linears have a row per sequence: batch 4 took 123.6 ms (MeshGEMM)
    # where batch 1 took 3.0 ms (MeshGEMV)
    one, four = _prefill(1, 1), _prefill(4, 1)
    assert four["ttft_s"] < 1.1 * one["ttft_s"]
    kernels = four["stats"]["mapping"]["prefill_kernels"]
    assert {"qkv_proj", "o_proj", "ffn_gate_up", "ffn_down", "lm_head"} <= set(kernels)
    assert all(k["kernel"] == "meshgemv" and k["rows"] == 4 for k in kernels.values())
    # a prompt's tokens beyond one a sequence stay on MeshGEMM
    assert set(_prefill(1, 2)["stats"]["mapping"]["prefill_kernels"]) == {"lm_head"}

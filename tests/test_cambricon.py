"""Cambricon-LLM machines: the offload split adds up, and the ablations point the right way."""

import numpy as np
import pytest

from archsim.api import simulate_case
from archsim.system.arch import load_arch
from archsim.system.system import System
from archsim.workload.model_spec import load_model
from archsim.workload.trace_builder import build_trace

SCEN = {"batch": 1, "input_len": 16, "output_len": 2, "precision": "int8"}


def graph(arch="cambricon-llm-s", model="opt-6.7b"):
    system = System(load_arch(arch))
    trace = build_trace(load_model(model), batch=1, input_len=16, output_len=2, precision="int8")
    return system, trace, system.mapping.build(trace)


@pytest.mark.parametrize("arch,model", [("cambricon-llm-s", "opt-6.7b"), ("cambricon-llm-l", "opt-13b")])
def test_offload_split_bytes_add_up(arch, model):
    # L on OPT-13B: 5120-wide matrices, computed whole on the flash with edge tiles
    system, trace, g = graph(arch, model)
    flash = system.components["flash"]
    chan = link = 0.0
    gemvs = edged = 0
    for comp, job in zip(g.components, g.jobs):
        c = system.cost(comp, job)
        if comp == "flash":
            chan += c.breakdown.get("channel_bytes", 0.0)
            if job.kind == "gemv":
                gemvs += 1
                # the weight matrix is split: whole tiles in flash + the rest streamed to the
                # NPU, or all of it in flash, its edges in edge tiles
                p = flash.plan(job.k, job.n, job.m, job.dtype_w)
                elem = 1 if job.dtype_w == "int8" else 2
                if p.edge:
                    edged += 1
                    assert c.breakdown["npu_bytes"] == 0
                    assert job.k * job.n <= sum(h * w * t for h, w, t in p.groups()) < 1.05 * job.k * job.n
                else:
                    assert p.flash_tiles * p.tile_h * p.tile_w * elem + c.breakdown["npu_bytes"] == job.k * job.n * elem
                # channel bytes = input vectors + partial sums + streamed weights
                assert c.breakdown["channel_bytes"] == pytest.approx(
                    c.breakdown["input_bytes"] + c.breakdown["result_bytes"] + c.breakdown["npu_bytes"])
        elif comp == "d2d":
            link += c.bytes
    assert gemvs > 0
    assert (edged > 0) == (arch == "cambricon-llm-l")
    # every byte on the flash channels crosses the die-to-die link, and nothing else does
    assert link == pytest.approx(chan)


def test_kv_cache_stays_in_dram():
    r = simulate_case("cambricon-llm-s", "opt-6.7b", SCEN).summary
    spec = load_model("opt-6.7b")
    kv_tok = spec.kv_bytes_per_token("int8")
    # DRAM moves the K/V of every step: the prompt's write, then reads of the context + writes
    assert r["breakdown"]["dram"]["bytes"] > 16 * kv_tok
    assert r["breakdown"]["flash"]["bytes"] >= spec.weight_bytes("int8")   # weights read in decode


def test_ablations_point_the_paper_way():
    base = simulate_case("cambricon-llm-s", "opt-6.7b", SCEN).summary["decode"]["tokens_per_s"]
    no_slice = simulate_case("cambricon-llm-s", "opt-6.7b", SCEN,
                             sets=["flash.slicing.enabled=false"]).summary["decode"]["tokens_per_s"]
    no_tile = simulate_case("cambricon-llm-s", "opt-6.7b", SCEN,
                            sets=["flash.tiling.enabled=false"]).summary["decode"]["tokens_per_s"]
    assert base / no_slice > 1.5          # unsliced page reads hold the bus: tiles wait for them
    assert base / no_tile > 1.2
    t = {}
    for tile in ("256x2048", "128x4096", "4096x128"):
        t[tile] = simulate_case("cambricon-llm-s", "opt-6.7b", SCEN,
                                sets=[f"flash.tiling.tile={tile}"]).summary["decode"]["tokens_per_s"]
    assert t["256x2048"] > t["128x4096"] and t["256x2048"] > t["4096x128"]


def test_bad_tile_is_one_line_error(capsys):
    from archsim.cli.main import main
    assert main(["run", "cambricon-llm-s", "gpt2-small", "--set", "flash.tiling.tile=oops"]) == 2
    # a tile that is not one page per core (S: 256 x 2048 = 16 KB x 4 cores x 8 channels)
    for tile in ("100x100", "128x128", "257x2040"):
        capsys.readouterr()
        assert main(["run", "cambricon-llm-s", "gpt2-small", "--set", f"flash.tiling.tile={tile}"]) == 2
        err = capsys.readouterr().err
        assert "flash.tiling.tile" in err and "one page per core" in err and "Traceback" not in err
    # the same page count at another element width is one
    from archsim.components.flash.component import check_tile
    spec = System(load_arch("cambricon-llm-s")).components["flash"].spec
    check_tile(spec, (128, 2048))          # fp16's 256x2048
    check_tile(spec, (4096, 128))
    assert main(["run", "cambricon-llm-s", "gpt2-small", "--set", "flash.compute.compute_plane=5"]) == 2
    assert main(["run", "cambricon-llm-s", "gpt2-small", "--set", "flash.slicing.unsliced_order=lifo"]) == 2


@pytest.mark.parametrize("arch,model,scen", [
    ("cambricon-llm-s", "opt-6.7b", SCEN),
    ("cambricon-flexgen-ssd", "opt-6.7b", SCEN),
    ("a6000-instcsd", "opt-13b", {"batch": 2, "input_len": 64, "output_len": 2}),
])
def test_flash_runs_report_channel_use_and_bytes_per_token(arch, model, scen):
    res = simulate_case(arch, model, scen)
    s, tl = res.summary, res.timeline
    flash = s["stats"]["flash"]["flash"]
    tokens = {"prefill": scen["input_len"] * scen["batch"], "decode": scen["output_len"] * scen["batch"]}
    for phase in ("prefill", "decode"):
        p = flash[phase]
        sel = (tl["phase"] == phase) & (tl["component"] == "flash")
        # the array bytes are the flash's own breakdown bytes of the phase
        assert p["bytes"] == pytest.approx(float(tl["bytes"][sel].sum()))
        assert p["bytes_per_token"] == pytest.approx(p["bytes"] / tokens[phase])
        assert p["channel_bytes_per_token"] == pytest.approx(p["channel_bytes"] / tokens[phase])
        # the channels never carry more than their buses can over the span of the phase's work
        # (a prefill's background KV writes run past its first token: the span, not TTFT)
        span = (tl["finish_ps"][tl["phase"] == phase].max()
                - (0 if phase == "prefill" else s["prefill"]["seconds"] * 1e12)) / 1e12
        assert 0.0 < p["channel_utilisation"] <= 1.0
        assert p["channel_utilisation"] == pytest.approx(
            p["channel_bytes"] / (flash["channel_bandwidth"] * span))
        assert span >= s[phase]["seconds"] * (1 - 1e-9) or phase == "decode"
    if arch == "cambricon-llm-s":
        # every channel byte crosses the die-to-die link (test_offload_split_bytes_add_up)
        dec = (tl["phase"] == "decode") & (tl["component"] == "d2d")
        assert flash["decode"]["channel_bytes"] == pytest.approx(float(tl["bytes"][dec].sum()))
        # in-flash compute keeps most weight bytes off the channels in decode
        assert flash["decode"]["channel_bytes"] < 0.5 * flash["decode"]["bytes"]


def test_no_flash_no_flash_stats():
    s = simulate_case("a100", "opt-6.7b", {"batch": 1, "input_len": 16, "output_len": 2}).summary
    assert "flash" not in s["stats"]


@pytest.mark.parametrize("arch", ["cambricon-llm-s", "cambricon-llm-l"])
def test_a_faster_flash_bus_never_slows_decode(arch):
    # the split streams no more to the NPU than the die-to-die link and the NPU take
    times = [simulate_case(arch, "llama2-7b", SCEN, [f"flash.bus_rate={r} MT/s"]).summary["decode"]["seconds"]
             for r in (1000, 1600, 2400)]
    assert times == sorted(times, reverse=True)


def test_a_prefetched_weight_load_counts_for_the_op_whose_weights_it_loads():
    # FlexGen loads the next weight op's weights while a weight op computes: the per-op
    # table and the timeline name the op loaded, so a norm shows no weight traffic and a
    # projection shows its own
    res = simulate_case("cambricon-flexgen-dram", "gpt2-medium", {"batch": 1, "input_len": 16, "output_len": 2})
    ops, tl = res.summary["ops"], res.timeline
    spec = load_model("gpt2-medium")
    assert ops["attn_norm"]["bytes"] < 0.01 * ops["qkv_proj"]["bytes"]
    qkv = (tl["name"] == "qkv_proj") & (tl["component"] == "dram")
    # its weights (at least a byte each) in every layer of the prefill and the two decode steps
    assert float(tl["bytes"][qkv].sum()) >= 3 * spec.layers * spec.hidden * 3 * spec.hidden
    assert sum(o["bytes"] for o in ops.values()) == pytest.approx(sum(b["bytes"] for b in res.summary["breakdown"].values()))


def test_a_batched_decode_step_computes_in_flash():
    """The cores multiply each page by every sequence's vector, so a batch-2 decode step
    still computes in the flash (streaming every weight to the NPU made batch 2 slower in
    total than batch 1); each weight op takes the faster of the two paths."""
    scen = dict(SCEN, output_len=3)
    one = simulate_case("cambricon-llm-s", "opt-6.7b", scen).summary
    two = simulate_case("cambricon-llm-s", "opt-6.7b", dict(scen, batch=2)).summary
    assert two["decode"]["tokens_per_s"] > one["decode"]["tokens_per_s"]
    fl = two["stats"]["flash"]["flash"]["decode"]
    assert fl["channel_bytes"] < 0.5 * fl["bytes"]
    # the switch forces a rule: m = 2 streams, and no path it forces is faster
    forced = simulate_case("cambricon-llm-s", "opt-6.7b", dict(scen, batch=2),
                           sets=["mapping.flash_max_m=1"]).summary
    assert forced["decode"]["tokens_per_s"] < one["decode"]["tokens_per_s"]
    assert forced["prefill"]["seconds"] >= two["prefill"]["seconds"]


def test_the_w8a8_cores_take_integer_activations_only(capsys):
    """The machine runs INT8 by default (the paper's W8A8). Float activations cannot be
    multiplied by the flash cores, so every weight streams to the NPU; forcing them into the
    flash is a one-line error."""
    from archsim.cli.main import main
    scen = {k: v for k, v in SCEN.items() if k != "precision"}
    r = simulate_case("cambricon-llm-s", "opt-6.7b", scen).summary
    assert r["scenario"]["precision"] == "int8"
    bf = simulate_case("cambricon-llm-s", "opt-6.7b", dict(scen, precision="bf16")).summary
    fl = bf["stats"]["flash"]["flash"]["decode"]
    assert fl["channel_bytes"] == fl["bytes"]              # all streamed
    assert bf["decode"]["tokens_per_s"] < r["decode"]["tokens_per_s"]
    w4a8 = simulate_case("cambricon-llm-s", "opt-6.7b", dict(scen, precision="w4a8")).summary
    assert w4a8["stats"]["flash"]["flash"]["decode"]["channel_bytes"] < 0.5 * w4a8["stats"]["flash"]["flash"]["decode"]["bytes"]
    capsys.readouterr()
    assert main(["run", "cambricon-llm-s", "gpt2-small", "--precision", "bf16", "--input-len", "8", "--output-len", "1",
                 "--set", "mapping.flash_max_m=1"]) == 2
    err = capsys.readouterr().err
    assert "flash.compute" in err and "integer activations" in err and "Traceback" not in err


def test_an_npu_runs_a_kv_heads_query_heads_as_one_matmul():
    # GQA: Llama-3-8B's 4 query heads per KV head multiply the same K (and V): one m = 4
    # matmul per KV head on the array, not 4 of m = 1 (the array's cycles were 4x)
    from archsim.mappings.single_device import op_job
    qk = {"op": "attention_qk", "name": "attention_qk", "batch": 2, "heads": 32, "kv_heads": 8, "m": 1,
          "n": 1001, "k": 128, "flops": 2 * 2 * 32 * 1001 * 128, "bytes_w": 0, "bytes_a": 0, "bytes_kv": 0,
          "dtype_w": "int8", "dtype_a": "int8"}
    j = op_job(qk, fuse_attention=False, share_kv=True)
    assert (j.m, j.batch) == (4, 16)
    assert (op_job(qk, fuse_attention=False).m, op_job(qk, fuse_attention=False).batch) == (1, 64)
    system, _, _ = graph()
    assert system.cost("npu", j).seconds < 0.5 * system.cost("npu", op_job(qk, fuse_attention=False)).seconds



@pytest.mark.parametrize("arch", ["cambricon-llm-s", "cambricon-flexgen-dram"])
def test_the_machines_stack_a_kv_heads_query_heads(arch):
    system = System(load_arch(arch))
    trace = build_trace(load_model("llama3-8b"), batch=2, input_len=8, output_len=1, precision="int8")
    g = system.mapping.build(trace)
    jobs = [j for c, j in zip(g.components, g.jobs) if c == "npu" and j.kind == "attention_qk" and j.n == 9]
    assert jobs and all((j.m, j.batch) == (4, 2 * 8) for j in jobs)



def test_flexgen_loads_the_next_weight_ops_weights_while_a_weight_op_computes():
    # double buffering: ffn_down's weights stream in during ffn_up, not during the short
    # activation between them (the loads overlapped only norms and activations, and turning
    # prefetch off changed decode by 0.1%)
    scen = {"batch": 1, "input_len": 16, "output_len": 2, "precision": "int8"}
    on = simulate_case("cambricon-flexgen-dram", "opt-6.7b", scen)
    off = simulate_case("cambricon-flexgen-dram", "opt-6.7b", scen, ["mapping.prefetch=false"])
    assert on.summary["tpot_s"] < 0.85 * off.summary["tpot_s"]
    tl = on.timeline
    dec = tl["phase"] == "decode"
    up = dec & (tl["name"] == "ffn_up") & (tl["component"] == "npu")
    down_load = dec & (tl["name"] == "ffn_down") & (tl["component"] == "dram")
    i, j = (int(np.flatnonzero(m)[0]) for m in (up, down_load))
    assert tl["start_ps"][j] < tl["finish_ps"][i]                    # it starts before ffn_up ends


def test_the_split_paces_the_flash_at_its_cores_when_they_are_slower_than_a_read():
    """With several vectors the cores take longer than tR a page, so a tile's period is the
    core's: the planner's split stays near the best one the cycle model finds (it paced
    the flash at tR and gave it too many tiles: batch 8 on Cambricon-LLM-L was slower
    than batch 4)."""
    import dataclasses
    from archsim.components.flash.compute import simulate_gemv
    f = System(load_arch("cambricon-llm-s")).components["flash"]
    k, n, m = 4096, 12288, 8
    p = f.plan(k, n, m, "int8")
    chosen = simulate_gemv(f.spec, f.core, p, 2048)["seconds"]
    full = (k // p.tile_w) * (n // p.tile_h)
    best = min(simulate_gemv(f.spec, f.core, dataclasses.replace(
        p, flash_tiles=ft, npu_bytes=max(0, k * n - ft * p.tile_h * p.tile_w), edge=()), 2048)["seconds"]
        for ft in range(0, full + 1, 2))
    assert chosen <= 1.02 * best
    scen = dict(SCEN, output_len=3)
    four, eight = (simulate_case("cambricon-llm-l", "llama2-7b", dict(scen, batch=b)).summary["decode"]["tokens_per_s"]
                   for b in (4, 8))
    assert eight > four


def test_vectors_that_would_serialise_a_tile_run_in_passes():
    """Five vectors' slices of L's 2048x4096 tile (5 x (128 + 128) = 1280 B of 2 KB) leave
    room for one tile in flight, and its broadcast, read, compute and results ran in series
    (145 us a tile against 103 us for passes of 3 + 2 vectors): batch 5 decoded slower than
    batch 4, and batch 9, which no tile holds in one pass, streamed every weight. The planner
    takes the passes the cycle model also finds faster, and throughput grows with the batch."""
    import dataclasses
    from archsim.components.flash.compute import simulate_gemv
    f = System(load_arch("cambricon-llm-l")).components["flash"]
    k, n, m = 4096, 28672, 5
    p = f.plan(k, n, m, "int8", sink_rate=32e9)
    assert p.vector_passes() == (3, 2)
    chosen = simulate_gemv(f.spec, f.core, p, 2048)["seconds"]
    full = (k // p.tile_w) * (n // p.tile_h)
    one_pass = min(simulate_gemv(f.spec, f.core, dataclasses.replace(
        p, passes=(), flash_tiles=ft, npu_bytes=max(0, k * n - ft * p.tile_h * p.tile_w)), 2048)["seconds"]
        for ft in range(full + 1))
    assert chosen < 0.85 * one_pass
    scen = dict(SCEN, input_len=8)
    tps = [simulate_case("cambricon-llm-l", "llama3-8b", dict(scen, batch=b)).summary["decode"]["tokens_per_s"]
           for b in (4, 5, 8, 9)]
    assert tps == sorted(tps)


def test_weights_no_page_holds_in_whole_tiles_stream_at_their_own_width():
    # a 16 KB page holds no power-of-two count of 6-bit values, so no tile of whole pages
    # exists: the cores cannot take them and the weights stream, 6 bits each (they were
    # planned as 16-bit values: 2.7x the bytes)
    scen = dict(SCEN, precision="w6a8")
    r = simulate_case("cambricon-llm-s", "opt-6.7b", scen).summary
    fl = r["stats"]["flash"]["flash"]["decode"]
    assert fl["channel_bytes"] > 0.9 * fl["bytes"]        # all but the 16-bit lm_head streams
    w8 = simulate_case("cambricon-llm-s", "opt-6.7b", dict(SCEN, precision="w8a16")).summary
    w8fl = w8["stats"]["flash"]["flash"]["decode"]
    assert 0.75 * w8fl["bytes"] < fl["bytes"] < 0.8 * w8fl["bytes"]  # 6 of 8 bits; the 16-bit lm_head


def test_an_explicit_tile_that_overflows_a_cores_buffers_is_refused(capsys):
    # 8192x64 on S gives a core 8 inputs and 2048 partial sums a vector: 2056 B of a 2 KB
    # buffer, so not even one vector fits
    from archsim.cli.main import main
    assert main(["run", "cambricon-llm-s", "opt-6.7b", "--batch", "1", "--input-len", "8", "--output-len", "1",
                 "--set", "flash.tiling.tile=8192x64"]) == 2
    err = capsys.readouterr().err
    assert "flash.tiling.tile" in err and "2048 B buffers" in err and "Traceback" not in err
    # at batch 8 a 256x2048 tile's slice would be 256 x 8 + 64 x 8 = 2560 B: its vectors run
    # in passes whose slices fit (it ran whole, faster than the tiles that fit)
    f = System(load_arch("cambricon-llm-s")).components["flash"]
    p8 = f.plan(4096, 4096, 8, "int8", tile="256x2048")
    assert p8.tile_w == 2048 and sum(p8.vector_passes()) == 8
    assert max(p8.vector_passes()) * (256 + 64) <= 2048
    # the kernel refuses a plan whose slices overflow rather than clip them to the buffer
    import dataclasses
    from archsim.components.flash.compute import simulate_gemv
    with pytest.raises(ValueError, match="exceeds the core's 2048 B buffers"):
        simulate_gemv(f.spec, f.core, dataclasses.replace(p8, passes=(8,)), 2048)


def test_flexgen_keeps_the_weight_link_busy_when_loads_bound_decode():
    """Two weight buffers: a load starts once the weight op two back has computed, and only
    the op loaded for waits for it. The load was joined to the op that issued it, so the
    attention after qkv_proj waited for o_proj's weights and the UFS link then sat idle
    through the attention (10% of a decode step at a 2000-token prompt)."""
    res = simulate_case("cambricon-flexgen-ssd", "opt-6.7b", {"batch": 8, "input_len": 2000, "output_len": 2,
                                                              "precision": "int8"}, fidelity="analytic")
    tl = res.timeline
    ufs = (tl["component"] == "ufs") & (tl["phase"] == "decode")
    start, finish = np.sort(tl["start_ps"][ufs]), np.sort(tl["finish_ps"][ufs])
    idle = np.maximum(start[1:] - finish[:-1], 0).sum()
    assert idle < 0.01 * (finish[-1] - start[0])

    def times(name, comp, which):
        return np.sort(tl[which][(tl["name"] == name) & (tl["component"] == comp)])

    assert (times("o_proj", "npu", "start_ps") >= times("o_proj", "ufs", "finish_ps")).all()


@pytest.mark.parametrize("arch", ["cambricon-flexgen-dram", "cambricon-flexgen-ssd"])
def test_flexgen_weight_loads_keep_two_buffers(arch):
    """Every weight op computes after its weights arrive, and a load starts only once the
    weight op two back has computed (two buffers), also when a user trace has an allreduce
    row where a load is issued (such a row runs nothing; the load was lost)."""
    from archsim.mappings.flexgen import WEIGHT_OPS
    from archsim.system.scheduler import PS_PER_S, schedule
    from archsim.workload.trace import Trace
    base = build_trace(load_model("gpt2-small"), batch=1, input_len=16, output_len=3)
    rows = [base.row(i) for i in range(len(base))]
    ar = dict(rows[1], op="allreduce", name="ar", bytes_w=0, flops=0, bytes_kv=0, k=0, m=0, n=0, bytes_a=1024)
    for trace in (base, Trace.from_rows(rows[:1] + [ar] + rows[1:], dict(base.meta))):
        system = System(load_arch(arch))
        g = system.mapping.build(trace)
        names = list(system.components)
        cost = [system.cost(c, j) for c, j in g.pairs]
        res = np.array([names.index(c) for c, _ in g.pairs])[g.pair_index]
        dur = np.array([int(round(c.seconds * PS_PER_S)) for c in cost])[g.pair_index]
        start, finish = schedule(res, dur, (g.dep_ptr, g.dep_idx), [system.components[n].lanes for n in names])
        comps, jobs = g.components, g.jobs
        compute = {}
        for t in range(len(g)):
            if comps[t] == "npu" and jobs[t].label == trace["name"][g.op_index[t]]:
                compute.setdefault(int(g.op_index[t]), t)
        loads = {}
        for t in range(len(g)):
            if ".weights" in (jobs[t].label or ""):
                loads.setdefault(int(g.serves_index[t]), []).append(t)
        weighted = np.flatnonzero(np.isin(trace["op"], WEIGHT_OPS) & (trace["bytes_w"] > 0))
        for i, r in enumerate(weighted):
            mine = loads[int(r)]
            assert start[compute[r]] >= max(finish[t] for t in mine)
            if i >= 2:
                assert min(start[t] for t in mine) >= finish[compute[weighted[i - 2]]]
        moved = sum(jobs[t].bytes_read for ts in loads.values() for t in ts if comps[t] == system.mapping.params["weights"])
        assert moved == pytest.approx(float(trace["bytes_w"][weighted].sum()))


def test_the_default_tile_weighs_the_shape_that_holds_the_batch():
    """The paper's tile (m = 1) of a 16384-input matrix on L, 512x16384, holds one of five
    vectors: five passes, each sensing its pages again. The shape that holds the batch
    (1024x8192, passes of 3 + 2) is faster by the planner's model and the cycle model."""
    import dataclasses
    from archsim.components.flash.compute import simulate_gemv
    f = System(load_arch("cambricon-llm-l")).components["flash"]
    p = f.plan(16384, 4096, 5, "int8")
    assert (p.tile_h, p.tile_w) == (1024, 8192) and len(p.vector_passes()) == 2
    paper = f.plan(16384, 4096, 5, "int8", tile="512x16384")
    assert simulate_gemv(f.spec, f.core, p, 2048)["seconds"] < 0.8 * simulate_gemv(f.spec, f.core, paper, 2048)["seconds"]
    # batch 1: the paper's shape
    assert (f.plan(16384, 4096, 1, "int8").tile_h, f.plan(16384, 4096, 1, "int8").tile_w) == (512, 16384)


def test_the_pipeline_tail_is_what_its_periods_leave_uncovered():
    """Where the cores pace the pipeline, the last tile's compute is mostly inside the
    periods: the closed form added all of it, priced two pipelined passes above one serial
    pass, and a shorter tR (20 us) picked the slower serial pass (4096x4096, 6 vectors)."""
    from archsim.components.flash.compute import analytic_gemv, simulate_gemv
    for tr in ("20us", "30us"):
        f = System(load_arch("cambricon-llm-l", [f"flash.t_read={tr}"])).components["flash"]
        p = f.plan(4096, 4096, 6, "int8")
        assert p.vector_passes() == (3, 3)
        sim = simulate_gemv(f.spec, f.core, p, 2048)["seconds"]
        assert abs(analytic_gemv(f.spec, f.core, p) / sim - 1) < 0.01


def test_the_window_times_passes_of_each_size():
    """A GEMV of many passes is timed on a window of them and extrapolated; the window's
    passes were the first, the larger ones, so it overestimated (+2% here: 32 passes of 3
    vectors, 2 of 2)."""
    from archsim.components.flash.compute import simulate_gemv
    f = System(load_arch("cambricon-llm-s")).components["flash"]
    p = f.plan(4096, 28672, 100, "int8", tiling=False)
    assert set(p.vector_passes()) == {3, 2}
    whole = simulate_gemv(f.spec, f.core, p, 2048)["seconds"]
    windowed = simulate_gemv(f.spec, f.core, p, 2048, window_pages=4096)["seconds"]
    assert abs(windowed / whole - 1) < 0.002
    # a window never times more passes of a size than the GEMV has: with a single pass of 3
    # vectors there is no window of them, so the GEMV runs whole
    from dataclasses import replace
    few = replace(p, m=13, passes=(3, 2, 2, 2, 2, 2))
    whole = simulate_gemv(f.spec, f.core, few, 2048)
    rc_ops = f.spec.dies_per_channel * 6 * few.rc_tiles
    assert simulate_gemv(f.spec, f.core, few, 2048, window_pages=rc_ops - 1) == whole

"""The wafer component: core kernel, fabric phases through the NoC engine, PLMR latencies."""

import pytest

from archsim.components.wafer import FabricContext, VecOp, analytic_core_cycles
from archsim.errors import ConfigError
from archsim.mappings.waferllm.comm import (BulkRotate, CannonShift, InterleavedShift, LineBroadcast,
                                            NeighbourShift, RelayBroadcast)
from archsim.mappings.waferllm.meshgemv import allreduce
from archsim.system.arch import load_arch
from archsim.system.system import System


@pytest.fixture(scope="module")
def wse2():
    return System(load_arch("wse2"))


@pytest.fixture(scope="module")
def wafer(wse2):
    return wse2.components["mesh"]


def test_wse2_loads_with_cited_figures(wafer):
    assert wafer.sram_bytes == 48 * 1024
    assert wafer.clock_hz == pytest.approx(1.1e9)
    assert wafer.params["cores"] == 850000
    assert wafer.usable_cores == 750 * 994
    assert wafer.wavelet_bits == 32 and wafer.colors == 24
    # fp16 streams through the 64-bit read/write paths four at a time
    assert wafer.simd_lanes(16) == 4 and wafer.simd_lanes(32) == 2


def test_grid_larger_than_the_usable_area_is_refused():
    with pytest.raises(ConfigError, match="does not fit the usable area"):
        System(load_arch("wse2", ["mesh.decode_grid=800x800"]))


def test_core_kernel_matches_closed_form(wafer):
    ops = [VecOp(45, 46, "fmac"), VecOp(7, 336, "fmac"), VecOp(1, 3, "scalar"), VecOp(0, 2, "copy"),
           VecOp(33, 1, "mul", 32), VecOp(10, 4, "max"), VecOp(35, 1, "map", ops=7, calls=("recip",))]
    issue, depth = wafer.core["issue_cycles"], wafer.core["pipeline_depth"]
    assert wafer.core_cycles(ops) == analytic_core_cycles(ops, wafer.op_lanes, issue, depth, wafer.op_chain,
                                                          wafer.core["map_overhead_cycles"])
    # dependent vector ops do not overlap: each pays issue + drain
    assert wafer.core_cycles([VecOp(4, 10)]) == 10 * (issue + depth + 1 - 1)


def test_simd_widths_and_scalar_loops_follow_the_sdk(wafer):
    # WSE-2 runs max one element per cycle, the arithmetic ops four fp16 wide (SDK SIMD table)
    assert wafer.op_lanes(VecOp(8, 1, "max")) == 1 and wafer.op_lanes(VecOp(8, 1, "mul")) == 4
    assert wafer.core_cycles([VecOp(40, 1, "max")]) > wafer.core_cycles([VecOp(40, 1, "add")])
    # a scalar loop pays its dependent chain per element; library routines lengthen the chain
    depth, over = wafer.core["pipeline_depth"], wafer.core["map_overhead_cycles"]
    plain = wafer.core_cycles([VecOp(10, 1, "map", ops=4)])
    assert plain == wafer.core["issue_cycles"] + 10 * (4 * depth + over)
    assert wafer.core_cycles([VecOp(10, 1, "map", ops=4, calls=("recip",))]) == \
        plain + 10 * wafer.core["math"]["recip"] * depth
    with pytest.raises(ValueError):
        VecOp(1, 1, "map", calls=("tanh",))


def test_alpha_and_beta_come_from_the_router_model():
    base = System(load_arch("wse2")).components["mesh"].plmr()
    slow = System(load_arch("wse2", ["mesh.router.link_latency=3"])).components["mesh"].plmr()
    relay = System(load_arch("wse2", ["mesh.core.ramp_cycles=4"])).components["mesh"].plmr()
    assert base["alpha_cycles"] >= 1
    assert slow["alpha_cycles"] > base["alpha_cycles"]       # a slower link, a larger alpha
    assert relay["beta_cycles"] == base["beta_cycles"] + 6    # beta = engine in/out + core relay
    assert relay["alpha_cycles"] == base["alpha_cycles"]


def test_collectives_grow_with_the_line_through_the_noc(wafer):
    ctx = FabricContext(wafer)
    t = [allreduce("ktree", n, n, "y", 16).run(ctx).cycles for n in (240, 420, 540, 660)]
    assert t == sorted(t) and t[-1] > t[0] + 300
    # MeshGEMM's two-hop shift does not grow with the line; Cannon's does
    assert InterleavedShift(600, 1, "x", 49).run(ctx).cycles == InterleavedShift(60, 1, "x", 49).run(ctx).cycles
    assert CannonShift(600, 1, "x", 49).run(ctx).cycles > CannonShift(60, 1, "x", 49).run(ctx).cycles + 400


def test_identical_lines_are_simulated_once(wafer):
    res = allreduce("ktree", 420, 420, "y", 15).run(FabricContext(wafer))
    assert res.lines == 420 and res.simulated == 1
    assert res.flit_hops > 0 and [(a, l.shape) for a, l, _ in res.line_loads] == [("y", (420, 4))]


@pytest.mark.parametrize("coll", [
    allreduce("ktree", 420, 1, "y", 15), allreduce("ktree", 720, 1, "x", 46),
    allreduce("pipeline", 120, 1, "y", 20), InterleavedShift(300, 1, "x", 49),
    CannonShift(300, 1, "x", 49), RelayBroadcast(60, 1, "x", 49), NeighbourShift(360, 1, "y", 12),
    LineBroadcast(360, 1, "x", 12, root=359), BulkRotate(240, 1, "x", 4000)])
def test_analytic_twin_holds_the_cycle_model(wafer, coll):
    ctx = FabricContext(wafer)
    cyc, ana = coll.run(ctx).cycles, coll.analytic(ctx).cycles
    assert abs(ana - cyc) <= 0.06 * cyc + 2


def test_op_reports_reuse_and_plmr():
    from archsim.api import run_op
    out = run_op("wse2", "gemv", 1, 4096, 4096, "fp16", ["mesh.op_grid=240x240"])
    parts = out["breakdown"]["mesh"]["parts"]
    assert parts["lines_simulated"] == 1 and parts["lines_reused"] == 239
    assert parts["alpha_cycles"] >= 1 and parts["beta_cycles"] > parts["alpha_cycles"]
    assert out["energy_j"] > 0


def test_zero_load_link_counts_are_the_engines():
    import numpy as np
    from archsim.components.noc import RouterConfig, simulate_flows
    from archsim.components.wafer_fabric import _link_counts
    rng = np.random.default_rng(1)
    for mesh in ((1, 9), (7, 1), (5, 6)):
        n = mesh[0] * mesh[1]
        src, dst = rng.integers(0, n, 30), rng.integers(0, n, 30)
        keep = src != dst
        src, dst, f = src[keep], dst[keep], rng.integers(1, 5, int(keep.sum()))
        st = simulate_flows(mesh, src, dst, f, np.zeros(len(src), dtype=np.int64), router=RouterConfig())
        links = _link_counts(mesh, src, dst, f)
        assert np.array_equal(np.asarray(st.link_flits)[..., :4], links)
        assert st.flit_hops == links.sum() + f.sum()     # the last router's ramp counts too


def test_analytic_fidelity_moves_the_same_fabric_bytes():
    # the closed forms give the time; the traffic is counted from the same flows
    from archsim.api import run_case
    scen = {"batch": 1, "input_len": 32, "output_len": 2}
    cyc, ana = (run_case("wse2", "gpt2-small", scen, fidelity=f)["breakdown"]["mesh"] for f in ("cycle", "analytic"))
    assert ana["bytes"] == cyc["bytes"] > 0
    assert ana["energy_j"] == pytest.approx(cyc["energy_j"], rel=0.05)

"""NAND flash kernel: plane/die/channel timing, bandwidth limits, ECC accounting, in-flash GEMV."""

import json

import numpy as np
import pytest

from archsim.components.flash import kernel as K
from archsim.components.flash.api import run_ops, run_pattern
from archsim.components.flash.compute import CoreSpec, core_slots, optimal_tile, plan_gemv, simulate_gemv
from archsim.components.flash.ecc import ecc_layout, hamming_bits, protected_flip_rate
from archsim.components.flash.spec import FLASH_SCHEMA, compile_spec
from archsim.config.schema import validate


def spec(**kw):
    base = {"channels": 2, "chips_per_channel": 1, "dies_per_chip": 2, "planes_per_die": 2,
            "t_read": "30 us", "t_prog": "600 us", "bus_rate": "1000 MT/s", "bus_width": 8,
            "command_overhead": "100 ns", "transfer_overhead": "100 ns"}
    base.update(kw)
    return compile_spec(validate(base, FLASH_SCHEMA))


def ops(s, kinds, planes, nbytes=None, **kw):
    n = len(kinds)
    nb = [s.page_size] * n if nbytes is None else nbytes
    req = kw.pop("req", list(range(n)))
    return run_ops(s, kinds, planes, nb, req, max(req) + 1, queue_depth=0, **kw)


def test_one_read_is_command_plus_tr_plus_transfer():
    s = spec()
    fin, sub, rfin, busy = ops(s, [K.READ], [0])
    xfer = s.xfer_ps(s.page_size)
    assert fin[0] == s.t_cmd_ps + s.t_read_ps + s.t_xfer_over_ps + xfer
    assert xfer == 16384 * 1000          # 1000 MT/s x 8 bits: 1 ns per byte
    assert busy[0] == s.t_cmd_ps + s.t_xfer_over_ps + xfer and busy[1] == 0


def test_no_read_finishes_before_tr_plus_transfer():
    s = spec()
    rng = np.random.default_rng(3)
    planes = rng.integers(0, s.planes, 200)
    fin, *_ = ops(s, [K.READ] * 200, planes)
    assert fin.min() >= s.t_read_ps + s.xfer_ps(s.page_size)


def test_two_planes_share_the_channel():
    s = spec()
    fin, *_ = ops(s, [K.READ, K.READ], [0, 1])      # die 0, planes 0 and 1, channel 0
    xfer = s.t_xfer_over_ps + s.xfer_ps(s.page_size)
    # both sense together (after the two commands); the data-outs serialise on the bus
    assert fin[0] == s.t_cmd_ps + s.t_read_ps + xfer
    assert fin[1] == fin[0] + xfer


def test_other_channel_is_independent():
    s = spec()
    fin, *_ = ops(s, [K.READ, K.READ], [0, s.dies_per_channel * s.planes_per_die])
    assert fin[0] == fin[1]


def test_cache_read_pipelines_one_plane():
    with_cache = spec(cache_read=True)
    without = spec(cache_read=False)
    f1, *_ = ops(with_cache, [K.READ] * 3, [0, 0, 0])
    f0, *_ = ops(without, [K.READ] * 3, [0, 0, 0])
    xfer = with_cache.t_xfer_over_ps + with_cache.xfer_ps(with_cache.page_size)
    # with a cache register the array senses page i+1 while page i leaves
    assert f1[2] < f0[2]
    assert f0[2] >= 3 * (with_cache.t_read_ps + xfer)
    assert f1[2] >= 3 * with_cache.t_read_ps + xfer


def test_read_retry_adds_array_reads():
    s0 = spec()
    s1 = spec(read_retry_rate=1.0)
    a, *_ = ops(s0, [K.READ], [0])
    b, *_ = ops(s1, [K.READ], [0])
    assert b[0] - a[0] == s0.t_read_ps


def test_program_and_erase_timing():
    s = spec()
    fin, *_ = ops(s, [K.PROGRAM, K.ERASE], [0, 1])
    # the erase command goes first (a command before data at the same instant)
    assert fin[1] == s.t_cmd_ps + s.t_erase_ps
    assert fin[0] == 2 * s.t_cmd_ps + s.xfer_ps(s.page_size) + s.t_prog_ps


def test_read_compute_group_timing():
    s = spec()
    compute = 20_480_000                 # 16384 MACs at 2 MACs x 400 MHz, in ps
    fin, *_ = ops(s, [K.RC, K.RC], [0, 2], out_bytes=[64, 64], group=[0, 0], compute_ps=[compute] * 2,
                  grp_in_bytes=[256], grp_members=[2], req=[0, 0])
    bcast = s.t_cmd_ps + s.xfer_ps(256)
    first = bcast + s.t_read_ps + compute + s.t_xfer_over_ps + s.xfer_ps(64)
    assert min(fin) == first
    assert max(fin) == first + s.t_xfer_over_ps + s.xfer_ps(64)     # the two results share the bus


def test_bus_order_classes():
    """A Read-Compute op beside a backlog of page reads (two planes, each sensing faster than
    the bus drains them): earliest-ready-first and Read-Compute-first send its result within
    a page transfer of its compute; page-reads-first (unsliced reads sent continuously) hold
    it until the page stream has a gap, here its end."""
    s = spec()
    compute = 20_480_000
    n_rd = 8
    kinds = [K.RC] + [K.READ] * n_rd
    planes = [0] + [1, 3] * (n_rd // 2)
    kw = dict(out_bytes=[64] + [0] * n_rd, group=[0] + [-1] * n_rd, compute_ps=[compute] + [0] * n_rd,
              grp_in_bytes=[256], grp_members=[1], req=[0] * (n_rd + 1))
    page = s.t_xfer_over_ps + s.xfer_ps(s.page_size)
    ready = s.t_read_ps + compute                 # the result is computed at least this late
    res = {}
    for order in (0, 1, 2):
        fin, *_ = ops(s, kinds, planes, rc_priority=order, **kw)
        res[order] = fin
        assert fin[0] >= ready
    for order in (0, 1):
        assert res[order][0] < ready + s.t_cmd_ps * 3 + s.xfer_ps(256) + page + 2 * s.t_xfer_over_ps + s.xfer_ps(64)
    assert res[2][0] > res[2][1:].max()
    # the page stream never waits for Read-Compute traffic there: it ends first in that order
    assert res[2][1:].max() < min(res[0][1:].max(), res[1][1:].max())


@pytest.mark.parametrize("kw", [dict(), dict(t_read="200 us", planes_per_die=1, dies_per_chip=1),
                                dict(bus_rate="400 MT/s")])
def test_bandwidth_reaches_and_never_exceeds_limits(kw):
    s = spec(**kw)
    limit = min(s.bus_limit(), s.array_limit())
    for pattern in ("seq", "random"):
        r = run_pattern(s, pattern, 3000, 4 * s.page_size, queue_depth=256)
        bw = r["bandwidth_gbps"] * 1e9
        assert bw <= limit * (1 + 1e-9)
        assert 0 < r["channel_utilisation"] <= 1.0
    r = run_pattern(s, "seq", 3000, 4 * s.page_size, queue_depth=256)
    assert r["bandwidth_gbps"] * 1e9 >= 0.95 * limit


def test_ecc_byte_accounting():
    lay = ecc_layout(16384, 8, 0.01, 2, 9)
    # Cambricon-LLM Sec. VI: 163 outliers x (14 address + 5 Hamming + 2 x 8) bits + 9 x 8 threshold bits
    assert (lay.values, lay.outliers, lay.addr_bits, lay.hamming_bits) == (16384, 163, 14, 5)
    assert lay.bits == 8 * 9 + (14 + 5 + 16) * 163 == 5777
    assert lay.bytes == 723 and lay.fits(1664)
    small = ecc_layout(4096, 8, 0.01, 2, 9)
    assert small.outliers == 40 and small.bits == 72 + (12 + 5 + 16) * 40
    assert hamming_bits(14) == 5 and hamming_bits(4) == 3
    assert protected_flip_rate(1e-4) == pytest.approx(3e-8, rel=1e-3)


CORE = CoreSpec(2, 400e6, 2048, 1, 1, True, 0.01, 2, 9, 4, 0.23e-12)


def cambricon_s():
    return spec(channels=8, chips_per_channel=2)


def test_tile_and_split_follow_the_paper():
    s = cambricon_s()
    assert optimal_tile(s, 8) == (256, 2048)         # Cambricon-LLM-S's tile
    p = plan_gemv(s, CORE, 4096, 16384)
    assert (p.tile_h, p.tile_w) == (256, 2048)
    assert 0.6 < p.alpha < 0.75
    # weights split: tiles on flash + bytes streamed to the NPU = the matrix
    assert p.flash_tiles * p.tile_h * p.tile_w + p.npu_bytes == 4096 * 16384
    off = plan_gemv(s, CORE, 4096, 16384, tiling=False)
    assert off.npu_bytes == 0 and off.alpha == 1.0


def test_tile_is_the_least_traffic_shape_the_matrix_holds():
    # Cambricon-LLM-M: sqrt(8 cores x 16384) = 362 is no side; 256x8192 and 512x4096 carry
    # equal traffic and the narrower broadcast wins
    assert optimal_tile(spec(channels=16, chips_per_channel=4), 8) == (512, 4096)
    big = spec(channels=32, chips_per_channel=8)
    assert optimal_tile(big, 8) == (512, 16384)
    # a 4096-wide matrix holds no 16384-wide tile: the widest it holds
    assert optimal_tile(big, 8, CORE, 1, 4096, 12288) == (2048, 4096)
    p = plan_gemv(big, CORE, 4096, 12288)
    assert (p.tile_h, p.tile_w) == (2048, 4096) and p.flash_tiles * 2048 * 4096 + p.npu_bytes == 4096 * 12288


@pytest.mark.parametrize("k,n", [(5120, 5120), (11008, 4096), (13824, 5120), (4096, 50272),
                                 (7168, 28672), (100, 300)])
def test_edge_tiles_cover_the_matrix_one_page_per_core(k, n):
    from archsim.components.flash.compute import edge_tiles
    s = cambricon_s()
    values, cc, ch = s.page_size, s.dies_per_channel, s.channels
    h, w = 256, 2048
    edge = edge_tiles(s, CORE, k, n, h, w, 1, 8)
    covered = (k // w) * w * (n // h) * h
    for th, tw, tiles in edge:
        assert th % cc == 0 and tw % ch == 0 and tiles > 0
        assert (th // cc) * (tw // ch) <= values           # a page per core
        assert core_slots(CORE, th, tw, 1, cc, ch) >= 1     # its slices fit the buffers
        covered += th * tw * tiles
    # everything is covered, and the edges waste no more than their rounding to the
    # channels and cores (not a padded whole tile: 5120 wide is not computed as 6144)
    assert k * n <= covered <= 1.03 * k * n + ch * n + cc * k
    off = plan_gemv(s, CORE, k, n, tiling=False)
    assert off.edge == edge and off.npu_bytes == 0 and off.flash_tiles == (k // w) * (n // h)
    r = simulate_gemv(s, CORE, off, 2048)
    assert r["rc_pages"] == ch * cc * off.rc_tiles
    assert k * n <= r["macs"] <= covered


def test_a_matrix_edge_costs_its_share_of_pages_not_a_padded_tile():
    from archsim.components.flash.compute import analytic_gemv
    s = cambricon_s()
    even = simulate_gemv(s, CORE, plan_gemv(s, CORE, 4096, 4096, tiling=False), 2048)["seconds"]
    p = plan_gemv(s, CORE, 5120, 4096, tiling=False)      # 2.5 tiles wide
    edged = simulate_gemv(s, CORE, p, 2048)["seconds"]
    assert edged == pytest.approx(even * 5120 / 4096, rel=0.03)
    assert edged == pytest.approx(analytic_gemv(s, CORE, p), rel=0.01)


def test_core_buffer_bounds_the_tiles_in_flight():
    from archsim.components.flash.compute import analytic_gemv
    s = cambricon_s()
    # 2 KB holds six 256x2048 slices (256 + 64 B) but one 4096x128 slice (16 + 1024 B)
    assert core_slots(CORE, 256, 2048, 1, 4, 8) == 6 and core_slots(CORE, 4096, 128, 1, 4, 8) == 1
    t_r = s.t_read_ps / 1e12
    comp = CORE.page_ps(16384, 1, 8, 16384) / 1e12
    wide = plan_gemv(s, CORE, 4096, 4096, tile=(256, 2048), tiling=False)
    tall = plan_gemv(s, CORE, 4096, 4096, tile=(4096, 128), tiling=False)
    assert wide.flash_tiles == tall.flash_tiles == 32
    tw = simulate_gemv(s, CORE, wide, 2048)["seconds"]
    tt = simulate_gemv(s, CORE, tall, 2048)["seconds"]
    # two in flight: reads one t_rc apart; one: read, compute and results in series
    assert tw < wide.flash_tiles * (t_r + 1e-6) + comp + 2e-6
    assert tt > tall.flash_tiles * (t_r + comp)
    for p, t in ((wide, tw), (tall, tt)):
        assert t == pytest.approx(analytic_gemv(s, CORE, p), rel=0.01)


def test_read_ahead_hides_the_first_read_behind_the_last_compute():
    from dataclasses import replace
    s = cambricon_s()
    ahead = replace(CORE, read_ahead=True)
    p = plan_gemv(s, CORE, 4096, 4096, tiling=False)
    t0 = simulate_gemv(s, CORE, p, 2048)["seconds"]
    t1 = simulate_gemv(s, ahead, p, 2048)["seconds"]
    comp = CORE.page_ps(16384, 1, 8, 16384) / 1e12
    # the previous GEMV's last page takes the cores `comp`: that much of the first read hides
    assert t0 - t1 == pytest.approx(comp, rel=0.05)
    assert t1 >= p.flash_tiles * s.t_read_ps / 1e12 - comp


def test_read_ahead_of_a_matrix_in_edge_tiles_alone_uses_their_compute():
    # 1024x1024 on Cambricon-LLM-L holds no 512x16384 tile: edge tiles only. The first read
    # hides behind the previous GEMV's last compute, which is an edge page's, so faster
    # cores never make the GEMV slower and it never beats one array read
    from archsim.components.base import Job
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    times = []
    for macs in (1, 2, 4, 8):
        flash = System(load_arch("cambricon-llm-l", [f"flash.compute.macs_per_cycle={macs}"])).components["flash"]
        job = Job(kind="gemv", m=1, k=1024, n=1024, batch=1, flops=2 * 1024 * 1024,
                  bytes_read=1024 * 1024, dtype_w="int8", dtype_a="int8")
        times.append(flash.cost(job).seconds)
        assert times[-1] >= flash.spec.t_read_ps / 1e12
    assert times == sorted(times, reverse=True)


def test_a_lone_op_gets_no_read_ahead():
    # `archsim op` runs one GEMV with nothing before it: its first page is sensed in full
    from archsim.api import run_op
    on = run_op("cambricon-llm-l", "gemv", 1, 4096, 4096, "int8")
    off = run_op("cambricon-llm-l", "gemv", 1, 4096, 4096, "int8", ["flash.compute.read_ahead=false"])
    assert on["seconds"] == off["seconds"]
    # inside a run the same GEMV follows another, so the credit stays
    from archsim.components.base import Job
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    job = Job(kind="gemv", m=1, k=4096, n=4096, batch=1, flops=2 * 4096 * 4096,
              bytes_read=4096 * 4096, dtype_w="int8", dtype_a="int8")
    flash = System(load_arch("cambricon-llm-l")).components["flash"]
    warm = flash.cost(job).seconds
    flash.cold_start()
    assert flash.cost(job).seconds > warm + 10e-6


def test_slicing_and_tiling_speed_up_a_gemv():
    from dataclasses import replace
    from archsim.components.flash.compute import analytic_gemv
    s = cambricon_s()
    on = simulate_gemv(s, CORE, plan_gemv(s, CORE, 4096, 16384), 2048)
    no_slice = simulate_gemv(s, CORE, plan_gemv(s, CORE, 4096, 16384, slicing=False), 2048)
    no_tile = simulate_gemv(s, CORE, plan_gemv(s, CORE, 4096, 16384, tiling=False), 2048)
    assert no_slice["seconds"] > 1.2 * on["seconds"]
    assert no_tile["seconds"] > 1.2 * on["seconds"]
    assert on["channel_utilisation"] > no_slice["channel_utilisation"] > no_tile["channel_utilisation"]
    # unsliced reads sent continuously: the tiles run after the page stream, not beside it
    # (the planes sense faster than a channel drains them), so the GEMV takes the streamed
    # pages at the bus rate plus the flash tiles; earliest-ready-first lets tiles in between
    p_ns = plan_gemv(s, CORE, 4096, 16384, slicing=False)
    serial = analytic_gemv(s, CORE, p_ns, "continuous")
    from archsim.components.flash.compute import page_bus_s
    page_rate = s.channels * s.page_size / page_bus_s(s)      # a command and a turnaround a page
    assert serial == pytest.approx(s.t_read_ps / 1e12 + p_ns.npu_bytes / page_rate
                                   + analytic_gemv(s, CORE, replace(p_ns, npu_bytes=0)), rel=1e-9)
    assert no_slice["seconds"] == pytest.approx(serial, rel=0.03)
    fcfs = simulate_gemv(s, CORE, p_ns, 2048, "fcfs")
    assert on["seconds"] < fcfs["seconds"] < no_slice["seconds"]
    assert fcfs["bytes_weights"] == no_slice["bytes_weights"] == on["bytes_weights"]
    with pytest.raises(ValueError):
        simulate_gemv(s, CORE, p_ns, 2048, "lifo")
    # channel bytes add up: inputs + results + streamed weights
    assert on["bytes_weights"] == plan_gemv(s, CORE, 4096, 16384).npu_bytes
    # a GEMV cannot beat its flash share's reads: tiles x tR
    p = plan_gemv(s, CORE, 4096, 16384)
    assert on["seconds"] >= p.flash_tiles * s.t_read_ps / 1e12


def test_cli_flash(capsys):
    from archsim.cli.main import main
    assert main(["flash", "flash_cambricon_s", "--pattern", "random", "--requests", "500",
                 "--request-bytes", "16384", "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    for key in ("bandwidth_gbps", "avg_latency_us", "channel_utilisation", "wall_s"):
        assert key in r
    assert r["bandwidth_gbps"] <= min(r["limits_gbps"].values()) + 1e-9
    assert main(["flash", "flash_cambricon_s", "--pattern", "zigzag"]) == 2
    assert main(["flash", "flash_cambricon_s", "--requests", "0"]) == 2
    assert main(["flash", "flash_cambricon_s", "--set", "flash.channels=-1"]) == 2


def test_array_limit_of_requests_that_are_no_whole_pages(capsys):
    # 20,000 B senses two 16 KB pages: 10,000 B a sense, 64 planes at tR 200 us = 3.2 GB/s,
    # which the run reaches (it was given as one page's worth a sense, 5.24 GB/s)
    from archsim.cli.main import main
    assert main(["flash", "flash_cambricon_s", "--request-bytes", "20000", "--requests", "20000",
                 "--queue-depth", "256", "--set", "flash.t_read=200us", "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["limits_gbps"]["array"] == pytest.approx(3.2)
    assert 0.98 * 3.2 <= r["bandwidth_gbps"] <= 3.2


def test_analytic_and_cycle_agree_where_the_closed_form_holds():
    from archsim.components.flash.compute import analytic_gemv
    s = cambricon_s()
    # no bus contention (all tiles in flash): the closed form is exact to within 1%
    p = plan_gemv(s, CORE, 4096, 16384, tiling=False)
    c = simulate_gemv(s, CORE, p, 2048)["seconds"]
    assert c == pytest.approx(analytic_gemv(s, CORE, p), rel=0.01)
    # with the NPU share and slicing, arbitration costs the kernel a few percent more
    p = plan_gemv(s, CORE, 4096, 16384)
    c = simulate_gemv(s, CORE, p, 2048)["seconds"]
    a = analytic_gemv(s, CORE, p)
    assert a <= c <= 1.15 * a


def test_stream_matches_the_limit():
    from archsim.components.flash.component import NandFlash
    f = NandFlash.from_config("flash", {"channels": 8, "chips_per_channel": 2, "dies_per_chip": 2})
    from archsim.components.base import Job
    nb = 256 * 2 ** 20
    cyc = f.cost(Job(kind="read", bytes_read=nb)).seconds
    ana = f.cost(Job(kind="read", bytes_read=nb), "analytic").seconds
    assert ana <= cyc <= 1.03 * ana


@pytest.mark.parametrize("kind", ["read", "write"])
def test_the_analytic_stream_pays_the_array_time_as_the_cycle_run_does(kind):
    # a 4 KB write costs a page program (hundreds of us), not 4 KB at the bus rate
    from archsim.components.base import Job
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    flash = System(load_arch("a6000-flexgen-ssd")).components["flash"]
    for nbytes in (4096, 65536, 528384, 8 << 20, 256 << 20):
        job = Job(kind=kind, bytes_read=0 if kind == "write" else nbytes, bytes_written=nbytes if kind == "write" else 0)
        cyc, ana = flash.cost(job, "cycle").seconds, flash.cost(job, "analytic").seconds
        assert 0.75 * cyc <= ana <= 1.05 * cyc, (nbytes, cyc, ana)


def test_the_closed_form_counts_what_the_bus_carries_besides_bytes():
    """Streamed pages pay their command, a turnaround per slice and the first sense; a small
    share sits on one channel. The closed form (and the planner, which uses it) then tracks
    the cycle run, and tiling never loses to the whole matrix in flash."""
    from archsim.components.base import Job
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    s_flash = System(load_arch("cambricon-llm-s")).components["flash"]
    job = Job(kind="gemv", m=1, k=4096, n=12288, dtype_w="int8", dtype_a="int8")
    c, a = s_flash.cost(job).seconds, s_flash.cost(job, "analytic").seconds
    assert a <= c <= 1.05 * a            # was 7% apart and more
    m_flash = System(load_arch("cambricon-llm-m")).components["flash"]
    small = Job(kind="gemv", m=1, k=1000, n=300, dtype_w="int8", dtype_a="int8")
    off = Job(kind="gemv", m=1, k=1000, n=300, dtype_w="int8", dtype_a="int8", extra=(("tiling", False),))
    assert m_flash.cost(small).seconds <= m_flash.cost(off).seconds * 1.001   # was 1.85x slower


def test_a_short_streamed_page_sends_its_bytes_only():
    # 8 KB of weights streamed: one sense, and 8 KB (not a whole 16 KB page) on the bus
    from dataclasses import replace
    from archsim.components.flash.compute import streamed_pages
    s = cambricon_s()
    assert streamed_pages(s, 8192) == [8192]
    assert streamed_pages(s, 9 * 16384 - 100) == [16384, 16384 - 100]     # 9 pages on 8 channels
    assert streamed_pages(s, 10 * 16384 - 100) == [16384, 16384]          # the short one elsewhere
    p = plan_gemv(s, CORE, 128, 64, tiling=False)
    p = replace(p, flash_tiles=0, edge=(), npu_bytes=8192)
    t = simulate_gemv(s, CORE, p, 0)["seconds"]
    assert t == pytest.approx((s.t_cmd_ps + s.t_read_ps + s.t_xfer_over_ps) / 1e12 + 8192 / s.bus_bytes_per_s)


def test_read_retries_cost_sensing_energy():
    # a retry senses the page again (tR at the array's read power), not only its time
    base = run_pattern(spec(), "seq", 200, 16384)
    retry = run_pattern(spec(read_retry_rate=0.5), "seq", 200, 16384)
    s = spec()
    sense = 200 * s.e_read_j
    assert retry["energy_j"] - base["energy_j"] == pytest.approx(0.5 * sense)

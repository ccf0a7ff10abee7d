"""Bad DRAM inputs: timing overrides, refresh that cannot keep up, size bounds, a GPU's DRAM
block against its declared peak. Each is one error line and exit 2, never a hang."""

import pytest

from archsim.cli import cmd_dram
from archsim.cli.main import main
from archsim.components.dram import MAX_CHANNELS
from archsim.components.dram.api import check_dram_params, peak_bandwidth
from archsim.components.dram.controller import Controller
from archsim.components.dram.standards import STANDARDS, get_standard
from archsim.errors import ConfigError


def _one_error_line(capsys, *words):
    err = capsys.readouterr().err.strip()
    assert err.startswith("archsim: error:") and "\n" not in err
    for w in words:
        assert w in err, err
    return err


@pytest.mark.parametrize("item,words", [
    ("tCK_ps=0", ("tCK_ps", "positive")), ("tCK_ps=-1", ("tCK_ps", "positive")),
    ("tCK_ps=833.5", ("tCK_ps", "integer")), ("nCL=1.5", ("nCL", "integer")),
    ("nCL=0", ("nCL", ">= 1")), ("nBL=0", ("nBL", ">= 1")), ("nRCD=true", ("nRCD", "integer")),
    ("nCL=20000", ("nCL", "16384")), ("org.rank=0", ("org.rank", "positive")),
    ("org.bank=4096", ("org.bank", "64")), ("nRC=20", ("nRC", "nRAS"))])
def test_bad_timing_override_exits_2_naming_the_key(item, words, capsys):
    assert main(["dram", "ddr4-2400", "--requests", "100", "--set", item]) == 2
    _one_error_line(capsys, "--set", *words)


def test_a_timing_may_be_zero_only_where_a_part_can_lack_it(capsys):
    assert main(["dram", "ddr4-2400", "--requests", "100", "--set", "nCS=0", "--format", "json"]) == 0
    capsys.readouterr()
    assert main(["dram", "ddr4-2400", "--requests", "100", "--set", "nRP=0"]) == 2
    _one_error_line(capsys, "nRP")


def test_every_bundled_standard_passes_its_checks():
    for std in STANDARDS.values():
        std.check()
        if std.has_refpb:
            std.check(per_bank=True)
            Controller(refresh="per-bank").check(std)


@pytest.mark.parametrize("sets,key", [
    ({"nRFC": 100000}, "nRFC"), ({"nREFI": 1}, "nRFC"), ({"nREFI": 421}, "nRFC"),
    # eight ranks refresh in turn, one PREA and one REFab each: 14 ticks of stagger
    ({"org.rank": 8, "nREFI": 435}, "nRFC")])
def test_a_refresh_that_never_ends_is_refused(sets, key):
    with pytest.raises(ConfigError) as e:
        get_standard("ddr4-2400").with_overrides(sets, "--set")
    assert str(e.value).startswith(f"--set: {key}: must be below")


def test_the_refresh_bound_still_admits_a_run_that_ends():
    r = cmd_dram.simulate_cli("ddr4-2400", pattern="random", requests=500,
                              sets=("org.rank=8", "nREFI=436"))
    assert r["requests"] == 500 and r["cycles"] > 0
    with pytest.raises(ConfigError):
        cmd_dram.simulate_cli("ddr4-2400", requests=500, sets=("org.rank=8", "nREFI=435"))


@pytest.mark.parametrize("std,sets,key", [
    ("hbm2-2000", {"nREFIpb": 5}, "nRFCpb"),      # a bank refreshed again before it is done
    ("hbm2-2000", {"nREFIpb": 7}, "nRREFD"),      # no room for an access between refreshes
    ("lpddr5-6400", {"nRREFD": 196}, "nRREFD"),
    ("gddr6-16000", {"nFAW": 960}, "nFAW"),        # REFpb counts in the four-activate window
    ("lpddr5-6400", {"org.rank": 4}, "nRREFD")])
def test_per_bank_refresh_that_cannot_keep_up_is_refused(std, sets, key):
    s = get_standard(std).with_overrides(sets)          # all-bank refresh: fine
    with pytest.raises(ConfigError) as e:
        Controller(refresh="per-bank").check(s)
    assert f"timing.{key}: must be below" in str(e.value)


def test_per_bank_refresh_from_the_cli_names_the_set(capsys):
    assert main(["dram", "lpddr5-6400", "--requests", "100", "--set", "nRREFD=196",
                 "--set", "controller.refresh=per-bank"]) == 2
    _one_error_line(capsys, "--set: nRREFD")


def test_channels_and_requests_are_bounded(capsys, monkeypatch):
    assert main(["dram", "ddr4-2400", "--requests", "1", "--channels", str(MAX_CHANNELS + 1)]) == 2
    _one_error_line(capsys, "--channels", str(MAX_CHANNELS))
    monkeypatch.setattr(cmd_dram, "MAX_REQUESTS", 10)
    assert main(["dram", "ddr4-2400", "--requests", "11"]) == 2
    _one_error_line(capsys, "--requests", "1..10")


@pytest.mark.parametrize("arch,std,channels,tck,peak", [
    ("h100", "hbm3-6400", 80, 769.0, 3.35e12), ("a100", "hbm2e-3200", 40, None, 2039e9)])
def test_bundled_gpu_dram_blocks_stay_under_their_declared_peak(arch, std, channels, tck, peak):
    check_dram_params({"standard": std, "channels": channels, "tck_ps": tck}, peak, arch, "gpu.dram")


@pytest.mark.parametrize("dram,key,words", [
    ({"standard": "hbm3-6400", "channels": 80, "tck_ps": 1}, "gpu.dram.tck_ps", "exceeds"),
    ({"standard": "hbm3-6400", "channels": 80, "tck_ps": None}, "gpu.dram.channels", "exceeds"),
    ({"standard": "foo", "channels": 80, "tck_ps": None}, "gpu.dram.standard", "unknown"),
    ({"standard": "hbm3-6400", "channels": 80, "tck_ps": 769.5}, "gpu.dram.tck_ps", "integer"),
    ({"standard": "hbm3-6400", "channels": 100000, "tck_ps": None}, "gpu.dram.channels", "1024")])
def test_gpu_dram_block_is_checked_against_the_declared_peak(dram, key, words):
    with pytest.raises(ConfigError) as e:
        check_dram_params(dram, 3.35e12, "h100.yaml", "gpu.dram")
    assert str(e.value).startswith(f"h100.yaml: {key}:") and words in str(e.value)


def test_peak_bandwidth_follows_a_clock_override():
    assert peak_bandwidth("hbm3-6400", 80, (("tCK_ps", 1250),)) == \
        pytest.approx(peak_bandwidth("hbm3-6400", 80) / 2)


def test_a_gpu_whose_dram_model_outruns_its_declared_peak_is_refused(capsys):
    from archsim.cli.main import main
    assert main(["run", "h100", "gpt2-small", "--input-len", "16", "--output-len", "2",
                 "--set", "gpu.dram.tck_ps=1"]) == 2
    err = capsys.readouterr().err
    assert "h100.yaml: gpu.dram.tck_ps:" in err and "exceeds the declared memory bandwidth" in err


def test_a_dram_part_with_a_strided_pattern_needs_its_stride():
    from archsim.api import run_case
    scen = {"batch": 1, "input_len": 16, "output_len": 1}
    with pytest.raises(ConfigError, match="stride"):
        run_case("cambricon-flexgen-dram", "gpt2-small", scen, ["dram.pattern=strided"])
    seq = run_case("cambricon-flexgen-dram", "gpt2-small", scen)
    strided = run_case("cambricon-flexgen-dram", "gpt2-small", scen,
                       ["dram.pattern=strided", "dram.stride=4096", "dram.elem_bytes=64"])
    # 64 B pieces 4 KiB apart: a row per piece, slower than the stream
    assert strided["decode"]["seconds"] > 1.2 * seq["decode"]["seconds"]


def test_stream_results_are_kept_on_disk_and_read_back_exactly(tmp_path, monkeypatch):
    from archsim.components.dram import stream_cache
    monkeypatch.setattr(stream_cache, "_DIR", tmp_path)
    monkeypatch.delenv("ARCHSIM_NO_DISK_CACHE", raising=False)
    calls = []

    def compute():
        calls.append(1)
        return (1.0 / 3.0, 2.5e-13)

    key = ("hbm2e", 8, 4096, "seq", 0, 0, (), "RoBaRaCoCh")
    assert stream_cache.memo(key, compute) == (1.0 / 3.0, 2.5e-13)
    assert stream_cache.memo(key, compute) == (1.0 / 3.0, 2.5e-13) and len(calls) == 1
    assert stream_cache.memo(key[:-1] + ("RoCoBaRaBgCh",), compute) and len(calls) == 2
    (f,) = [p for p in tmp_path.iterdir() if "RoBa" in p.read_text()]
    f.write_text("{not json")                     # a damaged file is recomputed, not trusted
    assert stream_cache.memo(key, compute) == (1.0 / 3.0, 2.5e-13) and len(calls) == 3
    monkeypatch.setenv("ARCHSIM_NO_DISK_CACHE", "1")
    stream_cache.memo(key, compute)
    assert len(calls) == 4


def test_ddr5_clocks_follow_jesd79_5_rounding():
    # JESD79-5: nCK = truncate(tPARAM x 0.997 / tCK + 1); at tCK 0.416 ns 30 ns is 72 clocks,
    # not the 73 a 2.5% DDR4-style guard gives; an x8 part writes without read-modify-write
    from archsim.components.dram.standards import get_standard
    t = get_standard("ddr5-4800").timing
    assert (t["nWR"], t["nRTP"], t["nWTRL"], t["nRFC"], t["nCCDL_WR"]) == (72, 18, 24, 708, 24)
    assert t["nREFI"] == 9375                   # an interval, not a minimum: 3.9 us exactly


def test_a_dram_transfer_costs_a_first_access_then_the_steady_rate():
    """A short stream ends before the controller's queues fill, so its measured rate was 0
    (a 4 B read cost nothing) or too low; a transfer now pays one first access and then the
    steady-state rate, so its time grows with its size and never drops to 0."""
    from archsim.components.base import Job
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    d = System(load_arch("cambricon-llm-s")).components["dram"]
    secs = [d.cost(Job(kind="transfer", bytes_read=b)).seconds for b in (4, 2048, 16384, 1 << 20, 1 << 23)]
    assert secs[0] >= d.first_access_s > 0
    assert secs == sorted(secs) and len(set(secs)) == len(secs)
    assert d.cost(Job(kind="transfer", bytes_read=0)).seconds == 0


def test_a_gpus_sustained_rate_is_the_steady_state_with_refreshes():
    # a few-MiB stream ends before the first refresh and read ~10% fast; a GPU's kernels
    # stream at the controller's steady state whatever their size (one latency on top)
    from archsim.components.dram.api import achievable_bandwidth
    from archsim.system.arch import load_arch
    from archsim.system.system import System
    gpu = System(load_arch("a100"), "cycle").components["gpu"]
    small, large = gpu.sustained_bandwidth(2 ** 20), gpu.sustained_bandwidth(2 ** 30)
    assert small == large < achievable_bandwidth("hbm2e-3200", 40, 4 * 2 ** 20, mapping="RoCoBaRaBgCh")
    assert small < gpu.params["stream_bandwidth"]

"""InstInfer: decode attention in the drive; bytes on flash and PCIe add up."""

import pytest

from archsim.api import simulate_case
from archsim.workload.model_spec import load_model

SCEN = {"batch": 4, "input_len": 64, "output_len": 4, "precision": "fp16"}


def test_dense_kv_reads_match_the_trace():
    spec = load_model("opt-6.7b")
    r = simulate_case("a6000-instcsd", "opt-6.7b", SCEN, sets=["flash.kv.attention=dense"])
    s = r.summary
    B, H, L, hd = 4, spec.heads, spec.layers, spec.head_dim
    reads = 0
    for step in range(4):
        kv_len = 64 + step + 1
        reads += 2 * B * H * L * kv_len * hd * 2                 # K and V of the whole context
    writes = (64 + 4) * B * L * 2 * H * hd * 2                    # prompt + one token per step
    # flash bytes = KV groups read by the engine + KV programmed
    assert s["breakdown"]["flash"]["bytes"] == pytest.approx(reads + writes, rel=1e-9)
    # PCIe carries the prompt's K/V, then only q/k/v vectors and attention outputs
    pcie = writes - 4 * B * L * 2 * H * hd * 2                    # the prompt's K/V
    pcie += 4 * L * (B * 3 * H * hd * 2 + B * H * hd * 2)         # qkv up, attention output down
    assert s["breakdown"]["pcie"]["bytes"] == pytest.approx(pcie, rel=1e-9)


def test_sparf_reads_less_than_dense_at_long_context():
    scen = {"batch": 2, "input_len": 1024, "output_len": 2, "precision": "fp16"}
    dense = simulate_case("a6000-instcsd", "opt-6.7b", scen, sets=["flash.kv.attention=dense"]).summary
    sparf = simulate_case("a6000-instcsd", "opt-6.7b", scen, sets=["flash.kv.attention=sparf"]).summary
    # SparF reads about half the token groups plus the K channels it picks
    ratio = (sparf["breakdown"]["flash"]["bytes"] / dense["breakdown"]["flash"]["bytes"])
    assert 0.5 < ratio < 0.9


def test_flexgen_ssd_moves_the_kv_over_pcie():
    s = simulate_case("a6000-flexgen-ssd", "opt-6.7b", SCEN).summary
    b = s["breakdown"]
    # the same KV bytes cross the SSD link and the GPU link
    assert b["ssd_link"]["bytes"] == pytest.approx(b["pcie_gpu"]["bytes"])
    assert b["flash"]["bytes"] == pytest.approx(b["ssd_link"]["bytes"])

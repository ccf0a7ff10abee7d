"""The trace builder against hand calculations."""

import time

import numpy as np
import pytest

from archsim.errors import ConfigError
from archsim.workload.model_spec import list_models, load_model
from archsim.workload.trace_builder import build_trace


def rows(trace, **where):
    mask = np.ones(len(trace), dtype=bool)
    for col, value in where.items():
        mask &= trace[col] == value
    return [trace.row(i) for i in np.nonzero(mask)[0]]


def one(trace, **where):
    found = rows(trace, **where)
    assert len(found) == 1, (where, len(found))
    return found[0]


def decode_weight_bytes(trace, model, step=0):
    """Weight bytes of one decode step, with the embedding tables counted whole (not gathered)."""
    sel = (trace["phase"] == "decode") & (trace["step"] == step) & (trace["op"] != "embedding")
    parts = model.param_breakdown()
    tables = parts["positions"] + (0 if model.tied_embeddings else parts["embedding"])
    return int(trace["bytes_w"][sel].sum()) + 2 * tables  # tables are 16-bit


@pytest.fixture(scope="module")
def llama():
    return load_model("llama3-8b")


def test_llama3_8b_decode_layer_by_hand(llama):
    # one decode step at kv_len 4096
    t = build_trace(llama, batch=1, input_len=4095, output_len=1, precision="fp16")
    layer = dict(phase="decode", step=0, layer=7)
    qkv = one(t, name="qkv_proj", **layer)
    assert (qkv["op"], qkv["m"], qkv["k"], qkv["n"]) == ("gemv", 1, 4096, 6144)
    assert qkv["flops"] == 2 * 4096 * 6144
    assert qkv["bytes_w"] == 4096 * 6144 * 2
    assert qkv["bytes_kv"] == 2 * 8 * 128 * 2  # the new token's K and V
    gu = one(t, name="ffn_gate_up", **layer)
    assert (gu["n"], gu["flops"], gu["bytes_w"]) == (2 * 14336, 2 * 4096 * 28672, 4096 * 28672 * 2)
    down = one(t, name="ffn_down", **layer)
    assert (down["k"], down["n"], down["bytes_w"]) == (14336, 4096, 14336 * 4096 * 2)
    assert one(t, name="o_proj", **layer)["bytes_w"] == 4096 * 4096 * 2
    qk = one(t, name="attention_qk", **layer)
    av = one(t, name="attention_av", **layer)
    assert (qk["m"], qk["k"], qk["n"], qk["heads"], qk["kv_heads"], qk["kv_len"]) == (1, 128, 4096, 32, 8, 4096)
    assert qk["flops"] == av["flops"] == 2 * 32 * 128 * 4096
    assert qk["bytes_kv"] + av["bytes_kv"] == 2 * 8 * 128 * 4096 * 2
    assert one(t, name="softmax", **layer)["flops"] == 5 * 32 * 4096
    names = [r["name"] for r in rows(t, **layer)]
    assert names == ["attn_norm", "qkv_proj", "rope", "attention_qk", "softmax", "attention_av", "o_proj",
                     "attn_residual", "ffn_norm", "ffn_gate_up", "ffn_act", "ffn_down", "ffn_residual"]
    t.validate()


def test_decode_step_reads_all_weights_once(llama):
    t = build_trace(llama, batch=1, input_len=32, output_len=2, precision="fp16")
    assert decode_weight_bytes(t, llama, step=1) == pytest.approx(llama.weight_bytes("fp16"), rel=0.01)


def test_prefill_and_decode_structure(llama):
    B, L, S = 2, 16, 3
    t = build_trace(llama, batch=B, input_len=L, output_len=S, precision="fp16")
    pre = one(t, phase="prefill", layer=0, name="qkv_proj")
    assert (pre["op"], pre["m"], pre["step"]) == ("gemm", B * L, 0)
    qk = one(t, phase="prefill", layer=0, name="attention_qk")
    assert (qk["m"], qk["n"], qk["batch"]) == (L, L, B)
    assert qk["flops"] == 2 * B * 32 * 128 * (L * (L + 1) // 2)  # causal scores only
    assert one(t, phase="prefill", name="lm_head")["m"] == B
    assert one(t, phase="prefill", name="embed_tokens")["bytes_w"] == B * L * 4096 * 2
    for s in range(S):
        assert one(t, phase="decode", step=s, layer=3, name="attention_av")["kv_len"] == L + s + 1
        assert one(t, phase="decode", step=s, layer=3, name="qkv_proj")["m"] == B
        assert one(t, phase="decode", step=s, name="lm_head")["flops"] == 2 * B * 4096 * 128256
    # execution order: each pass opens with the embedding and closes with lm_head
    assert t["name"][0] == "embed_tokens" and t["name"][-1] == "lm_head"
    assert list(t["phase"][:1]) == ["prefill"] and np.all(np.diff(t["step"][t["phase"] == "decode"]) >= 0)
    assert t["layer"].dtype == np.int64 and t["flops"].dtype == np.int64
    t.validate()


def test_prefill_only_and_decode_only(llama):
    assert set(build_trace(llama, input_len=8, output_len=0)["phase"]) == {"prefill"}
    t = build_trace(llama, input_len=0, output_len=2)
    assert set(t["phase"]) == {"decode"}
    assert one(t, step=0, layer=0, name="attention_qk")["kv_len"] == 1


def test_bad_scenarios(llama):
    with pytest.raises(ConfigError) as err:
        build_trace(llama, input_len=8000, output_len=1000)
    assert err.value.key == "max_seq_len"
    with pytest.raises(ConfigError) as err:
        build_trace(llama, batch=0)
    assert err.value.key == "batch"
    with pytest.raises(ConfigError):
        build_trace(llama, precision="w4x")
    longer = load_model("llama3-8b", sets=["max_seq_len=16384"])
    assert len(build_trace(longer, input_len=8000, output_len=1000 // 100))


def test_mixtral_moe_shapes():
    m = load_model("mixtral-8x7b")
    B = 4
    t = build_trace(m, batch=B, input_len=8, output_len=2, precision="fp16")
    layer = dict(phase="decode", step=1, layer=5)
    assert one(t, name="qkv_proj", **layer)["n"] == (32 + 2 * 8) * 128
    assert one(t, name="attention_qk", **layer)["kv_heads"] == 8
    gate = one(t, name="moe_gate", **layer)
    assert (gate["op"], gate["m"], gate["k"], gate["n"]) == ("moe_gate", B, 4096, 8)
    ups, downs = rows(t, name="expert_up", **layer), rows(t, name="expert_down", **layer)
    assert sum(r["m"] for r in ups) == sum(r["m"] for r in downs) == B * 2  # top-2
    assert [r["expert"] for r in ups] == [r["expert"] for r in downs] == sorted({r["expert"] for r in ups})
    for r in ups:
        assert (r["k"], r["n"], r["bytes_w"]) == (4096, 2 * 14336, 4096 * 2 * 14336 * 2)
        assert r["flops"] == 2 * r["m"] * 4096 * 2 * 14336
        assert r["op"] == ("gemv" if r["m"] == 1 else "gemm")
    assert one(t, name="expert_act", **layer)["m"] == B * 2
    names = [r["name"] for r in rows(t, **layer)]
    i = names.index("moe_gate")
    assert names[i + 1: i + 1 + len(ups)] == ["expert_up"] * len(ups)
    assert names[i + 1 + len(ups)] == "expert_act"
    t.validate()


def test_mixtral_decode_weight_bytes_when_every_expert_is_used():
    m = load_model("mixtral-8x7b")
    t = build_trace(m, batch=64, input_len=4, output_len=1, precision="fp16")
    assert len(rows(t, phase="decode", layer=0, name="expert_up")) == 8
    assert decode_weight_bytes(t, m) == pytest.approx(m.weight_bytes("fp16"), rel=0.01)


def test_seeded_routing_is_deterministic():
    m = load_model("mixtral-8x7b")
    a = build_trace(m, batch=3, input_len=5, output_len=4, seed=7)
    b = build_trace(m, batch=3, input_len=5, output_len=4, seed=7)
    c = build_trace(m, batch=3, input_len=5, output_len=4, seed=8)
    assert all(np.array_equal(a[k], b[k]) for k in a.columns)
    assert not (len(a) == len(c) and np.array_equal(a["expert"], c["expert"]) and np.array_equal(a["m"], c["m"]))
    assert a.meta["routing"] == "seeded" and a.meta["seed"] == 7
    # a prefill's routing does not depend on how many tokens follow it (it drew from the
    # same stream as the decode tokens, so the prompt's choices moved with output_len)
    for other in (build_trace(m, batch=3, input_len=5, output_len=9, seed=7),
                  build_trace(m, batch=3, input_len=5, output_len=0, seed=7)):
        pre_a, pre_o = a["phase"] == "prefill", other["phase"] == "prefill"
        assert all(np.array_equal(a[k][pre_a], other[k][pre_o]) for k in ("name", "expert", "m"))


def test_user_expert_choice_is_honoured():
    m = load_model("mixtral-8x7b")
    B, L, S = 2, 3, 2
    choice = np.zeros((m.layers, B * (L + S), 2), dtype=np.int64)
    choice[..., 0], choice[..., 1] = 3, 5
    choice[4, B * L:, 1] = 6  # layer 4, all decode tokens: experts 3 and 6
    t = build_trace(m, batch=B, input_len=L, output_len=S, expert_choice=choice)
    assert t.meta["routing"] == "user"
    pre = rows(t, phase="prefill", layer=0, name="expert_up")
    assert [(r["expert"], r["m"]) for r in pre] == [(3, B * L), (5, B * L)]
    dec = rows(t, phase="decode", step=1, layer=4, name="expert_down")
    assert [(r["expert"], r["m"]) for r in dec] == [(3, B), (6, B)]


def test_expert_choice_for_moe_layers_only_deepseek():
    m = load_model("deepseek-r1")
    B, L, S = 1, 2, 1
    choice = np.tile(np.arange(8), (m.moe_layers, B * (L + S), 1))
    t = build_trace(m, batch=B, input_len=L, output_len=S, expert_choice=choice)
    assert [r["expert"] for r in rows(t, phase="decode", layer=3, name="expert_up")] == list(range(8))
    assert not rows(t, layer=2, name="expert_up")


@pytest.mark.parametrize("bad", [np.zeros((32, 5, 2), dtype=np.int64),    # wrong token count
                                 np.zeros((32, 6, 3), dtype=np.int64),    # wrong top_k
                                 np.zeros((7, 6, 2), dtype=np.int64),     # wrong layers
                                 np.zeros((32, 6), dtype=np.int64),       # wrong rank
                                 np.full((32, 6, 2), 8, dtype=np.int64),  # expert out of range
                                 np.zeros((32, 6, 2), dtype=float)])      # not integers
def test_bad_expert_choice(bad):
    with pytest.raises(ConfigError) as err:
        build_trace(load_model("mixtral-8x7b"), batch=2, input_len=2, output_len=1, expert_choice=bad)
    assert err.value.key == "expert_choice"


def test_expert_choice_on_dense_model(llama):
    with pytest.raises(ConfigError):
        build_trace(llama, batch=1, input_len=1, output_len=1, expert_choice=np.zeros((32, 2, 2), int))


def test_deepseek_mla_and_moe():
    m = load_model("deepseek-r1")
    B, L = 2, 8
    t = build_trace(m, batch=B, input_len=L, output_len=2, precision="fp16")
    kv = L + 2  # step 1
    layer = dict(phase="decode", step=1, layer=10)
    qk = one(t, name="attention_qk", **layer)
    assert (qk["k"], qk["n"], qk["heads"], qk["kv_heads"]) == (576, kv, 128, 1)
    assert qk["bytes_kv"] == B * kv * 576 * 2
    assert one(t, name="attention_av", **layer)["bytes_kv"] == 0  # the latent is read once
    assert one(t, name="kv_a_proj", **layer)["bytes_kv"] == B * 576 * 2
    qa = one(t, name="q_absorb", **layer)
    assert (qa["heads"], qa["k"], qa["n"], qa["bytes_w"]) == (128, 128, 512, 128 * 128 * 512 * 2)
    assert not rows(t, name="kv_b_proj", phase="decode")
    assert one(t, name="kv_b_proj", phase="prefill", layer=0)["n"] == 128 * (128 + 128)
    assert one(t, name="attention_qk", phase="prefill", layer=0)["k"] == 192
    # first three layers dense, then MoE with a shared expert
    assert one(t, name="ffn_gate_up", phase="decode", step=0, layer=2)["n"] == 2 * 18432
    assert not rows(t, name="moe_gate", layer=2)
    assert one(t, name="moe_gate", **layer)["n"] == 256
    assert sum(r["m"] for r in rows(t, name="expert_up", **layer)) == B * 8
    sh = one(t, name="shared_expert_up", **layer)
    assert (sh["m"], sh["n"], sh["expert"]) == (B, 2 * 2048, -1)
    # names of one MLA decode layer
    names = [r["name"] for r in rows(t, **layer) if not r["name"].startswith("expert_")]
    assert names[:13] == ["attn_norm", "q_a_proj", "q_a_norm", "q_b_proj", "kv_a_proj", "kv_a_norm", "rope",
                          "q_absorb", "attention_qk", "softmax", "attention_av", "v_absorb", "o_proj"]
    t.validate()


def test_deepseek_decode_weight_bytes_cover_kv_b():
    """Absorbed q/v (decode) read exactly kv_b_proj's weights."""
    m = load_model("deepseek-r1")
    t = build_trace(m, batch=1, input_len=1, output_len=1, precision="fp16")
    lin = next(x for x in m.attention_linears() if x.name == "kv_b_proj")
    absorbed = sum(one(t, phase="decode", layer=0, name=n)["bytes_w"] for n in ("q_absorb", "v_absorb"))
    assert absorbed == lin.k * lin.n * 2


def test_parallel_block_falcon():
    m = load_model("falcon-7b")
    t = build_trace(m, batch=1, input_len=4, output_len=1)
    names = [r["name"] for r in rows(t, phase="decode", layer=0)]
    assert "ffn_norm" not in names and names[-1] == "residual" and names.count("attn_norm") == 1
    assert one(t, phase="decode", layer=0, name="qkv_proj")["n"] == (71 + 2) * 64
    assert one(t, phase="decode", layer=0, name="attention_qk")["kv_heads"] == 1
    assert decode_weight_bytes(t, m) == pytest.approx(m.weight_bytes(), rel=0.01)


def test_sliding_window_mistral():
    m = load_model("mistral-7b")
    t = build_trace(m, batch=1, input_len=6000, output_len=1)
    dec = one(t, phase="decode", layer=0, name="attention_qk")
    assert dec["kv_len"] == 4096 and dec["flops"] == 2 * 32 * 128 * 4096
    pre = one(t, phase="prefill", layer=0, name="attention_qk")
    W, L = 4096, 6000
    assert pre["flops"] == 2 * 32 * 128 * (W * (W + 1) // 2 + (L - W) * W)


def test_bitnet_w2a8_dtypes_and_bytes():
    m = load_model("bitnet-b1.58-3b")
    t = build_trace(m, batch=1, input_len=4, output_len=1)
    qkv = one(t, phase="decode", layer=0, name="qkv_proj")
    assert (qkv["dtype_w"], qkv["dtype_a"]) == ("int2", "int8")
    assert qkv["bytes_w"] == 3200 * 9600 * 2 // 8
    assert qkv["bytes_kv"] == 2 * 32 * 100  # int8 KV
    head = one(t, phase="decode", name="lm_head")
    assert head["dtype_w"] == "fp16" and head["bytes_w"] == 32002 * 3200 * 2
    assert decode_weight_bytes(t, m) == pytest.approx(m.weight_bytes(), rel=0.01)


def test_learned_positions_gpt2():
    m = load_model("gpt2-small")
    t = build_trace(m, batch=2, input_len=4, output_len=1)
    assert one(t, phase="decode", name="embed_positions")["bytes_w"] == 2 * 768 * 2
    assert not rows(t, name="rope")
    qkv = one(t, phase="decode", layer=0, name="qkv_proj")
    assert qkv["bytes_w"] == 768 * 2304 * 2 + 2304 * 2  # bias included
    assert qkv["flops"] == 2 * 2 * 768 * 2304 + 2 * 2304


@pytest.mark.parametrize("name", list_models())
def test_every_bundled_model_builds_a_valid_trace(name):
    m = load_model(name)
    t = build_trace(m, batch=2, input_len=3, output_len=2)
    t.validate()
    assert len(t) and t.meta["model"] == name
    if m.moe is None:
        assert decode_weight_bytes(t, m) == pytest.approx(m.weight_bytes(), rel=0.01)


def test_build_speed(llama):
    start = time.perf_counter()
    t = build_trace(llama, batch=64, input_len=2048, output_len=1024)
    assert time.perf_counter() - start < 2.0
    assert len(t) == (3 + 32 * 13) * 1025


def test_an_op_runs_the_attention_rows_a_model_trace_has():
    # `archsim op ARCH attention` must build the rows the trace builder makes for one layer of
    # a decode step (gpt2-medium: 16 heads of 64; step 0 after 128 tokens attends over 129)
    from archsim.api import op_trace
    from archsim.workload.model_spec import load_model
    t = build_trace(load_model("gpt2-medium"), batch=1, input_len=128, output_len=1, precision="fp16")
    op = op_trace("attention", 1, 64, 129, "fp16", 16)
    for name in ("attention_qk", "softmax", "attention_av"):
        row = (t["layer"] == 0) & (t["phase"] == "decode") & (t["name"] == name)
        mine = op["name"] == name
        for col in ("m", "k", "n", "heads", "batch", "kv_len", "flops"):
            assert int(op[col][mine][0]) == int(t[col][row][0]), (name, col)

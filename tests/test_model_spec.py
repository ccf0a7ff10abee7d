"""Model specs and precisions: bundled YAMLs, the schema, sizes."""

import pytest

from archsim.errors import ConfigError
from archsim.workload.model_spec import list_models, load_model
from archsim.workload.precision import parse_precision

REQUIRED = ["gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl", "gpt3-small", "gpt3-medium",
            "gpt3-large", "gpt3-xl", "opt-6.7b", "opt-13b", "opt-30b", "opt-66b", "llama2-7b",
            "llama2-13b", "llama2-70b", "llama3-8b", "llama3.1-8b", "llama3.1-70b", "llama3.1-405b",
            "codellama-34b", "qwen2-72b", "qwen1.5-1.8b", "gemma-2b", "phi-2", "mistral-7b",
            "falcon-7b", "mixtral-8x7b", "bitnet-b1.58-3b", "deepseek-r1"]


def test_all_required_models_are_bundled():
    assert set(REQUIRED) <= set(list_models())


@pytest.mark.parametrize("name", list_models())
def test_bundled_model_loads_and_param_count_matches_published(name):
    m = load_model(name)
    assert m.name == name and m.source.strip()
    # the shapes must reproduce the published size: catches typos in the YAML
    assert abs(m.param_count() / m.params - 1) < 0.03, (m.param_count(), m.params)


def test_llama3_8b_shapes_and_sizes():
    m = load_model("llama3-8b")
    assert (m.layers, m.hidden, m.heads, m.kv_heads, m.head_dim, m.ffn_dim, m.vocab) == \
        (32, 4096, 32, 8, 128, 14336, 128256)
    assert m.kv_elements_per_token_per_layer() == 2 * 8 * 128
    assert m.kv_bytes_per_token("fp16") == 32 * 2 * 8 * 128 * 2
    assert m.weight_bytes("fp16") == 2 * m.param_count()
    # w4a16 quantises the block linears only; embeddings, lm_head and norms stay at 16 bits
    parts = m.param_breakdown()
    rest = m.param_count() - parts["linear"]
    assert m.weight_bytes("w4a16") == parts["linear"] // 2 + 2 * rest


def test_mla_kv_bytes_per_token_deepseek():
    m = load_model("deepseek-r1")
    assert m.kv_elements_per_token_per_layer() == 512 + 64
    assert m.kv_bytes_per_token("fp16") == 61 * 576 * 2
    assert m.moe.experts == 256 and m.moe.top_k == 8 and m.moe.dense_layers == 3


def test_unknown_key_is_rejected_naming_it(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("base: llama3-8b\nname: mine\nnum_layerz: 3\n")
    with pytest.raises(ConfigError) as err:
        load_model(f)
    assert err.value.key == "num_layerz"
    assert "num_layerz" in str(err.value) and str(f) in str(err.value)


def test_unknown_key_in_moe_block_is_rejected(tmp_path):
    f = tmp_path / "moe.yaml"
    f.write_text("base: mixtral-8x7b\nmoe: {experts: 8, top_k: 2, expert_ffn_dim: 14336, capacity: 2}\n")
    with pytest.raises(ConfigError) as err:
        load_model(f)
    assert err.value.key == "moe.capacity"


def test_base_and_sets(tmp_path):
    f = tmp_path / "tiny.yaml"
    f.write_text("base: llama3-8b\nname: tiny\nlayers: 2\n")
    m = load_model(f, sets=["hidden=1024", "ffn_dim=4096"])
    assert (m.name, m.layers, m.hidden, m.ffn_dim, m.kv_heads) == ("tiny", 2, 1024, 4096, 8)
    assert load_model("llama3-8b", sets=["max_seq_len=65536"]).max_seq_len == 65536


@pytest.mark.parametrize("sets, key", [(["kv_heads=5"], "kv_heads"), (["ffn_type=silu"], "ffn_type"),
                                       (["default_precision=w4x"], "default_precision"),
                                       (["layers=0"], "layers")])
def test_bad_values_name_the_key(sets, key):
    with pytest.raises(ConfigError) as err:
        load_model("llama3-8b", sets=sets)
    assert err.value.key == key


def test_missing_required_key(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("name: bad\nfamily: x\n")
    with pytest.raises(ConfigError) as err:
        load_model(f)
    assert err.value.key == "source"


def test_unknown_model_name():
    with pytest.raises(ConfigError, match="llama3-8b"):
        load_model("llama3-8")


@pytest.mark.parametrize("name, w, a, kv, wb, ab", [
    ("fp16", "fp16", "fp16", "fp16", 16, 16), ("bf16", "bf16", "bf16", "bf16", 16, 16),
    ("fp32", "fp32", "fp32", "fp32", 32, 32), ("fp8", "fp8", "fp8", "fp8", 8, 8),
    ("int8", "int8", "int8", "int8", 8, 8), ("w8a8", "int8", "int8", "int8", 8, 8),
    ("w8a16", "int8", "fp16", "fp16", 8, 16), ("w4a16", "int4", "fp16", "fp16", 4, 16),
    ("w4a8", "int4", "int8", "int8", 4, 8), ("w2a8", "int2", "int8", "int8", 2, 8),
    ("w2a16", "int2", "fp16", "fp16", 2, 16), ("w1a8", "int1", "int8", "int8", 1, 8),
    ("w3a16", "int3", "fp16", "fp16", 3, 16),
])
def test_parse_precision(name, w, a, kv, wb, ab):
    p = parse_precision(name)
    assert (p.weight_dtype, p.act_dtype, p.kv_dtype, p.weight_bits, p.act_bits, p.kv_bits) == \
        (w, a, kv, wb, ab, ab)
    assert p.embed_bits >= 16


@pytest.mark.parametrize("bad", ["fp12", "w4", "w0a16", "w4a12", "int3x", ""])
def test_unknown_precision_names_the_value(bad):
    with pytest.raises(ConfigError) as err:
        parse_precision(bad)
    assert repr(bad) in str(err.value)

"""Numeric precisions of a run: what the weights, activations and KV cache are stored as.

Names: fp32, fp16, bf16, fp8 (everything in that type), int8 (= w8a8), and the general
`w{W}a{A}` form (w8a8, w8a16, w4a16, w4a8, w2a8, w2a16, w1a8, ...). In `w{W}a{A}` a width of
16 or 32 is a float (fp16 / fp32), 8 and below an integer (int8, int4, int2, int1); BitNet's
ternary 1.58-bit weights are stored as 2 bits, so they are `w2a8`.

The KV cache takes the activation type (w4a16 -> fp16 KV, w8a8 -> int8 KV).

Quantised precisions apply to the linear layers inside the decoder blocks (projections, FFN,
experts). The embedding table, lm_head, norm weights, biases and the MoE router stay at 16
bits (`embed_dtype`), as GPTQ/AWQ, SmoothQuant, BitNet and DeepSeek's FP8 release keep them;
counting them at 2 bits would understate a BitNet model's weight traffic by a fifth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archsim.dtypes import dtype_bits
from archsim.errors import ConfigError


_FLOAT_NAMES = ("fp32", "fp16", "bf16", "fp8")
_WA = re.compile(r"^w(\d+)a(\d+)$")


@dataclass(frozen=True)
class Precision:
    name: str
    weight_dtype: str
    act_dtype: str
    weight_bits: int
    act_bits: int
    kv_dtype: str
    kv_bits: int
    embed_dtype: str  # embedding, lm_head, norms, biases, router
    embed_bits: int

    def __str__(self) -> str:
        return self.name


def _width_dtype(bits: int, name: str) -> str:
    if bits == 32:
        return "fp32"
    if bits == 16:
        return "fp16"
    if 1 <= bits <= 8:
        return f"int{bits}"
    raise ConfigError(f"{name!r}: a width of {bits} bits is not supported (use 1-8, 16 or 32)",
                      key="precision")


def parse_precision(name) -> Precision:
    """'w4a16' -> Precision(weights int4, activations fp16, KV fp16, embeddings fp16)."""
    if isinstance(name, Precision):
        return name
    if not isinstance(name, str):
        raise ConfigError(f"expected a precision name, got {name!r}", key="precision")
    key = name.strip().lower()
    if key == "int8":
        key = "w8a8"
    if key in _FLOAT_NAMES:
        w = a = key
    else:
        m = _WA.match(key)
        if not m:
            raise ConfigError(f"unknown precision {name!r}; expected fp32, fp16, bf16, fp8, int8 "
                              "or w{bits}a{bits} such as w4a16, w8a8, w2a8", key="precision")
        w, a = _width_dtype(int(m.group(1)), name), _width_dtype(int(m.group(2)), name)
    embed = "fp32" if "fp32" in (w, a) else "bf16" if "bf16" in (w, a) else "fp16"
    return Precision(name=name.strip(), weight_dtype=w, act_dtype=a, weight_bits=dtype_bits(w),
                     act_bits=dtype_bits(a), kv_dtype=a, kv_bits=dtype_bits(a),
                     embed_dtype=embed, embed_bits=dtype_bits(embed))


def nbytes(elements, bits: int):
    """Bytes holding `elements` values of `bits` each, rounded up (works on numpy arrays too)."""
    return (elements * bits + 7) // 8

"""Element types by name and their widths, shared by the workload and the components."""

from __future__ import annotations

import re

from archsim.errors import ConfigError

DTYPE_BITS = {"fp32": 32, "fp16": 16, "bf16": 16, "fp8": 8, "int8": 8, "int4": 4, "int2": 2, "int1": 1}


def dtype_bits(dtype: str) -> int:
    """Bits of one element of a dtype name (fp16 -> 16, int4 -> 4, int3 -> 3)."""
    if dtype in DTYPE_BITS:
        return DTYPE_BITS[dtype]
    m = re.fullmatch(r"int(\d)", dtype)
    if m and 1 <= int(m.group(1)) <= 8:
        return int(m.group(1))
    raise ConfigError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPE_BITS)}", key="dtype")

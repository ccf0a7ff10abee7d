"""On-die outlier ECC (Cambricon-LLM Sec. VI): byte accounting and decode latency.

Per page the top `fraction` of values by magnitude are protected: the code stores the
threshold (the smallest protected magnitude) `threshold_copies` times, then for each
protected value its address (ceil(log2(values per page)) bits) with a Hamming code on the
address and `copies` copies of the value. At read time a value whose address is listed is
voted among the page copy and its `copies` copies; an unlisted value above the threshold is
zeroed. 16 KB of INT8: 163 outliers x (14 + 5 + 2 x 8) bits + 9 x 8 = 5,777 bits (723 B;
the paper rounds to 722 B), inside the 1,664 B spare area.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def hamming_bits(data_bits: int) -> int:
    """Check bits of a single-error-correcting Hamming code over `data_bits` bits."""
    r = 1
    while (1 << r) < data_bits + r + 1:
        r += 1
    return r


@dataclass(frozen=True)
class EccLayout:
    values: int            # values per page
    outliers: int          # protected values per page
    addr_bits: int
    hamming_bits: int
    bits: int              # total code bits per page
    bytes: int             # ceil(bits / 8)

    def fits(self, spare_bytes: int) -> bool:
        return self.bytes <= spare_bytes


def ecc_layout(page_bytes: int, value_bits: int = 8, fraction: float = 0.01, copies: int = 2,
               threshold_copies: int = 9) -> EccLayout:
    values = int(page_bytes * 8 // value_bits)
    outliers = int(math.floor(values * fraction))
    addr = max(1, math.ceil(math.log2(values)))
    ham = hamming_bits(addr)
    bits = value_bits * threshold_copies + (addr + ham + value_bits * copies) * outliers
    return EccLayout(values, outliers, addr, ham, bits, -(-bits // 8))


def protected_flip_rate(x: float, copies: int = 2) -> float:
    """Probability a protected value's bit is wrong after the majority vote of copies + 1
    instances, each flipped independently with probability x (3x^2 - 2x^3 for two copies)."""
    n = copies + 1
    need = n // 2 + 1
    return sum(math.comb(n, k) * x ** k * (1 - x) ** (n - k) for k in range(need, n + 1))

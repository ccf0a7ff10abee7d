"""The NPU's vector / special-function unit: softmax, norms, activations, rope, adds.

A SIMD unit of `lanes` lanes at the NPU clock, each retiring one elementary operation per
cycle (the trace counts them as `flops`: softmax 5 per element, layernorm 7, gelu 8, ...).
A job streams its elements through a pipeline of `latency` cycles, so
    cycles = latency + ceil(ops / lanes).
Special functions (exp, reciprocal, rsqrt) are assumed pipelined at one result per lane per
cycle, as in the SFUs of mobile NPUs; the trace's per-element op counts already weigh them.
"""

from __future__ import annotations


def vector_cycles(ops: float, lanes: int, latency: int) -> int:
    if ops <= 0:
        return 0
    return int(latency) + -(-int(round(ops)) // int(lanes))

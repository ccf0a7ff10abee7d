"""The prefill-to-decode transition: weights and the prompt's KV cache move from the prefill
layout (one P x P grid) to the decode layout (regions of the decode grid) through the fabric.

Every core of the prefill grid ships its share of the bytes. The layouts differ in tile shape
and in where each region sits, so a core's data lands, on average, about half a grid away in
its row: each row runs a bulk rotation by half its length through the engine (at capped
lengths, extended linearly: the rotation is bandwidth-bound). All rows do the same, in
parallel, so one row is simulated and reused.
"""

from __future__ import annotations

from archsim.components.wafer import Program, Segment
from archsim.mappings.waferllm.comm import BulkRotate
from archsim.mappings.waferllm.layouts import cdiv


def reshuffle_program(p: int, bytes_total: float, bits: int = 16) -> Program:
    per_core = cdiv(int(bytes_total), p * p)
    elements = cdiv(per_core * 8, bits)
    return Program((p, p), (Segment((), BulkRotate(p, p, "x", elements, bits), label="reshuffle"),))

"""NAND flash: cycle-level timing kernel, in-flash compute (Cambricon-LLM) and a
computational SSD with an attention engine (InstInfer).

Public API
----------
``spec.FLASH_SCHEMA``, ``spec.compile_spec(params) -> FlashSpec`` (integer ps timings; bus
and array limits); ``kernel.simulate(...)`` the event-driven kernel (see kernel.py);
``api.run_pattern(spec, pattern, requests, request_bytes, op, seed, queue_depth, slice_bytes)``
what `archsim flash` prints; ``api.run_ops(...)`` prepared operations;
``ecc.ecc_layout(page_bytes, value_bits, fraction, copies, threshold_copies)`` outlier ECC
bytes; ``compute.plan_gemv(...)``, ``compute.simulate_gemv(...)`` Read-Compute GEMV;
``NandFlash`` (YAML ``type: nand_flash``), ``ComputationalSSD`` (``type: computational_ssd``).
"""

from archsim.components.flash.spec import FLASH_SCHEMA, FlashSpec, compile_spec
from archsim.components.flash.ecc import ecc_layout
from archsim.components.flash.api import run_pattern
from archsim.components.flash.component import NandFlash
from archsim.components.flash.csd import ComputationalSSD

__all__ = ["FLASH_SCHEMA", "FlashSpec", "compile_spec", "ecc_layout", "run_pattern", "NandFlash",
           "ComputationalSSD"]

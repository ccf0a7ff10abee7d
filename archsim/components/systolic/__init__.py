"""Cycle-level systolic NPU: the Numba array kernel, dataflows, SRAM buffers, vector unit.

Public API
----------
``kernel.simulate_gemm(rows, cols, df, sr, sc, t, bw, ifmap_half, filter_half) -> int64[12]``
    the cycle-level kernel (see kernel.py for the model and the counters it returns);
``kernel.map_gemm(dataflow, m, k, n, lanes=1) -> (Sr, Sc, T)``,
``kernel.closed_form_cycles(dataflow, rows, cols, m, k, n, lanes=1)`` (SCALE-Sim's count),
``kernel.fold_counts(rows, cols, sr, sc)``, ``kernel.fold_period(dataflow, rows, cols, t)``;
``simulate(rows, cols, dataflow, m, k, n, ...) -> dict`` (what `archsim systolic` prints);
``SystolicNPU`` (YAML ``type: systolic_npu``). The DRAM beside the array is a `type: dram`
part (archsim/components/dram).
"""

from archsim.components.systolic.kernel import (DATAFLOWS, closed_form_cycles, fold_counts,
                                                fold_period, map_gemm, simulate_gemm)
from archsim.components.systolic.npu import SystolicNPU
from archsim.components.systolic.api import simulate

__all__ = ["DATAFLOWS", "closed_form_cycles", "fold_counts", "fold_period", "map_gemm",
           "simulate_gemm", "SystolicNPU", "simulate"]

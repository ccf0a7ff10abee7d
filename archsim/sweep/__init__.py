"""Design-space sweeps: a YAML file of axes -> points -> executors -> one HDF5 file of rows.

    from archsim.sweep import load_sweep, run_sweep, to_dataframe
    report = run_sweep(load_sweep("sweeps/hbm_vs_batch.yaml"), "hbm.h5", workers=2)
    df = to_dataframe("hbm.h5")

Names are imported on first use, so that worker processes (which import submodules of this
package) do not pay for h5py, pandas or dask.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "load_sweep": "spec", "parse_sweep": "spec", "SweepSpec": "spec", "Axis": "spec",
    "generate": "points", "Point": "points",
    "plan": "engine", "run_sweep": "engine", "SweepReport": "engine", "Plan": "engine",
    "SweepStore": "store", "to_dataframe": "store", "read_table": "store", "is_sweep_file": "store",
    "make_executor": "executors", "WorkerLost": "executors",
    "evaluate_case": "cases", "resolve_case": "cases", "point_id": "cases",
    "pareto_front": "analysis",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'archsim.sweep' has no attribute {name!r}")
    return getattr(importlib.import_module(f"archsim.sweep.{module}"), name)

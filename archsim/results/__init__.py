"""Results output: HDF5 files, Perfetto timelines, terminal tables, and atomic writing."""

from archsim.results.atomic import atomic_open, atomic_path, atomic_write_bytes, atomic_write_text
from archsim.results.text_table import format_summary, text_table

_LAZY = {"write_result_h5": "hdf5_io", "read_result_h5": "hdf5_io", "read_provenance": "hdf5_io",
         "write_perfetto": "perfetto", "trace_events": "perfetto"}


def __getattr__(name):
    # h5py loads only when a writer is used, keeping `archsim --help` quick.
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f"archsim.results.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'archsim.results' has no attribute {name!r}")


__all__ = ["atomic_open", "atomic_path", "atomic_write_bytes", "atomic_write_text", "format_summary",
           "text_table", *_LAZY]

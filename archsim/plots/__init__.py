"""Plots of saved results (`archsim plot`), one module per kind.

A plot module in this package defines `KIND = "name"` and `plot(source, out, **opts)`, where
`source` is a results path (sweep HDF5, run HDF5, run JSON, Perfetto JSON) or an object
already loaded (a DataFrame, a result summary dict, a RunResult) and `out` a .png, .svg or
.pdf path. Modules are found by scanning this package: adding a kind is adding a module.
Modules without KIND (helpers such as common.py) are ignored, and one that fails to import only makes its own
kind unavailable.
"""

from __future__ import annotations

import importlib
import pkgutil

from archsim.errors import ConfigError

_FOUND: dict | None = None
_BROKEN: dict[str, str] = {}


def kinds() -> dict:
    """KIND -> module, for every plot module of this package (first module name wins a tie)."""
    global _FOUND
    if _FOUND is None:
        found = {}
        import archsim.plots as pkg
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            if info.name.startswith("_"):
                continue
            try:
                mod = importlib.import_module(f"archsim.plots.{info.name}")
            except Exception as exc:   # noqa: BLE001 - one broken module must not hide the others
                _BROKEN[info.name] = f"{type(exc).__name__}: {exc}"
                continue
            kind = getattr(mod, "KIND", None)
            if isinstance(kind, str) and kind and callable(getattr(mod, "plot", None)):
                found.setdefault(kind, mod)
        _FOUND = found
    return dict(_FOUND)


def plot(source, out, kind: str, **opts):
    """Draw `kind` from `source` into `out`; returns the path written."""
    known = kinds()
    if kind not in known:
        broken = f" (modules that failed to import: {'; '.join(f'{k}: {v}' for k, v in _BROKEN.items())})" \
            if _BROKEN else ""
        raise ConfigError(f"unknown plot kind {kind!r}; known: {', '.join(sorted(known))}{broken}", "--kind")
    return known[kind].plot(source, out, **opts)

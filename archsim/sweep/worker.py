"""What runs on a worker: evaluate one case and reduce its result to one row.

Kept free of h5py, pandas and dask so that worker processes start quickly. Every exception
of an evaluation becomes the row's one-line error; only a dying process loses a point (the
executor retries it).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import socket
import time

from archsim import __version__
from archsim.errors import ArchsimError, CapacityError
from archsim.revision import code_identity, git_revision

MAX_ERROR = 2000


def one_line(exc: BaseException) -> str:
    text = exc.one_line() if isinstance(exc, ArchsimError) else f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


def metric(summary: dict, key: str):
    """summary['decode']['tokens_per_s'] for 'decode.tokens_per_s'; NaN where a key is absent."""
    node = summary
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return math.nan
        node = node[part]
    if node is None:
        return math.nan
    if isinstance(node, bool):
        return float(node)
    if isinstance(node, (int, float, str)):
        return node
    if hasattr(node, "item"):   # numpy scalars
        return node.item()
    return json.dumps(node, sort_keys=True, default=str)


def run_point(evaluate, case: dict, metrics, fits: str = "skip", keep_result: bool = False) -> dict:
    """Evaluate `case`; return {status, error, outputs, result, provenance fields}."""
    t0 = time.perf_counter()
    status, error, outputs, result, prov = "ok", "", {}, "", {}
    try:
        summary = evaluate(case)
        outputs = {m: metric(summary, m) for m in metrics}
        prov = summary.get("provenance") or {}
        if keep_result:
            result = json.dumps(summary, sort_keys=True, default=str)
    except CapacityError as exc:
        status, error = ("skipped" if fits == "skip" else "failed"), one_line(exc)
    except Exception as exc:   # noqa: BLE001 - any failure of one point is that point's error
        status, error = "failed", one_line(exc)
    return {"status": status, "error": error, "outputs": outputs, "result": result,
            "archsim_version": str(prov.get("archsim_version") or __version__),
            "git_revision": str(prov.get("git_revision") or git_revision() or ""),
            "code": code_identity(),
            "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds"),
            "wall_s": time.perf_counter() - t0,
            "worker": f"{socket.gethostname()}:{os.getpid()}"}


def warm(evaluate, case) -> None:
    """Run one case and drop the result: compiles (or loads from cache) the Numba kernels it
    uses, once per worker, before the worker takes points."""
    try:
        evaluate(case)
    except Exception:   # noqa: BLE001 - the point itself will report its error
        pass

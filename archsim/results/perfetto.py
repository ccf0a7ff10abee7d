"""A run's timeline as Chrome trace-event JSON, for ui.perfetto.dev or chrome://tracing.

One process (the arch), one thread per component, one complete event ("ph": "X") per task.
Times are microseconds as floats (the format's unit); the timeline holds integer picoseconds.
Events are streamed to the file, so long timelines need no large in-memory list.
"""

from __future__ import annotations

import json
import math

import numpy as np

from archsim.results.atomic import atomic_open

PID = 1
_PS_PER_US = 1e6


def _value(col, i, default):
    if col is None:
        return default
    v = col[i]
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and not math.isfinite(v) else v   # JSON has no NaN


def trace_events(result):
    """Yield the trace events of `result` (metadata first, then one event per task)."""
    tl = result.timeline
    summary = result.summary
    components = [str(c) for c in np.asarray(tl.get("component", []), dtype=object).tolist()]
    order = list(summary.get("breakdown") or {})
    order += [c for c in dict.fromkeys(components) if c not in order]
    tid = {c: i + 1 for i, c in enumerate(order)}
    label = f"{summary.get('arch', 'arch')}: {summary.get('model', '')} ({summary.get('fidelity', '')})"
    yield {"name": "process_name", "ph": "M", "pid": PID, "tid": 0, "args": {"name": label}}
    for c, t in tid.items():
        yield {"name": "thread_name", "ph": "M", "pid": PID, "tid": t, "args": {"name": c}}
        yield {"name": "thread_sort_index", "ph": "M", "pid": PID, "tid": t, "args": {"sort_index": t}}
    start, finish = tl.get("start_ps"), tl.get("finish_ps")
    cols = {k: tl.get(k) for k in ("name", "op", "phase", "layer", "step", "bytes", "energy_pj")}
    for i, comp in enumerate(components):
        s, f = int(start[i]), int(finish[i])
        op = str(_value(cols["op"], i, ""))
        energy_pj = _value(cols["energy_pj"], i, 0.0)
        yield {"name": str(_value(cols["name"], i, op)), "cat": op, "ph": "X", "pid": PID, "tid": tid[comp],
               "ts": s / _PS_PER_US, "dur": (f - s) / _PS_PER_US,
               "args": {"op": op, "phase": str(_value(cols["phase"], i, "")),
                        "layer": _value(cols["layer"], i, -1), "step": _value(cols["step"], i, 0),
                        "bytes": _value(cols["bytes"], i, 0.0), "energy_j": None if energy_pj is None else float(energy_pj) * 1e-12}}


def write_perfetto(result, path) -> None:
    """Write the timeline of `result` (a RunResult) to `path` atomically."""
    with atomic_open(path, "w") as fh:
        fh.write('{"displayTimeUnit": "ns", "traceEvents": [\n')
        for n, event in enumerate(trace_events(result)):
            if n:
                fh.write(",\n")
            fh.write(json.dumps(event, allow_nan=False, separators=(",", ":")))
        fh.write("\n]}\n")

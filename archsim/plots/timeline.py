"""The timeline of a run as a Gantt chart, from its Perfetto trace or its run HDF5 file.

One lane per component, one bar per task, coloured by op (the ten busiest ops; the rest grey).
"""

from __future__ import annotations

import math
from collections import defaultdict

from archsim.errors import ConfigError
from archsim.plots.common import check_opts, load_source, need, new_figure, number_opt, save

KIND = "timeline"
OPTIONS = {"start_us": None, "end_us": None, "title": None, "colors": 10}


def _events(src):
    if src.kind == "trace":
        return src.data
    if src.result is None or not getattr(src.result, "timeline", None):
        raise ConfigError("this run result holds no timeline (write one with `archsim run --out r.h5` "
                          "or `--timeline trace.json`)", src.name)
    from archsim.results.perfetto import trace_events
    return list(trace_events(src.result))


def plot(source, out, **opts):
    o = check_opts(KIND, opts, OPTIONS)
    t0, t1 = number_opt(o, "start_us", None), number_opt(o, "end_us", None)
    for key, t in (("start_us", t0), ("end_us", t1)):
        if t is not None and t < 0:
            raise ConfigError(f"a time on the run's clock is not negative, got {t:g}", key=f"--opt {key}")
    if t0 is not None and t1 is not None and t1 <= t0:
        raise ConfigError(f"end_us ({t1:g}) must be above start_us ({t0:g})", "--opt end_us")
    number_opt(o, "colors", integer=True)
    src = load_source(source)
    need(src, KIND, "trace", "run")
    lanes: dict = {}
    bars = defaultdict(list)      # (lane, op) -> [(start, duration)]
    busy = defaultdict(float)
    for i, ev in enumerate(_events(src)):
        if not isinstance(ev, dict):
            continue
        key = (ev.get("pid"), ev.get("tid"))
        if ev.get("ph") == "M" and ev.get("name") == "thread_name":
            lanes.setdefault(key, (ev.get("args") or {}).get("name", str(key[1])))
        elif ev.get("ph") == "X":
            try:
                s, d = float(ev.get("ts", 0.0)), float(ev.get("dur", 0.0))
            except (TypeError, ValueError):
                raise ConfigError(f"event {i}: ts and dur must be numbers, got {ev.get('ts')!r} "
                                  f"and {ev.get('dur')!r}", src.name) from None
            if not (math.isfinite(s) and math.isfinite(d)) or d < 0:
                raise ConfigError(f"event {i}: ts must be finite and dur finite and >= 0, got "
                                  f"{s:g} and {d:g}", src.name)
            if (t0 is not None and s + d < float(t0)) or (t1 is not None and s > float(t1)):
                continue
            lanes.setdefault(key, str(key[1]))
            op = str(ev.get("cat") or ev.get("name") or "")
            bars[(key, op)].append((s, d))
            busy[op] += d
    if not bars:
        raise ConfigError("no task events to draw" + (" in that window" if t0 or t1 else ""), src.name)
    used = [k for k in lanes if any(b[0] == k for b in bars)]
    row = {k: i for i, k in enumerate(used)}
    top = [op for op, _ in sorted(busy.items(), key=lambda t: -t[1])][: int(o["colors"])]
    color = {op: f"C{i}" for i, op in enumerate(top)}
    fig, ax = new_figure(10.0, 0.5 * len(used) + 1.8)
    ax = ax[0][0]
    seen = set()
    for (key, op), spans in bars.items():
        lab = op if op in color and op not in seen else None
        seen.add(op)
        ax.broken_barh(spans, (row[key] - 0.4, 0.8), facecolors=color.get(op, "0.7"), label=lab)
    ax.set_yticks(range(len(used)), [lanes[k] for k in used])
    ax.invert_yaxis()
    ax.set_xlabel("time [us]")
    if t0 is not None or t1 is not None:     # the window, not the bars that cross its edges
        ax.set_xlim(left=float(t0) if t0 is not None else None, right=float(t1) if t1 is not None else None)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(o["title"] or f"{src.name}: timeline")
    return save(fig, out)

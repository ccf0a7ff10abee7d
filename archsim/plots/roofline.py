"""Roofline of a machine with the ops of one run placed on it.

Roofs come from the machine the run's resolved config describes: each part's peak rates
(`Component.roofs`: a GPU's HBM and L2 and its peaks per type, a CPU's, an NPU's MACs, a
DRAM standard's pins, a flash's channels and arrays and its dies' cores, a PIM's banks, a
wafer's SRAM and FMACs), the four largest of each kind. A config that does not load (a
result written by hand) falls back to its keys: a number under a key naming a bandwidth is a
memory roof, one naming flops (or a peak) a compute roof. An op that works from an on-chip
buffer no roof stands for (an NPU's vector ops) can sit above the off-chip roofs. `bandwidth` and `peak_flops` options replace
them ('2 TB/s', '312 TFLOP/s', or several separated by commas). Each op is a point at its
arithmetic intensity (flops per byte moved) and achieved rate, sized by its share of the time.
"""

from __future__ import annotations

import math

import numpy as np

from archsim.errors import ConfigError
from archsim.plots.common import check_opts, load_source, need, new_figure, number_opt, run_from_sweep, save
from archsim.units import format_quantity

KIND = "roofline"
OPTIONS = {"bandwidth": None, "peak_flops": None, "point": None, "title": None, "max_roofs": 4, "labels": True}


def _leaves(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path, float(node)


def _merge(roofs):
    """One roof per value, its labels joined (int8 and fp8 peaks are often equal)."""
    out: dict = {}
    for label, v in roofs:
        out.setdefault(v, []).append(label)
    return [(" = ".join(labels), v) for v, labels in sorted(out.items(), key=lambda t: -t[0])]


def roofs_from_config(config: dict, dtype: str | None = None) -> tuple[list, list]:
    """([(label, bytes/s)], [(label, flop/s)]) found in a resolved config, largest first;
    the compute roof of `dtype` (the run's activation type), where there is one, first."""
    bw, peaks = [], []
    for path, v in _leaves(config or {}):
        low = path.lower()
        if v < 1e6:     # efficiencies, ratios and counts, not rates
            continue
        if "bandwidth" in low:
            bw.append((path, v))
        elif "flops" in low or "peak" in low:
            peaks.append((path, v))
    return _merge(bw), _first_of_type(_merge(peaks), dtype)


def machine_roofs(summary: dict, dtype: str | None = None) -> tuple[list, list]:
    """([(label, bytes/s)], [(label, flop/s)]) of the run's machine, largest first, the
    compute roof of `dtype` first where there is one."""
    from archsim.errors import ArchsimError
    from archsim.plots.common import system_from_summary
    try:
        system = system_from_summary(summary)
    except ArchsimError:
        return roofs_from_config(summary.get("config") or {}, dtype)
    bw, peaks = [], []
    for comp in system.components.values():
        b, p = comp.roofs()
        bw += b
        peaks += p
    return _merge(bw), _first_of_type(_merge(peaks), dtype)


def _first_of_type(peaks: list, dtype: str | None) -> list:
    if dtype:
        peaks.sort(key=lambda t: not any(lab.rsplit(".", 1)[-1] == dtype for lab in t[0].split(" = ")))
    return peaks


def _act_dtype(summary) -> str | None:
    precision = (summary.get("scenario") or {}).get("precision")
    if not precision:
        return None
    try:
        from archsim.workload.precision import parse_precision
        return parse_precision(precision).act_dtype
    except Exception:   # noqa: BLE001 - only picks which roof comes first
        return None


def _given(value, kind, opt):
    from archsim.units import parse_quantity
    items = value if isinstance(value, list) else str(value).split(",") if isinstance(value, str) else [value]
    out = []
    for item in items:
        try:
            v = parse_quantity(item.strip() if isinstance(item, str) else item, kind)
        except ValueError as exc:
            raise ConfigError(str(exc), f"--opt {opt}") from None
        if not (math.isfinite(v) and v > 0):   # a roof is a rate on a log scale
            raise ConfigError(f"must be a positive finite {kind}, got {item!r}", f"--opt {opt}")
        out.append((str(item).strip(), v))
    return out


def plot(source, out, **opts):
    o = check_opts(KIND, opts, OPTIONS)
    src = load_source(source)
    need(src, KIND, "run", "sweep")
    if src.kind == "sweep":
        src = run_from_sweep(src, 0 if o["point"] is None else o["point"])
    elif o["point"] is not None:
        raise ConfigError("picks a row of a sweep; this source is one run", "--opt point")
    summary = src.data
    bw, peaks = machine_roofs(summary, _act_dtype(summary))
    if o["bandwidth"] is not None:
        bw = _given(o["bandwidth"], "bandwidth", "bandwidth")
    if o["peak_flops"] is not None:
        peaks = _given(o["peak_flops"], "flops", "peak_flops")
    n = number_opt(o, "max_roofs", low=1, integer=True)
    bw, peaks = bw[:n], peaks[:n]
    ops = summary.get("ops") or {}
    pts = []
    for name, op in ops.items():
        f, b, s = float(op.get("flops") or 0), float(op.get("bytes") or 0), float(op.get("seconds") or 0)
        if f > 0 and b > 0 and s > 0:
            pts.append((name, f / b, f / s, s))
    if not pts and not (bw and peaks):
        raise ConfigError("nothing to draw: no ops with flops, bytes and time, and no roofs "
                          "(give --opt bandwidth=... --opt peak_flops=...)", src.name)
    fig, ax = new_figure(7.5, 5.0)
    ax = ax[0][0]
    xs = [p[1] for p in pts] + [peaks[0][1] / b[1] for b in bw if peaks]
    lo = min(xs + [0.1]) / 4
    hi = max(xs + [1e3]) * 4
    grid = np.logspace(np.log10(lo), np.log10(hi), 256)
    top = peaks[0][1] if peaks else np.inf   # the run's own compute type caps the roofs
    for i, (lab, b) in enumerate(bw):
        ax.plot(grid, np.minimum(b * grid, top), lw=1.6, color=f"C{i}",
                label=f"{lab}: {format_quantity(b, 'B/s')}")
    for j, (lab, p) in enumerate(peaks):
        ax.axhline(p, ls="--", lw=1, color="0.2" if j == 0 else "0.6")
        ax.text(hi, p, f"{lab}: {format_quantity(p, 'FLOP/s')} ", ha="right", va="bottom", fontsize=7)
    if pts:
        total = sum(p[3] for p in pts)
        sizes = [20 + 400 * p[3] / total for p in pts]
        ax.scatter([p[1] for p in pts], [p[2] for p in pts], s=sizes, color="crimson", alpha=0.6,
                   edgecolor="k", lw=0.5, zorder=3, label="ops (size: share of time)")
        if o["labels"]:   # name the ops that take time; the rest stay anonymous dots
            for name, x, y, sec in sorted(pts, key=lambda p: -p[3])[:8]:
                ax.annotate(name, (x, y), fontsize=6, xytext=(3, -8), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity [FLOP/B]")
    ax.set_ylabel("performance [FLOP/s]")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize="small", loc="lower right")
    ax.set_title(o["title"] or f"{summary.get('arch', '')}: {summary.get('model', '')} ops on the roofline")
    return save(fig, out)

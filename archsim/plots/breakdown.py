"""Per-component busy time and energy: bars for one run, stacked bars over a sweep axis.

A sweep shows it when its metrics include `breakdown.<component>.seconds` / `.energy_j`, or
when it kept whole results (`keep_result: true`).
"""

from __future__ import annotations

import json

import numpy as np

from archsim.errors import ConfigError
from archsim.plots.common import (check_opts, column, load_source, need, new_figure, numeric, run_from_sweep,
                                   save, sweep_frame, varying)

KIND = "breakdown"
OPTIONS = {"x": None, "where": None, "title": None, "quantity": "both", "point": None}
QUANTITIES = {"seconds": "busy time [s]", "energy_j": "energy [J]"}


def _run_bars(src, o):
    bd = src.data.get("breakdown") or {}
    if not bd:
        raise ConfigError("this result has no per-component breakdown", src.name, "breakdown")
    qs = list(QUANTITIES) if o["quantity"] == "both" else [o["quantity"]]
    names = list(bd)
    fig, axes = new_figure(4.0 * len(qs) + 1, 0.35 * len(names) + 1.8, ncols=len(qs))
    for ax, q in zip(axes[0], qs):
        vals = [float(bd[n].get(q, 0.0) or 0.0) for n in names]
        ax.barh(names, vals, color="tab:blue" if q == "seconds" else "tab:orange")
        ax.invert_yaxis()
        ax.set_xlabel(QUANTITIES[q])
        ax.grid(True, axis="x", alpha=0.3)
        # busy time as a share of the run (parts overlap, so the shares need not add to 100%);
        # energy as a share of the total
        total = sum(vals) if q == "energy_j" else float((src.data.get("end_to_end") or {}).get("seconds") or 0.0)
        for i, v in enumerate(vals):
            if total > 0:
                ax.text(v, i, f" {100 * v / total:.0f}%", va="center", fontsize=7)
    s = src.data
    fig.suptitle(o["title"] or f"{s.get('arch', '')}: {s.get('model', '')} ({s.get('fidelity', '')})")
    return fig


def _sweep_table(df):
    """{quantity: {component: values per row}} from breakdown metrics or kept results."""
    out = {q: {} for q in QUANTITIES}
    for col in df.columns:
        parts = col.split(".")
        if len(parts) == 3 and parts[0] == "breakdown" and parts[2] in QUANTITIES and df[col].notna().any():
            out[parts[2]][parts[1]] = df[col].astype(float).to_numpy()   # (all NaN: no such component)
    if not any(out.values()) and "result" in df and (df["result"] != "").all():
        results = [json.loads(r) for r in df["result"]]
        comps = list(dict.fromkeys(c for r in results for c in (r.get("breakdown") or {})))
        for q in QUANTITIES:
            for c in comps:
                out[q][c] = np.array([float(((r.get("breakdown") or {}).get(c) or {}).get(q, 0.0) or 0.0)
                                      for r in results])
    return out


def _sweep_bars(src, o):
    df = sweep_frame(src, o["where"])
    table = _sweep_table(df)
    if not any(table.values()):
        raise ConfigError("no breakdown in this sweep: add breakdown.<component>.seconds metrics or "
                          "`keep_result: true` to the sweep file", src.name, "metrics")
    axes_ = [a for a in df.attrs.get("axes", []) if a in df.columns]
    x = column(df, o["x"], "x", axes_[0] if axes_ else None)
    others = varying(df, {x})
    if others:
        raise ConfigError(f"axes {', '.join(others)} vary too; fix them with --where", "--where")
    order = np.argsort(df[x].to_numpy()) if numeric(df[x]) else np.arange(len(df))
    ticks = [str(v) for v in df[x].to_numpy()[order]]
    qs = [q for q in (list(QUANTITIES) if o["quantity"] == "both" else [o["quantity"]]) if table[q]]
    fig, axes = new_figure(max(6.0, 0.3 * len(ticks) + 3), 3.2 * len(qs) + 0.8, nrows=len(qs))
    for ax, q in zip(axes[:, 0], qs):
        bottom = np.zeros(len(order))
        for comp, vals in table[q].items():
            v = np.nan_to_num(vals[order])
            ax.bar(range(len(order)), v, bottom=bottom, label=comp)
            bottom += v
        ax.set_xticks(range(len(order)), ticks, rotation=45 if len(ticks) > 8 else 0, fontsize=7)
        ax.set_ylabel(QUANTITIES[q])
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize="small")
    axes[-1, 0].set_xlabel(x)
    fig.suptitle(o["title"] or f"{src.name}: per-component breakdown over {x}")
    return fig


def plot(source, out, **opts):
    o = check_opts(KIND, opts, OPTIONS)
    if o["quantity"] not in ("both", *QUANTITIES):
        raise ConfigError(f"expected both, seconds or energy_j, got {o['quantity']!r}", "--opt quantity")
    src = load_source(source)
    need(src, KIND, "run", "sweep")
    if o["point"] is not None:
        if src.kind != "sweep":
            raise ConfigError("picks a row of a sweep; this source is one run", "--opt point")
        src = run_from_sweep(src, o["point"])
    fig = _run_bars(src, o) if src.kind == "run" else _sweep_bars(src, o)
    return save(fig, out)

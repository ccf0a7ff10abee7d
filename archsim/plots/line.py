"""Sweep results as lines: a metric (`y`) over one axis (`x`), one line per value of `hue`.

When other axes vary too and no `hue` is given, each combination of them gets its own line.
"""

from __future__ import annotations

from matplotlib.markers import MarkerStyle
from matplotlib.ticker import NullLocator

from archsim.errors import ConfigError
from archsim.plots.common import (check_opts, column, label, load_source, metrics_of, need, new_figure,
                                   numeric, save, si_values, style_opt, sweep_frame, varying)

KIND = "line"
OPTIONS = {"x": None, "y": None, "hue": None, "where": None, "logx": False, "logy": False, "title": None,
           "marker": "o"}


def plot(source, out, **opts):
    o = check_opts(KIND, opts, OPTIONS)
    style_opt("marker", o["marker"], MarkerStyle)
    src = load_source(source)
    need(src, KIND, "sweep")
    df = sweep_frame(src, o["where"])
    axes = [a for a in df.attrs.get("axes", []) if a in df.columns]
    x = column(df, o["x"], "x", axes[0] if axes else None)
    y = column(df, o["y"], "y", (metrics_of(df) or [None])[0])
    groups = [column(df, o["hue"], "hue")] if o["hue"] else varying(df, {x})
    # quantities ('1.41 GHz') are placed by their value, labelled as written
    xs = si_values(df[x])
    written = xs is not None and not numeric(df[x])     # quantities: tick labels as written
    if xs is None and o["logx"]:
        raise ConfigError(f"--opt logx needs numbers on x; {x!r} holds {str(df[x].iloc[0])[:40]!r}", key="--opt logx")
    # a log axis would drop a value at or below zero (False included) without a word
    for opt, col, vals in (("logx", x, xs), ("logy", y, df[y])):
        if o[opt] and vals is not None and numeric(vals) and (vals.astype(float) <= 0).any():
            raise ConfigError(f"--opt {opt} needs values above zero; {col!r} holds "
                              f"{df[col][vals.astype(float) <= 0].iloc[0]!r}", key=f"--opt {opt}")
    df = df.assign(_x=xs if xs is not None else df[x].astype(str))
    fig, ax = new_figure()
    ax = ax[0][0]
    parts = list(df.groupby(groups, sort=True, dropna=False)) if groups else [((), df)]
    if len(groups) == 1:
        # a hue of quantities ('900 GB/s', '1 TB/s') in order of value, not of text
        hv = si_values(df[groups[0]])
        if hv is not None:
            rank = dict(zip(df[groups[0]], hv))
            parts.sort(key=lambda kv: rank.get(kv[0][0] if isinstance(kv[0], tuple) else kv[0], 0))
    for key, part in parts:
        part = part.sort_values("_x") if xs is not None else part
        key = key if isinstance(key, tuple) else (key,)
        if len(groups) == 1:   # the legend title names the axis
            name = str(key[0])
        else:
            name = ", ".join(f"{g}={v}" for g, v in zip(groups, key)) if groups else None
        ax.plot(part["_x"], part[y], marker=o["marker"], markersize=3, label=name)
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    if o["logx"]:
        ax.set_xscale("log")
    if xs is not None:
        ticks = df[["_x", x]].drop_duplicates("_x").sort_values("_x")
        if 1 < len(ticks) <= 12 and (o["logx"] or written):
            # few values: label them plainly (as written for quantities, not as powers of ten)
            ax.set_xticks(ticks["_x"], [str(v) if written else f"{v:g}" for v in ticks[x]])
            ax.xaxis.set_minor_locator(NullLocator())
    if o["logy"]:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    if groups:
        ax.legend(fontsize="small", title=None if len(groups) > 1 else groups[0])
    ax.set_title(o["title"] or f"{src.name}: {y} vs {x}")
    return save(fig, out)

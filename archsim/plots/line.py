"""Sweep results as lines: a metric (`y`) over one axis (`x`), one line per value of `hue`.

When other axes vary too and no `hue` is given, each combination of them gets its own line.
"""

from __future__ import annotations

from matplotlib.markers import MarkerStyle
from matplotlib.ticker import NullLocator

from archsim.plots.common import (check_opts, column, label, load_source, metrics_of, need, new_figure,
                                   numeric, save, style_opt, sweep_frame, varying)

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
    fig, ax = new_figure()
    ax = ax[0][0]
    parts = df.groupby(groups, sort=True, dropna=False) if groups else [((), df)]
    for key, part in parts:
        part = part.sort_values(x) if numeric(part[x]) else part
        key = key if isinstance(key, tuple) else (key,)
        if len(groups) == 1:   # the legend title names the axis
            name = str(key[0])
        else:
            name = ", ".join(f"{g}={v}" for g, v in zip(groups, key)) if groups else None
        ax.plot(part[x].astype(str) if not numeric(part[x]) else part[x], part[y], marker=o["marker"],
                markersize=3, label=name)
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    if o["logx"]:
        ax.set_xscale("log")
        values = sorted(df[x].unique()) if numeric(df[x]) else []
        if 1 < len(values) <= 12:   # few values: label them plainly, not as powers of ten
            ax.set_xticks(values, [f"{v:g}" for v in values])
            ax.xaxis.set_minor_locator(NullLocator())
    if o["logy"]:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    if groups:
        ax.legend(fontsize="small", title=None if len(groups) > 1 else groups[0])
    ax.set_title(o["title"] or f"{src.name}: {y} vs {x}")
    return save(fig, out)

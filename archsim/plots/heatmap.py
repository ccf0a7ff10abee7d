"""Sweep results as a heat map: a metric (`z`) over two axes (`x`, `y`).

Every other axis must take one value (filter with `where`), so each cell is one point.
"""

from __future__ import annotations

import numpy as np

from archsim.errors import ConfigError
from archsim.plots.common import (check_opts, column, label, load_source, metrics_of, need, new_figure,
                                   numeric, save, style_opt, sweep_frame, varying)

KIND = "heatmap"
OPTIONS = {"x": None, "y": None, "z": None, "where": None, "title": None, "annotate": None, "cmap": "viridis",
           "logz": False}


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def _ordered(values):
    """Numbers ascending; labels in the order the sweep lists them (rows come in sweep order)."""
    vals = list(dict.fromkeys(values))
    if all(isinstance(v, (int, float, np.integer, np.floating)) for v in vals):
        return sorted(vals)
    return vals


def plot(source, out, **opts):
    o = check_opts(KIND, opts, OPTIONS)
    import matplotlib
    style_opt("cmap", o["cmap"], matplotlib.colormaps.get_cmap)
    if o["annotate"] is not None and not isinstance(o["annotate"], bool):
        raise ConfigError(f"expected true or false, got {o['annotate']!r}", "--opt annotate")
    src = load_source(source)
    need(src, KIND, "sweep")
    every = sweep_frame(src, o["where"], ok_only=False)   # cells of skipped or failed points stay, marked
    df = every[every["status"] == "ok"] if "status" in every else every
    if df.empty:
        raise ConfigError("no finished points to plot", src.name)
    axes = [a for a in df.attrs.get("axes", []) if a in df.columns]
    x = column(df, o["x"], "x", axes[0] if axes else None)
    y = column(df, o["y"], "y", axes[1] if len(axes) > 1 else None)
    z = column(df, o["z"], "z", (metrics_of(df) or [None])[0])
    if x == y:
        raise ConfigError("x and y must be different axes", "--y")
    others = varying(every, {x, y})
    if others:
        raise ConfigError(f"axes {', '.join(others)} vary too; fix them with --where "
                          f"(e.g. --where \"{others[0]} == {_plain(df[others[0]].iloc[0])!r}\")", "--where")
    if every.duplicated([x, y]).any():
        raise ConfigError(f"several points share an ({x}, {y}) cell", "--where")
    xs, ys = _ordered(every[x]), _ordered(every[y])
    grid = np.full((len(ys), len(xs)), np.nan)
    xi = {v: i for i, v in enumerate(xs)}
    yi = {v: i for i, v in enumerate(ys)}
    for xv, yv, zv in zip(df[x], df[y], df[z]):
        grid[yi[yv], xi[xv]] = float(zv)
    fig, ax = new_figure(max(5.0, 0.5 * len(xs) + 3), max(4.0, 0.35 * len(ys) + 2))
    ax = ax[0][0]
    norm = None
    if o["logz"]:
        from matplotlib.colors import LogNorm
        norm = LogNorm()
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap=o["cmap"], norm=norm)
    ax.set_xticks(range(len(xs)), [f"{v:g}" if numeric(df[x]) else str(v) for v in xs], rotation=45 if len(xs) > 8 else 0)
    ax.set_yticks(range(len(ys)), [f"{v:g}" if numeric(df[y]) else str(v) for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    fig.colorbar(im, ax=ax, label=label(z))
    annotate = o["annotate"] if o["annotate"] is not None else len(xs) * len(ys) <= 144
    if annotate:
        for (r, c), v in np.ndenumerate(grid):
            if np.isfinite(v):
                ax.text(c, r, f"{v:.3g}", ha="center", va="center", fontsize=7, color="w")
    if "status" in every:
        for xv, yv, st in zip(every[x], every[y], every["status"]):
            if st != "ok":
                ax.text(xi[xv], yi[yv], st, ha="center", va="center", fontsize=7, color="0.4")
    ax.set_title(o["title"] or f"{src.name}: {z}")
    return save(fig, out)

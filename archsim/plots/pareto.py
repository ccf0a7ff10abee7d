"""Two metrics of a sweep against each other, with their Pareto front.

The front joins the points no other point beats on both metrics (default: decode tokens/s,
higher is better, against J/token, lower is better; `x_goal`/`y_goal` turn either around).
"""

from __future__ import annotations

from archsim.errors import ConfigError
from archsim.plots.common import (check_opts, column, label, load_source, need, new_figure, save, si_values,
                                   sweep_frame)
from archsim.sweep.analysis import pareto_front

KIND = "pareto"
OPTIONS = {"x": "decode.tokens_per_s", "y": "decode.energy_j_per_token", "x_goal": "max", "y_goal": "min",
           "hue": None, "where": None, "logx": False, "logy": False, "title": None, "annotate": True}


def plot(source, out, **opts):
    o = check_opts(KIND, opts, OPTIONS)
    for k in ("x_goal", "y_goal"):
        if o[k] not in ("max", "min"):
            raise ConfigError(f"expected max or min, got {o[k]!r}", f"--opt {k}")
    src = load_source(source)
    need(src, KIND, "sweep")
    df = sweep_frame(src, o["where"])
    x, y = column(df, o["x"], "x"), column(df, o["y"], "y")
    for c in dict.fromkeys((x, y)):
        # quantities ('2 TB/s') by their SI value; words have no front
        values = si_values(df[c])
        if values is None:
            raise ConfigError(f"a Pareto front needs numbers; {c!r} holds {str(df[c].iloc[0])[:40]!r}", key="--opt")
        df = df.assign(**{c: values})
    front = pareto_front(df, x, y, o["x_goal"] == "max", o["y_goal"] == "max")
    fig, ax = new_figure()
    ax = ax[0][0]
    if o["hue"]:
        hue = column(df, o["hue"], "hue")
        for key, part in df.groupby(hue, sort=True):
            ax.scatter(part[x], part[y], s=12, alpha=0.6, label=f"{hue}={key}")
    else:
        ax.scatter(df[x], df[y], s=12, alpha=0.5, color="0.55", label="points")
    ax.plot(front[x], front[y], color="crimson", marker="o", markersize=4, lw=1.5, label="Pareto front")
    if o["annotate"] and len(front) <= 12:
        axes = [a for a in df.attrs.get("axes", []) if a in front.columns]
        for _, row in front.iterrows():
            text = ", ".join(f"{row[a]}" for a in axes)
            ax.annotate(text, (row[x], row[y]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(f"{label(x)} ({'higher' if o['x_goal'] == 'max' else 'lower'} is better)")
    ax.set_ylabel(f"{label(y)} ({'higher' if o['y_goal'] == 'max' else 'lower'} is better)")
    if o["logx"]:
        ax.set_xscale("log")
    if o["logy"]:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(o["title"] or f"{src.name}: {len(front)} of {len(df)} points on the front")
    return save(fig, out)

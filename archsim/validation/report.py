"""Presenting validation outcomes: a terminal table, a Markdown report and a log-log plot."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from archsim.results.atomic import atomic_path, atomic_write_text
from archsim.results.text_table import text_table
from archsim.validation.runner import FAIL, PASS, STATUSES, Outcome, counts

HEADER = ["id", "metric", "predicted", "published", "rel. error", "tolerance", "result"]


def _num(x) -> str:
    if isinstance(x, tuple):
        return " .. ".join(_num(v) for v in x)
    return "-" if x is None else f"{x:,.6g}"


def _err(x) -> str:
    if isinstance(x, tuple):
        return " / ".join(_err(v) for v in x)
    return "-" if x is None else f"{100 * x:+.1f}%"


def _result(o: Outcome) -> str:
    return f"{o.status}: {o.reason}" if o.status not in (PASS, FAIL) and o.reason else o.status


def rows(outcomes: list[Outcome]) -> list[list[str]]:
    return [[o.case.id, o.case.metric, _num(o.predicted), _num(o.case.value), _err(o.rel_error),
             f"{100 * o.case.tolerance:g}%", _result(o)] for o in outcomes]


def _tally(outcomes: list[Outcome]) -> str:
    n = counts(outcomes)
    return f"{len(outcomes)} cases: " + ", ".join(f"{s} {n[s]}" for s in STATUSES)


def format_table(outcomes: list[Outcome]) -> str:
    return text_table(rows(outcomes), HEADER, "llrrrrl") + "\n\n" + _tally(outcomes) + "\n"


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(outcomes: list[Outcome], command: str, fidelity: str, plot_name: str | None = None) -> str:
    from archsim import __version__
    from archsim.revision import git_revision

    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# archsim validation report", "",
             f"- command: `{command}`",
             f"- archsim {__version__} (git {git_revision() or 'unknown'}), fidelity `{fidelity}`, {when}",
             f"- {_tally(outcomes)}", "",
             "Relative error = (predicted - published) / published. A case passes when |error| <= tolerance "
             "(at both ends for a range). Tolerances were fixed in the case files before any run.", ""]
    head = HEADER + ["source"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * 2 + ["--:"] * 4 + ["---"] * 2) + "|")
    for o, r in zip(outcomes, rows(outcomes)):
        lines.append("| " + " | ".join(_md_cell(c) for c in r + [o.case.source]) + " |")
    details = [o for o in outcomes if o.detail]
    if details:
        lines += ["", "## Ratios per model", ""]
        for o in details:
            per = ", ".join(f"{m} {r:.4g}" for m, r in o.detail.items())
            lines.append(f"- `{o.case.id}` ({o.case.arch} / {o.case.baseline_arch}): {per}")
    if plot_name:
        lines += ["", f"![predicted vs published]({plot_name})"]
    return "\n".join(lines) + "\n"


def _points(outcomes: list[Outcome]):
    """(published, predicted, tolerance, passed, label) for every positive prediction."""
    for o in outcomes:
        if o.predicted is None:
            continue
        pairs = zip(o.case.value, o.predicted) if isinstance(o.predicted, tuple) else [(o.case.value, o.predicted)]
        for pub, pred in pairs:
            if pub > 0 and pred > 0:
                yield pub, pred, o.case.tolerance, o.status == PASS, o.case.id


def plot(outcomes: list[Outcome], path) -> Path:
    """Predicted against published on log axes, with each case's tolerance; written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 7))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    pts = list(_points(outcomes))
    if pts:
        lo = min(min(p[0], p[1]) for p in pts) / 5   # room for the labels
        hi = max(max(p[0], p[1]) for p in pts) * 5
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=1, zorder=1, label="predicted = published")
        for pub, pred, tol, ok, label in pts:
            ax.plot([pub, pub], [pub * (1 - tol), pub * (1 + tol)], color="0.75", lw=4, zorder=2)
            ax.scatter([pub], [pred], color="tab:green" if ok else "tab:red", s=22, zorder=3)
            ax.annotate(label, (pub, pred), fontsize=6, xytext=(4, 2), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.plot([], [], color="0.75", lw=4, label="published ± tolerance")
        ax.scatter([], [], color="tab:green", s=22, label="PASS")
        ax.scatter([], [], color="tab:red", s=22, label="FAIL")
        ax.legend(loc="upper left", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no predictions to plot", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("published (each case in its own unit)")
    ax.set_ylabel("predicted")
    ax.set_title("archsim validation: predicted vs published")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    return Path(path)


def write_report(outcomes: list[Outcome], path, command: str, fidelity: str) -> tuple[Path, Path]:
    """The Markdown report at `path` and its plot beside it (same name, .png); both atomic."""
    path = Path(path)
    png = path.with_suffix(".png")
    plot(outcomes, png)
    atomic_write_text(path, markdown(outcomes, command, fidelity, png.name))
    return path, png

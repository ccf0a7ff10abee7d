"""Readable terminal tables: a run summary, and a plain aligned table for any rows."""

from __future__ import annotations

import math

from archsim.units import format_quantity

TOP_OPS = 10


def text_table(rows: list[list], header: list[str] | None = None, align: str = "") -> str:
    """Aligned columns. `align` has one letter per column, 'l' or 'r'; by default the first
    column is flush left (names) and the others flush right (numbers)."""
    cells = ([list(map(str, header))] if header else []) + [[str(c) for c in r] for r in rows]
    if not cells:
        return ""
    ncol = max(len(r) for r in cells)
    cells = [r + [""] * (ncol - len(r)) for r in cells]
    widths = [max(len(r[i]) for r in cells) for i in range(ncol)]
    align = (align or "l").ljust(ncol, "r")
    lines = []
    for j, r in enumerate(cells):
        line = "  ".join(c.ljust(w) if align[i] == "l" else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        lines.append(line.rstrip())
        if header and j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def metric_table(values: dict) -> str:
    """A two-column table of a result dict, floats to six significant digits."""
    return text_table([[k, f"{v:.6g}" if isinstance(v, float) else v] for k, v in values.items()],
                      ["metric", "value"])


def _num(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _q(x, unit: str, binary: bool = False) -> str:
    x = _num(x)
    return "-" if x is None else format_quantity(x, unit, binary)


def _rate(x) -> str:
    x = _num(x)
    if x is None:
        return "-"
    return f"{x:,.1f}" if x >= 100 else f"{x:.4g}"


def _pct(part, whole) -> str:
    part, whole = _num(part), _num(whole)
    return f"{100 * part / whole:.1f}%" if part is not None and whole else "-"


def _heading(summary: dict) -> list[str]:
    s = summary.get("scenario") or {}
    lines = [f"{summary.get('model', '?')} on {summary.get('arch', '?')}  (fidelity: {summary.get('fidelity', '?')})"]
    if s:
        lines.append(f"scenario: batch {s.get('batch', '?')}, input {s.get('input_len', '?')} tokens, "
                     f"output {s.get('output_len', '?')} tokens, precision {s.get('precision', '?')}")
    return lines


def _phases(summary: dict) -> str:
    pre = summary.get("prefill") or {}
    dec = summary.get("decode") or {}
    e2e = summary.get("end_to_end") or {}
    scen = summary.get("scenario") or {}
    in_tokens = (scen.get("input_len") or 0) * (scen.get("batch") or 1)
    pre_jpt = pre.get("energy_j") / in_tokens if in_tokens and _num(pre.get("energy_j")) is not None else None
    rows = [["prefill", _q(pre.get("seconds"), "s"), _rate(pre.get("tokens_per_s")),
             _q(pre.get("energy_j"), "J"), _q(pre_jpt, "J")],
            ["decode", _q(dec.get("seconds"), "s"), _rate(dec.get("tokens_per_s")),
             _q(dec.get("energy_j"), "J"), _q(dec.get("energy_j_per_token"), "J")]]
    total_e = sum(v for v in (_num(pre.get("energy_j")), _num(dec.get("energy_j"))) if v is not None)
    rows.append(["end to end", _q(e2e.get("seconds"), "s"), _rate(e2e.get("tokens_per_s")), _q(total_e, "J"), ""])
    out = text_table(rows, ["phase", "time", "tokens/s", "energy", "energy/token"])
    return out + f"\nTTFT {_q(summary.get('ttft_s'), 's')}   TPOT {_q(summary.get('tpot_s'), 's')}"


def _capacity(cap: dict) -> str:
    tokens = cap.get("max_decode_tokens")
    tokens = f"{int(tokens):,}" if _num(tokens) is not None else "-"
    return (f"capacity: weights {_q(cap.get('weights_bytes'), 'B', True)}, "
            f"KV cache {_q(cap.get('kv_bytes_per_token'), 'B', True)} per token, "
            f"max decode tokens {tokens}")


def _breakdown(breakdown: dict, run_s) -> str:
    """Components' busy time, also as a share of the run (parts that overlap add past 100%)."""
    rows = [[name, _q(v.get("seconds"), "s"), _pct(v.get("seconds"), run_s), _q(v.get("energy_j"), "J"),
             _q(v.get("bytes"), "B"), v.get("jobs", "")] for name, v in breakdown.items()]
    return text_table(rows, ["component", "busy time", "busy", "energy", "bytes", "jobs"])


def _flash(flash: dict) -> str:
    rows = []
    for name, f in flash.items():
        for phase in ("prefill", "decode"):
            p = f.get(phase) or {}
            rows.append([name, phase, _pct(p.get("channel_utilisation"), 1.0),
                         _q(p.get("channel_bytes_per_token"), "B"), _q(p.get("bytes_per_token"), "B")])
    return "flash channels\n" + text_table(
        rows, ["component", "phase", "channel use", "channel bytes/token", "array bytes/token"])


def _top_ops(ops: dict, n: int) -> str:
    total = sum(_num(v.get("seconds")) or 0.0 for v in ops.values())
    ranked = sorted(ops.items(), key=lambda kv: -(_num(kv[1].get("seconds")) or 0.0))[:n]
    rows = [[name, _q(v.get("seconds"), "s"), _pct(v.get("seconds"), total), _q(v.get("energy_j"), "J"),
             _q(v.get("flops"), "FLOP"), _q(v.get("bytes"), "B")] for name, v in ranked]
    title = f"top ops by time ({len(ranked)} of {len(ops)})"
    return title + "\n" + text_table(rows, ["op", "time", "time share", "energy", "work", "bytes"])


def format_summary(summary: dict, top_ops: int = TOP_OPS) -> str:
    """The run summary (the `--format json` object) as a readable terminal report."""
    parts = ["\n".join(_heading(summary)), _phases(summary)]
    if summary.get("capacity"):
        parts.append(_capacity(summary["capacity"]))
    if summary.get("breakdown"):
        parts.append(_breakdown(summary["breakdown"], (summary.get("end_to_end") or {}).get("seconds")))
    if (summary.get("stats") or {}).get("flash"):
        parts.append(_flash(summary["stats"]["flash"]))
    if summary.get("ops") and top_ops > 0:
        parts.append(_top_ops(summary["ops"], top_ops))
    return "\n\n".join(parts)

"""Link utilisation of a wafer's fabric over one layer, as a heat map per direction.

`archsim plot RESULTS --kind noc-heatmap --out fig.png [--opt phase=decode --opt layer=0]`
reads a run result of a wafer machine (its resolved config, model and scenario), runs the ops
of one layer through the mapping and the fabric again with link recording on, and draws the
wavelets each router sent east+west and south+north, divided by the layer's cycles (a link
carries at most one wavelet a cycle, so a pair of opposite links at most two). Lines that carry the same pattern were simulated once;
the map spreads each simulated line over the lines that reuse it.
"""

from __future__ import annotations

import numpy as np

from archsim.errors import ConfigError
from archsim.plots.common import check_opts, load_source, need, out_path, save, style_opt, system_from_summary

KIND = "noc-heatmap"
OPTIONS = {"phase": "decode", "layer": 0, "title": None, "cmap": "magma"}


def _place_lines(total: np.ndarray, axis: str, line: np.ndarray, lines: int) -> None:
    """Add `lines` copies of one line's link loads (`line`: [n, 4] along `axis`) to the grid's
    map: side by side across the other axis first, then in further blocks of n along this
    one, from the grid's origin (where the mappings put their first lines), never more
    copies than the collective ran."""
    rows, cols = total.shape[:2]
    n = line.shape[0]
    across, blocks = (rows, cols // n) if axis == "x" else (cols, rows // n)
    for b in range(blocks):
        k = min(lines - b * across, across)
        if k <= 0:
            break
        if axis == "x":
            total[:k, b * n:(b + 1) * n, :] += line[None, :, :]
        else:
            total[b * n:(b + 1) * n, :k, :] += line[:, None, :]


def layer_link_loads(system, trace, phase: str = "decode", layer: int = 0) -> dict:
    """{'grid': (rows, cols), 'links': int64[rows, cols, 4], 'cycles': int} for one layer."""
    mapping = system.mapping
    dev = mapping.params.get("device")
    wafer = system.components.get(dev) if dev is not None else None
    if getattr(wafer, "type_name", "") != "wafer":
        raise ConfigError("noc-heatmap plots need a wafer machine (a `type: wafer` component)", "source", dev)
    mapping.build(trace)      # plans regions and learns the model's shape
    from archsim.workload.trace import COLUMNS
    rows_sel = np.nonzero((trace["phase"] == phase) & (trace["layer"] == layer))[0]
    if phase == "decode" and len(rows_sel):
        first_step = trace["step"][rows_sel].min()
        rows_sel = rows_sel[trace["step"][rows_sel] == first_step]
    if not len(rows_sel):
        raise ConfigError(f"the run has no {phase} ops of layer {layer}", "source", "phase")
    grid = wafer.grid(phase)
    total = np.zeros((grid[0], grid[1], 4), dtype=np.float64)
    cycles = 0
    wafer.link_log = []
    try:
        for i in rows_sel:
            op = {c: (trace[c][i].item() if hasattr(trace[c][i], "item") else trace[c][i]) for c in COLUMNS}
            for st in mapping.stages(op):
                prog = st.job.get("program")
                cost = wafer.run_program(prog, system.fidelity, st.job.label)
                cycles += cost.cycles
        for entry in wafer.link_log:
            g = entry["grid"]
            if tuple(g) != tuple(grid):
                continue
            rep = entry["repeat"]
            for axis, line, lines in entry["line_loads"]:
                _place_lines(total, axis, np.asarray(line, dtype=np.float64) * rep, lines)
    finally:
        wafer.link_log = None
    return {"grid": tuple(grid), "links": total, "cycles": int(cycles)}


def plot(results_or_path, out, **opts):
    o = check_opts(KIND, opts, OPTIONS)
    if str(o["phase"]) not in ("prefill", "decode"):
        raise ConfigError(f"phase must be prefill or decode, got {o['phase']!r}", key="--opt phase")
    import matplotlib
    style_opt("cmap", o["cmap"], matplotlib.colormaps.get_cmap)
    src = load_source(results_or_path)
    need(src, KIND, "run")
    summary = src.data
    out = out_path(out)
    from archsim.workload.model_spec import load_model
    from archsim.workload.trace_builder import build_trace

    system = system_from_summary(summary)
    scen = summary.get("scenario", {})
    prov = summary.get("provenance") or {}
    if "model_source" not in prov:
        raise ConfigError("the run result does not say which model (and overrides) it ran, as a trace run or "
                          "an older archsim's result; rerun `archsim run` on a model", "source", "provenance")
    model = load_model(prov["model_source"], prov.get("model_sets") or [])
    phase = str(o["phase"])
    trace = build_trace(model, batch=int(scen.get("batch", 1)), input_len=max(int(scen.get("input_len", 1)), 1),
                        output_len=1 if phase == "decode" else 0,
                        precision=scen.get("precision") or model.default_precision, seed=int(prov.get("seed") or 0))
    loads = layer_link_loads(system, trace, phase, int(o["layer"]))
    links, cycles = loads["links"], max(loads["cycles"], 1)
    horiz = (links[..., 0] + links[..., 1]) / cycles
    vert = (links[..., 2] + links[..., 3]) / cycles

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), constrained_layout=True)
    vmax = max(float(horiz.max()), float(vert.max()), 1e-12)
    for ax, data, name in ((axes[0], horiz, "east + west"), (axes[1], vert, "south + north")):
        im = ax.imshow(data, cmap=o["cmap"], vmin=0, vmax=vmax, interpolation="nearest", aspect="auto")
        ax.set_title(f"{name} links")
        ax.set_xlabel("core column")
        ax.set_ylabel("core row")
    fig.colorbar(im, ax=axes, label="wavelets per cycle, both directions (each link at most 1)")
    g = loads["grid"]
    fig.suptitle(o["title"] or f"{summary.get('arch', '')} {summary.get('model', '')}: {phase} layer {o['layer']} "
                 f"on {g[0]}x{g[1]} cores ({cycles} cycles)")
    save(fig, out)
    plt.close(fig)
    return out

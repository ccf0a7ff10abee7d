"""`archsim list arch|models|components|mappings`."""

from __future__ import annotations

from archsim.cli.common import add_format_option, emit_json
from archsim.results.text_table import text_table


def register(sub) -> None:
    p = sub.add_parser("list", help="list bundled machines, models, component types or mappings")
    p.add_argument("what", choices=("arch", "models", "components", "mappings"))
    add_format_option(p)
    p.set_defaults(func=main)


def _arch_rows():
    from archsim.config.loader import load_yaml
    from archsim.paths import ARCH_DIR
    rows = []
    for f in sorted(ARCH_DIR.glob("*.yaml")):
        data = load_yaml(f)
        rows.append({"name": f.stem, "base": data.get("base", ""),
                     "description": str(data.get("description", "")).strip().splitlines()[0:1]})
        rows[-1]["description"] = rows[-1]["description"][0] if rows[-1]["description"] else ""
    return rows


def _model_rows():
    from archsim.workload.model_spec import list_models, load_model
    rows = []
    for name in list_models():
        m = load_model(name)
        rows.append({"name": name, "params": m.params, "layers": m.layers, "hidden": m.hidden,
                     "heads": m.heads, "kv_heads": m.kv_heads, "moe": bool(m.moe), "source": m.source})
    return rows


def main(args) -> int:
    from archsim.config.schema import describe

    if args.what == "arch":
        rows = _arch_rows()
        if args.format == "json":
            emit_json(rows)
        else:
            print(text_table([[r["name"], r["base"] or "", r["description"]] for r in rows],
                        ["arch", "base", "description"], "lll"))
    elif args.what == "models":
        rows = _model_rows()
        if args.format == "json":
            emit_json(rows)
        else:
            print(text_table([[r["name"], f"{r['params'] / 1e9:.2f}B", r["layers"], r["hidden"], r["heads"],
                          r["kv_heads"], "yes" if r["moe"] else ""] for r in rows],
                        ["model", "params", "layers", "hidden", "heads", "kv_heads", "MoE"]))
    elif args.what == "components":
        from archsim.components.base import component_types
        types = component_types()
        if args.format == "json":
            emit_json({t: {"doc": (c.__doc__ or "").strip().splitlines()[0] if c.__doc__ else "",
                           "schema": describe(c.schema)} for t, c in types.items()})
        else:
            for t, c in types.items():
                doc = (c.__doc__ or "").strip().splitlines()
                print(f"{t}: {doc[0] if doc else ''}")
                for line in describe(c.schema, 1):
                    print(line)
    else:
        from archsim.system.mapping import COMMON_SCHEMA, mapping_strategies
        for s, c in mapping_strategies().items():
            doc = (c.__doc__ or "").strip().splitlines()
            if args.format == "json":
                continue
            print(f"{s}: {doc[0] if doc else ''}")
            for line in describe({**COMMON_SCHEMA, **c.schema}, 1):
                print(line)
        if args.format == "json":
            emit_json({s: describe({**COMMON_SCHEMA, **c.schema}) for s, c in mapping_strategies().items()})
    return 0

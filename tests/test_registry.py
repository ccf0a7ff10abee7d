"""Every component and mapping module imports cleanly and registers what it defines."""

from archsim.components import base
from archsim.components.base import component_types
from archsim.system import mapping
from archsim.system.mapping import mapping_strategies


def test_all_component_modules_import():
    types = component_types()
    assert not base.IMPORT_FAILURES, base.IMPORT_FAILURES
    assert {"gpu", "cpu"} <= set(types)


def test_all_mapping_modules_import():
    strategies = mapping_strategies()
    assert not mapping.IMPORT_FAILURES, mapping.IMPORT_FAILURES
    assert {"single_device", "tensor_parallel"} <= set(strategies)


def test_the_layers_import_downwards():
    """Components import no system or mapping; nothing that makes a result imports the
    command line or the plots (the sweep's code identity leaves those two out)."""
    import ast
    from pathlib import Path

    import archsim
    from archsim.revision import OUTSIDE_RESULTS
    root = Path(archsim.__file__).parent
    bad = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                parts = name.split(".")
                if parts[0] != "archsim" or len(parts) < 2:
                    continue
                if rel.parts[0] == "components" and parts[1] in ("system", "mappings"):
                    bad.append(f"{rel} imports {name}")
                if rel.parts[0] not in OUTSIDE_RESULTS and parts[1] in OUTSIDE_RESULTS:
                    bad.append(f"{rel} imports {name}")
    assert not bad, bad

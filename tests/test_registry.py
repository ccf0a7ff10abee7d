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


def test_the_code_identity_ignores_the_command_line_and_the_plots(tmp_path):
    from archsim.revision import source_hash
    for rel in ("cli/main.py", "plots/line.py", "system/simulate.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    before = source_hash(tmp_path)
    for rel in ("cli/main.py", "plots/line.py"):
        (tmp_path / rel).write_text("x = 2  # an edit that makes no result\n")
    assert source_hash(tmp_path) == before
    (tmp_path / "system/simulate.py").write_text("x = 2\n")
    assert source_hash(tmp_path) != before

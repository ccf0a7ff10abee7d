"""Build step for the kernel: the same source with every array index made unsigned.

Numba treats a signed array index as possibly negative and adds a wrap-around fix-up to each
access (a sign test and a load of the array's length). The NoC kernel never indexes from the
end, and those fix-ups cost about a fifth of its run time, so `load` rewrites every
subscript in `engine.simulate` from ``a[i]`` to ``a[_U(i)]`` (an unsigned cast) and imports
the result from a generated module in this package's ``__pycache__`` (a file, so that
Numba's on-disk cache works). engine.py stays the source of truth; if anything fails, the
plain kernel is used. Set ARCHSIM_NOC_PLAIN=1 to force the plain kernel.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import sys
from pathlib import Path

_HELPER = '''
@njit(cache=True, inline="always")
def _U(i):
    return np.uint64(i)
'''


class _Unsign(ast.NodeTransformer):
    def visit_Subscript(self, node):
        self.generic_visit(node)
        if isinstance(node.slice, (ast.Slice, ast.Tuple)):
            return node
        node.slice = ast.Call(func=ast.Name(id="_U", ctx=ast.Load()), args=[node.slice],
                              keywords=[])
        return node


def transform(source: str, func: str = "simulate") -> str:
    tree = ast.parse(source)
    at = None
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.FunctionDef) and node.name == func:
            _Unsign().visit(node)
            at = i
    if at is None:
        raise ValueError(f"no function {func!r}")
    tree.body.insert(at, ast.parse(_HELPER).body[0])
    return ast.unparse(ast.fix_missing_locations(tree))


def load(module):
    """The unsigned-index build of `module.simulate`, or `module.simulate` itself."""
    if os.environ.get("ARCHSIM_NOC_PLAIN"):
        return module.simulate
    try:
        import numba
        src = Path(module.__file__).read_text()
        tag = hashlib.sha1((src + numba.__version__ + sys.version).encode()).hexdigest()[:16]
        out_dir = Path(module.__file__).parent / "__pycache__"
        out = out_dir / f"_noc_kernel_{tag}.py"
        if not out.exists():
            out_dir.mkdir(exist_ok=True)
            tmp = out.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text("# generated from engine.py by _unsigned.py; do not edit\n"
                           + transform(src))
            os.replace(tmp, out)
        name = f"archsim.components.noc._noc_kernel_{tag}"
        spec = importlib.util.spec_from_file_location(name, out)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod.simulate
    except Exception:  # a read-only install or an odd Python: the plain kernel still works
        return module.simulate

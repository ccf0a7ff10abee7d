"""Build step for Numba kernels: the same source with every array index made unsigned.

Numba treats a signed array index as possibly negative and adds a wrap-around fix-up to each
access (a sign test and a load of the array's length, per dimension). The hot kernels (the
NoC engine, the DRAM controller) never index from the end, and those fix-ups cost them 10-20%
of their run time, so `load` rewrites every subscript of the named functions from ``a[i, j]``
to ``a[_U(i), _U(j)]`` (an unsigned cast; slices are left alone) and imports the result from
a generated module in the kernel package's ``__pycache__`` (a file, so that Numba's on-disk
cache works). The kernel module stays the source of truth; if anything fails, the plain
kernel is used. Set ARCHSIM_PLAIN_KERNELS=1 to force the plain kernels.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import os
import sys
from pathlib import Path

from numba.core import types
from numba.extending import intrinsic

_IMPORTS = "from archsim.components.unsigned_index import _U\n"


@intrinsic
def _U(typingctx, i):
    """i as uint64, emitted as a plain integer cast (an intrinsic compiles faster than an
    inlined function at each of the kernel's hundreds of subscripts)."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return context.cast(builder, args[0], signature.args[0], types.uint64)

    return types.uint64(i), codegen


def _unsigned(e):
    return e if isinstance(e, ast.Slice) else ast.Call(
        func=ast.Name(id="_U", ctx=ast.Load()), args=[e], keywords=[])


class _Unsign(ast.NodeTransformer):
    def visit_Subscript(self, node):
        self.generic_visit(node)
        if isinstance(node.slice, ast.Tuple):
            node.slice.elts = [_unsigned(e) for e in node.slice.elts]
        else:
            node.slice = _unsigned(node.slice)
        return node


def _is_njit(fn: ast.FunctionDef) -> bool:
    for d in fn.decorator_list:
        f = d.func if isinstance(d, ast.Call) else d
        if (isinstance(f, ast.Name) and f.id == "njit") or (isinstance(f, ast.Attribute) and f.attr == "njit"):
            return True
    return False


def transform(source: str, funcs=("simulate",)) -> str:
    """`source` with the subscripts of the functions named in `funcs` (None: every njit
    function) made unsigned, and `_U` imported before the first of them."""
    tree = ast.parse(source)
    at = None
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.FunctionDef) and (node.name in funcs if funcs is not None else _is_njit(node)):
            _Unsign().visit(node)
            at = i if at is None else at
    if at is None:
        raise ValueError(f"no function among {funcs!r}")
    tree.body[at:at] = ast.parse(_IMPORTS).body
    return ast.unparse(ast.fix_missing_locations(tree))


def load(module, funcs=("simulate",), name: str = "simulate"):
    """`module.<name>` from the unsigned-index build of `module`, or the plain one (built
    once per process; callers need not keep it)."""
    if os.environ.get("ARCHSIM_PLAIN_KERNELS"):
        return getattr(module, name)
    return _build(module, funcs, name)


def dependency_sources(path: Path) -> bytes:
    """The source of `path` and of every archsim module it imports, transitively, and of this
    transform: all a compiled kernel bakes in (Numba freezes imported constants, such as the
    DRAM command codes, into the machine code, and its cache looks at one file's stamp)."""
    root = Path(__file__).resolve().parents[2]
    seen, todo, out = set(), [Path(path).resolve(), Path(__file__).resolve()], []
    while todo:
        f = todo.pop()
        if f in seen or not f.exists():
            continue
        seen.add(f)
        text = f.read_bytes()
        out.append(f.name.encode() + b"\0" + text)
        for node in ast.walk(ast.parse(text)):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for mod in names:
                if mod.startswith("archsim."):
                    base = root.joinpath(*mod.split("."))
                    todo += [base.with_suffix(".py"), base / "__init__.py"]
    return b"\0".join(sorted(out))


def build_tag(path: Path, text: str) -> str:
    """The name of a kernel's unsigned build: what it holds and what it imports (a new kernel
    source, a changed module it takes constants from or a new transform makes a new file, and
    so a new Numba cache)."""
    import numba
    return hashlib.sha1(text.encode() + dependency_sources(path)
                        + (numba.__version__ + sys.version).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def _build(module, funcs, name):
    try:
        path = Path(module.__file__)
        text = (f"# generated from {path.name} by archsim/components/unsigned_index.py; do not edit\n"
                + transform(path.read_text(), funcs))
        tag = build_tag(path, text)
        out = path.parent / "__pycache__" / f"_{path.stem}_unsigned_{tag}.py"
        if not out.exists():
            out.parent.mkdir(exist_ok=True)
            tmp = out.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(text)
            os.replace(tmp, out)
        modname = f"{module.__name__.rpartition('.')[0]}.{out.stem}"
        spec = importlib.util.spec_from_file_location(modname, out)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        spec.loader.exec_module(mod)
        return getattr(mod, name)
    except Exception:  # a read-only install or an odd Python: the plain kernel still works
        return getattr(module, name)

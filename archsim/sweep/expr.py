"""Constraint expressions of sweep files, e.g. `scenario.batch * scenario.input_len <= 65536`.

A small, safe subset of Python expressions: numbers, strings, arithmetic, comparisons,
and/or/not, `in` over a literal list, and a few functions. Names are axis names or dotted
paths (`gpu.memory_bandwidth`), read from the point. Strings holding a quantity ('2 TB/s',
'80 GB') compare as their value in base SI units, so `gpu.memory_bandwidth >= 3e12` works.
Nothing else is evaluated: no attribute access on objects, no calls but the listed ones.
"""

from __future__ import annotations

import ast
import math
import operator

from archsim.errors import ConfigError
from archsim.units import KINDS, parse_quantity

FUNCTIONS = {"min": min, "max": max, "abs": abs, "int": int, "float": float, "round": round,
             "log2": math.log2, "log10": math.log10, "sqrt": math.sqrt, "ceil": math.ceil, "floor": math.floor}
def _pow(a, b):
    if isinstance(b, (int, float)) and abs(b) > 1024:   # keep 10 ** 10 ** 10 from hanging a sweep
        raise ValueError(f"exponent {b} is too large")
    if (isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1
            and b * math.log2(abs(a)) > 4096):
        # integers are exact: (9 ** 999) ** 999 would take hours to compute
        raise ValueError(f"an integer power of more than 4096 bits (a {abs(a).bit_length()}-bit "
                         f"base to the power {b})")
    return a ** b


_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: _pow}
_CMP = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
        ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
        ast.NotIn: lambda a, b: a not in b}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}


def as_number(value):
    """A quantity string as a number in base SI units; anything else unchanged."""
    if isinstance(value, str):
        for kind in KINDS:
            if kind == "number":
                continue
            try:
                return parse_quantity(value, kind)
            except ValueError:
                pass
    return value


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


class Expression:
    """One constraint, checked when the sweep file loads and evaluated per point."""

    def __init__(self, text, names, file=None, key=None):
        self.file, self.key = file, key
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"expected an expression, got {text!r}", file, key)
        self.text = text
        try:
            self.tree = ast.parse(text.strip(), mode="eval").body
        except SyntaxError as exc:
            raise ConfigError(f"cannot read expression {text!r}: {exc.msg}", file, key) from None
        self.names = set()
        self._check(self.tree, set(names))

    def _check(self, node, known):
        name = _dotted(node)
        if name is not None:
            if name not in known:
                raise ConfigError(f"{name!r} is not an axis or path of this sweep (known: "
                                  f"{', '.join(sorted(known))})", self.file, self.key)
            self.names.add(name)
            return
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
            return
        if isinstance(node, (ast.List, ast.Tuple)):
            for e in node.elts:
                self._check(e, known)
            return
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            self._check(node.left, known)
            self._check(node.right, known)
            return
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            self._check(node.operand, known)
            return
        if isinstance(node, ast.BoolOp):
            for v in node.values:
                self._check(v, known)
            return
        if isinstance(node, ast.Compare) and all(type(o) in _CMP for o in node.ops):
            for v in [node.left, *node.comparators]:
                self._check(v, known)
            return
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS
                and not node.keywords):
            for a in node.args:
                self._check(a, known)
            return
        what = type(node).__name__
        raise ConfigError(f"{what} is not allowed in a constraint (numbers, names, arithmetic, "
                          f"comparisons, and/or/not, {', '.join(FUNCTIONS)})", self.file, self.key)

    def _eval(self, node, env):
        name = _dotted(node)
        if name is not None:
            return as_number(env[name])
        if isinstance(node, ast.Constant):
            return as_number(node.value)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self._eval(e, env) for e in node.elts]
        if isinstance(node, ast.BinOp):
            return _BIN[type(node.op)](self._eval(node.left, env), self._eval(node.right, env))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self._eval(node.operand, env))
        if isinstance(node, ast.BoolOp):
            values = (self._eval(v, env) for v in node.values)
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, env)
            for op, right_node in zip(node.ops, node.comparators):
                right = self._eval(right_node, env)
                if not _CMP[type(op)](left, right):
                    return False
                left = right
            return True
        return FUNCTIONS[node.func.id](*(self._eval(a, env) for a in node.args))

    def __call__(self, env: dict) -> bool:
        try:
            return bool(self._eval(self.tree, env))
        except Exception as exc:   # a type mix-up or a division by zero names the expression
            raise ConfigError(f"cannot evaluate {self.text!r} for {_show(env, self.names)}: {exc}",
                              self.file, self.key) from None


def _show(env, names) -> str:
    return ", ".join(f"{n}={env.get(n)!r}" for n in sorted(names))

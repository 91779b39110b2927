"""A mutable default argument: an operator behind :func:`harness.generators.mutations.mutants_at`
for the Python pitfall linters name (pylint W0102 ``dangerous-default-value``, flake8-bugbear
B006): a default value such as ``[]`` is made once, when the ``def`` runs, so every call
that changes it changes it for the next call.

``mutable_default`` offers, at a statement that changes a parameter in place (``p.append``,
``p[k] = v``, ``p += ...``, any of :data:`MUTATORS`) whose default is a list, dict or set
display or ``list()``/``dict()``/``set()``, the documented fix in one candidate of two edits:
the default becomes ``None`` and the function starts with ``if p is None: p = <the old
default>`` (after its docstring). Edits are character offsets into the original text, as
in :mod:`harness.generators.edit_text`.
"""

from __future__ import annotations

import ast

from harness.generators.edit_text import Cand, line_indent, add_cand, run_ops
from harness.generators.index import Index

#: methods that change a list, dict, set or deque in place.
MUTATORS = frozenset({"append", "extend", "insert", "update", "add", "setdefault", "pop", "popitem", "remove",
                      "discard", "clear", "sort", "reverse", "appendleft", "extendleft"})
_DISPLAYS = (ast.List, ast.Dict, ast.Set)
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _mutable(node: ast.expr | None) -> bool:
    """A list, dict or set display, or an argument-free ``list()``/``dict()``/``set()``."""
    return isinstance(node, _DISPLAYS) or (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                                           and node.func.id in ("list", "dict", "set") and not node.args)


def _changed(st: ast.stmt) -> set[str]:
    """Names the statement changes in place (not names it rebinds)."""
    out: set[str] = set()
    for node in ast.walk(st):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS \
                and isinstance(node.func.value, ast.Name):
            out.add(node.func.value.id)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)) \
                and isinstance(node.value, ast.Name):
            out.add(node.value.id)
    if isinstance(st, ast.AugAssign) and isinstance(st.target, ast.Name):
        out.add(st.target.id)  # `p += [x]` extends the list itself
    return out


def mutable_default(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """``def f(x, seen=[]): ... seen.append(x)`` -> ``seen=None`` and ``if seen is None: seen = []``."""
    fn = cx.function(st)
    if not isinstance(fn, _FUNCS) or st is fn:
        return
    changed = _changed(st)
    args = fn.args
    positional = args.posonlyargs + args.args
    pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults)) + [
        (arg, default) for arg, default in zip(args.kwonlyargs, args.kw_defaults) if default is not None]
    body = fn.body[1:] if cx.docstring(fn.body[0]) and len(fn.body) > 1 else fn.body
    first = body[0]
    if first.lineno == fn.lineno:  # `def f(x=[]): x.append(1)`: no indented body
        return
    indent = line_indent(cx, first.lineno)
    unit = indent[len(line_indent(cx, fn.lineno)):] or "    "
    nl = cx.newline(first.lineno)
    at = cx.line_starts[first.lineno - 1]
    for arg, default in pairs:
        if arg.arg in changed and _mutable(default):
            start, end = cx.span(default)
            guard = f"{indent}if {arg.arg} is None:{nl}{indent}{unit}{arg.arg} = {cx.seg(default)}{nl}"
            add_cand(out, "mutable_default", st, [(start, end, "None"), (at, at, guard)],
                     f"default `{arg.arg}={cx.seg(default)}` made at each call (`None`, then a new one)")


def stmt_mutants(cx: Index, st: ast.stmt) -> list[Cand]:
    """Candidates of this module's operator for one statement (any order)."""
    return run_ops((mutable_default,), cx, st)

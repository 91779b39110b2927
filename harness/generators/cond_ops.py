"""A condition that checks the wrong thing: operators behind
:func:`harness.generators.mutations.mutants_at` (issue 21).

- ``cond_to_empty``: the test of an ``if`` replaced by ``not xs`` (or ``xs``), ``xs`` a local
  collection the function starts empty and fills before the ``if``: the code that tries
  several ways and collects what worked must fail when NOTHING worked, not when the last way
  failed (``if exc is not None: raise exc`` -> ``if not rets: raise exc``). A "wrong
  condition expression" fix (Pan, Kim and Whitehead, EMSE 2009: IF-CC) whose new operand is
  the function's own result collection.

Edits are character offsets into the original text, as in :mod:`harness.generators.edit_text`.
"""

from __future__ import annotations

import ast

from harness.core.tree_memo import below
from harness.generators.edit_text import Cand, add_replacement, run_ops
from harness.generators.index import Index

#: methods that fill a collection.
_FILLS = frozenset({"append", "add", "extend", "update", "insert", "appendleft", "setdefault"})
#: collections tried per ``if`` (the nearest filled before it first).
MAX_COLLECTIONS = 2


def _empty(value: ast.expr) -> bool:
    """``[]``, ``{}``, ``set()``, ``list()``, ``dict()``."""
    if isinstance(value, (ast.List, ast.Dict, ast.Set)):
        return not (value.keys if isinstance(value, ast.Dict) else value.elts)
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in (
        "list", "dict", "set") and not value.args and not value.keywords


def filled_collections(fn: ast.AST, before: int, tree: ast.AST | None = None) -> list[str]:
    """Local names ``fn`` binds to an empty collection and fills (``xs.append(...)``,
    ``xs[k] = v``, ``xs += ...``) on lines before ``before``, the last filled first. With the
    module ``tree`` that holds ``fn``, ``fn``'s nodes are listed once for all its lines."""
    found = below(tree, fn) if tree is not None else tuple(ast.walk(fn))
    started = {t.id for node in found if isinstance(node, ast.Assign) and _empty(node.value)
               and node.lineno < before for t in node.targets if isinstance(t, ast.Name)}
    filled: dict[str, int] = {}
    for node in found:
        line = getattr(node, "lineno", before)
        if line >= before:
            continue
        name = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _FILLS \
                and isinstance(node.func.value, ast.Name):
            name = node.func.value.id
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name):
            name = node.value.id
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
        if name in started:
            filled[name] = max(filled.get(name, 0), line)
    return sorted(filled, key=lambda n: -filled[n])


def cond_to_empty(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """``if <test>:`` -> ``if not xs:`` / ``if xs:`` for a collection filled before it."""
    fn = cx.function(st)
    if not isinstance(st, ast.If) or fn is None:
        return
    used = {node.id for node in ast.walk(st.test) if isinstance(node, ast.Name)}
    start, end = cx.span(st.test)
    for name in [n for n in filled_collections(fn, st.lineno, cx.tree) if n not in used][:MAX_COLLECTIONS]:
        add_replacement(out, cx, "cond_to_empty", st, start, end, f"not {name}")
        add_replacement(out, cx, "cond_to_empty", st, start, end, name)


def stmt_mutants(cx: Index, st: ast.stmt) -> list[Cand]:
    """Candidates of this module's operators for one statement (any order)."""
    return run_ops((cond_to_empty,), cx, st)

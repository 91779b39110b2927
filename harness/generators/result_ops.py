"""A value computed and thrown away: an operator behind
:func:`harness.generators.mutations.mutants_at` for a bug Python makes easy and linters
only half catch (pylint's ``expression-not-assigned`` family): a call to a method or
function that *returns* a new value instead of changing its argument, written as a
statement of its own, so the new value is lost.

``keep_result`` offers, for an expression statement ``text.strip()`` (a method of ``str``,
``bytes``, ``tuple``, ``frozenset`` or another type whose values do not change, see
:data:`PURE_METHODS`), ``text = text.strip()``; for ``sorted(items)`` (a builtin that makes
a new value, :data:`PURE_FUNCTIONS`) ``items = sorted(items)``; for a module's function
(``re.sub(p, r, s)``, ``os.path.join(a, b)``) the same with its last assignable arguments. Only names, attribute chains and subscripts are
assigned to; a name the module imports is never rebound. Edits are character offsets into
the original text, as in :mod:`harness.generators.edit_text`.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from harness.generators.edit_text import Cand, add_cand, run_ops, short
from harness.generators.index import Index
from harness.core.tree_memo import nodes

#: methods whose receiver never changes: they return the new value (str, bytes, tuple,
#: frozenset, datetime/date/time, pathlib paths, Decimal, namedtuple).
PURE_METHODS = frozenset(
    {name for kind in (str, bytes, tuple, frozenset) for name in dir(kind) if not name.startswith("_")}
    | {"astimezone", "replace", "with_name", "with_suffix", "with_stem", "resolve", "absolute", "expanduser",
       "normalize", "quantize", "_replace", "copy"})
#: builtins and module functions that make a new value from their arguments.
PURE_FUNCTIONS = frozenset({"sorted", "reversed", "list", "tuple", "set", "frozenset", "dict", "str", "int", "float",
                            "bool", "abs", "round", "bytes", "sub", "subn", "normpath", "abspath", "realpath",
                            "deepcopy", "dedent", "indent", "quote", "unquote"})
_ASSIGNABLE = (ast.Name, ast.Attribute, ast.Subscript)


def _new_imported(cx: Index) -> set[str]:
    """Names the module binds by ``import`` (never rebound by this operator)."""
    return {(alias.asname or alias.name).split(".")[0] for node in nodes(cx.tree)
            if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}


def _root(node: ast.expr) -> str:
    """The name an attribute chain or subscript starts from ('' for another expression)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _targets(cx: Index, call: ast.Call) -> Sequence[ast.expr]:
    """What the call's value may have been meant to replace: a pure method's receiver, or a
    pure function's assignable arguments, the last first (``re.sub(p, r, text)``: ``text``;
    at most two)."""
    func = call.func
    arguments = [arg for arg in reversed(call.args) if isinstance(arg, (ast.Name, ast.Attribute, ast.Subscript))][:2]
    if isinstance(func, ast.Attribute):
        if _root(func.value) in cx.memo(_new_imported):  # `os.path.join(a, b)`, `re.sub(...)`: a module's function
            return arguments if func.attr in PURE_FUNCTIONS | PURE_METHODS else []
        return [func.value] if func.attr in PURE_METHODS and isinstance(func.value, _ASSIGNABLE) else []
    return arguments if isinstance(func, ast.Name) and func.id in PURE_FUNCTIONS else []


def keep_result(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """``text.strip()`` -> ``text = text.strip()``; ``sorted(xs)`` -> ``xs = sorted(xs)``."""
    if not (isinstance(st, ast.Expr) and isinstance(st.value, ast.Call)):
        return
    imported = cx.memo(_new_imported)
    start, _ = cx.span(st)
    for target in _targets(cx, st.value):
        text = cx.seg(target)
        if isinstance(target, ast.Name) and target.id in imported or "\n" in text:
            continue
        add_cand(out, "keep_result", st, [(start, start, f"{text} = ")], f"keep the value of `{short(cx.seg(st))}` in `{text}`")


def stmt_mutants(cx: Index, st: ast.stmt) -> list[Cand]:
    """Candidates of this module's operator for one statement (any order)."""
    return run_ops((keep_result,), cx, st)

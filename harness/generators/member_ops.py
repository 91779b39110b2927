"""A normalized key looked up in a collection stored as given: an operator behind
:func:`harness.generators.mutations.mutants_at` (issue 21: a transformation one side of a
comparison has and the other lacks).

::

    def __init__(self, schemes=None):
        self.schemes = schemes or self.default_schemes
    def __call__(self, value):
        scheme = value.split("://")[0].lower()
        if scheme not in self.schemes:       # "HTTP" given by the caller never matches

``normalize_members``: for ``x in self.attr`` / ``x not in self.attr`` where ``x`` was
assigned, in the same function, a value whose last call is a normalizing method
(:data:`NORMALIZERS`), and the class's ``__init__`` stores a parameter ``p`` in ``attr``
(``self.attr = p`` or ``self.attr = p or default``), the stored members get the same method:
``{s.lower() for s in p}`` (``... if p else default`` for the ``or`` form, whose default the
class wrote itself). Edits are character offsets into the original text, as in
:mod:`harness.generators.edit_text`; the edit is on the ``__init__`` line, the candidate is
anchored at the comparison.
"""

from __future__ import annotations

import ast

from harness.generators.edit_text import Cand, add_cand, run_ops, short
from harness.generators.index import FunctionNode, Index

#: str methods that put a key in a canonical form.
NORMALIZERS = frozenset({"lower", "upper", "casefold", "strip", "lstrip", "rstrip"})
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _normalizer(fn: FunctionNode, name: str) -> str | None:
    """The normalizing method of the last assignment ``name = ....m()`` in ``fn`` (no argument)."""
    found = None
    for node in ast.walk(fn):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == name):
            value = node.value
            found = (value.func.attr if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                     and value.func.attr in NORMALIZERS and not value.args else None)
    return found


def _stored(cls: ast.ClassDef, attr: str) -> tuple[ast.Assign, str] | None:
    """``__init__``'s ``self.attr = p`` / ``self.attr = p or default`` and ``p`` (a parameter)."""
    init = next((n for n in cls.body if isinstance(n, _FUNCS) and n.name == "__init__"), None)
    if init is None or not init.args.args:
        return None
    me, params = init.args.args[0].arg, {a.arg for a in ast.walk(init.args) if isinstance(a, ast.arg)}
    for st in ast.walk(init):
        if not (isinstance(st, ast.Assign) and len(st.targets) == 1):
            continue
        target = st.targets[0]
        if not (isinstance(target, ast.Attribute) and target.attr == attr and isinstance(target.value, ast.Name)
                and target.value.id == me):
            continue
        value = st.value
        head = value.values[0] if isinstance(value, ast.BoolOp) and isinstance(value.op, ast.Or) \
            and len(value.values) == 2 else value
        if isinstance(head, ast.Name) and head.id in params - {me}:
            return st, head.id
    return None


def normalize_members(cx: Index, node: ast.expr, out: list[Cand]) -> None:
    """``key in self.attr`` with a normalized key: the stored members normalized alike."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn))):
        return
    key, coll = node.left, node.comparators[0]
    fn = cx.function(node)
    if not (isinstance(key, ast.Name) and isinstance(coll, ast.Attribute) and isinstance(coll.value, ast.Name)
            and fn is not None and fn.args.args and coll.value.id == fn.args.args[0].arg):
        return
    method = _normalizer(fn, key.id)
    cls = next((c for c in ast.walk(cx.tree) if isinstance(c, ast.ClassDef) and fn in c.body), None)
    stored = _stored(cls, coll.attr) if method and cls is not None else None
    if stored is None:
        return
    st, param = stored
    item = param[0] if param[0] not in {n.id for n in ast.walk(st) if isinstance(n, ast.Name)} else "item"
    members = f"{{{item}.{method}() for {item} in {param}}}"
    value = st.value
    new = f"{members} if {param} else {cx.seg(value.values[1])}" if isinstance(value, ast.BoolOp) else members
    start, end = cx.span(value)
    add_cand(out, "normalize_members", node, [(start, end, new)],
             f"`{short(cx.seg(value))}` -> `{short(new)}` (line {st.lineno}: members {method}() like `{key.id}`)")


def expr_mutants(cx: Index, node: ast.expr) -> list[Cand]:
    """Candidates of this module's operator for one expression node (any order)."""
    return run_ops((normalize_members,), cx, node) if isinstance(node, ast.Compare) else []

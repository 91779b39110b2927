"""Guards and conversions the rest of a function already implies: operators behind
:func:`harness.generators.mutations.mutants_at` (issue 21).

- ``return_guard``: a ``return`` that is not where its function ends (an early stage of a
  pipeline: code runs after the block holding it, or its loop goes on) and returns a name
  assigned just before it in the same block gets that name as its guard, so an empty or
  ``None`` result falls through to the later stages::

      results = score(data)                  results = score(data)
      return finish(data, results)    ->     if results:
                                                 return finish(data, results)

  ``if x is not None:`` too (first) when ``x`` may be None: it is compared with ``None`` in
  the function, or assigned from a call of a function of this module that can give None
  (``return None``, a bare ``return``, or its end reached), or of ``.get(k)`` /
  ``re.match``-like lookups.
- ``same_conversion``: a bare use of a name ``v`` (a call argument, a returned or assigned
  value, an operand, an f-string's ``{v}``) where the same function elsewhere converts it
  (``int(v)``, ``str(v)``, ``abs(v)``, ``len(v)``, ``v.lower()``, ...) gets that conversion
  (``f"{bytes_} Byte"`` -> ``f"{int(bytes_)} Byte"`` beside ``int(bytes_)`` below).
  :func:`harness.generators.synth_ops.sibling_arg` only copies a transformation between the
  operands of one node, and never sees inside an f-string (the index does not walk it: the
  parser's positions there are not reliable before Python 3.12), so the f-string's value is
  found in its text here, as :func:`harness.generators.kin_ops.fstring_dict_key` does.

Conventions as in :mod:`.edit_text` (``cx`` is the file's :class:`harness.generators.index.Index`;
edits are character offsets into the original text). Pure: no I/O.
"""

from __future__ import annotations

import ast
import re

from harness.generators.edit_text import Cand, line_indent, add_cand, run_ops, short
from harness.generators.index import FUNCTION_TYPES, FunctionNode, Index, last_line
from harness.core.tree_memo import nodes

#: builtins that convert their one argument (``int(v)``), written around a use as they are.
CONVERTERS = frozenset({"int", "str", "float", "abs", "len", "bool", "bytes", "list", "tuple", "set",
                        "frozenset", "sorted", "repr", "round"})
#: methods without arguments that normalize their object (``v.lower()``).
NORMALIZERS = frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "casefold", "title", "decode", "encode"})
#: calls whose argument is inspected, not used as a value: no conversion is put there.
_INSPECTORS = frozenset({"isinstance", "issubclass", "type", "hasattr", "getattr", "id", "callable"})
#: conversions offered per use.
MAX_CONVERSIONS = 2
#: statements before a ``return`` in its block searched for the assignment of its name.
LOOK_BACK = 3
#: lookups that give None for a miss (without a default): ``d.get(k)``, ``re.match(...)``.
_NONE_LOOKUPS = frozenset({"get", "match", "search", "fullmatch", "find_spec", "getenv"})
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
#: parents whose child is iterated, entered or tested for truth, not used as a value.
_NOT_VALUES = (ast.comprehension, ast.For, ast.AsyncFor, ast.With, ast.withitem, ast.If, ast.While, ast.IfExp,
               ast.BoolOp, ast.UnaryOp, ast.Assert)


# -- return_guard -----------------------------------------------------------------------
def _step(cx: Index, st: ast.stmt) -> str:
    """One indentation level as the file writes it: ``st``'s indent past its enclosing statement's."""
    up = cx.parent(st)
    while up is not None and not isinstance(up, ast.stmt):
        up = cx.parent(up)
    if up is not None:
        mine, theirs = line_indent(cx, st.lineno), line_indent(cx, up.lineno)
        if len(mine) > len(theirs) and mine.startswith(theirs):
            return mine[len(theirs):]
    return "    "


def _falls_through(cx: Index, st: ast.stmt, fn: FunctionNode) -> bool:
    """Does code of ``fn`` run after ``st``'s block when ``st`` is skipped: a statement after
    one of the blocks around it (inside ``fn``), or a loop around it going on? False when ``st``
    is not the last of its own block (what follows it is dead now) or sits in ``fn``'s body."""
    block, position = cx.block(st)
    if position < len(block) - 1 or block is fn.body:
        return False
    node: ast.AST = st
    while True:
        up = cx.parent(node)
        while up is not None and not isinstance(up, ast.stmt):  # a match case, an except handler
            node, up = up, cx.parent(up)
        if up is None or up is fn or isinstance(up, (*FUNCTION_TYPES, ast.ClassDef)):
            return False
        if isinstance(up, _LOOPS) and cx.field(node) == "body":
            return True
        block, position = cx.block(up)
        if position < len(block) - 1:
            return True
        if block is fn.body:
            return False
        node = up


def _assigned(st: ast.stmt) -> list[str]:
    """The plain names an assignment statement binds (``x = ...``, ``x: T = ...``, ``a, b = ...``)."""
    targets = st.targets if isinstance(st, ast.Assign) else [st.target] if isinstance(st, ast.AnnAssign) and st.value else []
    return [node.id for target in targets for node in ast.walk(target) if isinstance(node, ast.Name)]


def _callee(value: ast.AST | None) -> str:
    """``f`` for a value ``f(...)`` / ``self.f(...)`` / ``mod.f(...)``, else ''."""
    if isinstance(value, ast.Await):
        value = value.value
    if not isinstance(value, ast.Call):
        return ""
    func = value.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _gives_none(fn: FunctionNode) -> bool:
    """Can a call of ``fn`` give None: a ``return None``/bare ``return`` of its own, or its last
    statement one whose end is reached (not a ``return``/``raise``)? Generators are left out."""
    own = [node for node in ast.walk(fn) if isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom))]
    if any(isinstance(node, (ast.Yield, ast.YieldFrom)) for node in own):
        return False
    if any(isinstance(node, ast.Return) and (node.value is None or isinstance(node.value, ast.Constant)
                                             and node.value.value is None) for node in own):
        return True
    return not isinstance(fn.body[-1], (ast.Return, ast.Raise))


def _none_givers(cx: Index) -> frozenset[str]:
    """Names of this module's functions and methods a call of which can give None (built once)."""
    return frozenset(node.name for node in nodes(cx.tree) if isinstance(node, FUNCTION_TYPES) and _gives_none(node))


def _may_be_none(cx: Index, fn: FunctionNode, name: str, source: ast.stmt) -> bool:
    """Is ``name`` compared with None in ``fn``, or assigned in ``source`` from a call that can
    give None (:func:`_none_givers`, :data:`_NONE_LOOKUPS`)?"""
    for node in ast.walk(fn):
        if isinstance(node, ast.Compare) and any(isinstance(side, ast.Name) and side.id == name
                                                 for side in [node.left, *node.comparators]) and any(
                isinstance(side, ast.Constant) and side.value is None for side in [node.left, *node.comparators]):
            return True
    value = getattr(source, "value", None)
    callee = _callee(value)
    if callee in ("get", "getenv") and isinstance(value, ast.Call) and len(value.args) + len(value.keywords) > 1:
        return False  # a lookup with a default
    return bool(callee) and (callee in cx.memo(_none_givers) or callee in _NONE_LOOKUPS)


def return_guard(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """``return E`` -> ``if x:`` / ``if x is not None:`` then ``return E``, for ``x`` a name ``E``
    reads (not as a callee) that one of the :data:`LOOK_BACK` statements before it in its block
    assigns, when code runs after the block (:func:`_falls_through`); at most 2 names."""
    fn = cx.function(st) if isinstance(st, ast.Return) and st.value is not None else None
    if fn is None or not cx.standalone(st) or not _falls_through(cx, st, fn):
        return
    block, position = cx.block(st)
    before = block[max(0, position - LOOK_BACK):position][::-1]  # nearest first
    called = {id(node.func) for node in ast.walk(st) if isinstance(node, ast.Call)}
    read = [node.id for node in ast.walk(st) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
            and id(node) not in called]
    first, last = st.lineno, last_line(st)
    body = cx.text[cx.line_starts[first - 1]:cx.line_end(last)]
    if first != last and ('"""' in body or "'''" in body):
        return  # re-indenting a multi-line string literal would change its value
    ind, nl = line_indent(cx, first), cx.newline(first)
    step = _step(cx, st)
    if not body.endswith(("\n", "\r")):
        body += nl
    moved = "".join(step + line if line.strip() else line for line in body.splitlines(keepends=True))
    for name in list(dict.fromkeys(read))[:2]:
        source = next((node for node in before if name in _assigned(node)), None)
        if source is None:
            continue
        tests = ([f"{name} is not None"] if _may_be_none(cx, fn, name, source) else []) + [name]
        for test in tests:
            add_cand(out, "return_guard", st, [(cx.line_starts[first - 1], cx.line_end(last), f"{ind}if {test}:{nl}{moved}")],
                     f"guard `{short(cx.seg(st))}` by `if {test}:` (falls through when it fails)")


# -- same_conversion ---------------------------------------------------------------------
def _conversion(node: ast.AST) -> tuple[str, str] | None:
    """(converted name, template with ``{}`` for it) of ``int(v)`` / ``v.lower()``, else None."""
    if not isinstance(node, ast.Call) or node.keywords:
        return None
    func = node.func
    if isinstance(func, ast.Name) and func.id in CONVERTERS and len(node.args) == 1 and isinstance(node.args[0], ast.Name):
        return node.args[0].id, func.id + "({})"
    if isinstance(func, ast.Attribute) and func.attr in NORMALIZERS and not node.args and isinstance(func.value, ast.Name):
        return func.value.id, "{}." + func.attr + "()"
    return None


def _new_conversions(cx: Index) -> dict[FunctionNode, dict[str, list[str]]]:
    return {}


def conversions(cx: Index, fn: FunctionNode) -> dict[str, list[str]]:
    """Name -> the conversion templates ``fn`` applies to it (``"int({})"``), most often written
    first, then in order of appearance; f-strings included (memoized per index)."""
    cache = cx.memo(_new_conversions)
    if fn not in cache:
        counts: dict[str, dict[str, int]] = {}
        for node in ast.walk(fn):
            got = _conversion(node)
            if got is not None:
                per = counts.setdefault(got[0], {})
                per[got[1]] = per.get(got[1], 0) + 1
        cache[fn] = {name: sorted(per, key=lambda form: -per[form]) for name, per in counts.items()}
    return cache[fn]


def _bare_use(cx: Index, node: ast.Name) -> bool:
    """Is ``node`` a value used as it is: not a target, a callee, an attribute's or subscript's
    object, a starred item, an inspected argument or the argument of a conversion?"""
    if not isinstance(node.ctx, ast.Load) or not cx.walked(node):
        return False
    parent, field = cx.parent(node), cx.field(node)
    if isinstance(parent, (ast.Attribute, ast.Starred, ast.AugAssign)) or (
            isinstance(parent, ast.Subscript) and field == "value"):
        return False
    if isinstance(parent, ast.Call):
        name = getattr(parent.func, "id", "")
        return field == "args" and name not in _INSPECTORS and _conversion(parent) is None
    return not isinstance(parent, _NOT_VALUES)


def same_conversion(cx: Index, node: ast.expr, out: list[Cand]) -> None:
    """``v`` -> ``conv(v)`` for a bare use of ``v`` (or each ``{v}`` of an f-string) where
    ``v``'s function applies ``conv`` to it elsewhere (:func:`conversions`; at most
    :data:`MAX_CONVERSIONS` per use)."""
    fn = cx.function(node) if cx.walked(node) else None
    if fn is None:
        return
    table = conversions(cx, fn)
    if not table:
        return
    if isinstance(node, ast.Name):
        if node.id in table and _bare_use(cx, node):
            start, end = cx.span(node)
            for form in table[node.id][:MAX_CONVERSIONS]:
                new = form.format(node.id)
                add_cand(out, "same_conversion", node, [(start, end, new)], f"`{node.id}` -> `{new}` (as the function does elsewhere)")
    elif isinstance(node, ast.JoinedStr):
        _fstring_conversions(cx, node, table, out)


def _fstring_conversions(cx: Index, node: ast.JoinedStr, table: dict[str, list[str]], out: list[Cand]) -> None:
    """Each ``{v}`` / ``{v:spec}`` / ``{v!r}`` of an f-string whose ``v`` the function converts
    elsewhere, found in the f-string's text (the parser gives no reliable positions inside)."""
    names = [value.value.id for value in node.values
             if isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name) and value.value.id in table]
    start, _ = cx.span(node)
    text = cx.seg(node)
    for name in dict.fromkeys(names):
        hits = [match for match in re.finditer(r"(?<!\{)((?:\{\{)*)\{(\s*)" + re.escape(name) + r"(\s*)(?=[}!:])", text)]
        if len(hits) != names.count(name):
            continue  # a `{name}` in a plain string of an implicit concatenation: not sure which is which
        for match in hits:
            at = start + match.end(2)
            for form in table[name][:MAX_CONVERSIONS]:
                new = form.format(name)
                add_cand(out, "same_conversion", node, [(at, at + len(name), new)],
                         f"`{{{name}}}` -> `{{{new}}}` in the f-string (as the function does elsewhere)")


def stmt_mutants(cx: Index, st: ast.stmt) -> list[Cand]:
    """Candidates of this module's operators for one statement (any order)."""
    return run_ops((return_guard,), cx, st)


def expr_mutants(cx: Index, node: ast.expr) -> list[Cand]:
    """Candidates of this module's operators for one expression node (any order)."""
    return run_ops((same_conversion,), cx, node) if isinstance(node, (ast.Name, ast.JoinedStr)) else []

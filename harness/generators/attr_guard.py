"""An attribute some objects lack, read behind ``hasattr`` (issue 21): candidates for
:func:`harness.generators.message_ops.message_mutants` from a failing test's ``AttributeError``.

Code written for one kind of object meets another that lacks an attribute (a special form of
``typing`` without ``__args__``, an older version's ``code`` object without ``replace``, a
copy made before the attribute was set). The developer's fix is a ``hasattr`` check where the
attribute is read, so that such an object takes the path the code has for the others::

    if isinstance(tp, typingGenericAlias):              if isinstance(tp, typingGenericAlias) and hasattr(tp, '__args__'):
        res = tp.__args__                        ->         res = tp.__args__

For the innermost repository frame of a failing test that ends in ``AttributeError: ... has no
attribute 'name'`` (or Python's bare ``AttributeError: name`` that ``__getattr__`` methods
raise), each read ``obj.name`` on that line (``obj`` a name or a dotted chain of names: no
call is repeated) gives, best first:

- ``hasattr_conjunct``: ``and hasattr(obj, 'name')`` added to the test of the innermost ``if``
  or ``while`` whose body holds the read (``elif`` included); when the read is in the test
  itself, ``hasattr(obj, 'name') and`` put before the operand of the innermost ``and`` that
  holds it (after what the test checks first), or before the whole test;
- ``hasattr_guard``: the one-line statement holding the read put under ``if hasattr(obj, 'name'):``;
- ``getattr_default``: the read written ``getattr(obj, 'name', None)``.

A failing test that expects an exception (``pytest.raises``, ``assertRaises``) gets none: there
the missing attribute is the symptom of a check the code lacks (:mod:`.type_guard`'s case), and
a ``getattr`` default that crashes on later (``x >= None``) would only fool it. Each is scored
ahead of the mutants (a message operator's evidence); the tests decide which, if
any, is the fix, and a guard that makes lines the passing tests ran dead is flagged by
:mod:`harness.core.overfit`. Pure: files are read through the :class:`.message_evidence.Files`
given; nothing runs.
"""

from __future__ import annotations

import ast
import re

from harness.generators.message_evidence import Evidence, Files, Parsed, make_mutant
from harness.generators.mutant import Mutant
from harness.generators.type_evidence import expected_classes, failing_functions

#: reads of the attribute on the failing line edited at most.
MAX_READS = 2
#: the operator's own score (before its prior in :data:`~harness.generators.message_ops.MESSAGE_PRIORS`).
SCORES = {"hasattr_conjunct": 1.0, "hasattr_guard": 0.9, "getattr_default": 0.8}
_NAMED = re.compile(r"has no attribute '(\w+)'")
_BARE = re.compile(r"\A'?([A-Za-z_]\w*)'?\Z")
#: tests that need parentheses before ``and`` is put beside them.
_LOOSE = (ast.BoolOp, ast.IfExp, ast.NamedExpr, ast.Lambda)


def missing_attribute(item: Evidence) -> str | None:
    """The attribute an ``AttributeError`` of ``item`` names (``'X' object has no attribute 'a'``,
    ``module 'm' has no attribute 'a'``, or the bare ``a`` of a ``__getattr__``), else None."""
    if item.exception.rsplit(".", 1)[-1] != "AttributeError":
        return None
    text = item.text.strip()
    found = _NAMED.search(text) or _BARE.match(text.splitlines()[0] if text else "")
    return found.group(1) if found else None


def attr_guards(files: Files, found: list[Evidence]) -> list[tuple[float, Mutant]]:
    """The candidates of the module docstring for every failure of ``found`` that ends in a
    missing attribute read at a repository line, as ``(score, mutant)`` with score in (0, 1],
    one per new file text (the best score kept)."""
    best: dict[tuple[str, tuple], tuple[float, Mutant]] = {}
    missing = [(item, name) for item in found if (name := missing_attribute(item))]
    tests = failing_functions(files, [item for item, _ in missing])
    for item, name in missing:
        if expected_classes(tests, item):
            continue  # the test expects an error: the missing attribute is a missing check's symptom (type_guard's)
        frames = [(path, line) for path, line in item.frames if files.editable(path)]
        parsed = files.parsed(frames[-1][0]) if frames else None
        if parsed is None:
            continue
        for score, mutant in _at(parsed, frames[-1][1], name):
            key = (mutant.path, mutant.key)
            if key not in best or score > best[key][0]:
                best[key] = (score, mutant)
    return sorted(best.values(), key=lambda pair: -pair[0])


def _pure(node: ast.expr) -> bool:
    """A name or a dotted chain of names: reading it twice has no effect."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _at(parsed: Parsed, line: int, name: str) -> list[tuple[float, Mutant]]:
    scope = parsed.function_at(line) or parsed.tree
    reads = [node for node in ast.walk(scope) if isinstance(node, ast.Attribute) and node.attr == name
             and isinstance(node.ctx, ast.Load) and node.lineno <= line <= (node.end_lineno or node.lineno)
             and _pure(node.value)]
    parents = {child: node for node in ast.walk(scope) for child in ast.iter_child_nodes(node)}
    out: list[tuple[float, Mutant]] = []
    for node in sorted(reads, key=lambda n: (n.lineno, n.col_offset))[:MAX_READS]:
        check = f"hasattr({parsed.index.seg(node.value)}, {name!r})"
        for operator, mutant in (("hasattr_conjunct", _conjunct(parsed, parents, node, check)),
                                 ("hasattr_guard", _guard(parsed, parents, node, check)),
                                 ("getattr_default", _getattr(parsed, node, name))):
            if mutant is not None:
                out.append((SCORES[operator], mutant))
    return out


def _conjunct(parsed: Parsed, parents: dict[ast.AST, ast.AST], node: ast.Attribute, check: str) -> Mutant | None:
    """``check`` joined to the test of the innermost ``if``/``while`` around the read: before the
    operand holding it when the read is in the test, else after the whole test."""
    index = parsed.index
    child: ast.AST = node
    up = parents.get(node)
    while up is not None and not isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
        if isinstance(up, (ast.If, ast.While)):
            test = up.test
            if child is test:
                part = _operand(parents, node, test)
                start, end = index.span(part)
                text = index.seg(part)
                new = f"{check} and {f'({text})' if isinstance(part, _LOOSE) else text}"
                return make_mutant("hasattr_conjunct", parsed, [(start, end, new)], up.lineno,
                                   f"`{_short(text)}` -> `{_short(new)}`: the failing test's object lacks the attribute")
            if child in up.body:
                start, end = index.span(test)
                text = index.seg(test)
                new = f"{f'({text})' if isinstance(test, _LOOSE) and not _is_and(test) else text} and {check}"
                return make_mutant("hasattr_conjunct", parsed, [(start, end, new)], up.lineno,
                                   f"`{_short(text)}` -> `{_short(new)}`: the failing test's object lacks the attribute")
            return None  # the read is in an else branch: the test does not guard it
        child, up = up, parents.get(up)
    return None


def _guard(parsed: Parsed, parents: dict[ast.AST, ast.AST], node: ast.Attribute, check: str) -> Mutant | None:
    """The one-line statement holding the read put under ``if check:``."""
    index = parsed.index
    st: ast.AST | None = node
    while st is not None and not isinstance(st, ast.stmt):
        st = parents.get(st)
    if not isinstance(st, ast.stmt) or index.compound(st) or st.lineno != (st.end_lineno or st.lineno) or not index.standalone(st):
        return None
    indent = parsed.line_indent(st.lineno)
    at = index.line_starts[st.lineno - 1]
    if index.line_text(st.lineno)[:len(indent)] != indent:
        return None
    step = "    " if not indent.startswith("\t") else "\t"
    text = f"{indent}if {check}:{index.newline(st.lineno)}{step}"
    return make_mutant("hasattr_guard", parsed, [(at, at, text)], st.lineno,
                       f"`{_short(index.seg(st))}` under `if {check}:`")


def _getattr(parsed: Parsed, node: ast.Attribute, name: str) -> Mutant | None:
    """The read written ``getattr(obj, 'name', None)``."""
    start, end = parsed.index.span(node)
    new = f"getattr({parsed.index.seg(node.value)}, {name!r}, None)"
    return make_mutant("getattr_default", parsed, [(start, end, new)], node.lineno,
                       f"`{_short(parsed.index.seg(node))}` -> `{new}`")


def _operand(parents: dict[ast.AST, ast.AST], node: ast.AST, test: ast.expr) -> ast.expr:
    """The operand of the innermost ``and`` of ``test`` that holds ``node`` (the check goes
    right before it, after what the test checks first), or ``test`` itself when no ``and`` does."""
    child: ast.AST = node
    while child is not test:
        up = parents[child]
        if isinstance(up, ast.BoolOp) and isinstance(up.op, ast.And) and isinstance(child, ast.expr):
            return child
        child = up
    return test


def _is_and(test: ast.expr) -> bool:
    return isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And)


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."

"""A check that misses one case of a set (issue 21): ``case_disjunct`` / ``case_conjunct``.

Code often checks an object for the members of a small closed set one name at a time - a
protocol's methods (``hasattr(t, '__set__')``: a data descriptor may define ``__delete__``
instead), a file-like object's ``read``/``readinto``, a mapping's ``keys``. A release
regression of this kind is one member left out: the check is right for the members it names
and wrong for the object the failing test builds. The fix repeats the check with the missing
member: ``T`` -> ``(T or T')`` where ``T'`` is ``T`` with its string literal replaced
(pure-eval 0.2.3: ``_check_class(type(r), '__set__') is not _sentinel`` gained ``or ...
'__delete__' ...``). A check written in the negative (``!=``, ``not in``, ``not f(...)``) is
extended with ``and`` instead.

The missing member is read from the failing tests, never guessed: what the failing test
function gives an object - the methods of a class it defines, an attribute it assigns or
deletes (``descriptor.__delete__ = ...``), a dunder string - nearest the failing line first,
of the same shape as the literal it replaces (an identifier; a dunder for a dunder, the same
case), and written nowhere in the suspicious modules (a member the package handles somewhere
is not missing from its sets). A test's data strings (``'spam'``, a cell of a table) are no
members. Sites are the terms of conditions (``if``/``while``/``assert``/conditional
expression/comprehension tests, a returned comparison) on the failing code's suspicious
lines, each holding exactly one string literal. Candidates are few and are scored like the
data edits (:mod:`.data_edits`): the value comes from the tests.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

from harness.core.context import Context
from harness.core.localize import is_protected
from harness.generators.data_text import Text, make, quote
from harness.generators.literal_hints import test_functions
from harness.generators.mutant import Mutant

#: operator id -> prior, on the scale of :data:`harness.generators.mutations.OPERATOR_PRIORS`:
#: a member the failing test names, as :data:`harness.generators.data_edits.PRIORS`' entries.
PRIORS = {"case_disjunct": 0.62, "case_conjunct": 0.62}
#: score factor of each further candidate of the same module.
DECAY = 0.85
#: members read from the failing tests (nearest the failing line first).
MAX_NAMES = 12
#: candidates per module.
MAX_PER_FILE = 12
#: modules looked at: the most suspicious ones (by their best line) first.
MAX_FILES = 3
#: modules whose written names rule a member out (the most suspicious first): a member the
#: failing code's package handles already is no missing case.
KNOWN_FILES = 10
#: suspicious lines of a module whose conditions are sites.
NEAR_LINES = 40
#: longest member kept (characters).
MAX_MEMBER = 40


def shape(value: str) -> tuple[bool, ...] | None:
    """The shape two members of one set share: (dunder, lower case, upper case); None for a
    value that names no member (not an identifier of 2 to :data:`MAX_MEMBER` characters)."""
    if not (2 <= len(value) <= MAX_MEMBER and value.isidentifier()):
        return None
    return (_dunder(value), value == value.lower(), value == value.upper())


def _dunder(value: str) -> bool:
    return len(value) > 4 and value.startswith("__") and value.endswith("__")


def members_named(root: Path, failing: dict) -> tuple[str, ...]:
    """Members the failing tests give an object: in each failing test function, the methods
    of the classes it defines (a class's ``__delete__``), the attributes it assigns or
    deletes (not of ``self`` or ``cls``) and its dunder strings, read from its test file
    under ``root`` (no link followed; a file that does not parse gives nothing).

    Args:
        root: the worktree root.
        failing: ``Task.failing``: pytest node id -> result with ``frames``.

    Returns:
        At most :data:`MAX_NAMES` members, each once: per test, the ones on lines up to the
        line the test failed at (its deepest frame in the test function) nearest first, then the
        ones after it.
    """
    out: dict[str, None] = {}
    for test_id, rel, fn in test_functions(root, failing):
        result = failing[test_id]
        end = fn.end_lineno or fn.lineno
        at = [frame.line for frame in getattr(result, "frames", ()) or ()
              if frame.path == rel and fn.lineno <= frame.line <= end]
        stop = at[-1] if at else end
        found = [(getattr(node, "lineno", 0), value) for node in ast.walk(fn) for value in _member_of(node)]
        found.sort(key=lambda item: (stop - item[0]) if item[0] <= stop else (10**6 + item[0]))
        out.update(dict.fromkeys(value for _, value in found if shape(value) is not None))
    return tuple(out)[:MAX_NAMES]


def _member_of(node: ast.AST) -> Iterator[str]:
    """The names ``node`` gives a member by: a dunder string (``'__len__'``), an attribute
    assigned or deleted (not of ``self``/``cls``), the methods of a class defined."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and _dunder(node.value):
        yield node.value
    elif isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)) and not (
            isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
        yield node.attr
    elif isinstance(node, ast.ClassDef):
        yield from (st.name for st in node.body if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)))


def _roots(tree: ast.Module) -> Iterator[ast.expr]:
    """The condition expressions of a module: tests of ``if``/``while``/``assert``/conditional
    expressions and comprehensions, and a returned comparison or boolean operation."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
            yield node.test
        elif isinstance(node, ast.comprehension):
            yield from node.ifs
        elif isinstance(node, ast.Return) and isinstance(node.value, (ast.Compare, ast.BoolOp)):
            yield node.value


def _terms(test: ast.expr, within: ast.BoolOp | None = None) -> Iterator[tuple[ast.expr, ast.BoolOp | None, bool]]:
    """``(term, the boolean operation it is an operand of, negated)`` for each term of a
    condition: its ``and``/``or`` operands, recursively, through ``not``."""
    if isinstance(test, ast.BoolOp):
        for value in test.values:
            yield from _terms(value, test)
    elif isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and not isinstance(test.operand, ast.BoolOp):
        yield test, within, True
    else:
        yield test, within, False


def _literal(term: ast.expr) -> ast.Constant | None:
    """The one string literal of a check (a comparison or a call), None when it has none,
    several, or a nested boolean operation."""
    body = term.operand if isinstance(term, ast.UnaryOp) else term
    if not isinstance(body, (ast.Compare, ast.Call)):
        return None
    consts = [n for n in ast.walk(body) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    if len(consts) != 1 or any(isinstance(n, (ast.BoolOp, ast.Lambda)) for n in ast.walk(body)):
        return None
    return consts[0]


def _negative(term: ast.expr, negated: bool) -> bool:
    """Is the check written in the negative (``!=``, ``not in``, ``not f(...)``)?"""
    return negated or (isinstance(term, ast.Compare) and len(term.ops) == 1
                       and isinstance(term.ops[0], (ast.NotEq, ast.NotIn)))


def case_mutants(path: str, source: str, members: tuple[str, ...], lines: set[int]) -> list[Mutant]:
    """The ``case_disjunct``/``case_conjunct`` candidates of one module.

    Args:
        path: repo-relative POSIX path, copied into each :class:`Mutant`.
        source: the module's text.
        members: the failing tests' members (:func:`members_named`), best first.
        lines: 1-based suspicious lines: a condition counts when one of its lines is one.

    Returns:
        Per check holding one string literal, the check repeated with each member of the
        literal's shape that the module writes nowhere (:func:`_written`), joined by ``or`` (by
        ``and`` for a negative check), parenthesized inside another boolean operation; in
        member order, then source order; at most :data:`MAX_PER_FILE`; each parses.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    text, seen = Text(source), set()
    known = _written(tree)
    members = tuple(member for member in members if member not in known)
    out: list[tuple[int, int, Mutant]] = []
    for root in _roots(tree):
        if not any(root.lineno <= n <= (root.end_lineno or root.lineno) for n in lines):
            continue
        for term, within, negated in _terms(root):
            const = _literal(term)
            if const is None or (kind := shape(str(const.value))) is None:
                continue
            start, end = text.span(term)
            c_start, c_end = text.span(const)
            for rank, member in enumerate(members):
                if shape(member) != kind or (term, member) in seen:
                    continue
                seen.add((term, member))
                old = source[start:end]
                copy = source[start:c_start] + quote(member, source[c_start:c_end]) + source[c_end:end]
                joint = "and" if _negative(term, negated) else "or"
                new = f"{old} {joint} {copy}"
                if within is not None:
                    new = f"({new})"
                op = "case_conjunct" if joint == "and" else "case_disjunct"
                desc = f"`{_short(old)}` {joint} the same for {member!r}"
                got = make(op, path, text, term.lineno, desc, start, end, new)
                if got is not None:
                    out.append((rank, start, got))
    out.sort(key=lambda item: item[:2])
    return [mutant for _, _, mutant in out[:MAX_PER_FILE]]


def _written(tree: ast.Module) -> set[str]:
    """Every string literal, attribute, name and definition a module writes: a member it
    handles somewhere is not missing from its sets."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.add(node.value)
        elif isinstance(node, ast.Attribute):
            out.add(node.attr)
        elif isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
    return out


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 50 else text[:47] + "..."


def case_edits(context: Context, lines: list[tuple[tuple[str, int], float]],
               read: Callable[[str], str | None]) -> list[tuple[float, Mutant]]:
    """The missing-case candidates for ``context`` as ``(score, mutant)``, best first.

    Args:
        context: the search's context (its ``root`` and ``task.failing`` give the members).
        lines: the search's ranked suspicious lines ``((path, line), score)``, best first.
        read: repo-relative path -> the module's text (None when unreadable).

    Returns:
        Per module of the :data:`MAX_FILES` most suspicious (protected paths left out), its
        candidates for the members none of the :data:`KNOWN_FILES` most suspicious modules
        writes, scored ``score of the check's line (else the module's best) x prior x
        DECAY**n``; empty when the failing tests name no member.
    """
    members = members_named(Path(context.root), context.task.failing)
    if not members:
        return []
    files: dict[str, dict[int, float]] = {}
    for (path, line), score in lines:
        if not is_protected(path, context.protected):
            ranked = files.setdefault(path, {})
            if len(ranked) < NEAR_LINES:
                ranked[line] = max(score, ranked.get(line, 0.0))
    known: set[str] = set()
    for path in list(files)[:KNOWN_FILES]:
        try:
            known |= _written(ast.parse(read(path) or ""))
        except (SyntaxError, ValueError):
            continue
    members = tuple(member for member in members if member not in known)
    out: list[tuple[float, Mutant]] = []
    for path, ranked in list(files.items())[:MAX_FILES] if members else ():
        source = read(path)
        if source is None:
            continue
        top = max(ranked.values()) or 0.5
        for n, mutant in enumerate(case_mutants(path, source, members, set(ranked))):
            out.append((ranked.get(mutant.line, top) * PRIORS[mutant.operator] * DECAY ** n, mutant))
    return sorted(out, key=lambda item: -item[0])

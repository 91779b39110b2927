"""Text, positions and candidates for the data edits of :mod:`.table_ops` and
:mod:`.regex_ops`: a module's text with AST positions as character offsets
(:class:`Text`), a checked :class:`harness.generators.mutant.Mutant` from one splice
(:func:`make`), string literals in a module's own quotes (:func:`quote`), and what the
failing code reaches (:class:`Near`, :func:`holders`). Pure: no I/O.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.core.tree_memo import nodes, remembered
from harness.generators.mutant import Mutant

#: a top-level statement up to this many lines is parsed alone to check an edit in it.
LOCAL_LINES = 200


@functools.lru_cache(maxsize=8)
def parsed(source: str) -> ast.Module | None:
    """``ast.parse(source)``, or None when it does not parse; one tree per text, shared by the
    data-edit families (each read only: never change it). tabulate's 2,900-line module was parsed
    and walked by every regex family in turn."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def tree_memo(tree: ast.Module, build: Callable[[ast.Module], Any]) -> Any:
    """``build(tree)``, computed once per tree (:func:`harness.core.tree_memo.remembered`)."""
    return remembered(tree, build, lambda: build(tree))


class Text:
    """A module's text with AST positions as character offsets (AST columns are UTF-8 bytes)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines = source.splitlines(keepends=True)
        self.tops: list[tuple[int, int]] | None = None  # top-level statements' spans, once parsed
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, line: int, col: int) -> int:
        """Character offset of 1-based ``line``, UTF-8 byte column ``col``."""
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return self.starts[line - 1] + len(text.encode("utf-8")[:col].decode("utf-8", "replace"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        """(start, end) character offsets of ``node``."""
        return (self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                self.offset(node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]

    def parses(self, start: int, end: int, new: str) -> bool:
        """Does the module parse with ``source[start:end]`` replaced by ``new``? Only the
        top-level statement holding the edit is parsed when it is short (at most
        :data:`LOCAL_LINES` lines; a top-level statement starts at column 0, so it parses alone)."""
        if self.tops is None:
            try:
                tree = ast.parse(self.source)
            except (SyntaxError, ValueError):
                return False
            self.tops = [(self.starts[st.lineno - 1], self.starts[min(st.end_lineno or st.lineno, len(self.lines))])
                         for st in tree.body]
        around = [(lo, hi) for lo, hi in self.tops if lo <= start and end <= hi]
        lo, hi = around[0] if around and self.source.count("\n", *around[0]) <= LOCAL_LINES else (0, len(self.source))
        try:
            ast.parse(self.source[lo:start] + new + self.source[end:hi])
        except (SyntaxError, ValueError):
            return False
        return True

    def seg(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.source[start:end]


def make(operator: str, path: str, text: Text, line: int, desc: str, start: int, end: int,
         new: str, inside: ast.AST | None = None) -> Mutant | None:
    """The :class:`Mutant` replacing ``text.source[start:end]`` by ``new`` when the result
    parses and differs; None otherwise. With ``inside`` (a display or a constant holding the
    edit), only that expression is parsed again. Its key is the common prefix and suffix
    lengths and the middle (as :func:`harness.generators.parse_check.canonical`)."""
    source = text.source
    if source[start:end] == new:
        return None
    result = source[:start] + new + source[end:]
    if inside is not None:
        lo, hi = text.span(inside)
        try:
            ast.parse("(" + source[lo:start] + new + source[end:hi] + "\n)", mode="eval")
        except (SyntaxError, ValueError):
            return None
    elif not text.parses(start, end, new):
        return None
    return Mutant(operator, path, line, f"line {line}: {desc}", source, start, end, new, text_key(source, result))


def text_key(old: str, new: str) -> tuple[int, int, str]:
    """The key of ``new`` as :func:`harness.generators.parse_check.canonical` makes it
    (common prefix length, common suffix length, middle): equal keys, equal texts."""
    prefix = _common(old, new, lambda a, n: a[:n], min(len(old), len(new)))
    suffix = _common(old, new, lambda a, n: a[len(a) - n:], min(len(old), len(new)) - prefix)
    return prefix, suffix, new[prefix:len(new) - suffix]


def _common(a: str, b: str, part: Callable[[str, int], str], limit: int) -> int:
    """The largest ``n <= limit`` with ``part(a, n) == part(b, n)`` (a common prefix or
    suffix length), by bisection over slice comparisons (C speed on a large module)."""
    lo, hi = 0, max(0, limit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if part(a, mid) == part(b, mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def quote(value: str, like: str) -> str:
    """``value`` as a string literal in the quotes of literal text ``like`` (repr when the
    value needs escapes)."""
    q = "'" if like.rstrip()[-1:] == "'" else '"'
    if q in value or "\\" in value or not value.isprintable():
        return repr(value)
    return q + value + q


@dataclass(frozen=True)
class Near:
    """What the failing code reaches: the names written on its suspicious lines and those
    lines (1-based). A table counts when the statement that holds it is on one of the lines
    or binds one of the names (``ATTRIBUTES = {...}`` and ``ATTRIBUTES[attr]`` on a line)."""

    names: frozenset[str] = frozenset()
    lines: frozenset[int] = frozenset()

    def reaches(self, names: set[str], lo: int, hi: int) -> bool:
        """Does a statement binding ``names`` on lines ``lo..hi`` count?"""
        return bool(names & self.names) or any(lo <= n <= hi for n in self.lines)


def near_of(source: str, lines: list[int]) -> Near:
    """:class:`Near` of the given suspicious ``lines`` of ``source``: the identifiers on them,
    and one step back, the names a module- or class-level statement reads to build one of
    them (``for kw in keywords_new: keyword_map[kw.lower()] = kw`` at class level: a line
    reading ``keyword_map`` reaches the ``keywords_new`` table)."""
    text = source.splitlines()
    names = {name for n in lines if 0 < n <= len(text) for name in re.findall(r"[A-Za-z_]\w*", text[n - 1])}
    tree = parsed(source)
    return Near(frozenset(names | (_builders(tree, names) if tree else set())), frozenset(lines))


#: methods that fill the object they are called on (``keyword_map.update(...)``).
_FILLERS = frozenset({"update", "append", "extend", "add", "insert", "setdefault"})


def _builders(tree: ast.Module, names: set[str]) -> set[str]:
    """Names read by the module- and class-level statements that store into one of ``names``
    (``x = f(y)``, ``x[k] = y``, ``x.update(y)``, and such statements in a top-level loop,
    whose iterable counts too)."""
    out: set[str] = set()
    bodies = [tree.body] + [st.body for st in tree.body if isinstance(st, ast.ClassDef)]
    for body in bodies:
        for st in body:
            if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            stored = set()
            for node in ast.walk(st):
                target = node.value if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) else \
                    node if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) else \
                    node.func.value if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in _FILLERS else None
                if isinstance(target, ast.Name):
                    stored.add(target.id)
            if stored & names:
                out |= {n.id for n in ast.walk(st) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return out - names


def holders(tree: ast.Module) -> dict[ast.AST, tuple[set[str], int, int]]:
    """Each node inside a simple statement -> (the names the statement binds, its first and
    last line): how a table is reached (by its name, or its statement's lines). Once per tree."""
    return tree_memo(tree, _holders)


def _holders(tree: ast.Module) -> dict[ast.AST, tuple[set[str], int, int]]:
    out: dict[ast.AST, tuple[set[str], int, int]] = {}
    for st in nodes(tree):
        if not isinstance(st, ast.stmt) or hasattr(st, "body"):
            continue
        targets = (st.targets if isinstance(st, ast.Assign) else [st.target]
                   if isinstance(st, (ast.AnnAssign, ast.AugAssign)) else [])
        names = {t.id if isinstance(t, ast.Name) else t.attr for t in targets if isinstance(t, (ast.Name, ast.Attribute))}
        for node in ast.walk(st):
            out[node] = (names, st.lineno, st.end_lineno or st.lineno)
    return out


def module_strings(tree: ast.Module) -> frozenset[str]:
    """Every string constant of a module (once per tree)."""
    return tree_memo(tree, _module_strings)


def _module_strings(tree: ast.Module) -> frozenset[str]:
    return frozenset({n.value for n in nodes(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)})

"""Statements in the wrong place: operators behind :func:`harness.generators.mutations.mutants_at`
for the bugs where every statement is right but one sits at the wrong spot, a fix that
deletes nothing and inserts nothing new (the "move statement" edits of statement-level repair
in GenProg, Le Goues et al., TSE 2012, restricted here to one statement and one step, and
to the misplaced-indentation bugs that only Python's syntax makes possible):

- ``move_out``: the last statement of a loop's or an ``if``'s body moved out of it, after the
  compound statement (``return best`` indented into the ``for`` that computes ``best``; a
  ``count += 1`` that must run whether or not the branch did);
- ``move_in``: a statement right after a loop or an ``if`` moved into its body, as its last
  statement (an ``append`` that must run once per item);
- ``swap_statements``: a statement and the next one exchanged, when one writes a name the
  other reads or writes (exchanging independent statements changes nothing).

A moved statement keeps its text; only its lines' indentation changes. Statements spanning
more than :data:`MAX_LINES` lines, holding a triple-quoted string (its text would be
re-indented), definitions and docstrings are not moved. Edits are character offsets into
the original text, as in :mod:`harness.generators.edit_text`.
"""

from __future__ import annotations

import ast

from harness.generators.edit_text import Cand, line_indent, add_cand, run_ops, short
from harness.generators.index import Index, last_line

#: a statement longer than this (lines) is not moved.
MAX_LINES = 3
_BODIES = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _movable(cx: Index, st: ast.stmt) -> bool:
    """A short simple statement that owns its lines and holds no triple-quoted string."""
    if cx.compound(st) or isinstance(st, (*_DEFS, ast.Pass)) or cx.docstring(st) or not cx.standalone(st):
        return False
    text = cx.text[cx.line_starts[st.lineno - 1]:cx.line_end(last_line(st))]
    return last_line(st) - st.lineno < MAX_LINES and '"""' not in text and "'''" not in text


def _lines(cx: Index, st: ast.stmt) -> tuple[int, int]:
    """Offsets of the start of ``st``'s first line and the end of its last (line break included)."""
    return cx.line_starts[st.lineno - 1], cx.line_end(last_line(st))


def _reindent(cx: Index, st: ast.stmt, indent: str) -> str | None:
    """``st``'s lines with their indentation moved to ``indent`` (None when a line does not
    start with the statement's own indentation: a continuation that cannot be shifted)."""
    start, end = _lines(cx, st)
    text = cx.text[start:end]
    old = text[:len(text) - len(text.lstrip(" \t"))]
    lines = text.splitlines(keepends=True)
    if any(line.strip() and not line.startswith(old) for line in lines):
        return None
    return "".join(indent + line[len(old):] if line.strip() else line for line in lines)


def _has_else(parent: ast.AST) -> bool:
    return bool(getattr(parent, "orelse", None))


def move_out(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """The last statement of a loop's or an ``if``'s body (not the only one) moved after it."""
    parent = cx.parent(st)
    if not isinstance(parent, _BODIES) or cx.field(st) != "body" or _has_else(parent) or len(parent.body) < 2 \
            or parent.body[-1] is not st or not _movable(cx, st) or not cx.standalone(parent):
        return
    moved = _reindent(cx, st, line_indent(cx, parent.lineno))
    if moved is not None:
        start, end = _lines(cx, st)
        add_cand(out, "move_out", st, [(start, end, moved)],
                 f"move `{short(cx.seg(st))}` out of the `{type(parent).__name__.lower()}` of line {parent.lineno}")


def move_in(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """A statement right after a loop or an ``if`` moved into its body, as the last statement."""
    block, position = cx.block(st)
    if position == 0 or not _movable(cx, st):
        return
    before = block[position - 1]
    if not isinstance(before, _BODIES) or _has_else(before) or not cx.standalone(before):
        return
    inner = before.body[-1]
    if inner.lineno == before.lineno:  # `for x in xs: f(x)`: no indented body to join
        return
    moved = _reindent(cx, st, line_indent(cx, inner.lineno))
    if moved is not None:
        start, end = _lines(cx, st)
        add_cand(out, "move_in", st, [(start, end, moved)],
                 f"move `{short(cx.seg(st))}` into the `{type(before).__name__.lower()}` of line {before.lineno}")


def _names(st: ast.stmt) -> tuple[set[str], set[str]]:
    """(names and ``obj.attr`` chains the statement writes, those it reads)."""
    written: set[str] = set()
    read: set[str] = set()
    for node in ast.walk(st):
        if isinstance(node, (ast.Name, ast.Attribute)):
            text = ast.unparse(node) if isinstance(node, ast.Attribute) else node.id
            (written if isinstance(node.ctx, (ast.Store, ast.Del)) else read).add(text)
        if isinstance(node, ast.AugAssign):
            read.add(ast.unparse(node.target))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            written.add(ast.unparse(node.func.value))  # `items.append(x)` changes `items`
    return written, read


def swap_statements(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """``st`` and the statement after it exchanged, when one writes what the other uses."""
    block, position = cx.block(st)
    if position + 1 >= len(block) or not _movable(cx, st) or not _movable(cx, block[position + 1]):
        return
    after = block[position + 1]
    (w1, r1), (w2, r2) = _names(st), _names(after)
    if not (w1 & (r2 | w2) or w2 & r1):
        return
    (start, middle), (gap_end, end) = _lines(cx, st), _lines(cx, after)
    first, second = cx.text[start:middle], cx.text[gap_end:end]
    gap = cx.text[middle:gap_end]  # blank and comment lines between them stay between them
    if not second.endswith(("\n", "\r")):  # the file's last line has no line break
        second, first = second + cx.newline(st.lineno), first.rstrip("\r\n")
    add_cand(out, "swap_statements", st, [(start, end, second + gap + first)],
             f"swap `{short(cx.seg(st))}` with the next statement `{short(cx.seg(after))}`")


def stmt_mutants(cx: Index, st: ast.stmt) -> list[Cand]:
    """Candidates of this module's operators for one statement (any order)."""
    return run_ops((move_out, move_in, swap_statements), cx, st)

"""Loop exits: operators behind :func:`harness.generators.mutations.mutants_at` for a loop that
leaves too late or too early (issue 21, bug kinds real developers make).

- ``insert_break``: a ``break`` added after the last statement of an ``if`` branch inside a
  loop: the search that must stop at the first match (``found = item`` keeps the last one
  without it), the retry loop that must end once a step succeeded. Only in a branch: a
  ``break`` at the end of the loop's own body would make it run once.
- ``break_continue``: ``break`` <-> ``continue``: skipping an item where the loop must
  end, or ending where it must skip. Missing and wrong jump statements are among the
  control-flow fix patterns of program-repair studies (Pan, Kim and Whitehead, "Toward an
  understanding of bug fix patterns", EMSE 2009: the "if-related" and "loop" families).

Edits are character offsets into the original text, as in :mod:`harness.generators.edit_text`.
"""

from __future__ import annotations

import ast

from harness.generators.edit_text import Cand, add_cand, run_ops, short
from harness.generators.index import Index
from harness.generators.insert_ops import insert_line

_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_ENDS = (ast.Return, ast.Raise, ast.Continue, ast.Break)


def _loop_of(cx: Index, node: ast.AST) -> ast.AST | None:
    """The innermost loop whose body holds ``node`` through ``if`` branches only (None when a
    function, class, ``try``, ``with`` or a loop's ``else`` comes first)."""
    up = cx.parent(node)
    while isinstance(up, ast.If):
        node, up = up, cx.parent(up)
    return up if isinstance(up, _LOOPS) and node in up.body else None


def insert_break(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """``break`` after ``st``, the last statement of an ``if`` branch inside a loop."""
    parent = cx.parent(st)
    if not isinstance(parent, ast.If) or isinstance(st, _ENDS) or cx.compound(st) or not cx.standalone(st):
        return
    branch = parent.body if cx.field(st) == "body" else parent.orelse
    if not branch or branch[-1] is not st or st.lineno == parent.lineno or _loop_of(cx, parent) is None:
        return
    insert_line(cx, st, "break", "insert_break", f"after `{short(cx.seg(st))}`", out)


def break_continue(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """``break`` -> ``continue`` and back, for a jump of a loop's body."""
    if not isinstance(st, (ast.Break, ast.Continue)):
        return
    start, end = cx.span(st)
    new = "continue" if isinstance(st, ast.Break) else "break"
    add_cand(out, "break_continue", st, [(start, end, new)], f"`{cx.seg(st)}` -> `{new}`")


def stmt_mutants(cx: Index, st: ast.stmt) -> list[Cand]:
    """Candidates of this module's operators for one statement (any order)."""
    return run_ops((insert_break, break_continue), cx, st)

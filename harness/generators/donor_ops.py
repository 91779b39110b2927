"""Differences copied from similar code in the same file: an operator behind
:func:`harness.generators.mutations.mutants_at` (issue 21).

The plastic-surgery hypothesis (Barr et al., FSE 2014): the ingredients of a fix are
usually already in the program. SimFix (Jiang et al., ISSTA 2018) turns it into an
operator: find a *donor*, code of the same kind whose syntax tree differs little from the
suspicious code, map the donor's variables onto the suspicious code's, and copy one of
their differences. The narrower operators of :mod:`.kin_ops`, :mod:`.forward_ops` and
:mod:`.synth_ops` each copy one kind of difference (a method in a chain, a keyword, a
sibling's transformation); ``donor`` copies any of them:

- a sub-expression the donor writes otherwise (``uniform(0, high)`` ->
  ``uniform(self.low, high)`` when ``uniform(self.low, top)`` is written nearby);
- a wrapper the donor puts around the same code (``enc(x).decode()`` ->
  ``enc(x).rstrip(b"=").decode()``, ``isinstance(n, A)`` -> ``isinstance(n, (A, B))``);
- an argument, keyword, tuple element or ``and``/``or`` operand the donor has and this
  code lacks, or the other way round;
- ``donor_statement``: a one-line statement beside a donor statement (the same statement,
  its variables renamed, in another block) that this block lacks, inserted on the same side
  (a reset call, an increment, an assignment the sibling code makes and this code forgot).

One name, literal or attribute written for another is not copied: that is what
``replace_name``, the constant operators and ``attr_swap`` do, and among a file's many
similar lines it is noise. A target is a call, comparison, boolean or binary operation,
subscript or conditional expression of ``MIN_SIZE`` to ``MAX_SIZE`` nodes on a suspicious
line; its donors are the nodes of the same type elsewhere in the file and in the repository
modules it imports (:func:`harness.generators.donor_diff.imported_modules`; a call only of
the same function), each text once, compared when their identifiers overlap (Jaccard >=
``MIN_OVERLAP``), by :func:`harness.generators.donor_diff.compare`. Similarity is
``1 - cost / (size(target) + size(donor))``, cost the nodes removed plus added (``RENAME``
per renamed variable); donors at least ``MIN_SIM`` similar with one or two differences
(``MAX_DIFFS``) give a candidate per difference (and both together), most similar donor
first, the same function's, then the same file's nearest, on ties. A copied text must name only what is
in scope at the target. The constants are :mod:`.donor_diff`'s. Conventions as in
:mod:`.edit_text`.
"""

from __future__ import annotations

import ast
from typing import cast

from harness.generators.donor_diff import (
    LINES, BUILTINS, Line, MAX_DIFFS, MAX_SIZE, MIN_OVERLAP, MIN_SIM, MIN_SIZE, TARGETS, Diff, Pool, compare, pool_of, shape_of, size_of, words_of,
)
from harness.generators.edit_text import ATOM, Cand, Edit, add_cand, fit, line_indent, param_names, prec, short, slot
from harness.generators.index import Index, Positioned
from harness.generators.facts import shared

#: donors kept per target; candidates per target; statements inserted per statement.
MAX_DONORS, MAX_CANDS, MAX_LINES = 3, 4, 2
#: the least similarity of a statement aligned with ``st`` (renamed variables only).
ALIGN_SIM = 0.7

def _scope(cx: Index, pool: Pool, node: ast.AST) -> frozenset[str]:
    """Names that may be read at ``node``: the module's, the builtins, and the parameters and
    names of its function and the functions around it (cached per function)."""
    fn = cx.function(node)
    got = pool.scopes.get(fn)
    if got is None:
        names, up = set(pool.module) | BUILTINS, fn
        while up is not None:
            names.update(param_names(up.args))
            names.update(n.id for n in ast.walk(up) if isinstance(n, ast.Name))
            up = cx.function(up)
        got = pool.scopes[fn] = frozenset(names)
    return got


def _span(cx: Index, node: ast.AST) -> tuple[int, int]:
    """``node``'s character span (every node compared has positions)."""
    return cx.span(cast(Positioned, node))


def _bound(o: ast.AST) -> set[str]:
    """Names bound inside ``o`` itself (comprehension targets, lambda parameters, ``:=``)."""
    got: set[str] = set()
    for n in ast.walk(o):
        if isinstance(n, ast.comprehension) or isinstance(n, ast.NamedExpr):
            got.update(x.id for x in ast.walk(n.target) if isinstance(x, ast.Name))
        elif isinstance(n, ast.Lambda):
            got.update(param_names(n.args))
    return got


def _text(cx: Index, d: Diff, o: ast.AST, scope: frozenset[str], keep: tuple[ast.AST, str] | None = None) -> str | None:
    """Donor ``o``'s text with its variables renamed to the target's (``keep``'s node written
    as the given text); None when it reads a name not in ``scope`` or renames inside an f-string."""
    src = d.src  # positions and text of the donor's file
    start, end = _span(src, o)
    bound, edits = _bound(o), []
    stack: list[tuple[ast.AST, bool]] = [(o, False)]
    while stack:
        n, inside = stack.pop()
        if keep is not None and n is keep[0]:
            edits.append((*_span(src, n), keep[1]))
            continue
        if isinstance(n, ast.Name) and n.id not in bound:
            new = d.names.get(n.id, n.id)
            if new not in scope or (inside and new != n.id):
                return None
            if new != n.id:
                edits.append((*_span(src, n), new))
        stack.extend((kid, inside or isinstance(n, ast.JoinedStr)) for kid in ast.iter_child_nodes(n))
    text = src.text[start:end]
    for s, e, new in sorted(edits, reverse=True):
        text = text[: s - start] + new + text[e - start:]
    return text


def _edit(cx: Index, d: Diff, diff: tuple, scope: frozenset[str]) -> Edit | None:
    """One difference as an edit of the target's text (None: it cannot be copied here); an
    attribute read otherwise is never copied (:func:`_copies`)."""
    kind, t = diff[0], diff[1]
    if kind in ("replace", "wrap"):
        o = diff[2]
        text = _text(cx, d, o, scope, (diff[3], cx.seg(t)) if kind == "wrap" else None)
        if text is None:
            return None
        return (*_span(cx, t), fit(text, _prec(text, o), slot(cx, t)) if isinstance(t, ast.expr) else text)
    if kind == "unwrap":
        inner = diff[2]
        return (*_span(cx, t), fit(cx.seg(inner), _prec(cx.seg(inner), inner), slot(cx, t)))
    if kind == "insert":
        return _insert(cx, d, t, diff[2], diff[3], diff[4], scope)
    return _delete(cx, t, diff[2], diff[3])


def _prec(text: str, node: ast.AST) -> int:
    """The precedence of ``node`` written as ``text``: an atom when the text is in its own
    brackets (a tuple's span holds its parentheses)."""
    if text[:1] == "(" and text[-1:] == ")":
        depth = 0
        for i, ch in enumerate(text):
            depth += (ch in "([{") - (ch in ")]}")
            if depth == 0:
                return ATOM if i == len(text) - 1 else prec(node)
    return prec(node)


def _element_text(cx: Index, d: Diff, t: ast.AST, elem: ast.AST, scope: frozenset[str]) -> str | None:
    if isinstance(elem, ast.keyword):
        value = _text(cx, d, elem.value, scope)
        return None if value is None else (f"{elem.arg}={value}" if elem.arg else f"**{value}")
    text = _text(cx, d, elem, scope)
    if text is not None and isinstance(t, ast.BoolOp):
        return fit(text, _prec(text, elem), prec(t) + 1)
    return text


def _insert(cx: Index, d: Diff, t: ast.AST, name: str, i: int, elem: ast.AST, scope: frozenset[str]) -> Edit | None:
    """Donor element ``elem`` added to ``t``'s list ``name`` at index ``i``."""
    text = _element_text(cx, d, t, elem, scope)
    if text is None:
        return None
    sep = ", " if not isinstance(t, ast.BoolOp) else (" and " if isinstance(t.op, ast.And) else " or ")
    mine = getattr(t, name)
    if name != "keywords" and i < len(mine):
        at = _span(cx, mine[i])[0]
        return (at, at, text + sep)
    if name == "keywords" and isinstance(t, ast.Call):
        mine = [*t.args, *t.keywords]
    if mine:
        at = max(_span(cx, n)[1] for n in mine)
        return (at, at, sep + text)
    if isinstance(t, ast.Call):  # an empty call: right after its "("
        start, end = _span(cx, t.func)[1], _span(cx, t)[1]
        at = cx.text.find("(", start, end)
        return (at + 1, at + 1, text) if at >= 0 else None
    return None


def _delete(cx: Index, t: ast.AST, name: str, elem: ast.AST) -> Edit | None:
    """``elem`` dropped from ``t`` with the separator before it (after it, when first)."""
    siblings = [*t.args, *t.keywords] if isinstance(t, ast.Call) else list(getattr(t, name))
    siblings.sort(key=lambda n: _span(cx, n))
    j = siblings.index(elem)
    if j > 0:
        return (_span(cx, siblings[j - 1])[1], _span(cx, elem)[1], "")
    if len(siblings) > 1:
        return (_span(cx, elem)[0], _span(cx, siblings[1])[0], "")
    return (*_span(cx, elem), "")


def _describe(cx: Index, node: ast.AST, edits: list[Edit], donor: ast.AST, src: Index) -> str:
    lo, hi = _span(cx, node)
    new = cx.text[lo:hi]
    for s, e, text in sorted(edits, reverse=True):
        new = new[: s - lo] + text + new[e - lo:]
    where = f"line {cast(Positioned, donor).lineno}" + ("" if src.tree is cx.tree else f" of {src.path}")
    return f"`{short(cx.text[lo:hi])}` -> `{short(new)}` (as {where} writes it)"


def _callee(node: ast.AST) -> str:
    """The name a call calls (its function's name or method), '' for any other node."""
    func = node.func if isinstance(node, ast.Call) else None
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _copies(diff: tuple) -> bool:
    """Does ``diff`` copy an ingredient? Not one name, literal or attribute for another: those
    are the plain operators' edits (``replace_name``, the constant operators, ``attr_swap``),
    and among a file's many similar lines they would be noise."""
    if diff[0] == "attr":
        return False
    if diff[0] != "replace":
        return True
    t, o = diff[1], diff[2]
    return not (isinstance(t, (ast.Name, ast.Constant)) and isinstance(o, (ast.Name, ast.Constant)))


def _donors(cx: Index, pool: Pool, node: ast.expr, size: int) -> list[tuple[Diff, ast.expr]]:
    """Donors of ``node`` with at most :data:`MAX_DIFFS` differences, most similar first."""
    words, (lo, hi), fn = words_of(pool, node), _span(cx, node), cx.function(node)
    scored = []
    for entry in pool.by_type.get(type(node), ()):
        o = entry.node
        if entry.size > 2 * size or 2 * entry.size < size:
            continue
        theirs = words_of(pool, o)
        if len(words & theirs) < MIN_OVERLAP * len(words | theirs):
            continue
        if _callee(node) != _callee(o):  # another function called
            continue
        if entry.src.tree is cx.tree:
            s, e = _span(cx, o)
            if s < hi and lo < e:  # the target itself, inside it, or around it
                continue
        d = Diff(pool, entry.src, limit=(1 - MIN_SIM) * (size + entry.size))
        compare(d, node, o)
        if not 0 < len(d.diffs) <= MAX_DIFFS or d.cost > d.limit or not any(map(_copies, d.diffs)):
            continue
        sim = 1 - d.cost / (size + entry.size)
        if sim >= MIN_SIM:
            scored.append((-sim, entry.fn is not fn, entry.src.tree is not cx.tree, abs(o.lineno - node.lineno), o.lineno, d, o))
    scored.sort(key=lambda row: row[:5])
    return [(d, o) for *_, d, o in scored]


def donor(cx: Index, node: ast.expr, out: list[Cand]) -> None:
    """Up to :data:`MAX_CANDS` candidates copying a difference of the most similar donors
    (:data:`MAX_DONORS`) of ``node`` in the file (see the module docstring)."""
    if not isinstance(node, TARGETS):
        return
    pool = shared(cx, pool_of)
    size = size_of(pool, node)
    if not MIN_SIZE <= size <= MAX_SIZE:
        return
    scope, seen, donors, added = _scope(cx, pool, node), set(), 0, 0
    for d, o in _donors(cx, pool, node, size):
        if any(diff[0] == "unwrap" and diff[1] is node for diff in d.diffs):
            continue  # the donor is a piece of the target: no ingredient in it
        edits = [_edit(cx, d, diff, scope) for diff in d.diffs if _copies(diff)]
        single = [[e] for e in edits if e is not None]
        both = [e for e in edits if e is not None]
        if len(both) == 2 == len(edits) and (both[0][1] <= both[1][0] or both[1][1] <= both[0][0]):
            single.append(sorted(both))
        fresh = [es for es in single if tuple(es) not in seen]
        for es in fresh:
            seen.add(tuple(es))
            add_cand(out, "donor", node, es, _describe(cx, node, es, o, d.src))
            added += 1
            if added >= MAX_CANDS:
                return
        donors += bool(fresh)
        if donors >= MAX_DONORS:
            return


def _missing(cx: Index, d: Diff, st: ast.stmt, other: Line, scope: frozenset[str]) -> list[tuple[str, str]]:
    """The statements around ``other`` (aligned with ``st``) that ``st``'s block lacks, as
    ``(text renamed onto st's names, "after" | "before")``."""
    block, i = cx.block(st)
    have = {" ".join(cx.seg(n).split()) for n in block}
    got = []
    for j, side in ((other.index + 1, "after"), (other.index - 1, "before")):
        if not 0 <= j < len(other.block):
            continue
        x = other.block[j]
        if not isinstance(x, LINES) or isinstance(x, ast.Return) or x.lineno != x.end_lineno or (
                isinstance(x, ast.Expr) and not isinstance(x.value, ast.Call)):
            continue
        text = _text(cx, d, x, scope)
        if text is not None and " ".join(text.split()) not in have:
            got.append((text, side))
    return got


def donor_statement(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """A one-line statement next to a donor of ``st`` (the same statement, its variables
    renamed, in another block of the file or of a module it imports) that ``st``'s block
    lacks, inserted on the same side of ``st``: a reset call, an increment, an assignment the
    sibling code makes and this code forgot. At most :data:`MAX_LINES` per statement."""
    if not isinstance(st, LINES) or cx.function(st) is None or not cx.standalone(st) or st.lineno != st.end_lineno:
        return
    pool = shared(cx, pool_of)
    scope, size, added = _scope(cx, pool, st), size_of(pool, st), 0
    block, _ = cx.block(st)
    shape, seen = shape_of(pool, st), set()
    for other in pool.lines.get(type(st), ()):
        # aligned = no difference: the same shape (variables blanked) first, a cheap string test
        if other.block is block and other.src.tree is cx.tree or shape_of(pool, other.node) != shape:
            continue
        around = tuple(other.src.seg(n) for n in other.block[max(0, other.index - 1):other.index + 2])
        if around in seen:  # code written twice (the same statement between the same neighbours)
            continue
        seen.add(around)
        d = Diff(pool, other.src, limit=(1 - ALIGN_SIM) * (size + size_of(pool, other.node)))
        compare(d, st, other.node)
        if d.diffs or d.cost > d.limit:
            continue
        for text, side in _missing(cx, d, st, other, scope):
            where = f"line {other.node.lineno}" + ("" if other.src.tree is cx.tree else f" of {other.src.path}")
            _insert_line(cx, st, text, side, f"`{short(text)}` {side} (as beside {where})", out)
            added += 1
            if added >= MAX_LINES:
                return


def _insert_line(cx: Index, st: ast.stmt, text: str, side: str, desc: str, out: list[Cand]) -> None:
    nl, indent = cx.newline(st.lineno), line_indent(cx, st.lineno)
    if side == "before":
        at = cx.line_starts[st.lineno - 1]
        add_cand(out, "donor_statement", st, [(at, at, indent + text + nl)], f"insert {desc}")
        return
    after = cx.line_end(st.lineno)
    tail = nl + indent + text if after == len(cx.text) and not cx.text.endswith(("\n", "\r")) else indent + text + nl
    add_cand(out, "donor_statement", st, [(after, after, tail)], f"insert {desc}")


def stmt_mutants(cx: Index, st: ast.stmt) -> list[Cand]:
    """Candidates of ``donor_statement`` for one statement."""
    out: list[Cand] = []
    donor_statement(cx, st, out)
    return out


def expr_mutants(cx: Index, node: ast.expr) -> list[Cand]:
    """Candidates of this module's operator for one expression node."""
    out: list[Cand] = []
    donor(cx, node, out)
    return out

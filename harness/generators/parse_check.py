"""Does an edited file still parse, and which text is it: the checks of
:func:`harness.generators.mutations.mutants_at` on a candidate's edits.

An edit of a file that parsed is decided by parsing the smallest standalone statement around
it (:func:`edited_chunk`); the indented chunks of a batch are parsed at once, each as an
``if 1:`` block (:func:`valid_many`). :func:`canonical` gives the key that is equal for equal
new texts. Edits are ``(start, end, text)`` character offsets into the original text. Pure.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from harness.generators.edit_text import Cand, Edit
from harness.generators.index import NEWLINE, Index, last_line


def parses(chunks: list[str], nested: bool = True) -> bool:
    """Do all ``chunks`` parse? Indented ones are parsed at once as ``if 1:``
    blocks, each checked to start where expected (none swallowed the next)."""
    if not nested:
        try:
            return bool(ast.parse(chunks[0]))
        except (SyntaxError, ValueError):
            return False
    parts, expect, line = [], [], 1
    for chunk in chunks:
        if not chunk.endswith(("\n", "\r")):
            chunk += "\n"
        expect.append(line)
        parts += ["if 1:\n", chunk]
        line += 1 + len(NEWLINE.findall(chunk))
    try:
        tree = ast.parse("".join(parts))
    except (SyntaxError, ValueError):
        return False
    return [node.lineno for node in tree.body] == expect and not any(
        isinstance(node, ast.If) and node.orelse for node in tree.body)


def splice(index: Index, edits: Sequence[Edit], lo: int, hi: int) -> str:
    """Original text[a:b] with ``edits`` (sorted, inside [a, b]) applied."""
    parts, pos = [], lo
    for start, end, text in edits:
        parts.append(index.text[pos:start])
        parts.append(text)
        pos = end
    parts.append(index.text[pos:hi])
    return "".join(parts)


def edited_chunk(index: Index, edits: Sequence[Edit], node: ast.AST) -> tuple[str, bool] | None:
    """The smallest standalone statement around ``edits`` (anchored at ``node``), edited, and
    whether it is indented (nested); a compound statement edited only in its header gets
    ``pass`` for a body. None when nothing changes."""
    text = index.text
    if all(text[start:end] == new for start, end, new in edits):
        return None
    lo, hi = edits[0][0], max(end for _, end, _ in edits)
    around: ast.AST | None = node if isinstance(node, ast.stmt) else index.statement(node)
    header = _elif_header(index, edits, around, lo, hi)
    if header is not None:
        return header, header[:1] in (" ", "\t", "\f")
    # up to the innermost standalone statement holding every edit: an edit outside the anchor's
    # statement (a default value in the ``def`` line, a swap of two statements) is decided by
    # that function or block, not by a parse of the whole file
    while around is not None and not (isinstance(around, ast.stmt) and index.standalone(around)
                                      and _holds(index, around, lo, hi)):
        around = index.parent(around)
    lo_cut, hi_cut, stub = 0, len(text), ""
    if isinstance(around, ast.stmt):
        stmt_start, stmt_end = index.line_starts[index.first_line(around) - 1], index.line_end(last_line(around))
        if stmt_start <= lo and hi <= stmt_end:
            lo_cut, hi_cut = stmt_start, stmt_end
            body = getattr(around, "body", None)
            if body and not getattr(body[0], "decorator_list", None):
                body_start = index.span(body[0])[0]
                if hi <= body_start:
                    hi_cut, stub = body_start, "pass"
    chunk = splice(index, edits, lo_cut, hi_cut) + stub
    return chunk, lo_cut > 0 and chunk[:1] in (" ", "\t", "\f")


def valid_many(index: Index, items: Sequence[tuple[Cand, tuple[Edit, ...]]]) -> list[bool]:
    """For each (candidate, edits): does the edited file still parse and differ? Parses each
    edit's chunk (see :func:`edited_chunk`), which decides it for a file that parsed before; the
    indented chunks of a batch are parsed together, each as an ``if 1:`` block, and one by one
    only when the batch fails."""
    res = [False] * len(items)
    idx, pieces = [], []
    for position, (cand, edits) in enumerate(items):
        got = edited_chunk(index, edits, cand.node)
        if got is not None and got[1]:
            idx.append(position)
            pieces.append(got[0])
        elif got is not None:
            res[position] = parses([got[0]], nested=False)
    batch_ok = bool(pieces) and parses(pieces)
    for position, chunk in zip(idx, pieces):
        res[position] = batch_ok or parses([chunk])
    return res


def canonical(index: Index, lo: int, hi: int, mid: str) -> tuple[int, int, str]:
    """Key of the text ``text[:lo] + mid + text[hi:]`` that is equal for
    equal texts: (common prefix length, common suffix length, middle)."""
    text, n_t = index.text, len(index.text)
    n_new = n_t - (hi - lo) + len(mid)

    def char_at(i: int) -> str:
        return mid[i - lo] if i - lo < len(mid) else text[hi + i - lo - len(mid)]

    lim = min(n_t, n_new)
    prefix = lo
    while prefix < lim and char_at(prefix) == text[prefix]:
        prefix += 1
    suffix = min(n_t - hi, lim - prefix)
    while suffix < lim - prefix and char_at(n_new - 1 - suffix) == text[n_t - 1 - suffix]:
        suffix += 1
    return prefix, suffix, "".join(char_at(i) for i in range(prefix, n_new - suffix))


def _elif_header(index: Index, edits: Sequence[Edit], st: ast.AST | None, lo: int, hi: int) -> str | None:
    """An edit inside the header of an ``elif`` (after the keyword, before the first statement
    of its body) is decided by that header alone, as ``if <header>pass`` at the ``elif``'s
    indentation: an ``elif`` does not
    stand alone, and the chain around it can be thousands of characters (a dispatch over
    prefixes or tokens), parsed again for every edit of every branch's test. None otherwise."""
    if not isinstance(st, ast.If) or index.standalone(st):
        return None
    start = index.span(st)[0]
    body_start = index.span(st.body[0])[0]
    if not (index.text.startswith("elif", start) and start + 4 <= lo and hi <= body_start):
        return None
    indent = index.text[index.line_starts[st.lineno - 1]:start]
    return (indent if not indent.strip() else "") + "if" + splice(index, edits, start + 4, body_start) + "pass"


def _holds(index: Index, st: ast.stmt, lo: int, hi: int) -> bool:
    """Do the lines of statement ``st`` hold the character span ``[lo, hi]``?"""
    return index.line_starts[index.first_line(st) - 1] <= lo and hi <= index.line_end(last_line(st))

"""A dispatch table kept as same-prefix assignments, missing the entry a failing test names
(issue 21: statement insertion synthesized from the surrounding code).

Code that looks a handler up by a built name (``getattr(self, 'fix_' + code.lower())``)
often fills its table as a run of assignments whose targets differ only in their last
``_``-separated part, all of one shape::

    self.fix_e202 = self.fix_e201
    self.fix_e203 = self.fix_e201
    self.fix_e211 = self.fix_e201

A new code (``E204``) is a missing row. The failing test names it: its function's name
(``test_e204``) or its strings (``'--select=E204'``). ``name_entry`` writes the row
``self.fix_e204 = <value>`` at its sorted place, its value copied from the row before
it, then from the row after it.

A run counts when it has :data:`MIN_ROWS` rows and the failing code reaches it: a
suspicious line names a target or holds the prefix the name is built from (``'fix_'``),
or the run is on a suspicious line. The new part must have the rows' shape (letters,
digits and case, character by character) and be new to the module. Pure: no I/O.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from harness.core.tree_memo import nodes
from harness.generators.data_text import Near, Text, make, parsed
from harness.generators.literal_hints import Hints
from harness.generators.mutant import Mutant
from harness.generators.table_ops import stmt_after

#: rows a run needs to count as a table.
MIN_ROWS = 3
#: new names tried per run (the test's words in order), each with up to two values.
WORDS_PER_RUN = 3
#: candidates per module.
MAX_PER_FILE = 12


def shape(word: str) -> str:
    """A word's shape, character by character: ``a`` lower case, ``A`` upper case, ``9`` a
    digit, the character itself otherwise (``e202`` -> ``a999``)."""
    return "".join("a" if c.islower() else "A" if c.isupper() else "9" if c.isdigit() else c for c in word)


def _row(st: ast.stmt | None) -> tuple[str, str, str] | None:
    """``(owner, prefix, last part)`` of ``owner.prefix_last = value`` or ``prefix_last = value``
    (owner ``""``); None for any other statement."""
    if not (isinstance(st, ast.Assign) and len(st.targets) == 1):
        return None
    target = st.targets[0]
    if isinstance(target, ast.Name):
        owner, name = "", target.id
    elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
        owner, name = target.value.id, target.attr
    else:
        return None
    prefix, _, last = name.rpartition("_")
    return (owner, prefix, last) if prefix.strip("_") and last else None


def _runs(tree: ast.Module) -> Iterator[list[tuple[ast.Assign, str]]]:
    """Runs of >= :data:`MIN_ROWS` consecutive rows of one owner and prefix whose last parts
    share a shape, as ``(statement, last part)``."""
    for node in nodes(tree):  # the module first
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if not isinstance(body, list) or len(body) < MIN_ROWS:
                continue
            run: list[tuple[ast.Assign, str]] = []
            key: tuple[str, str, str] | None = None
            for st in [*body, None]:
                row = _row(st)
                here = (row[0], row[1], shape(row[2])) if row else None
                if run and here != key:
                    if len(run) >= MIN_ROWS:
                        yield run
                    run = []
                if row is not None and isinstance(st, ast.Assign):
                    run.append((st, row[2]))
                    key = here


def _words(hints: Hints, like: str, have: set[str]) -> list[str]:
    """The tests' words of shape ``like`` (as written, or in the rows' case) that no row has."""
    out: dict[str, None] = {}
    for word in hints.words:
        for form in (word, word.lower(), word.upper()):
            if shape(form) == like and form not in have:
                out[form] = None
                break
    return list(out)[:WORDS_PER_RUN]


def _insert(text: Text, run: list[tuple[ast.Assign, str]], at: int, new: str) -> tuple[int, str]:
    """Offset and text that put statement ``new`` before row ``at`` (after the last row when
    ``at`` is past the end), indented as the rows."""
    first = run[0][0]
    indent = text.lines[first.lineno - 1][:first.col_offset]
    if at < len(run):
        return text.starts[run[at][0].lineno - 1], f"{indent}{new}\n"
    offset, before, after = stmt_after(text, run[-1][0])  # table_ops' place after a table's last statement
    return offset, before + new + after


def name_entry_mutants(path: str, source: str, hints: Hints, near: Near | None = None) -> list[Mutant]:
    """The ``name_entry`` candidates of one module for the failing tests' ``hints``.

    Args:
        path: repo-relative POSIX path, copied into each mutant.
        source: the module's text.
        hints: :func:`harness.generators.literal_hints.gather`'s (its ``words`` are read).
        near: when given, only runs the failing code reaches.

    Returns:
        At most :data:`MAX_PER_FILE` mutants, each parsing and unique; empty when the module
        does not parse, has no run, or the tests name no new word of a run's shape.
    """
    tree = parsed(source) if hints.words else None
    if tree is None:
        return []
    text = Text(source)
    bound = {n.id for n in nodes(tree) if isinstance(n, ast.Name)} | \
        {n.attr for n in nodes(tree) if isinstance(n, ast.Attribute)}
    out: list[Mutant] = []
    for run in _runs(tree):
        first = run[0][0].targets[0]
        owner, prefix, _ = _row(run[0][0]) or ("", "", "")
        names = {f"{prefix}_{last}" for _, last in run}
        lo, hi = run[0][0].lineno, run[-1][0].end_lineno or run[-1][0].lineno
        if near is not None and not (near.reaches(names, lo, hi) or f"{prefix}_" in near.names):
            continue
        lasts = [last for _, last in run]
        ordered = lasts == sorted(lasts)
        for word in _words(hints, shape(lasts[0]), set(lasts)):
            if f"{prefix}_{word}" in bound:
                continue
            at = sum(last < word for last in lasts) if ordered else len(run)
            neighbours = [run[i][0] for i in (at - 1, at) if 0 <= i < len(run)]
            target = f"{owner}.{prefix}_{word}" if isinstance(first, ast.Attribute) else f"{prefix}_{word}"
            for value in dict.fromkeys(text.seg(st.value) for st in neighbours):
                offset, new = _insert(text, run, at, f"{target} = {value}")
                mutant = make("name_entry", path, text, run[min(at, len(run) - 1)][0].lineno,
                              f"add `{target} = {value}` to the rows of `{prefix}_*`", offset, offset, new)
                if mutant is not None and all(m.key != mutant.key for m in out):
                    out.append(mutant)
    return out[:MAX_PER_FILE]

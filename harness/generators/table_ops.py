"""Data-table edits guided by the failing tests' literals (issue 21): operators of the offline
repairer that act on a module's rules kept as data, not on its code.

- ``table_entry``: a run of two or more same-shape entries gets one more of that shape - a
  call ``f('a', 'b')`` among calls of ``f`` with string arguments (``_irregular('person',
  'people')``), a ``'key': value`` in a dict literal of string keys (an int value: the
  first gap of the values, then the next one; a string value: the test literal written
  next to the key; or a rewrite rule the failing assertion spells, keyed by a word of the
  module: :func:`rewrite_rows`), a string in a list/tuple/set literal of strings. The new strings are
  literals of the failing tests that the module does not contain (for a two-string call,
  two literals written next to each other in the test: its input and expected output);
  the key of a ``KeyError`` is tried first.
- ``row_entry``: the failing ``parametrize`` row's string added to the table that holds most
  of the other rows' strings (:func:`row_entries`).
- ``table_value``: an entry of such a table equal to the *actual* value of a failing
  ``assert actual == expected`` replaced by the expected value.

Only tables that exist are extended (at least two entries of the shape): writing a
failing test's exact input -> output where the code keeps no table is the "special-cased
test literal" overfit issue 21 warns about. Regex edits are :mod:`.regex_ops`'. Candidates
are :class:`harness.generators.mutant.Mutant` objects, each checked to parse; this module
is pure (no I/O).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from harness.generators.data_text import Near, Text, holders, make, module_strings, parsed, quote
from harness.generators.literal_hints import Hints
from harness.generators.mutant import Mutant
from harness.core.tree_memo import nodes

#: candidates per table (the most precise first).
PER_TABLE = 4
#: share of the other ``parametrize`` rows' strings a table must hold to get the failing row's.
ROW_SHARE = 0.75
#: candidates per module from this module's operators.
MAX_PER_FILE = 24
def _kind(value: str) -> tuple[bool, ...]:
    """The shape of a word: lower case, an identifier, a leading underscore, a dunder
    (``__defaults__``), has a space, a dot, a dash, a digit."""
    return (value == value.lower(), value.isidentifier(), value.startswith("_"),
            value.startswith("__") and value.endswith("__"), " " in value, "." in value, "-" in value,
            any(c.isdigit() for c in value))


def _fits(value: str, entries: list[str]) -> bool:
    """Is ``value`` of the shape most of a table's string entries have?"""
    kinds = [_kind(e) for e in entries]
    return kinds.count(_kind(value)) * 2 >= len(kinds)


def _str_const(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


# -- the tables of a module ----------------------------------------------------------
def _call_runs(tree: ast.Module) -> Iterator[list[ast.Expr]]:
    """Runs of >= 2 consecutive statements ``f('a', ...)`` of a module or class body calling
    the same name with the same number of string arguments and nothing else (a function's
    ``lines.append('...')`` steps are no table)."""
    def shape(st: ast.stmt | None) -> tuple[str, int] | None:
        call = st.value if isinstance(st, ast.Expr) else None
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and not call.keywords
                and call.args and all(_str_const(a) for a in call.args)):
            return ast.dump(call.func), len(call.args)
        return None

    for node in [tree, *(n for n in nodes(tree) if isinstance(n, ast.ClassDef))]:  # rules, not a function's steps
        for field in ("body",):
            run: list[ast.Expr] = []
            body = getattr(node, field, None)
            for st in [*body, None] if isinstance(body, list) else []:
                here = shape(st)
                if run and here != shape(run[0]):
                    if len(run) >= 2:
                        yield run
                    run = []
                if here is not None and isinstance(st, ast.Expr):
                    run.append(st)


def _after_last(text: Text, entry: ast.AST, last: ast.AST, first: ast.AST) -> tuple[int, str, str]:
    """Where a new entry after the last one (starting at node ``entry``, ending at ``last``)
    goes, and how it is joined: ``(offset, before, after)``. On a line of its own, indented
    as the last entry's, when the entries are one per line (``first`` on another line, the
    last entry starting its line and followed by a comma that ends the line); else inline
    after ``last``."""
    start, end = text.span(entry)[0], text.span(last)[1]
    line_text = text.lines[entry.lineno - 1]  # type: ignore[attr-defined]
    indent = line_text[:len(line_text) - len(line_text.lstrip())]
    next_line = last.end_lineno  # type: ignore[attr-defined]
    rest = text.source[end:text.starts[next_line]] if next_line < len(text.starts) else text.source[end:]
    own_line = (first.lineno != entry.lineno and text.source[text.starts[entry.lineno - 1]:start].strip() == ""  # type: ignore[attr-defined]
                and re.match(r"\s*,\s*(#.*)?$", rest) is not None)
    if own_line:
        at = text.starts[next_line] if next_line < len(text.starts) else len(text.source)
        return (at, "\n" + indent, ",") if not text.source[:at].endswith("\n") else (at, indent, ",\n")
    return end, ", ", ""


def stmt_after(text: Text, last: ast.stmt) -> tuple[int, str, str]:
    """Where a statement after ``last`` goes: the start of the next line, ``last``'s indent."""
    line_text = text.lines[last.lineno - 1]
    indent = line_text[:len(line_text) - len(line_text.lstrip())]
    next_line = last.end_lineno or last.lineno
    if next_line < len(text.starts) - 1 or text.source.endswith("\n"):
        return text.starts[min(next_line, len(text.starts) - 1)], indent, "\n"
    return len(text.source), "\n" + indent, ""


def _new_strings(hints: Hints, known: frozenset[str], entries: list[str]) -> list[str]:
    """Literals of the tests the module lacks, and the failing ``parametrize`` rows' strings the
    table lacks (a row's value may be written elsewhere in the module: ``"wbr"`` in another
    table than the set of void elements): a ``KeyError``'s key or a failing assertion's expected
    string first, then the failing rows', table-shaped first."""
    given = [*hints.missing_keys, *(e for _, e in hints.wrong if isinstance(e, str))]
    cases = [c for c in hints.cases if c not in entries]
    novel = [s for s in dict.fromkeys([*given, *hints.strings]) if s not in known]
    return sorted(dict.fromkeys([*novel, *cases]),
                  key=lambda s: (s not in given, s not in cases, not _fits(s, entries)))


def _int_values(values: list[int]) -> list[int]:
    """The values a new int entry may get: the first gap of ``values``, then the next one."""
    have = set(values)
    low, high = min(values), max(values)
    gaps = [v for v in range(low, high) if v not in have][:1]
    return [*gaps, high + 1]


def _call_entries(path: str, text: Text, hints: Hints, known: frozenset[str], run: list[ast.Expr]) -> list[Mutant]:
    """A new call of the run's callee after its last call, with the tests' new strings."""
    calls = [st.value for st in run if isinstance(st.value, ast.Call)]
    last = calls[-1]
    entries = [a.value for call in calls for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    fits = _new_strings(hints, known, entries)
    rows: list[tuple[str, ...]]
    if len(last.args) == 1:
        rows = [(s,) for s in fits if _fits(s, entries)]
    elif len(last.args) == 2:
        novel = set(fits)
        pairs = [pair for pair in hints.pairs if pair[0] in novel or pair[1] in novel]
        rows = [*pairs, *((b, a) for a, b in pairs)]
    else:
        return []
    at, before, after = stmt_after(text, run[-1])
    callee, like = text.seg(last.func), text.seg(last.args[0])
    out = []
    for row in list(dict.fromkeys(rows))[:PER_TABLE]:
        new = f"{callee}({', '.join(quote(s, like) for s in row)})"
        mutant = make("table_entry", path, text, run[-1].end_lineno or run[-1].lineno,
                      f"add `{new}` to the calls of `{callee}`", at, at, before + new + after)
        if mutant is not None:
            out.append(mutant)
    return out


def rewrite_rows(hints: Hints, known: frozenset[str], keys: list[str]) -> list[tuple[str, str]]:
    """Rules a string-to-string rewrite table (``{"twee": "tweed", ...}``) may lack, spelled by
    a failing assertion: for ``actual`` -> ``expected`` and a string of the module ``w`` (not a
    key; 2+ characters, the longest first) with ``actual = P + w + S`` and ``expected = P + v
    + S``, the row ``w: v`` (``'nule'`` -> ``'nulde'`` and the module's word ``'nul'``:
    ``"nul": "nuld"``, the rule the code applies before adding ``"e"``). The key is the
    module's own word, never a test literal: no special-cased input."""
    have = set(keys)
    out: list[tuple[str, str]] = []
    for actual, expected in hints.wrong:
        if not (isinstance(actual, str) and isinstance(expected, str)):
            continue
        for word in sorted((w for w in known if len(w) >= 2 and w not in have and w in actual), key=lambda w: (-len(w), w)):
            at = actual.rfind(word)
            head, tail = actual[:at], actual[at + len(word):]
            if expected.startswith(head) and expected.endswith(tail) and len(expected) >= len(head) + len(tail):
                value = expected[len(head):len(expected) - len(tail)]
                if value and value != word:
                    out.append((word, value))
    return out[:PER_TABLE]


def _dict_entries(path: str, text: Text, hints: Hints, known: frozenset[str], node: ast.Dict) -> list[Mutant]:
    keys = node.keys
    if len(keys) < 2 or not all(_str_const(k) for k in keys):
        return []
    values = node.values
    entries = [k.value for k in keys]  # type: ignore[union-attr]
    new_keys = [k for k in _new_strings(hints, known, entries) if _fits(k, entries) or k in hints.missing_keys]
    rows: list[tuple[str, str]] = []
    if all(isinstance(v, ast.Constant) and type(v.value) is int for v in values):
        nums = _int_values([v.value for v in values])  # type: ignore[attr-defined]
        rows = [(k, repr(n)) for k in new_keys for n in nums]
    elif all(_str_const(v) for v in values):
        like = text.seg(values[-1])
        olds = [v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
        rows = [(k, quote(v, like)) for k, v in rewrite_rows(hints, known, entries) if _fits(v, olds)]  # the failure's
        rows += [(k, quote(v, like)) for k in new_keys for a, v in hints.pairs if a == k and _fits(v, olds)]
    at, before, after = _after_last(text, keys[-1], values[-1], keys[0])  # type: ignore[arg-type]
    like_key = text.seg(keys[-1])  # type: ignore[arg-type]
    sep = text.source[text.span(keys[-1])[1]:text.span(values[-1])[0]]  # type: ignore[arg-type]
    out = []
    for key, value in rows[:PER_TABLE]:
        entry = f"{quote(key, like_key)}{sep}{value}"
        mutant = make("table_entry", path, text, values[-1].end_lineno or node.lineno,
                      f"add `{entry.strip()}` to the dict", at, at, before + entry + after, node)
        if mutant is not None:
            out.append(mutant)
    return out


def _seq_entries(path: str, text: Text, hints: Hints, known: frozenset[str], node: ast.List | ast.Tuple | ast.Set) -> list[Mutant]:
    elts = node.elts
    if len(elts) < 2 or not all(_str_const(e) for e in elts):
        return []
    entries = [e.value for e in elts]  # type: ignore[attr-defined]
    at, before, after = _after_last(text, elts[-1], elts[-1], elts[0])
    like = text.seg(elts[-1])
    out = []
    for word in [w for w in _new_strings(hints, known, entries) if _fits(w, entries)][:PER_TABLE]:
        mutant = make("table_entry", path, text, elts[-1].end_lineno or node.lineno,
                      f"add {quote(word, like)} to the {type(node).__name__.lower()}", at, at,
                      before + quote(word, like) + after, node)
        if mutant is not None:
            out.append(mutant)
    return out


def row_entries(path: str, source: str, hints: Hints) -> list[Mutant]:
    """``row_entry``: the failing ``parametrize`` row's string (:attr:`Hints.cases`) added to a
    list, tuple or set literal of strings of the module that holds most of the other rows'
    strings (:attr:`Hints.siblings`: at least :data:`ROW_SHARE` of them, two or more) but not
    it: every case the test checks but this one is in the table (``voidElements`` holds
    ``"area"``, ``"br"``, ... of ``test_void[...]``, not ``"wbr"``). Any table of the module
    counts, reached by the failing code or not: the rows name it. Empty without such a table."""
    tree = parsed(source) if hints.cases and len(hints.siblings) >= 2 else None
    if tree is None:
        return []
    text, siblings, out = Text(source), set(hints.siblings), []
    for node in nodes(tree):
        if not isinstance(node, (ast.List, ast.Tuple, ast.Set)) or len(node.elts) < 2 \
                or not all(_str_const(e) for e in node.elts):
            continue
        entries = [e.value for e in node.elts]  # type: ignore[attr-defined]
        if len(siblings & set(entries)) < max(2, ROW_SHARE * len(siblings)):
            continue
        at, before, after = _after_last(text, node.elts[-1], node.elts[-1], node.elts[0])
        like = text.seg(node.elts[-1])
        for case in [c for c in hints.cases if c not in entries][:PER_TABLE]:
            mutant = make("row_entry", path, text, node.elts[-1].end_lineno or node.lineno,
                          f"add {quote(case, like)} to the {type(node).__name__.lower()} that holds the other rows' "
                          "values", at, at, before + quote(case, like) + after, node)
            if mutant is not None:
                out.append(mutant)
    return out


def _wrong_values(path: str, text: Text, hints: Hints, entries: list[ast.expr]) -> list[Mutant]:
    """Entries equal to a failing assertion's actual value -> its expected value."""
    out = []
    for actual, expected in hints.wrong:
        for node in entries:
            if not (isinstance(node, ast.Constant) and type(node.value) is type(actual) and node.value == actual):
                continue
            old = text.seg(node)
            new = quote(expected, old) if isinstance(expected, str) else repr(expected)
            if isinstance(expected, str) != isinstance(actual, str):
                continue
            start, end = text.span(node)
            mutant = make("table_value", path, text, node.lineno, f"`{old}` -> `{new}` (the failing test's expected value)",
                          start, end, new, node)
            if mutant is not None:
                out.append(mutant)
    return out


def _callee_names(tree: ast.Module, run: list[ast.Expr]) -> set[str]:
    """The callee's name and the names its definition in this module uses."""
    call = run[0].value
    assert isinstance(call, ast.Call)
    name = call.func.id if isinstance(call.func, ast.Name) else call.func.attr if isinstance(call.func, ast.Attribute) else ""
    out = {name}
    for fn in tree.body:
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.name == name:
            out |= {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
    return out


def table_mutants(path: str, source: str, hints: Hints, near: Near | None = None) -> list[Mutant]:
    """The data-table candidates of one module for the failing tests' ``hints``.

    Args:
        path: repo-relative POSIX path, copied into each mutant.
        source: the module's text.
        hints: :func:`harness.generators.literal_hints.gather`'s.
        near: when given, only tables the failing code reaches (:meth:`Near.reaches`).

    Returns:
        At most :data:`MAX_PER_FILE` mutants (``table_value`` first, then ``table_entry``),
        each parsing and unique; empty when the module does not parse or no table exists.
    """
    if not hints:
        return []
    tree = parsed(source)
    if tree is None:
        return []
    text, known = Text(source), module_strings(tree)
    held = holders(tree)

    def reached(node: ast.AST) -> bool:
        bound, lo, hi = held.get(node, (set(), node.lineno, node.end_lineno or node.lineno))  # type: ignore[attr-defined]
        if any(name.startswith("__") and name.endswith("__") for name in bound):
            return False  # `__all__`, `__slots__`: the module's own bookkeeping, no rule
        return near is None or near.reaches(bound, lo, hi)

    wrong: list[Mutant] = []
    added: list[Mutant] = []
    for run in _call_runs(tree):
        if near is not None and not near.reaches(_callee_names(tree, run), run[0].lineno, run[-1].end_lineno or 0):
            continue
        wrong += _wrong_values(path, text, hints, [a for st in run if isinstance(st.value, ast.Call) for a in st.value.args])
        added += _call_entries(path, text, hints, known, run)
    for node in nodes(tree):
        if len(wrong) + len(added) >= 2 * MAX_PER_FILE:
            break
        if isinstance(node, ast.Dict) and reached(node):
            if len(node.keys) >= 2 and all(_str_const(k) for k in node.keys):
                wrong += _wrong_values(path, text, hints, node.values)
            added += _dict_entries(path, text, hints, known, node)
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)) and reached(node):
            if len(node.elts) >= 2 and all(_str_const(e) for e in node.elts):
                wrong += _wrong_values(path, text, hints, node.elts)
            added += _seq_entries(path, text, hints, known, node)
    out, seen = [], set()
    for mutant in [*wrong, *added]:
        if mutant.key not in seen:
            seen.add(mutant.key)
            out.append(mutant)
    return out[:MAX_PER_FILE]

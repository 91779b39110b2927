"""Literal edits read from an assertion diff (issue 21): ``assert 'Hello, dear Bob!' == 'Hello,
Bob!'`` says which characters of the actual value are wrong and what the test expected there.

The actual and expected strings come from pytest's message: the ndiff lines under it
(``- expected``, ``+ actual``, ``  common``: complete even when the first line's reprs are cut
with ``...``) or else the first line's two string literals; or from unittest's
(``assertEqual``/``assertMultiLineEqual``: ``'first' != 'second'``, then an ndiff with ``- first``,
``+ second``, ``  common`` and ``? `` guide lines): its first line's two literals (read by
:func:`.literal_hints.compared`), or the ndiff when they are shortened (``'abc[20 chars]xyz'``).
The side the test file spells verbatim is taken as the expected one (``assert 'x' == f()``
puts the expectation on the left; unittest's first argument is the actual value otherwise).
Their difference (``difflib.SequenceMatcher`` opcodes) is mapped onto each plain run of the
string literals (the text between escapes, ``{fields}`` and ``%`` directives; f-strings
included) of the localized functions (those holding a suspicious line or a frame, the
module constants and tables they name, and the class-level tables they read through ``self``/``cls``:
:mod:`.literal_attrs`) wherever the run occurs in the actual value: the run is rewritten
to the expected text aligned with it, when it keeps at least half of its characters (two or
more). A candidate's score is the share of the diff's changed
characters that its edit explains (below :data:`MIN_SHARE` it is dropped), times 0.8 + 0.2 x the
suspiciousness of the literal's line (a class-level table's: 1.0 when a failing test names its
class, :func:`.literal_attrs.mentioned`): of two literals that explain as much, the one the
failing tests ran first, or the table of the class they name.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Sequence

from harness.generators.edit_text import Edit
from harness.generators.index import FUNCTION_TYPES, FunctionNode
from harness.generators.literal_attrs import Owner, attribute_roots, mentioned, said_by
from harness.generators.literal_hints import compared
from harness.generators.message_evidence import Evidence, Files, Parsed, make_mutant
from harness.generators.mutant import Mutant

#: the least share of a diff's changed characters a literal edit must explain.
MIN_SHARE = 0.5
#: occurrences of one run in the actual value tried.
MAX_OCCURRENCES = 8
#: longest actual or expected value compared (characters).
MAX_VALUE = 4000
_STRING = re.compile(r"(?P<prefix>[rRbBuUfF]{0,2})(?P<quote>'''|\"\"\"|'|\")")
#: a ``%`` formatting directive (``%s``, ``%(name)-5.2f``, ``%%``).
_DIRECTIVE = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[a-zA-Z%]")
#: unittest's first line between two string reprs, shortened or not (``'ab[20 chars]yz' != 'cd'``).
_UNITTEST_STRINGS = re.compile(r"""[rbuRBU]?(['"]).*\1 != [rbuRBU]?(['"]).*\2""")
#: what unittest puts in a repr it shortens (``'line[23 chars]enough'``: still a valid literal).
_SHORTENED = re.compile(r"\[\d+ chars\]")
#: characters at the end of a repr unittest keeps when it shortens one (``_MIN_DIFF_LEN``).
_REPR_TAIL = 5
Scored = tuple[float, Mutant]
#: the displays a module-level table is written as.
TABLES = (ast.Dict, ast.List, ast.Tuple, ast.Set)
#: a plain run of a literal: (file offset, text, line, prefix + quote, the class of a class-level table or None).
Run = tuple[int, str, int, str, Owner | None]


def sides(text: str, test_source: str = "") -> tuple[str, str] | None:
    """(actual, expected) of an assertion message's text (after ``AssertionError: ``): pytest's
    ``assert a == b`` or unittest's ``a != b``; None when it compares no two strings.
    ``test_source``: the failing test's file, to tell which side the test spelled (the expected
    one)."""
    lines = text.splitlines()
    if not lines:
        return None
    pair = _pytest_sides(lines) if lines[0].startswith("assert ") else _unittest_sides(text.split("\n"))
    if pair is None or pair[0] == pair[1] or max(map(len, pair)) > MAX_VALUE:
        return None
    if test_source and pair[0] in test_source and pair[1] not in test_source:
        return pair[1], pair[0]
    return pair


def _pytest_sides(lines: list[str]) -> tuple[str, str] | None:
    actual: list[str] = []
    expected: list[str] = []
    changed = False
    for line in lines[1:]:
        body = line[2:] if line.startswith("  ") else line
        if body.startswith(("- ", "+ ")):
            (expected if body[0] == "-" else actual).append(body[2:])
            changed = True
        elif body.startswith("  "):
            actual.append(body[2:])
            expected.append(body[2:])
    return ("\n".join(actual), "\n".join(expected)) if changed else _first_line(lines[0])


def _unittest_sides(lines: list[str]) -> tuple[str, str] | None:
    """(first, second) of ``assertEqual(first, second)`` on two strings: the first line's
    literals, or when they are shortened (``[23 chars]``) the ndiff's lines, checked against
    the ends of the shortened reprs (unittest keeps at least their last :data:`_REPR_TAIL`
    characters); a custom message (``assertEqual(a, b, msg)``) follows the diff's last line
    after `` : ``."""
    if not _UNITTEST_STRINGS.fullmatch(lines[0]):
        return None
    pair = compared(lines[0]) if not _SHORTENED.search(lines[0]) else None
    if pair is not None and isinstance(pair[0], str) and isinstance(pair[1], str):
        return pair[0], pair[1]
    values = _ndiff_sides(lines[1:])
    if values is not None and not _ends_as_shown(lines[0], *values) and " : " in lines[-1]:
        values = _ndiff_sides([*lines[1:-1], lines[-1].rpartition(" : ")[0]])
    return values if values is not None and _ends_as_shown(lines[0], *values) else None


def _ndiff_sides(lines: list[str]) -> tuple[str, str] | None:
    """The two texts of unittest's ndiff lines (``- `` the first's, ``+ `` the second's, ``  ``
    both's; ``? `` guides skipped; it stops at any other line); None when no line differs."""
    first: list[str] = []
    second: list[str] = []
    for line in lines:
        if line.startswith(("- ", "+ ")):
            (first if line[0] == "-" else second).append(line[2:])
        elif line.startswith("  "):
            first.append(line[2:])
            second.append(line[2:])
        elif not line.startswith("? "):
            break
    return ("\n".join(first), "\n".join(second)) if first != second else None


def _ends_as_shown(line: str, first: str, second: str) -> bool:
    """Do the values' reprs end as ``'first' != 'second'`` (shortened) shows them?"""
    return line.endswith(repr(second)[-_REPR_TAIL:]) and repr(first)[-_REPR_TAIL:] + " != " in line


def _first_line(line: str) -> tuple[str, str] | None:
    try:
        tree = ast.parse(line[len("assert "):], mode="eval").body
    except SyntaxError:
        return None
    if (isinstance(tree, ast.Compare) and len(tree.ops) == 1 and isinstance(tree.ops[0], ast.Eq)
            and isinstance(tree.left, ast.Constant) and isinstance(tree.comparators[0], ast.Constant)
            and isinstance(tree.left.value, str) and isinstance(tree.comparators[0].value, str)):
        return tree.left.value, tree.comparators[0].value
    return None


def rewrite(opcodes: Sequence[tuple[str, int, int, int, int]], expected: str, low: int, high: int) -> tuple[str, int, int] | None:
    """(the expected text aligned with the actual value's characters ``low:high``, how many
    changed characters it accounts for, how many of them it keeps); None when a replaced span
    only partly overlaps them. A deletion partly inside counts its inside part; an insertion
    counts only strictly inside (at an edge it belongs as much to the text beside: the value
    between ``>`` and ``<`` of a markup literal is not the literal's)."""
    parts: list[str] = []
    explained = kept = 0
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            start, end = max(i1, low), min(i2, high)
            if start < end:
                parts.append(expected[j1 + start - i1:j1 + end - i1])
                kept += end - start
        elif i1 == i2:
            if low < i1 < high:
                parts.append(expected[j1:j2])
                explained += j2 - j1
        elif i2 <= low or i1 >= high:
            continue
        elif low <= i1 and i2 <= high:
            parts.append(expected[j1:j2])
            explained += max(i2 - i1, j2 - j1)
        elif tag == "delete":
            explained += min(i2, high) - max(i1, low)
        else:
            return None
    return "".join(parts), explained, kept


def literal_edits(files: Files, found: list[Evidence], spots: dict[str, dict[int, float]]) -> list[Scored]:
    """Candidates from every string diff of an assertion message among ``found``, on the string
    literals of the functions holding ``spots`` (path -> {line: suspiciousness in [0, 1]}: the
    suspicious lines, and the frames' lines at 1.0), the module constants they name and the
    class-level tables they read through ``self``/``cls`` (:mod:`.literal_attrs`)."""
    pairs = [(pair, item) for item in found if item.exception == "AssertionError"
             and (pair := sides(item.text, files.read(item.test_path) or "")) is not None]
    if not pairs:
        return []
    literals: dict[str, list[Run]] = {}
    for path, lines in spots.items():
        parsed = files.parsed(path)
        if parsed is not None and files.editable(path):
            functions, runs = _literals(parsed, set(lines))
            literals.setdefault(path, []).extend(runs)
            for module, tables in attribute_roots(files, path, functions, found).items():
                module_parsed = files.parsed(module)
                if module_parsed is not None:
                    literals.setdefault(module, []).extend(
                        run for value, owner in tables for run in _walk_runs(module_parsed, [value], owner))
    literals = {path: list({run[0]: run for run in runs}.values()) for path, runs in literals.items()}
    out: list[Scored] = []
    for (actual, expected), item in pairs:
        opcodes = difflib.SequenceMatcher(None, actual, expected, autojunk=False).get_opcodes()
        total = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in opcodes if tag != "equal")
        for path, runs in literals.items():
            parsed = files.parsed(path)
            if parsed is not None:
                for spot in runs:
                    if got := _run_candidates(parsed, spot, actual, expected, opcodes, total):
                        named = 1.0 if spot[4] is not None and mentioned(spot[4], said_by(files, item)) else 0.0
                        weight = 0.8 + 0.2 * min(1.0, max(named, spots.get(path, {}).get(spot[2], 0.0)))
                        out += [(weight * score, mutant) for score, mutant in got]
    return out


def _run_candidates(parsed: Parsed, spot: Run, actual: str, expected: str,
                    opcodes: Sequence[tuple[str, int, int, int, int]], total: int) -> list[Scored]:
    offset, run, line, style, _ = spot
    out: list[Scored] = []
    position = actual.find(run)
    for _ in range(MAX_OCCURRENCES):
        if position < 0:
            break
        got = rewrite(opcodes, expected, position, position + len(run))
        position = actual.find(run, position + 1)
        # the literal must keep at least half of itself, 2 characters or more: an edit that
        # rewrites a short literal whole (`>` -> `>true`, a message -> another) is a guess
        if got is None or got[0] == run or got[1] < max(1.0, MIN_SHARE * total) or got[2] < max(2.0, len(run) / 2):
            continue
        text = _escaped(got[0], style)
        if text is None:
            continue
        edit: Edit = (offset, offset + len(run), text)
        mutant = make_mutant("literal_from_diff", parsed, [edit], line,
                             f"`{run}` -> `{got[0]}` in a string literal: the assertion diff's expected text")
        if mutant is not None:
            out.append((got[1] / total, mutant))
    return out


def _escaped(text: str, style: str) -> str | None:
    """``text`` as it must be written inside a literal of ``style`` (prefix + quote); None when
    a raw or bytes literal cannot hold it."""
    prefix, quote = style.rstrip("'\""), style[len(style.rstrip("'\"")):]
    if "b" in prefix.lower() or ("r" in prefix.lower() and ("\\" in text or quote[0] in text)):
        return None
    out = text if "r" in prefix.lower() else text.replace("\\", "\\\\")
    if len(quote) == 1:
        out = out.replace(quote, "\\" + quote).replace("\n", "\\n").replace("\r", "\\r")
    elif quote in out:
        return None
    return out.replace("{", "{{").replace("}", "}}") if "f" in prefix.lower() else out


def _literals(parsed: Parsed, lines: set[int]) -> tuple[list[FunctionNode], list[Run]]:
    """The functions holding one of ``lines``, and the plain runs of the string literals
    (docstrings aside) of those functions and of the module-level string constants and tables
    (:data:`TABLES`: ``TENS = {9: "dziewięćdziesiąt"}``) they name."""
    functions = {id(fn): fn for fn in (parsed.function_at(line) for line in lines) if fn is not None}
    named = {node.id for fn in functions.values() for node in ast.walk(fn) if isinstance(node, ast.Name)}
    roots: list[ast.AST] = list(functions.values())
    roots += [st.value for st in parsed.tree.body if isinstance(st, ast.Assign) and isinstance(st.value, (
        ast.Constant, ast.JoinedStr, *TABLES)) and any(isinstance(t, ast.Name) and t.id in named for t in st.targets)]
    return list(functions.values()), _walk_runs(parsed, roots, None)


def _walk_runs(parsed: Parsed, roots: list[ast.AST], owner: Owner | None) -> list[Run]:
    """The plain runs of the string literals under ``roots`` (a function's docstring aside), as
    (file offset, text, line, prefix + quote, ``owner``)."""
    out: list[Run] = []
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            start = parsed.index.span(node)[0]
            if start not in seen:
                seen.add(start)
                out += [(*run, owner) for run in _runs(parsed, node)]
            continue
        if isinstance(node, FUNCTION_TYPES) and node.body and _docstring(node.body[0]):
            stack += [child for child in ast.iter_child_nodes(node) if child is not node.body[0]]
            continue
        stack += list(ast.iter_child_nodes(node))
    return out


def _docstring(st: ast.stmt) -> bool:
    return isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant) and isinstance(st.value.value, str)


def _runs(parsed: Parsed, node: ast.expr) -> list[tuple[int, str, int, str]]:
    """The plain runs of one literal's source (each of its implicitly joined strings)."""
    start, end = parsed.index.span(node)
    source = parsed.text[start:end]
    out: list[tuple[int, str, int, str]] = []
    position = 0
    while (token := _STRING.search(source, position)) is not None:
        quote, style = token.group("quote"), token.group("prefix") + token.group("quote")
        cursor, depth, run_start = token.end(), 0, token.end()
        while cursor < len(source) and not source.startswith(quote, cursor):
            char = source[cursor]
            breaks = char in "\\{}%" or depth > 0
            if breaks and depth == 0 and cursor > run_start:
                out.append((start + run_start, source[run_start:cursor], node.lineno, style))
            directive = _DIRECTIVE.match(source, cursor) if char == "%" and depth == 0 else None
            if directive is not None:
                cursor = directive.end()
            elif char == "\\" or source.startswith(("{{", "}}"), cursor) and depth == 0:
                cursor += 2
            else:
                depth += (char == "{") - (char == "}" and depth > 0)
                cursor += 1
            if breaks:
                run_start = cursor
        if depth == 0 and cursor > run_start:
            out.append((start + run_start, source[run_start:cursor], node.lineno, style))
        position = cursor + len(quote)
    return out

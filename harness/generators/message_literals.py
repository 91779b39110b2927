"""Literal edits read from an assertion diff (issue 21): ``assert 'Hello, dear Bob!' == 'Hello,
Bob!'`` says which characters of the actual value are wrong and what the test expected there.

The actual and expected strings come from pytest's message: the ndiff lines under it
(``- expected``, ``+ actual``, ``  common``: complete even when the first line's reprs are cut
with ``...``) or else the first line's two string literals. The side the test file spells
verbatim is taken as the expected one (``assert 'x' == f()`` puts the expectation on the left).
Their difference (``difflib.SequenceMatcher`` opcodes) is mapped onto each plain run of the
string literals (the text between escapes, ``{fields}`` and ``%`` directives; f-strings
included) of the localized functions (those holding a suspicious line or a frame, and the
module constants they name) wherever the run occurs in the actual value: the run is rewritten
to the expected text aligned with it, when it keeps at least half of its characters (two or
more). A candidate's score is the share of the diff's changed
characters that its edit explains (below :data:`MIN_SHARE` it is dropped), times 0.8 + 0.2 x the
suspiciousness of the literal's line: of two literals that explain as much, the one the failing
tests ran first.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Sequence

from harness.generators.edit_text import Edit
from harness.generators.index import FUNCTION_TYPES
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
Scored = tuple[float, Mutant]


def sides(text: str, test_source: str = "") -> tuple[str, str] | None:
    """(actual, expected) of an ``assert a == b`` message's text (after ``AssertionError: ``),
    or None when it compares no two strings. ``test_source``: the failing test's file, to tell
    which side the test spelled (the expected one)."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("assert "):
        return None
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
    pair = ("\n".join(actual), "\n".join(expected)) if changed else _first_line(lines[0])
    if pair is None or pair[0] == pair[1] or max(map(len, pair)) > MAX_VALUE:
        return None
    if test_source and pair[0] in test_source and pair[1] not in test_source:
        return pair[1], pair[0]
    return pair


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
    """Candidates from every ``assert ... == ...`` string diff among ``found``, on the string
    literals of the functions holding ``spots`` (path -> {line: suspiciousness in [0, 1]}: the
    suspicious lines, and the frames' lines at 1.0)."""
    pairs = [pair for item in found if item.exception == "AssertionError"
             and (pair := sides(item.text, files.read(item.test_path) or "")) is not None]
    if not pairs:
        return []
    literals = {path: _literals(parsed, set(lines)) for path, lines in spots.items()
                if files.editable(path) and (parsed := files.parsed(path)) is not None}
    out: list[Scored] = []
    for actual, expected in pairs:
        opcodes = difflib.SequenceMatcher(None, actual, expected, autojunk=False).get_opcodes()
        total = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in opcodes if tag != "equal")
        for path, runs in literals.items():
            parsed = files.parsed(path)
            if parsed is not None:
                for spot in runs:
                    weight = 0.8 + 0.2 * min(1.0, spots[path].get(spot[2], 0.0))
                    out += [(weight * score, mutant) for score, mutant in
                            _run_candidates(parsed, spot, actual, expected, opcodes, total)]
    return out


def _run_candidates(parsed: Parsed, spot: tuple[int, str, int, str], actual: str, expected: str,
                    opcodes: Sequence[tuple[str, int, int, int, int]], total: int) -> list[Scored]:
    offset, run, line, style = spot
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


def _literals(parsed: Parsed, lines: set[int]) -> list[tuple[int, str, int, str]]:
    """The plain runs of the string literals (docstrings aside) of the functions holding one
    of ``lines`` and of the module-level string constants those functions name, as
    (file offset, text, line, prefix + quote)."""
    functions = {id(fn): fn for fn in (parsed.function_at(line) for line in lines) if fn is not None}
    named = {node.id for fn in functions.values() for node in ast.walk(fn) if isinstance(node, ast.Name)}
    roots: list[ast.AST] = list(functions.values())
    roots += [st.value for st in parsed.tree.body if isinstance(st, ast.Assign) and isinstance(st.value, (
        ast.Constant, ast.JoinedStr)) and any(isinstance(t, ast.Name) and t.id in named for t in st.targets)]
    out: list[tuple[int, str, int, str]] = []
    seen: set[int] = set()
    stack = roots
    while stack:
        node = stack.pop()
        if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            start = parsed.index.span(node)[0]
            if start not in seen:
                seen.add(start)
                out += _runs(parsed, node)
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

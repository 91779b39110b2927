"""What the failing tests' own text says a data edit should write (issue 21, data-driven edits).

Real libraries keep rules as data - same-shape calls (``_irregular('person', 'people')``),
dict literals mapping names to codes, tuples of words, regex alternations - and a bug there
is a missing or wrong entry whose value is usually written in the failing test. This module
reads those values, read-only, from the worktree: the failing ``parametrize`` row of a table
the decorator names (:mod:`.param_rows`), the string and number literals of each
failing test function (its decorators too: ``parametrize`` rows), the literals written next
to each other in one statement or tuple (``pluralize('human') == 'humans'``), the
``actual == expected`` pair of a failing assertion's message, and the key of a ``KeyError``.
The operators of :mod:`.table_ops` and :mod:`.regex_ops` build their candidates from them.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.generators.param_rows import failing_row, sibling_strings

#: longest string literal kept as a hint (characters): longer ones are documents, not entries.
MAX_LITERAL = 80
#: hints kept per kind (the first ones, in test order).
MAX_HINTS = 40
#: longest string a test builds by repetition (``"1" * 21``) kept as a regex input (characters).
MAX_REPEATED = 200
#: a data file a failing test names is read for regex inputs up to this size (bytes).
MAX_DATA_FILE = 64 * 1024
#: a string that may name a data file: a relative path of plain parts with a folder or an extension.
_DATA_PATH = re.compile(r"(?!/)(?:[\w.-]+/)*[\w-]+(?:\.[\w]{1,8})+|(?:[\w.-]+/)+[\w.-]+")
_ASSERT_EQ = re.compile(r"^(?:AssertionError: )?assert (.+?) == (.+)$")
#: unittest's ``assertEqual(first, second)`` message: ``first != second`` (first: the actual value)
_UNITTEST_EQ = re.compile(r"^(?:AssertionError: )?(.+?) != (.+)$")
_KEY_ERROR = re.compile(r"^KeyError: (.+)$")

Scalar = str | int | float


@dataclass(frozen=True)
class Hints:
    """The failing tests' literals, in test order, each once.

    Attributes:
        strings: string literals (1 to :data:`MAX_LITERAL` characters, one line).
        numbers: int and float literals (bools left out).
        pairs: two string literals written next to each other in one tuple/list or one
            simple statement (``('human', 'humans')``, ``f('human') == 'humans'``), in order.
        wrong: ``(actual, expected)`` from failing assertion messages (pytest's ``assert
            'persons' == 'people'``, unittest's ``'ID' != '_PRAGMA'``): the side that is a
            literal of the test is the expected one; when both are, the left side is the
            actual value.
        missing_keys: the keys of ``KeyError`` messages (``KeyError: 'italic'``).
        words: the ``_``-separated parts of the failing tests' function names (``test_e204``
            -> ``e204``; ``test`` left out), then the letter-and-digit runs of their string
            literals (``'--select=E204'`` -> ``select``, ``E204``): the case a test is about
            (words alone do not make the hints true: only :mod:`.name_table_ops` reads them).
        cases: the strings of the failing rows of ``parametrize`` tables (``"wbr"`` of
            ``test_void[wbr]``): the one case that fails where its sibling rows pass.
        siblings: the strings of the other rows of those tables, in the same columns
            (:func:`.param_rows.sibling_strings`).
    """

    strings: tuple[str, ...] = ()
    numbers: tuple[int | float, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()
    wrong: tuple[tuple[Scalar, Scalar], ...] = ()
    missing_keys: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    cases: tuple[str, ...] = ()
    siblings: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.strings or self.numbers or self.wrong or self.missing_keys)


def inside(root: Path, rel: str) -> Path | None:
    """``root / rel`` when it is a regular file inside ``root`` reached through no symlink."""
    try:
        base = root.resolve()
        path = (base / rel)
        if path.is_symlink() or not path.resolve().is_relative_to(base) or not path.is_file():
            return None
        for parent in path.relative_to(base).parents:
            if (base / parent).is_symlink():
                return None
        return path
    except (OSError, ValueError):
        return None


def test_functions(root: Path, test_ids: Iterable[str]
                   ) -> Iterator[tuple[str, str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """``(test id, repo-relative test file, its function node)`` for each of ``test_ids`` (pytest
    node ids) whose file is :func:`inside` ``root``, parses, and defines the function; each file
    is read and parsed once."""
    for test_id, rel, _, fn in _with_trees(root, test_ids):
        yield test_id, rel, fn


def _with_trees(root: Path, test_ids: Iterable[str]
                ) -> Iterator[tuple[str, str, ast.Module, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """:func:`test_functions`' rows with the test file's module between file and function."""
    trees: dict[str, ast.Module | None] = {}
    for test_id in test_ids:
        rel, *parts = test_id.split("::")
        if rel not in trees:
            path = inside(Path(root), rel)
            try:
                trees[rel] = ast.parse(path.read_text(encoding="utf-8")) if path else None
            except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
                trees[rel] = None
        tree = trees[rel]
        fn = function_of_test(tree, parts) if tree is not None and parts else None
        if tree is not None and fn is not None:
            yield test_id, rel, tree, fn


def function_of_test(tree: ast.Module, parts: list[str]) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The function a pytest node id's parts name (``Class``, ``test_x``; parameters cut) in
    the test file's ``tree``, or None."""
    names = [re.sub(r"\[.*$", "", part) for part in parts]
    body: list[ast.stmt] = tree.body
    for name in names[:-1]:
        cls = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == name), None)
        if cls is None:
            return None
        body = cls.body
    return next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and n.name == names[-1]), None) if names else None


def _pos(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


def _strings_in(node: ast.AST) -> list[str]:
    found = sorted((n for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)), key=_pos)
    return [value for value in (str(n.value) for n in found) if 0 < len(value) <= MAX_LITERAL and "\n" not in value]


def _groups(fn: ast.AST) -> list[list[str]]:
    """The string literals of each tuple/list display (its own elements) and of each simple
    statement of ``fn`` (all of them), in order: literals written next to each other."""
    out = []
    for node in ast.walk(fn):
        if isinstance(node, (ast.Tuple, ast.List)):
            out.append([e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
                        and 0 < len(e.value) <= MAX_LITERAL and "\n" not in e.value])
        elif isinstance(node, ast.stmt) and not hasattr(node, "body"):
            out.append(_strings_in(node))
    return out


def _literal(text: str) -> Scalar | None:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None


def compared(line: str) -> tuple[Scalar, Scalar] | None:
    """(left, right) of a failing assertion message's first line when both are different
    literals (str, int or float): pytest's ``assert a == b`` or unittest's ``a != b``
    (``assertEqual(first, second)``: ``first`` on the left); ``AssertionError: `` may lead."""
    if m := (_ASSERT_EQ.match(line) or _UNITTEST_EQ.match(line)):
        left, right = _literal(m.group(1)), _literal(m.group(2))
        if left is not None and right is not None and left != right:
            return left, right
    return None


def gather(root: Path, failing: dict) -> Hints:
    """The hints of the failing tests ``failing`` (test id -> result with ``message``), read
    from their test files under ``root`` (a file reached through a symlink, outside ``root``,
    or that does not parse gives nothing).

    Args:
        root: the worktree root.
        failing: ``Task.failing``: pytest node id -> :class:`harness.evaluators.verdict.TestResult`.

    Returns:
        :class:`Hints`, each kind at most :data:`MAX_HINTS` long.
    """
    strings: dict[str, None] = {}
    numbers: dict[int | float, None] = {}
    pairs: dict[tuple[str, str], None] = {}
    words: dict[str, None] = {}
    cases: dict[str, None] = {}
    siblings: dict[str, None] = {}
    for test_id, _, tree, fn in _with_trees(root, failing):
        words.update(dict.fromkeys(w for w in fn.name.split("_") if w and w != "test"))
        row = failing_row(tree, fn, test_id)  # first: the failing row of a table the decorator names
        if row:
            strings.update(dict.fromkeys(_strings_in(ast.Tuple(elts=row))))
            group = [v.value for v in row if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            cases.update(dict.fromkeys(v for v in group if v and len(v) <= MAX_LITERAL and "\n" not in v))
            siblings.update(dict.fromkeys(sibling_strings(tree, fn, test_id)))
            pairs.update(dict.fromkeys(zip(group, group[1:])))
        for node in [*fn.decorator_list, *fn.body]:
            strings.update(dict.fromkeys(_strings_in(node)))
            numbers.update(dict.fromkeys(n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
                                         and isinstance(n.value, (int, float)) and not isinstance(n.value, bool)))
            for group in _groups(node):
                pairs.update(dict.fromkeys(zip(group, group[1:])))
    words.update(dict.fromkeys(w for s in strings for w in re.findall(r"[A-Za-z0-9]+", s)))
    wrong: dict[tuple[Scalar, Scalar], None] = {}
    missing: dict[str, None] = {}
    known = set(strings) | set(numbers)
    for result in failing.values():
        first = (getattr(result, "message", "") or "").split("\n", 1)[0].strip()
        if _ASSERT_EQ.match(first) or _UNITTEST_EQ.match(first):
            if (pair := compared(first)) is not None:
                left, right = pair
                wrong[(right, left) if left in known and right not in known else (left, right)] = None
        elif (m := _KEY_ERROR.match(first)) and isinstance(key := _literal(m.group(1)), str):
            missing[key] = None
    return Hints(tuple(strings)[:MAX_HINTS], tuple(numbers)[:MAX_HINTS],
                 tuple((a, b) for a, b in pairs if a != b)[:MAX_HINTS], tuple(wrong)[:MAX_HINTS],
                 tuple(missing)[:MAX_HINTS], tuple(words)[:MAX_HINTS], tuple(cases)[:MAX_HINTS],
                 tuple(siblings)[:MAX_HINTS])


def _lines_of(value: str) -> list[str]:
    """The non-empty lines of a multi-line string literal, its common indentation removed."""
    return [line for line in textwrap.dedent(value).splitlines() if line.strip() and len(line) <= MAX_LITERAL]


def _wire_text(value: bytes) -> str:
    """A bytes literal as the text a ``str`` pattern (or its ``.encode()``) sees: byte for byte
    (Latin-1), so ASCII protocol data reads as written."""
    return value.decode("latin-1")


def _wire_lines(value: str) -> list[str]:
    """The ``\\r\\n``-terminated lines of a literal of protocol data (HTTP, SMTP: ``b"5 \\r\\n01234\\r\\n"``)
    with their line end kept, as a parser matches them one at a time (a pattern ending in
    ``\\r\\n``); empty for a literal without one."""
    if "\r\n" not in value:
        return []
    return [line for line in value.splitlines(keepends=True) if line.endswith("\r\n") and 2 < len(line) <= MAX_LITERAL]


def _repeated(found: Iterable[ast.AST]) -> list[str]:
    """The strings a test function builds by repetition (``found``: its nodes), ``"1" * 21`` or ``21 * b"a"`` (bytes as
    :func:`_wire_text`), at most :data:`MAX_REPEATED` characters: the over-long input a
    test of a length limit writes."""
    out = []
    for node in found:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            pair = (node.left, node.right) if isinstance(node.right, ast.Constant) else (node.right, node.left)
            text, count = pair
            if (isinstance(text, ast.Constant) and isinstance(text.value, (str, bytes)) and isinstance(count, ast.Constant)
                    and type(count.value) is int and 0 < len(text.value) * count.value <= MAX_REPEATED):
                value = text.value * count.value
                out.append(_wire_text(value) if isinstance(value, bytes) else value)
    return out


def _data_file_lines(root: Path, test_file: str, value: str) -> list[str]:
    """The lines (as :func:`_lines_of`) of the data file a test's string literal ``value`` names
    (``'samples/git_no_prefix.diff'``: a relative path with a folder or an extension, found
    next to the test file ``test_file`` or at the root, :func:`inside` ``root``, at most
    :data:`MAX_DATA_FILE` bytes, UTF-8); empty for any other string. A test that parses a
    fixture file gives the regex edits the input its literals lack."""
    if not _DATA_PATH.fullmatch(value) or value.endswith(".py"):
        return []
    folder = test_file.rsplit("/", 1)[0] if "/" in test_file else ""
    for rel in dict.fromkeys([f"{folder}/{value}" if folder else value, value]):
        path = inside(root, rel)
        try:
            if path is not None and path.stat().st_size <= MAX_DATA_FILE:
                return _lines_of(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return []
    return []


def other_strings(root: Path, failing: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What a regex edit is checked on, read like :func:`gather` (no symlink followed): (the
    lines of the failing tests' multi-line string literals and of the data files they name
    (:func:`_data_file_lines`), their bytes literals (:func:`_wire_text`), the strings they
    build by repetition (:func:`_repeated`), their one-line strings longer than
    :data:`MAX_LITERAL` (up to :data:`MAX_REPEATED`: a URL, a header line) and the ``\\r\\n`` lines of all with their line
    ends (:func:`_wire_lines`); the string, bytes and repeated
    literals of the other test functions - ``test*`` functions and methods - of the failing
    tests' files, multi-line ones as their lines), each at most :data:`MAX_HINTS` x 4 long, in
    file order.

    Args:
        root: the worktree root.
        failing: ``Task.failing``: pytest node id -> result (only the ids are read).
    """
    named: dict[str, set[tuple[str, ...]]] = {}
    for test_id in failing:
        rel, *parts = test_id.split("::")
        named.setdefault(rel, set()).add(tuple(re.sub(r"\[.*$", "", part) for part in parts))
    lines: dict[str, None] = {}
    others: dict[str, None] = {}
    for rel, wanted in named.items():
        path = inside(Path(root), rel)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8")) if path else None
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            tree = None
        if tree is None:
            continue
        scopes = [((), tree.body)] + [((cls.name,), cls.body) for cls in tree.body if isinstance(cls, ast.ClassDef)]
        for prefix, body in scopes:
            for fn in body:
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or not fn.name.startswith("test"):
                    continue
                found = tuple(ast.walk(fn))  # one walk for the four scans
                values = [n.value for n in found if isinstance(n, ast.Constant) and isinstance(n.value, str)]
                repeated = {id(side) for n in found if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult)
                            for side in (n.left, n.right)}  # `b"1" * 21`: the string built, not its piece
                data = [_wire_text(n.value) for n in found
                        if isinstance(n, ast.Constant) and isinstance(n.value, bytes) and id(n) not in repeated]
                data += _repeated(found)
                if (*prefix, fn.name) in wanted:
                    lines.update(dict.fromkeys(line for v in values if "\n" in v for line in _lines_of(v)))
                    lines.update(dict.fromkeys(line for v in values for line in _data_file_lines(Path(root), rel, v)))
                    lines.update(dict.fromkeys(line for v in [*values, *data] for line in _wire_lines(v)))
                    lines.update(dict.fromkeys(v for v in data if 0 < len(v) <= MAX_REPEATED and "\n" not in v))
                    lines.update(dict.fromkeys(v for v in values  # a long URL or header line: an input, not an entry
                                               if MAX_LITERAL < len(v) <= MAX_REPEATED and "\n" not in v))
                else:
                    others.update(dict.fromkeys(line for v in [*values, *data] if 0 < len(v)
                                                for line in (_lines_of(v) + _wire_lines(v) if "\n" in v
                                                             else [v] if len(v) <= MAX_LITERAL else [])))
                    others.update(dict.fromkeys(v for v in data if MAX_LITERAL < len(v) <= MAX_REPEATED and "\n" not in v))
    return tuple(lines)[:4 * MAX_HINTS], tuple(others)[:4 * MAX_HINTS]

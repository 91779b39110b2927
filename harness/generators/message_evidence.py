"""The failing tests' own evidence for the offline repairer (issue 21), and what the message
operators share.

Each failing test carries its exception line (``TypeError: f() got multiple values for
argument 'self'``, pytest's ``assert 'a' == 'b'`` with its diff lines) and its traceback frames
(:class:`harness.core.task.Task` ``failing``). :func:`evidence` turns them into
:class:`Evidence`: the exception's type as printed, its text, and the frames in the repository.
:class:`Files` reads and parses the repository's files once (by path or by dotted module
name, never a protected or non-Python file); :func:`make_mutant` turns edits of one file into a
:class:`harness.generators.mutant.Mutant` whose new text parses. The operators are
:mod:`.message_names`, :mod:`.message_except` and :mod:`.message_literals`, gathered and ranked
by :mod:`.message_ops`. Pure: the only input is the ``read`` function given.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from harness.core.localize import is_protected
from harness.core.tree_memo import nodes
from harness.generators.data_text import parsed, text_key
from harness.generators.edit_text import Edit, line_indent
from harness.generators.index import FUNCTION_TYPES, FunctionNode, Index
from harness.generators.mutant import Mutant

#: the first line of an exception message: ``Type`` or ``pkg.mod.Type``, then ``: text``.
_HEAD = re.compile(r"([A-Za-z_][\w.]*)(?::\s?(.*))?$", re.S)
#: where a module's file may sit under the repository root (flat, src and lib layouts).
MODULE_ROOTS = ("", "src/", "lib/")
#: a function reads the text of a repository file (repo-relative POSIX path), None if absent.
Reader = Callable[[str], "str | None"]


class FrameLike(Protocol):
    """A traceback frame (``harness.evaluators.verdict.Frame``): path, 1-based line, function."""

    @property
    def path(self) -> str: ...

    @property
    def line(self) -> int: ...


class ResultLike(Protocol):
    """A failing test's result (``harness.evaluators.verdict.TestResult``): message, frames."""

    @property
    def message(self) -> str: ...

    @property
    def frames(self) -> tuple[FrameLike, ...]: ...


@dataclass(frozen=True)
class Evidence:
    """What one failing test says.

    Attributes:
        test_id: the pytest node id (a file path for a collection error).
        exception: the exception's type as printed: ``TypeError``, ``io.UnsupportedOperation``,
            ``Failed`` (pytest's ``DID NOT RAISE``), ``AssertionError``.
        text: the rest of the message (every line after ``Type: ``).
        frames: the frames inside the repository as (repo-relative path, 1-based line),
            outermost first (absolute paths - the interpreter, site-packages - left out).
    """

    test_id: str
    exception: str
    text: str
    frames: tuple[tuple[str, int], ...]

    @property
    def test_path(self) -> str:
        """The test's file (repo-relative)."""
        return self.test_id.split("::", 1)[0]


def evidence(failing: Mapping[str, ResultLike], limit: int = 40) -> list[Evidence]:
    """The evidence of up to ``limit`` failing tests (by test id), those with a message only."""
    out = []
    for test_id in sorted(failing)[:limit]:
        result = failing[test_id]
        head = _HEAD.match((getattr(result, "message", "") or "").strip())  # a result may be missing
        if head is None:
            continue
        frames = tuple((frame.path, frame.line) for frame in getattr(result, "frames", ()) or ()
                       if not frame.path.startswith("/") and frame.path.endswith(".py"))
        out.append(Evidence(test_id, head.group(1), head.group(2) or "", frames))
    return out


@dataclass
class Parsed:
    """One repository file, parsed: its path, text, tree and offsets (:class:`Index`)."""

    path: str
    text: str
    tree: ast.Module
    index: Index
    _functions: list[FunctionNode] | None = None

    def functions(self) -> list[FunctionNode]:
        """Every function definition of the file, outermost first (walked once)."""
        if self._functions is None:
            self._functions = [node for node in nodes(self.tree) if isinstance(node, FUNCTION_TYPES)]
        return self._functions

    def function_at(self, line: int) -> FunctionNode | None:
        """The innermost function whose lines hold ``line`` (None at module level)."""
        best = None
        for fn in self.functions():
            if fn.lineno <= line <= (fn.end_lineno or fn.lineno) and (best is None or fn.lineno >= best.lineno):
                best = fn
        return best

    def line_indent(self, line: int) -> str:
        """The leading whitespace of line ``line``."""
        return line_indent(self.index, line)


class Files:
    """The repository's Python files, read and parsed once each.

    Args:
        read: ``read(path) -> text | None`` (repo-relative POSIX path).
        protected: glob patterns of paths a patch must not touch (tests, configs): such a file
            may be read (:meth:`parsed`) but is never :meth:`editable`.
    """

    def __init__(self, read: Reader, protected: Iterable[str] = ()) -> None:
        self.read = read
        self.protected = tuple(protected)
        self._parsed: dict[str, Parsed | None] = {}
        self._imports: dict[str, list[str]] = {}

    def parsed(self, path: str) -> Parsed | None:
        """``path`` parsed (None when absent, not Python or not parsing)."""
        if path not in self._parsed:
            text = self.read(path) if path.endswith(".py") and not path.startswith("/") else None
            tree = parsed(text) if text is not None else None  # shared with the operators (read only)
            self._parsed[path] = Parsed(path, text, tree, Index(text, tree, [])) if text and tree else None
        return self._parsed[path]

    def editable(self, path: str) -> bool:
        """A patch may change ``path``: a Python file of the repository, not protected."""
        return not is_protected(path, self.protected) and self.parsed(path) is not None

    def module(self, dotted: str) -> str | None:
        """The repo-relative file of module ``dotted`` (``pkg.mod`` -> ``pkg/mod.py`` or
        ``pkg/mod/__init__.py``, also under ``src/`` and ``lib/``), or None."""
        base = dotted.replace(".", "/")
        for root in MODULE_ROOTS:
            for path in (f"{root}{base}.py", f"{root}{base}/__init__.py"):
                if self.parsed(path) is not None:
                    return path
        return None

    def imported_by(self, path: str) -> list[str]:
        """The repository modules ``path`` imports (files, in order of the imports)."""
        if path not in self._imports:
            self._imports[path] = self._imported_by(path)
        return self._imports[path]

    def _imported_by(self, path: str) -> list[str]:
        parsed = self.parsed(path)
        if parsed is None:
            return []
        names: list[str] = []
        for node in ast.walk(parsed.tree):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = absolute(path, node.module, node.level)
                names += [base] + [f"{base}.{alias.name}" for alias in node.names]
        found = (self.module(name) for name in dict.fromkeys(names))
        return list(dict.fromkeys(path for path in found if path is not None))


def suspicious_spots(locations: Iterable, limit: int, py_only: bool = False) -> dict[str, dict[int, float]]:
    """The first ``limit`` suspicious lines with a positive score, ``path -> {line: score}``
    (the highest score of a line listed twice); ``locations``: ``Context.locations``, most
    suspicious first; ``py_only``: Python files only."""
    spots: dict[str, dict[int, float]] = {}
    for loc in locations:
        if loc.score > 0 and (not py_only or loc.path.endswith(".py")) and sum(map(len, spots.values())) < limit:
            lines = spots.setdefault(loc.path, {})
            lines[loc.line] = max(loc.score, lines.get(loc.line, 0.0))
    return spots


def absolute(path: str, module: str | None, level: int) -> str:
    """The dotted name of ``from <level dots><module> import ...`` written in file ``path``
    (``pkg/sub/mod.py``, ``from ..common`` -> ``pkg.common``; a ``src/`` or ``lib/`` root left out)."""
    if not level:
        return module or ""
    parts = path.removesuffix(".py").split("/")
    if parts[0] + "/" in MODULE_ROOTS:
        parts = parts[1:]
    package = parts[:-1]  # a module's package; an __init__'s own
    package = package[:len(package) - (level - 1)] if level > 1 else package
    return ".".join(package + ([module] if module else []))


def related_files(files: Files, found: list[Evidence], located: Iterable[str] = ()) -> list[str]:
    """The editable files the evidence points at: the files of its frames (innermost first),
    then the modules the failing tests' files import, then ``located`` (the files of the
    suspicious lines)."""
    order: list[str] = []
    for item in found:
        order += [path for path, _ in reversed(item.frames)]
    for item in found:
        order += files.imported_by(item.test_path)
    order += list(located)
    return [path for path in dict.fromkeys(order) if files.editable(path)]


def make_mutant(operator: str, parsed: Parsed, edits: Iterable[Edit], line: int, what: str) -> Mutant | None:
    """One candidate from ``edits`` (``(start, end, text)`` character offsets into the file's
    text, not overlapping) of ``parsed``: a single splice from the first edit to the last, or
    None when the new text is the old one or does not parse. ``what`` becomes the description
    after ``line N: ``."""
    ordered = sorted(set(edits))
    if not ordered or any(ordered[i][1] > ordered[i + 1][0] for i in range(len(ordered) - 1)):
        return None
    text = parsed.text
    low, high = ordered[0][0], max(end for _, end, _ in ordered)
    parts, position = [], low
    for start, end, new in ordered:
        parts += [text[position:start], new]
        position = end
    middle = "".join(parts) + text[position:high]
    new_text = text[:low] + middle + text[high:]
    if new_text == text:
        return None
    try:
        ast.parse(new_text)
    except (SyntaxError, ValueError):
        return None
    return Mutant(operator, parsed.path, line, f"line {line}: {what}", text, low, high, middle,
                  text_key(text, new_text))


def name_token(parsed: Parsed, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> tuple[int, int] | None:
    """(start, end) offsets of the name in a ``def``/``class`` statement's header."""
    start = parsed.index.off(node.lineno, node.col_offset)
    found = re.compile(rf"(?:async\s+)?(?:def|class)\s+({re.escape(node.name)})\b").match(parsed.text, start)
    return found.span(1) if found else None

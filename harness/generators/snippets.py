"""Which code a prompt shows: whole functions around the suspicious lines, packed to a token budget.

Code is chosen in this order and added while it fits the budget: the enclosing
whole function (``ast``, decorators included) of the most suspicious location (a
review comment's location first); the failing tests' own functions (first 3); the
other suspicious locations, most suspicious first; traceback frames in unprotected
files, innermost first. A line outside any function shows its statement with 3 lines
around it; a file that does not parse shows 15 lines around the line.
:mod:`harness.generators.prompt` renders the :class:`Snippet` objects :func:`pack` returns.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.context import Context
from harness.core.localize import is_protected
from harness.generators.tokens import TokenCounter

#: reasons named in an excerpt's header (the most suspicious lines first); the rest are counted.
MAX_REASONS = 4


@dataclass
class Snippet:
    """A region of a file shown to the model (1-based, inclusive line numbers)."""

    path: str
    start: int
    end: int
    name: str
    code: str
    why: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.path}::{self.name or self.start}"

    def as_dict(self) -> dict:
        fence = "````" if "```" in self.code else "```"
        lang = "python" if self.path.endswith(".py") else ""
        return {
            "path": self.path,
            "start": self.start,
            "end": self.end,
            "name": self.name,
            "why": ", ".join(self.why[:MAX_REASONS]) + (
                f", and {len(self.why) - MAX_REASONS} more suspicious lines"
                if len(self.why) > MAX_REASONS else ""),
            "code": self.code,
            "fence": fence,
            "lang": lang,
        }


def read_lines(root: Path, path: str) -> list[str] | None:
    """The lines of the repository file ``path`` (kept ends), or None if it is absolute, outside
    ``root``, missing, unreadable or not UTF-8."""
    if not path or Path(path).is_absolute():
        return None
    target = (Path(root) / path).resolve()
    if Path(root).resolve() not in target.parents or not target.is_file():
        return None
    try:
        return target.read_text(encoding="utf-8").splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        return None


@functools.lru_cache(maxsize=64)
def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _functions(tree: ast.Module) -> list[tuple[int, int, str]]:
    """(start, end, qualified name) of every function, decorators included."""
    out: list[tuple[int, int, str]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qual = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                    out.append((start, child.end_lineno or child.lineno, qual))
                walk(child, qual + ".")
            else:
                walk(child, prefix)

    walk(tree, "")
    return out


def region(lines: list[str], path: str, line: int) -> tuple[int, int, str]:
    """The (start, end, name) to show for ``line``: its innermost enclosing function, else
    its statement +-3 lines, else (not Python / no parse) +-15 lines."""
    n = len(lines)
    tree = _parse("".join(lines)) if path.endswith(".py") else None
    if tree is None:
        return max(1, line - 15), min(n, line + 15), ""
    inside = [f for f in _functions(tree) if f[0] <= line <= f[1]]
    if inside:
        return max(inside, key=lambda f: f[0])
    for node in ast.walk(tree):
        end = node.end_lineno if isinstance(node, ast.stmt) else None
        if end and node.lineno <= line <= end and not isinstance(node, ast.ClassDef):
            return max(1, node.lineno - 3), min(n, end + 3), ""
    return max(1, line - 3), min(n, line + 3), ""


def _test_function(lines: list[str], path: str, test_id: str) -> tuple[int, int, str] | None:
    tree = _parse("".join(lines)) if path.endswith(".py") else None
    if tree is None:
        return None
    qual = ".".join(part.split("[", 1)[0] for part in test_id.split("::")[1:])
    return next((f for f in _functions(tree) if f[2] == qual), None)


def _candidates(context: Context) -> list[tuple[str, int | None, str, str]]:
    """(path, line, test id, why) in the order they should be shown."""
    locs = sorted(context.locations, key=lambda loc: -loc.score)
    first = [
        (loc.path, loc.line, "", f"suspicious line {loc.line} ({loc.score:.2f})") for loc in locs
    ]
    tests = [
        (tid.split("::", 1)[0], None, tid, "failing test") for tid in list(context.task.failing)[:3]
    ]
    if context.task.path and context.task.line:  # a review comment's location comes first
        where = f"line {context.task.line} (the comment's location)"
        first.insert(0, (context.task.path, context.task.line, "", where))
    frames = []
    protected = context.protected
    for result in context.task.failing.values():
        for f in reversed(result.frames):
            if not is_protected(f.path, protected):
                frames.append((f.path, f.line, "", f"traceback line {f.line}"))
    return first[:1] + tests + first[1:] + frames


def pack(context: Context, tokens: TokenCounter, budget: int) -> tuple[list[Snippet], int]:
    """Snippets in priority order fitting ``budget`` tokens, and how many were left out."""
    picked: list[Snippet] = []
    skipped: set[tuple[str, int]] = set()
    used = 0
    for path, line, test_id, why in _candidates(context):
        lines = read_lines(context.root, path)
        if not lines:
            continue
        span = _test_function(lines, path, test_id) if test_id else None
        if span is None and line is None:
            continue
        start, end, name = span or region(lines, path, line or 1)
        same = next(
            (s for s in picked if s.path == path and s.start <= end and start <= s.end), None
        )
        if same is not None:
            if why not in same.why and not why.startswith("traceback"):
                same.why.append(why)
            continue
        code = "".join(lines[start - 1 : end])
        code += "" if code.endswith("\n") else "\n"
        cost = tokens.count(code) + 30
        if used + cost > budget:
            skipped.add((path, start))
            continue
        used += cost
        picked.append(Snippet(path, start, end, name, code, [why]))
    return picked, len(skipped)

"""From a Context to the user prompts: code packed to a token budget, whole functions.

:func:`build_first` renders ``fix-failing-tests.md.j2`` (task, failing tests with a
traceback excerpt, AGENTS.md, lessons, earlier rejected attempts, code);
:func:`build_retry` renders ``retry.md.j2`` (why the previous answer or patch was
not accepted, what changed). Both return the text and the "already shown" state
``{"attempts": set of keys, "code": {snippet key: code}, "tests": tuple of ids}``
so each piece of feedback is shown once.

Code is chosen in this order and added while it fits the budget: the enclosing
whole function (``ast``, decorators included) of the most suspicious location; the
failing tests' own functions (first 3); the other suspicious locations, most
suspicious first; traceback frames in unprotected files, innermost first. A line
outside any function shows its statement with 3 lines around it; a file that does
not parse shows 15 lines around the line.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from pathlib import Path

from harness.context import Attempt, Context
from harness.generators.tokens import TokenCounter
from harness.localize import is_protected
from prompts import render

MAX_TESTS = 10
MAX_FRAMES = 6
MAX_MESSAGE_CHARS = 1500
MAX_REASON_CHARS = 2000


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
            "why": ", ".join(self.why),
            "code": self.code,
            "fence": fence,
            "lang": lang,
        }


def build_first(context: Context, tokens: TokenCounter, budget: int) -> tuple[str, dict]:
    """The first user prompt for ``context`` within ``budget`` tokens, and the shown state."""
    conventions = _clip_tokens(context.conventions.strip(), tokens, budget // 4)
    rejected = [a for a in context.attempts if not a.accepted][-5:]
    values = {
        "task": _task(context),
        "tests": _tests(context),
        "conventions": conventions,
        "lessons": [ln.strip() for ln in context.lessons if ln.strip()][:10],
        "attempts": [
            {"description": a.description, "reason": _clip(a.reason, 600)} for a in rejected
        ],
    }
    base = tokens.count(render("fix-failing-tests.md.j2", snippets=[], omitted=0, **values))
    snippets, omitted = pack(context, tokens, budget - base)
    text = render(
        "fix-failing-tests.md.j2",
        snippets=[s.as_dict() for s in snippets],
        omitted=omitted,
        **values,
    )
    shown = {
        "attempts": {_attempt_key(a) for a in context.attempts},
        "code": {s.key: s.code for s in snippets},
        "tests": tuple(sorted(context.task.failing)),
    }
    return text, shown


def build_retry(
    context: Context, tokens: TokenCounter, budget: int, shown: dict, malformed: str
) -> tuple[str, dict]:
    """The feedback prompt after an answer: the ``malformed`` reason if the answer was
    unusable; the newest rejected attempt not yet shown (else the newest accepted one);
    the failing tests if their set changed; code that changed since it was shown.
    Returns the text and the new shown state."""
    fresh = [a for a in context.attempts if _attempt_key(a) not in shown["attempts"]]
    rejected = [a for a in fresh if not a.accepted]
    rejection = accepted = None
    if rejected:
        a = rejected[-1]
        rejection = {"description": a.description, "reason": _clip(a.reason, MAX_REASON_CHARS)}
    kept = [a for a in fresh if a.accepted]
    if kept:
        accepted = {"description": kept[-1].description, "reason": _clip(kept[-1].reason, 600)}
    test_ids = tuple(sorted(context.task.failing))
    tests = _tests(context) if test_ids != shown["tests"] else []
    snippets, _ = pack(context, tokens, budget // 2)
    changed = [s for s in snippets if s.key in shown["code"] and shown["code"][s.key] != s.code]
    text = render(
        "retry.md.j2",
        malformed=malformed,
        rejection=rejection,
        accepted=accepted,
        tests=tests,
        snippets=[s.as_dict() for s in changed],
    )
    code = dict(shown["code"])
    code.update({s.key: s.code for s in changed})
    new_shown = {
        "attempts": set(shown["attempts"]) | {_attempt_key(a) for a in fresh},
        "code": code,
        "tests": test_ids,
    }
    return text, new_shown


def _attempt_key(a: Attempt) -> str:
    return a.digest or f"{a.description}\n{a.reason}"


def _task(context: Context) -> dict:
    t = context.task
    return {"kind": t.kind, "instruction": t.instruction, "path": t.path, "line": t.line}


def _tests(context: Context) -> list[dict]:
    out = []
    for test_id, result in list(context.task.failing.items())[:MAX_TESTS]:
        frames = [
            {
                "path": f.path,
                "line": f.line,
                "function": f.function,
                "source": _source_line(context.root, f.path, f.line),
            }
            for f in _repo_frames(result.frames)
        ]
        out.append(
            {
                "id": test_id,
                "outcome": result.outcome,
                "message": _clip(result.message, MAX_MESSAGE_CHARS),
                "frames": frames,
            }
        )
    return out


def _repo_frames(frames: tuple) -> list:
    """The innermost frames in the repository (relative paths); runner frames such as
    pytest's or pluggy's (absolute paths) are left out unless nothing else is there."""
    inside = [f for f in frames if f.path and not Path(f.path).is_absolute()]
    return (inside or list(frames))[-MAX_FRAMES:]


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 20].rstrip() + "\n[... truncated ...]"


def _clip_tokens(text: str, tokens: TokenCounter, limit: int) -> str:
    if not text or tokens.count(text) <= limit:
        return text
    return (
        text[: max(limit, 0) * 3].rstrip() + "\n\n[... AGENTS.md truncated to fit the budget ...]"
    )


def _read_lines(root: Path, path: str) -> list[str] | None:
    if not path or Path(path).is_absolute():
        return None
    target = (Path(root) / path).resolve()
    if Path(root).resolve() not in target.parents or not target.is_file():
        return None
    try:
        return target.read_text(encoding="utf-8").splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        return None


def _source_line(root: Path, path: str, line: int) -> str:
    lines = _read_lines(root, path)
    if not lines or not 1 <= line <= len(lines):
        return ""
    return lines[line - 1].strip()[:160]


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
        lines = _read_lines(context.root, path)
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

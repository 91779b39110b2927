"""Lessons as data: one JSON record per lesson, retrieved by what a new task is about.

``lessons.md`` stays the human view (:mod:`harness.core.lessons`); ``lessons.jsonl``
holds one record per lesson, in ``<git-common-dir>/loopwright/`` unless the tree's
``.loopwright/lessons.jsonl`` is tracked or the user asked (``--lessons``/``--apply``):
a run adds no file to the working tree by itself::

    {"kind": "failing_tests", "file": "pkg/mod.py", "function": "area", "tests": [...],
     "failure": "AssertionError", "failure_line": "assert 7 == 12", "operator": "binop_swap",
     "summary": "...", "diff": "...", "outcome": "fixed", "rejected": [{"description", "reason"}],
     "run": "...", "date": "YYYY-mm-dd"}

A record never carries test output beyond the failure line (the first line of the failing
test's message), and text that looks like a secret (tokens, keys, ``password=...``) is
replaced by ``[redacted]``: the file may be committed.

Retrieval (:func:`retrieve`) ranks records by what they share with the new task, most
specific first: the same failing test (8), the same test file (4), the same function (3),
the same source file (2), then the same kind of failure (1, the exception name); records
sharing nothing are not retrieved. Ties go to the newest.
"""

from __future__ import annotations

import ast
import fcntl
import json
import re
import time
from pathlib import Path

import git

from harness.core.lessons import LESSONS, STATE_DIR
from harness.core.state import state_dir
from sandbox.gitcmd import harden

RECORDS = "lessons.jsonl"
MAX_DIFF_CHARS = 3000  # per record stored
PROMPT_CHARS = 6000  # retrieved lessons shown to a model, all together (~1,500 tokens)
_SECRET = re.compile(r"(?i)(?:(?:api[_-]?key|secret|token|passw(?:or)?d|authorization)\s*[:=]\s*\S+"
                     r"|\b(?:sk|ghp|gho|ghs|github_pat|xox[abp])[-_][A-Za-z0-9_\-]{12,}|\bAKIA[0-9A-Z]{16}\b)")
_EXC = re.compile(r"^\s*(?:E\s+)?([A-Z][A-Za-z0-9_]*(?:Error|Exception|Warning|Exit))\b")


def scrub(text: str) -> str:
    """``text`` with what looks like a secret replaced by ``[redacted]``."""
    return _SECRET.sub("[redacted]", text)


def failure_line(message: str) -> str:
    """The first non-empty line of a test's failure message (clipped to 200 characters, scrubbed)."""
    first = next((ln.strip() for ln in message.splitlines() if ln.strip()), "")
    return scrub(first[:200])


def failure_kind(message: str) -> str:
    """The exception name a failure message names first (``AssertionError``), or ``""``."""
    for ln in message.splitlines():
        m = _EXC.match(ln)
        if m:
            return m.group(1)
    return ""


def function_at(root: Path, path: str, line: int) -> str:
    """The innermost function (``Class.method`` or ``func``) holding ``path``:``line`` under
    ``root``, or ``""`` (no such file, not Python, or module level)."""
    try:
        tree = ast.parse((Path(root) / path).read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return ""
    best = ""

    def visit(node, prefix: str) -> None:
        nonlocal best
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if child.lineno <= line <= (child.end_lineno or child.lineno):
                    if not isinstance(child, ast.ClassDef):
                        best = name
                    visit(child, name + ".")

    visit(tree, "")
    return best


def records_paths(repo_root: Path) -> list[Path]:
    """Where lesson records are read from: the tree's ``.loopwright/lessons.jsonl``, then the
    git directory's."""
    return [Path(repo_root) / STATE_DIR / RECORDS, state_dir(repo_root) / RECORDS]


def read_records(repo_root: Path) -> list[dict]:
    """Every lesson record of the repository (tree first, oldest first in each file); lines
    that are not JSON objects are skipped."""
    out = []
    for path in records_paths(repo_root):
        if not path.is_file():
            continue
        for ln in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(ln)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
    return out


def record_lesson(repo_root: Path, worktree: Path, state, messages: dict[str, str], rejected: list,
                  to_tree: bool) -> Path:
    """Append one record per accepted patch of run ``state`` (or one for a run that fixed
    nothing) to ``lessons.jsonl`` beside the run's ``lessons.md``; returns the file.

    Args:
        worktree: the run's worktree (the fixed code: functions are named from it).
        messages: failing test id -> its failure message at baseline (only the first line is kept).
        rejected: the run's rejected :class:`~harness.core.context.Attempt` s (the last five
            are kept: description and the first line of why).
    """
    tests = list(state.baseline_failing[:10])
    first = next((messages[t] for t in tests if messages.get(t)), "")
    base = {"kind": "failing_tests", "tests": tests, "failure": failure_kind(first),
            "failure_line": failure_line(first), "run": state.run_id, "date": time.strftime("%Y-%m-%d"),
            "outcome": "fixed" if state.status == "fixed" else state.status,
            "rejected": [{"description": scrub((a.description or "")[:200]),
                          "reason": failure_line(a.reason)} for a in rejected[-5:]]}
    recs = []
    for a in state.accepted or [None]:
        meta = a.meta if a else {}
        path = meta.get("path") or ((a.files if a else None) or [""])[0]
        line = int(meta.get("line") or _first_changed_line(a.diff if a else ""))
        recs.append({**base, "file": path, "function": function_at(worktree, path, line) if path else "",
                     "operator": meta.get("operator") or meta.get("generator") or "",
                     "summary": scrub(((a.description if a else "") or "")[:300]),
                     "diff": scrub(((a.diff if a else "") or "")[:MAX_DIFF_CHARS])})
    target = records_paths(repo_root)[0]
    if not to_tree and not _tracked(repo_root, f"{STATE_DIR}/{RECORDS}"):
        target = records_paths(repo_root)[1]
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        for rec in recs:
            fh.write(json.dumps(rec, sort_keys=True) + "\n")
    return target


def _tracked(repo_root: Path, rel: str) -> bool:
    repo = harden(git.Repo(repo_root))
    try:
        repo.git.ls_files("--error-unmatch", "--", rel)
        return True
    except git.GitCommandError:
        return False
    finally:
        repo.close()


def _first_changed_line(diff: str) -> int:
    m = re.search(r"^@@ -\d+(?:,\d+)? \+(\d+)", diff, re.M)
    return int(m.group(1)) if m else 0


def retrieve(records: list[dict], tests: list[str], files: set[str], functions: set[str],
             kinds: set[str], limit: int = 5) -> list[dict]:
    """The records most about this task, best first (at most ``limit``; see the module's
    weights): ``tests`` failing now, ``files``/``functions`` in their tracebacks, ``kinds``
    their exception names. Only records that fixed something and share something count."""
    test_files = {t.split("::", 1)[0] for t in tests}
    scored = []
    for i, rec in enumerate(records):
        if rec.get("outcome") not in ("fixed", "partial") or not rec.get("diff"):
            continue
        rt = set(rec.get("tests") or [])
        score = (8 * bool(rt & set(tests)) + 4 * bool({t.split("::", 1)[0] for t in rt} & test_files)
                 + 3 * bool(rec.get("function") and rec.get("function") in functions)
                 + 2 * bool(rec.get("file") and rec.get("file") in files)
                 + 1 * bool(rec.get("failure") and rec.get("failure") in kinds))
        if score:
            scored.append((-score, -i, rec))
    return [rec for _, _, rec in sorted(scored, key=lambda x: x[:2])[:limit]]


def prior_records(legacy: list[dict], records: list[dict]) -> list[dict]:
    """Lessons in the shape :func:`harness.core.lessons.operator_priors` reads (``outcome``,
    ``operators``): the repository's records, plus the ``lessons.md`` lessons of runs that
    have no record (written before records existed); a run is counted once."""
    runs = {r.get("run") for r in records}
    return [{"outcome": r.get("outcome"), "operators": [r["operator"]] if r.get("operator") else []}
            for r in records] + [rec for rec in legacy if rec.get("run") not in runs]


def as_text(rec: dict) -> str:
    """A retrieved record as a lesson for a prompt: where, what failed, what fixed it, the diff."""
    where = rec.get("file", "") + (f" ({rec['function']})" if rec.get("function") else "")
    head = (f"{rec.get('outcome')}: {', '.join((rec.get('tests') or [])[:3])} failing with "
            f"`{rec.get('failure_line', '')}` was fixed in {where} by {rec.get('operator') or 'a patch'}: "
            f"{rec.get('summary', '')}")
    return f"{head}\n```diff\n{rec.get('diff', '').rstrip()}\n```"


def lesson_texts(repo_root: Path, baseline, legacy: list[dict], limit_chars: int = PROMPT_CHARS) -> list[str]:
    """The lessons a run's prompt shows: the records retrieved for the failing tests of
    ``baseline`` (their files, functions and exception names from the tracebacks), with
    their diffs, within ``limit_chars``; then the newest free-text lessons of ``legacy``
    (:func:`harness.core.lessons.read_lessons`) in what is left."""
    tests = list(baseline.failing)
    files, functions, kinds = set(), set(), set()
    for t in tests:
        r = baseline.results.get(t)
        if r is None:
            continue
        files |= {f.path for f in r.frames}
        functions |= {f.function for f in r.frames if f.function}
        kinds.add(failure_kind(r.message))
    out, used = [], 0
    for rec in retrieve(read_records(repo_root), tests, files, functions, kinds - {""}):
        text = as_text(rec)
        if used + len(text) > limit_chars:
            break
        out.append(text)
        used += len(text)
    for rec in reversed(legacy[-20:]):
        text = (f"{rec.get('outcome')}: tests {', '.join(rec.get('tests', [])[:3])}; operators "
                f"{', '.join(rec.get('operators', [])) or 'none'}; files {', '.join(rec.get('files', []))}")
        if used + len(text) > limit_chars or len(out) >= 10:
            break
        out.append(text)
        used += len(text)
    return out


__all__ = ["LESSONS", "RECORDS", "as_text", "failure_kind", "failure_line", "function_at", "lesson_texts",
           "prior_records", "read_records", "record_lesson", "retrieve", "scrub"]

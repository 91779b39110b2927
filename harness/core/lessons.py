"""Lessons: what past runs learned, written after a run and read back into later ones.

Lessons go to ``REPO/.loopwright/lessons.md`` (worth committing) only when that file
is already tracked, or when the user asks (``--apply``/``--lessons``); else to the git
directory's ``loopwright/lessons.md`` (:func:`harness.core.state.state_dir`), so a
run changes nothing in the working tree. Both files are read back.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.core.state import RunState, state_dir
from sandbox.gitcmd import is_tracked

STATE_DIR = ".loopwright"  # in the working tree: lessons.md only
LESSONS = "lessons.md"
_LESSON_RE = re.compile(r"<!-- lesson: (\{.*?\}) -->")


def lessons_path(repo_root: Path, to_tree: bool = False) -> Path:
    """Where a new lesson goes: ``REPO/.loopwright/lessons.md`` when that file is tracked
    by git or ``to_tree`` (the user asked: ``--apply``/``--lessons``), else
    ``<git-common-dir>/loopwright/lessons.md`` (nothing in the working tree changes)."""
    tree = Path(repo_root) / STATE_DIR / LESSONS
    tracked = is_tracked(Path(repo_root), f"{STATE_DIR}/{LESSONS}")
    return tree if to_tree or tracked else state_dir(repo_root) / LESSONS


def append_lesson(repo_root: Path, state: RunState, heading: str, lines: list[str], data: dict,
                  to_tree: bool = False) -> Path:
    """Append a lesson (Markdown for people, one JSON comment for us) at :func:`lessons_path`;
    returns the file written."""
    import fcntl

    path = lessons_path(repo_root, to_tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # concurrent runs append whole lessons
        if fh.tell() == 0:
            fh.write("# loopwright lessons\n\nWhat past runs learned. Read back into later runs.\n")
        fh.write(f"\n## {heading}\n\n")
        for ln in lines:
            fh.write(f"- {ln}\n")
        fh.write(f"<!-- lesson: {json.dumps(data, sort_keys=True)} -->\n")
    return path


def read_lessons(repo_root: Path) -> list[dict]:
    """The machine-readable records of ``.loopwright/lessons.md`` in the tree, then of the
    git directory's ``lessons.md`` (oldest first in each); [] if none."""
    out = []
    for path in (Path(repo_root) / STATE_DIR / LESSONS, state_dir(repo_root) / LESSONS):
        if not path.is_file():
            continue
        for m in _LESSON_RE.finditer(path.read_text(encoding="utf-8", errors="replace")):
            try:
                out.append(json.loads(m.group(1)))
            except json.JSONDecodeError:
                continue
    return [rec for rec in out if isinstance(rec, dict)]


def operator_priors(lessons: list[dict], base: dict[str, float] | None = None) -> dict[str, float]:
    """Operator priors reweighted by past fixes: ``prior × (1 + 0.5 × fixes)``, capped at 1.

    Only operators named in ``fixed`` lessons change; ``base`` holds the defaults.
    """
    counts: dict[str, int] = {}
    for rec in lessons:
        if rec.get("outcome") == "fixed":
            for op in rec.get("operators", []):
                counts[op] = counts.get(op, 0) + 1
    base = base or {}
    return {op: min(1.0, base.get(op, 0.2) * (1 + 0.5 * n)) for op, n in counts.items()}

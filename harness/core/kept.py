"""What loopwright keeps about a repository between runs, how big it is, and dropping it.

Everything is under ``<git-common-dir>/loopwright/`` (:func:`harness.core.state.state_dir`):
the runs (``runs/<id>/``), the candidate memory (:mod:`harness.core.memory`), the baseline
cache (:mod:`harness.core.baseline_cache`) and the lessons written there
(``lessons.md`` and ``lessons.jsonl``). Lessons in the working tree
(``.loopwright/``) are counted but never dropped: they are the user's files.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from harness.core.baseline_cache import CACHE, cache_usage
from harness.core.lesson_records import read_records, records_paths
from harness.core.lessons import LESSONS, STATE_DIR
from harness.core.memory import MEMORY, memory_usage
from harness.core.state import scan_runs, state_dir

KINDS = ("runs", "memory", "baseline", "lessons")


@dataclass(frozen=True)
class Kept:
    """One kind of kept state: ``count`` (runs, candidates, test results, lessons) and ``bytes``."""

    kind: str
    count: int
    bytes: int
    what: str  # what count counts, for people


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def usage(repo_root: Path) -> list[Kept]:
    """How much state is kept for the repository at ``repo_root``, one :class:`Kept` per kind
    (:data:`KINDS` order)."""
    d = state_dir(repo_root)
    runs = [p for p in (d / "runs").iterdir() if p.is_dir()]
    memory = memory_usage(repo_root)
    cache = cache_usage(repo_root)
    lesson_files = [*records_paths(repo_root), Path(repo_root) / STATE_DIR / LESSONS, d / LESSONS]
    return [Kept("runs", len(runs), sum(_size(p) for p in runs), "runs"),
            Kept("memory", memory[0], memory[1], "candidates"),
            Kept("baseline", cache[0], cache[1], "test results"),
            Kept("lessons", len(read_records(repo_root)), sum(_size(p) for p in lesson_files), "lessons")]


def drop(repo_root: Path, kinds: set[str]) -> list[str]:
    """Drop the kept state of ``kinds`` (from :data:`KINDS`); returns what was removed.

    A run that is still running (its lock is held) is never removed, nor are lessons in the
    working tree. Raises ValueError for an unknown kind."""
    unknown = kinds - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kind of state {', '.join(sorted(unknown))} (use {', '.join(KINDS)})")
    d = state_dir(repo_root)
    removed = []
    if "runs" in kinds:
        for entry in scan_runs(repo_root):
            path = d / "runs" / entry.run_id
            if not entry.alive and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(str(path))
    files = {"memory": sorted(d.glob(MEMORY + "*")), "baseline": [d / CACHE],
             "lessons": [d / LESSONS, records_paths(repo_root)[1]]}
    for kind in sorted(kinds - {"runs"}):
        for path in files[kind]:
            if path.is_file():
                path.unlink()
                removed.append(str(path))
    return removed

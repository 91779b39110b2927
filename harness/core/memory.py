"""Candidate memory across runs: what earlier runs evaluated, so a later run does not pay again.

Every evaluated candidate is recorded with its verdict in
``<git-common-dir>/loopwright/memory.sqlite`` (never the working tree). A record's key is
the SHA-256 of three things: the *task* (the sorted failing test ids the candidate was
validated against), the patch's normalized text (:func:`normalized`: line endings,
trailing whitespace and ``index``/``diff --git`` lines do not count) and the content hashes
of the files the patch touches, as they were when it was evaluated. So a record only
matches the same patch, for the same failing tests, on the same code: after a commit that
changes a touched file, or when other tests fail, nothing is skipped.

A later run asks :meth:`CandidateMemory.rejected` before a candidate costs a worktree or a
test run, and skips those an earlier run rejected outright (not the viable partial fixes,
which come back as leads, unevaluated, to a generator that builds on them
(:meth:`CandidateMemory.partials`), nor candidates whose evaluator could not run or that
a policy refused). The lookup is one dictionary probe per candidate once the touched files'
hashes are known (cached per file until a patch is accepted): the hot path pays no query.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from harness.core.state import state_dir

MEMORY = "memory.sqlite"
#: outcome stages that say nothing about the patch itself: never remembered as rejections
#: (a progress lead, harness/core/progress.py, is evaluated again: a lead, not a rejection)
_NOT_REMEMBERED = ("error", "policy", "progress")

_SCHEMA = """
create table if not exists candidates (
    key text primary key,      -- sha256(task, normalized patch, touched files' hashes)
    task text not null,        -- sha256 of the sorted failing test ids
    files text not null,       -- json: {path: sha256 of its content when evaluated}
    digest text not null,      -- Patch.digest
    description text not null,
    diff text not null,
    verdict text not null,     -- accepted | partial | rejected
    stage text not null,       -- the stage that decided it (screen, full, lint, ...)
    reason text not null,
    fixed text not null,       -- json: the failing test ids it made pass (a partial fix's)
    run_id text not null,
    created real not null      -- unix seconds
)"""


def normalized(diff: str) -> str:
    """A diff's text without what does not change the patch: ``diff --git``/``index`` lines,
    line endings, trailing whitespace."""
    return "\n".join(ln.rstrip() for ln in diff.splitlines()
                     if not ln.startswith(("diff --git ", "index ")))


def task_key(failing: list[str] | tuple[str, ...]) -> str:
    """SHA-256 (hex) of the sorted failing test ids: the task a candidate was validated for."""
    return hashlib.sha256("\n".join(sorted(failing)).encode()).hexdigest()


@dataclass(frozen=True)
class Remembered:
    """A candidate an earlier run rejected for this task: what it was and why (for a prompt)."""

    description: str
    diff: str
    reason: str
    run_id: str


class CandidateMemory:
    """The repository's candidate memory (one SQLite file, shared by every run of it).

    Args:
        repo_root: the repository (its git directory holds the file).
        run_id: the run recording now.
        use: skip what is remembered (False: ``--fresh``; candidates are still recorded).

    Attributes:
        skipped: candidates this run skipped because an earlier run rejected them.
    """

    def __init__(self, repo_root: Path, run_id: str, *, use: bool = True):
        self.path = state_dir(repo_root) / MEMORY
        self.run_id, self.use, self.skipped = run_id, use, 0
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma synchronous=normal")
        self._db.execute(_SCHEMA)
        self._db.execute("create index if not exists by_task on candidates(task)")
        self._db.commit()
        self._hashes: dict[str, str] = {}  # path -> content hash in the run's worktree
        self._known: dict[str, dict[str, tuple[str, ...]]] = {}  # task key -> rejected key -> tests it fixed
        #: digest -> the failing tests a skipped rejected candidate made pass (with regressions):
        #: fed back to the offline search as it was in the earlier run (hot names, leads)
        self.fixed_by: dict[str, tuple[str, ...]] = {}
        self._partial: dict[tuple, dict] = {}  # ("partial", task key) -> key -> (fixed, reason)
        self._told: dict[str, list[Remembered]] = {}  # task key -> remembered() (until a change)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def forget_hashes(self) -> None:
        """The run's worktree changed (a patch was accepted): hash the files again."""
        self._hashes.clear()
        self._told.clear()

    def _file_hashes(self, root: Path, files) -> dict[str, str]:
        out = {}
        for f in sorted(files):
            if f not in self._hashes:
                try:
                    self._hashes[f] = hashlib.sha256((Path(root) / f).read_bytes()).hexdigest()
                except OSError:
                    self._hashes[f] = "missing"
            out[f] = self._hashes[f]
        return out

    def _key(self, task: str, patch, root: Path) -> tuple[str, dict[str, str]]:
        files = self._file_hashes(root, patch.files)
        text = f"{task}\n{json.dumps(files, sort_keys=True)}\n{normalized(patch.diff)}"
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), files

    def rejected(self, patches: list, failing: list[str], root: Path) -> tuple[list, list]:
        """Split ``patches`` into (unknown, remembered): the remembered ones an earlier run
        rejected for the same ``failing`` tests on the same content of the files they touch
        (``root``: the run's worktree). Adds the remembered ones to :attr:`skipped`, and
        those that made some failing tests pass to :attr:`fixed_by`.
        With ``use`` False every patch is unknown."""
        if not self.use or not patches:
            return list(patches), []
        task = task_key(failing)
        if task not in self._known:
            rows = self._db.execute("select key, fixed from candidates where task = ? and verdict = 'rejected'",
                                    (task,))
            self._known[task] = {k: tuple(json.loads(f)) for k, f in rows}
        known = self._known[task]
        fresh, old = [], []
        for p in patches:
            key = self._key(task, p, root)[0]
            if key in known:
                old.append(p)
                if known[key]:
                    self.fixed_by[p.digest] = known[key]
            else:
                fresh.append(p)
        self.skipped += len(old)
        return fresh, old

    def partials(self, patches: list, failing: list[str], root: Path) -> tuple[list, list]:
        """Split ``patches`` into (unknown, remembered partial fixes): the latter as
        ``(patch, fixed test ids, reason)`` for those an earlier run found viable but partial
        for the same ``failing`` tests on the same code (a generator that builds on leads gets
        them back as leads without evaluating them again). Adds them to :attr:`skipped`."""
        if not self.use or not patches:
            return list(patches), []
        task = task_key(failing)
        if ("partial", task) not in self._partial:
            rows = self._db.execute("select key, fixed, reason from candidates where task = ? and verdict = 'partial'",
                                    (task,))
            self._partial[("partial", task)] = {k: (json.loads(f), r) for k, f, r in rows}
        known = self._partial[("partial", task)]
        fresh, old = [], []
        for p in patches:
            hit = known.get(self._key(task, p, root)[0])
            if hit:
                old.append((p, hit[0], hit[1]))
            else:
                fresh.append(p)
        self.skipped += len(old)
        return fresh, old

    def record(self, outcome, failing: list[str], root: Path) -> None:
        """Remember an evaluated candidate (:class:`harness.core.outcome.Outcome`) with its
        verdict for the ``failing`` tests it was validated against; evaluator errors and
        policy refusals are not remembered."""
        if outcome.stage in _NOT_REMEMBERED:
            return
        task = task_key(failing)
        key, files = self._key(task, outcome.patch, root)
        verdict = "accepted" if outcome.accepted else "partial" if outcome.viable else "rejected"
        p = outcome.patch
        self._db.execute("insert or replace into candidates values (?,?,?,?,?,?,?,?,?,?,?,?)",
                         (key, task, json.dumps(files, sort_keys=True), p.digest, p.description or "",
                          p.diff, verdict, outcome.stage, outcome.reason[:2000], json.dumps(list(outcome.fixed)),
                          self.run_id, time.time()))
        self._db.commit()

    def remembered(self, failing: list[str], root: Path, limit: int = 50) -> list[Remembered]:
        """Rejected candidates of earlier runs for these ``failing`` tests whose touched files
        still have the content they had (newest first, at most ``limit``): what a model is told
        was already tried."""
        task = task_key(failing)
        if task in self._told:
            return self._told[task][:limit]
        rows = self._db.execute("select files, description, diff, reason, run_id from candidates "
                                "where task = ? and verdict = 'rejected' and run_id != ? "
                                "order by created desc", (task, self.run_id))
        out = []
        for files, description, diff, reason, run_id in rows:
            stored = json.loads(files)
            if self._file_hashes(root, stored) == stored:
                out.append(Remembered(description, diff, reason, run_id))
                if len(out) >= limit:
                    break
        self._told[task] = out
        return out


def memory_usage(repo_root: Path) -> tuple[int, int]:
    """(candidates remembered, bytes of the memory files) of a repository; (0, 0) without one."""
    path = state_dir(repo_root) / MEMORY
    if not path.exists():
        return 0, 0
    size = sum(p.stat().st_size for p in path.parent.glob(MEMORY + "*"))
    db = sqlite3.connect(path)
    try:
        (n,) = db.execute("select count(*) from candidates").fetchone()
    except sqlite3.DatabaseError:
        n = 0
    finally:
        db.close()
    return n, size

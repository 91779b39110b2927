"""Run state: the run files, their lock, and the runs of a repository.

Run state lives under the repository's git directory, so a run changes nothing in
the working tree (``git rev-parse --git-common-dir``: shared by every worktree)::

    <git-common-dir>/loopwright/
      runs/<run-id>/       state.json, trajectory.jsonl, patch.diff, baseline.json, lock
      lessons.md           lessons of runs that did not write them to the tree

Lessons (where they go, how they are read back) are :mod:`harness.core.lessons`'.
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.core.records import STATE_VERSION, AcceptedPatch, IterationRecord, Spent, TrajectoryStep
from sandbox.gitcmd import git_common_dir

if TYPE_CHECKING:
    from harness.core.context import Attempt

from sandbox.redact import redact

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class StateError(ValueError):
    """A run's ``state.json`` cannot be used; the message says which file and why (one line)."""


def new_run_id() -> str:
    """A sortable, unique run id: ``YYYYmmdd-HHMMSS-<4 hex>`` (UTC)."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


@functools.lru_cache(maxsize=64)
def _git_common_dir(repo_root: Path) -> Path:
    return git_common_dir(repo_root)


def state_dir(repo_root: Path) -> Path:
    """``<git-common-dir>/loopwright`` (with ``runs/``), created if missing."""
    d = _git_common_dir(Path(repo_root).resolve()) / "loopwright"
    (d / "runs").mkdir(parents=True, exist_ok=True)
    return d


def write_json_atomic(path: Path, data: dict, indent: int | None = 2) -> None:
    """Write ``data`` as JSON to ``path`` via a temp file and ``os.replace`` (atomic on POSIX).
    ``indent=None`` writes it on one line with the json module's C encoder: for the large
    machine-read files (a baseline's coverage: 1.3 MB for tabulate's 319 tests, about 5 times
    faster than indented)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(data, indent=indent, default=str))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class RunState:
    """Everything needed to report on (and resume) a run; saved after every step.

    Attributes:
        run_id, loop: identity. repo: the user's repository root. base_commit: HEAD at start.
        branch, worktree: where the fix lives.
        status: ``running``, ``fixed``, ``flagged`` (fixed, but the patch's text reaches into
            the machinery judging it: see ``flagged``), ``partial``, ``not_fixed``, ``nothing_to_fix``,
            ``interrupted`` (Ctrl-C) or ``error``; ``running`` with a free lock means the
            process died (``loopwright resume`` continues it).
        stop_reason: the stop rule that fired (or the error), with ``stop_detail`` in words.
        iteration: iterations completed. candidates_tried: patches evaluated.
        baseline_failing: failing test ids at baseline. remaining: failing now.
        accepted: the accepted patches, in order (:class:`~harness.core.records.AcceptedPatch`).
        history: one record per iteration (:class:`~harness.core.records.IterationRecord`).
        spent: what the run used (:class:`~harness.core.records.Spent`).
        started_at: Unix time of the start. notes: free remarks.
        version: the shape of ``state.json`` (:data:`~harness.core.records.STATE_VERSION`;
            a file without it is version 1).
        flagged: the static screen's reasons (:func:`harness.core.screen.flags`) against the
            accepted patches, ``"path:line: why: line"``; a flagged patch is never applied
            with ``--apply`` nor pushed by ``loopwright ci``.
        settings: the user settings the run goes by (``RunConfig.settings``: name -> value);
            ``resume`` reads them back (absent in states written before 0.1: empty).
    """

    run_id: str
    loop: str
    repo: str
    base_commit: str
    branch: str = ""
    worktree: str = ""
    generator: str = "templates"
    python: str = ""
    status: str = "running"
    stop_reason: str = ""
    stop_detail: str = ""
    iteration: int = 0
    candidates_tried: int = 0
    baseline_failing: list[str] = field(default_factory=list)
    remaining: list[str] = field(default_factory=list)
    accepted: list[AcceptedPatch] = field(default_factory=list)
    history: list[IterationRecord] = field(default_factory=list)
    spent: Spent = field(default_factory=Spent)
    started_at: float = field(default_factory=time.time)
    notes: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    version: int = STATE_VERSION

    @property
    def fixed_tests(self) -> list[str]:
        """Baseline-failing tests that pass now."""
        return sorted(set(self.baseline_failing) - set(self.remaining))

    def to_dict(self) -> dict:
        """JSON-serialisable form: the shape of ``state.json`` (see :mod:`harness.core.records`)."""
        out = asdict(self)
        out["accepted"] = [a.to_json() for a in self.accepted]
        out["history"] = [h.to_json() for h in self.history]
        if not out["flagged"]:  # only a flagged run has the key: a v1 state is written back as it was read
            del out["flagged"]
        return out

    def __setattr__(self, name: str, value) -> None:
        # stop_detail quotes process output (a test's message, stderr): redacted as it is set,
        # so no summary, --json result or pull-request headline carries a secret (sandbox/redact.py)
        if name == "stop_detail" and isinstance(value, str):
            value = redact(value)
        object.__setattr__(self, name, value)


class RunFiles:
    """The files of one run: ``state.json``, ``trajectory.jsonl``, ``patch.diff``,
    ``baseline.json`` (to resume without re-running the baseline) and ``lock``
    (held while a process works on the run).

    Args:
        repo_root: the user's repository root.
        run_id: the run.
        create: create the run directory (False: it must exist).

    Raises:
        FileNotFoundError: ``create`` is False and there is no such run.
    """

    def __init__(self, repo_root: Path, run_id: str, create: bool = True):
        if not _RUN_ID.fullmatch(run_id):
            raise FileNotFoundError(f"{run_id!r} is not a run id (like 20250101-120000-ab12)")
        self.dir = state_dir(repo_root) / "runs" / run_id
        if create:
            self.dir.mkdir(parents=True, exist_ok=True)
        elif not (self.dir / "state.json").exists():
            raise FileNotFoundError(f"no run {run_id} in {self.dir.parent}")
        self.state = self.dir / "state.json"
        self.trajectory = self.dir / "trajectory.jsonl"
        self.patch = self.dir / "patch.diff"
        self.baseline = self.dir / "baseline.json"
        self._step = sum(1 for _ in self.trajectory.open("rb")) if self.trajectory.exists() else 0
        self._lock_fd: int | None = None

    def save(self, state: RunState) -> None:
        """Write ``state.json`` atomically."""
        write_json_atomic(self.state, state.to_dict())

    def load(self) -> RunState:
        """Read ``state.json`` back.

        Raises:
            StateError: the file is unreadable, not UTF-8, not JSON, not an object, or
                a field is missing or of the wrong type (one line naming the file).
        """
        return load_state(self.state)

    def step(self, action: str, **data) -> None:
        """Append one trajectory line ``{"step", "time", "action", ...data}``."""
        self._step += 1
        rec = {"step": self._step, "time": round(time.time(), 3), "action": action, **data}
        with self.trajectory.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec, default=str) + "\n")

    def steps(self) -> list[TrajectoryStep]:
        """Every trajectory record so far (a line cut short by a crash is skipped)."""
        out = []
        if self.trajectory.exists():
            for line in self.trajectory.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(rec, dict):
                    out.append(rec)
        return out

    def attempts(self) -> list[Attempt]:
        """Evaluated candidates from the trajectory, as :class:`harness.core.context.Attempt`."""
        from harness.core.context import Attempt

        out = []
        for st in self.steps():
            if st.get("action") != "evaluate":
                continue
            try:
                patch, verdict = st["patch"], st["verdict"]
                if verdict.get("viable") and not verdict["accepted"]:
                    continue  # a viable partial fix gets another chance after a resume
                out.append(Attempt(str(patch["digest"]), str(patch["description"]), bool(verdict["accepted"]),
                                   str(verdict["reason"]), str(patch.get("diff", ""))))
            except (KeyError, TypeError, AttributeError):
                continue  # a record this version cannot read: evaluating it again is safe
        return out

    def evaluated(self) -> int:
        """Candidates evaluated so far, from the trajectory (``candidates_tried`` after a resume)."""
        return sum(1 for st in self.steps() if st.get("action") == "evaluate")

    def save_baseline(self, baseline) -> None:
        """Store the baseline (results, order, coverage with worktree-relative paths)."""
        root = str(baseline.root) + os.sep
        coverage = {t: {p.removeprefix(root): ls for p, ls in files.items()}
                    for t, files in baseline.coverage.items()}
        write_json_atomic(self.baseline, {
            "collected": baseline.collected, "duration": baseline.duration, "coverage": coverage,
            "results": {t: asdict(r) for t, r in baseline.results.items()}}, indent=None)

    def load_baseline(self, root: Path):
        """The stored baseline re-rooted at worktree ``root``, or None if there is none."""
        if not self.baseline.exists():
            return None
        from harness.evaluators.verdict import Frame, TestResult
        from harness.core.outcome import Baseline

        try:
            data = json.loads(self.baseline.read_bytes().decode("utf-8"))
            results = {t: TestResult(r["test_id"], r["outcome"], r["message"],
                                     tuple(Frame(**f) for f in r["frames"]), r["duration"])
                       for t, r in data["results"].items()}
            coverage = {t: {p if os.path.isabs(p) else str(root / p): ls for p, ls in files.items()}
                        for t, files in data["coverage"].items()}
            return Baseline(root, results, data["collected"], coverage, data["duration"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return None  # corrupted: the baseline is taken again

    def lock(self) -> None:
        """Take the run's lock (held until :meth:`unlock` or process exit).

        Raises:
            RuntimeError: another process holds it.
        """
        if self._lock_fd is None and not self.try_lock():
            raise RuntimeError(f"run {self.dir.name} is locked by another process")

    def try_lock(self) -> bool:
        """Take the lock if free; False if another process holds it."""
        import fcntl

        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def unlock(self) -> None:
        """Release the lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def load_state(path: Path) -> RunState:
    """A :class:`RunState` from ``path`` (a ``state.json``), validated field by field.

    Raises:
        StateError: unreadable, not UTF-8, not JSON, not an object, or a missing or
            mistyped field; the message names the file, says what is wrong and what to do.
    """
    from pydantic import TypeAdapter, ValidationError

    fix = "the run cannot be resumed; start a new one with `loopwright fix` (and `loopwright gc`)"
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise StateError(f"{path}: cannot be read ({exc.strerror}); {fix}") from None
    except UnicodeDecodeError:
        raise StateError(f"{path}: corrupted (not UTF-8 text); {fix}") from None
    except ValueError as exc:
        raise StateError(f"{path}: corrupted (not JSON: {exc}); {fix}") from None
    if not isinstance(data, dict):
        raise StateError(f"{path}: corrupted (a JSON {type(data).__name__}, not an object); {fix}")
    known = RunState.__dataclass_fields__
    try:
        return TypeAdapter(RunState).validate_python({k: v for k, v in data.items() if k in known})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "the top level"
        raise StateError(f"{path}: corrupted ({where}: {first['msg'].lower()}; "
                         f"{len(exc.errors())} problem(s)); {fix}") from None


@dataclass
class RunEntry:
    """One run directory as ``status`` and ``gc`` see it.

    Attributes:
        run_id: the directory's name. alive: a process holds the run's lock now.
        state: the run's state, or None when ``state.json`` is missing or corrupted.
        problem: why ``state`` is None (one line), or "".
    """

    run_id: str
    alive: bool
    state: RunState | None
    problem: str = ""


def scan_runs(repo_root: Path) -> list[RunEntry]:
    """Every run directory of the repository, oldest first, corrupted and starting ones
    included (a run that holds its lock but has no ``state.json`` yet is alive)."""
    runs_dir = state_dir(repo_root) / "runs"
    out = []
    for d in sorted(runs_dir.iterdir()):
        if not d.is_dir():
            continue
        try:
            files = RunFiles(repo_root, d.name)
        except FileNotFoundError as exc:  # a directory loopwright did not make
            out.append(RunEntry(d.name, False, None, str(exc)))
            continue
        alive = not files.try_lock()
        files.unlock()
        if not files.state.exists():
            out.append(RunEntry(d.name, alive, None, "starting" if alive else "no state.json"))
            continue
        try:
            out.append(RunEntry(d.name, alive, files.load()))
        except StateError as exc:
            out.append(RunEntry(d.name, alive, None, str(exc)))
    return out


def list_runs(repo_root: Path) -> list[tuple[RunState, bool]]:
    """Every run with a readable state, oldest first, with whether a process holds it now."""
    return [(e.state, e.alive) for e in scan_runs(repo_root) if e.state is not None]

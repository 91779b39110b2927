"""Run state and lessons, stored as files in the target repository.

::

    REPO/.loopwright/
      lessons.md           lessons, human-readable, worth committing
      runs/<run-id>/       state.json, trajectory.jsonl, patch.diff
      .gitignore           ignores runs/ and worktrees/
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_DIR = ".loopwright"


def new_run_id() -> str:
    """A sortable, unique run id: ``YYYYmmdd-HHMMSS-<4 hex>`` (UTC)."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


def state_dir(repo_root: Path) -> Path:
    """``REPO/.loopwright``, created with its ``.gitignore`` if missing."""
    d = repo_root / STATE_DIR
    (d / "runs").mkdir(parents=True, exist_ok=True)
    ignore = d / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# loopwright run state; lessons.md is worth committing\nruns/\nworktrees/\n*.lock\n")
    return d


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` via a temp file and ``os.replace`` (atomic on POSIX)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class Budget:
    """What a run has spent: tokens, USD (None = unknown price), wall seconds, and
    ``test_seconds``: wall seconds during which at least one test process ran."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    wall_seconds: float = 0.0
    test_seconds: float = 0.0
    model_calls: int = 0

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


@dataclass
class RunState:
    """Everything needed to report on (and resume) a run; saved after every step.

    Attributes:
        run_id, loop: identity. repo: the user's repository root. base_commit: HEAD at start.
        branch, worktree: where the fix lives.
        status: ``running``, ``fixed``, ``partial``, ``not_fixed``, ``nothing_to_fix``,
            ``interrupted`` (Ctrl-C) or ``error``; ``running`` with a free lock means the
            process died (``loopwright resume`` continues it).
        stop_reason: the stop rule that fired (or the error), with ``stop_detail`` in words.
        iteration: iterations completed. candidates_tried: patches evaluated.
        baseline_failing: failing test ids at baseline. remaining: failing now.
        accepted: accepted patches: ``{"description", "diff", "fixed": [ids], "meta"}``.
        history: per-iteration summaries ``{"iteration", "failing", "accepted"}``.
        spent: the budgets used.
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
    accepted: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    spent: Budget = field(default_factory=Budget)
    started_at: float = field(default_factory=time.time)
    notes: list[str] = field(default_factory=list)

    @property
    def fixed_tests(self) -> list[str]:
        """Baseline-failing tests that pass now."""
        return sorted(set(self.baseline_failing) - set(self.remaining))

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return asdict(self)


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
        self.dir = state_dir(repo_root) / "runs" / run_id
        if create:
            self.dir.mkdir(parents=True, exist_ok=True)
        elif not (self.dir / "state.json").exists():
            raise FileNotFoundError(f"no run {run_id} in {self.dir.parent}")
        self.state = self.dir / "state.json"
        self.trajectory = self.dir / "trajectory.jsonl"
        self.patch = self.dir / "patch.diff"
        self.baseline = self.dir / "baseline.json"
        self._step = sum(1 for _ in self.trajectory.open()) if self.trajectory.exists() else 0
        self._lock_fd: int | None = None

    def save(self, state: RunState) -> None:
        """Write ``state.json`` atomically."""
        write_json_atomic(self.state, state.to_dict())

    def load(self) -> RunState:
        """Read ``state.json`` back."""
        data = json.loads(self.state.read_text())
        spent = Budget(**data.pop("spent", {}))
        known = {f for f in RunState.__dataclass_fields__}
        return RunState(**{k: v for k, v in data.items() if k in known}, spent=spent)

    def step(self, action: str, **data) -> None:
        """Append one trajectory line ``{"step", "time", "action", ...data}``."""
        self._step += 1
        rec = {"step": self._step, "time": round(time.time(), 3), "action": action, **data}
        with self.trajectory.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec, default=str) + "\n")

    def steps(self) -> list[dict]:
        """Every trajectory record so far (a line cut short by a crash is skipped)."""
        out = []
        if self.trajectory.exists():
            for line in self.trajectory.read_text(encoding="utf-8").splitlines():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return out

    def attempts(self) -> list:
        """Evaluated candidates from the trajectory, as :class:`harness.core.context.Attempt`."""
        from harness.core.context import Attempt

        return [Attempt(st["patch"]["digest"], st["patch"]["description"], st["verdict"]["accepted"],
                        st["verdict"]["reason"], st["patch"].get("diff", ""))
                for st in self.steps() if st.get("action") == "evaluate"
                and not (st["verdict"].get("viable") and not st["verdict"]["accepted"])]

    def save_baseline(self, baseline) -> None:
        """Store the baseline (results, order, coverage with worktree-relative paths)."""
        root = str(baseline.root) + os.sep
        coverage = {t: {p.removeprefix(root): ls for p, ls in files.items()}
                    for t, files in baseline.coverage.items()}
        write_json_atomic(self.baseline, {
            "collected": baseline.collected, "duration": baseline.duration, "coverage": coverage,
            "results": {t: asdict(r) for t, r in baseline.results.items()}})

    def load_baseline(self, root: Path):
        """The stored baseline re-rooted at worktree ``root``, or None if there is none."""
        if not self.baseline.exists():
            return None
        from evals.verdict import Frame, TestResult
        from harness.core.validate import Baseline

        data = json.loads(self.baseline.read_text())
        results = {t: TestResult(r["test_id"], r["outcome"], r["message"],
                                 tuple(Frame(**f) for f in r["frames"]), r["duration"])
                   for t, r in data["results"].items()}
        coverage = {t: {p if os.path.isabs(p) else str(root / p): ls for p, ls in files.items()}
                    for t, files in data["coverage"].items()}
        return Baseline(root, results, data["collected"], coverage, data["duration"])

    def lock(self) -> None:
        """Take the run's lock (held until :meth:`unlock` or process exit).

        Raises:
            RuntimeError: another process holds it.
        """
        if not self.try_lock():
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


def list_runs(repo_root: Path) -> list[tuple[RunState, bool]]:
    """Every run of the repository, oldest first, with whether a process holds it now."""
    runs_dir = repo_root / STATE_DIR / "runs"
    out = []
    for d in sorted(runs_dir.iterdir()) if runs_dir.is_dir() else []:
        try:
            files = RunFiles(repo_root, d.name, create=False)
            state = files.load()
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            continue
        alive = not files.try_lock()
        files.unlock()
        out.append((state, alive))
    return out


_LESSON_RE = re.compile(r"<!-- lesson: (\{.*?\}) -->")


def append_lesson(repo_root: Path, state: RunState, heading: str, lines: list[str], data: dict) -> None:
    """Append a lesson to ``.loopwright/lessons.md``: Markdown for people, one JSON comment for us."""
    import fcntl

    path = state_dir(repo_root) / "lessons.md"
    with path.open("a", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # concurrent runs append whole lessons
        if fh.tell() == 0:
            fh.write("# loopwright lessons\n\nWhat past runs learned. Read back into later runs.\n")
        fh.write(f"\n## {heading}\n\n")
        for ln in lines:
            fh.write(f"- {ln}\n")
        fh.write(f"<!-- lesson: {json.dumps(data, sort_keys=True)} -->\n")


def read_lessons(repo_root: Path) -> list[dict]:
    """The machine-readable records of ``.loopwright/lessons.md`` (oldest first); [] if none."""
    path = repo_root / STATE_DIR / "lessons.md"
    if not path.exists():
        return []
    out = []
    for m in _LESSON_RE.finditer(path.read_text(encoding="utf-8", errors="replace")):
        try:
            out.append(json.loads(m.group(1)))
        except json.JSONDecodeError:
            continue
    return out


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

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
    """What a run has spent: tokens, USD (None = unknown price), wall seconds, test-process seconds."""

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
        status: ``running``, ``fixed``, ``partial``, ``not_fixed``, ``nothing_to_fix``, ``error``.
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
    """The files of one run: ``state.json``, ``trajectory.jsonl``, ``patch.diff``.

    Args:
        repo_root: the user's repository root.
        run_id: the run.
    """

    def __init__(self, repo_root: Path, run_id: str):
        self.dir = state_dir(repo_root) / "runs" / run_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state = self.dir / "state.json"
        self.trajectory = self.dir / "trajectory.jsonl"
        self.patch = self.dir / "patch.diff"
        self._step = 0

    def save(self, state: RunState) -> None:
        """Write ``state.json`` atomically."""
        write_json_atomic(self.state, state.to_dict())

    def step(self, action: str, **data) -> None:
        """Append one trajectory line ``{"step", "time", "action", ...data}``."""
        self._step += 1
        rec = {"step": self._step, "time": round(time.time(), 3), "action": action, **data}
        with self.trajectory.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec, default=str) + "\n")


_LESSON_RE = re.compile(r"<!-- lesson: (\{.*?\}) -->")


def append_lesson(repo_root: Path, state: RunState, heading: str, lines: list[str], data: dict) -> None:
    """Append a lesson to ``.loopwright/lessons.md``: Markdown for people, one JSON comment for us."""
    path = state_dir(repo_root) / "lessons.md"
    new = not path.exists()
    with path.open("a", encoding="utf-8") as fh:
        if new:
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

"""Tasks: units of work the loop is asked to carry out."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.evaluators.verdict import TestResult


@dataclass
class Task:
    """One unit of work.

    Attributes:
        kind: ``failing_tests`` (the fix loop), ``review_comment`` or ``instruction``.
        failing: for ``failing_tests``, the failing tests at baseline, by test id,
            with message and traceback frames.
        instruction: free text for ``instruction`` tasks, or a review comment's body.
        path, line: the location a review comment points at (repo-relative, 1-based).
    """

    kind: str
    failing: dict[str, TestResult] = field(default_factory=dict)
    instruction: str = ""
    path: str = ""
    line: int = 0

    @property
    def signature(self) -> dict:
        """What identifies this task for lessons: test names, exception types, files."""
        exc = sorted({r.message.split(":", 1)[0] for r in self.failing.values() if r.message})
        files = sorted({f.path for r in self.failing.values() for f in r.frames})
        return {"tests": sorted(self.failing), "exceptions": exc, "files": files}

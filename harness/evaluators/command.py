"""The ``--check`` evaluator: a command that must exit 0 in the patched worktree.

``loopwright do --check "pytest tests/test_new.py"`` adds one to the validator's
pipeline; it runs last, after the test suite, in its own time-limited process
group under the run's sandbox policy.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from harness.evaluators.verdict import TestResult, Verdict
from sandbox.process import SandboxPolicy, run


class CommandEvaluator:
    """Run ``argv`` in the worktree; the verdict passes when it exits 0.

    Args:
        argv: the command, split like a shell (``shlex.split``).
        policy: sandbox policy for the process (default :class:`SandboxPolicy()`).
        timeout: wall seconds before the process group is killed.
    """

    id = "check"
    MISSING = "the --check command was not found on PATH; give a full path"

    def __init__(self, argv: list[str], policy: SandboxPolicy | None = None, timeout: float = 600.0):
        self.argv = list(argv)
        self.policy = policy or SandboxPolicy()
        self.timeout = timeout

    def available(self) -> bool:
        """Whether the command's program can be found (a path, or a name on PATH)."""
        return bool(self.argv) and (Path(self.argv[0]).exists() or shutil.which(self.argv[0]) is not None)

    def configured(self, root: Path) -> bool:
        """Always: the developer asked for it."""
        return True

    def run(self, root: Path, paths: list[str] | None = None) -> Verdict:
        """Run the command in ``root`` (``paths`` are ignored: the command decides what it checks).

        Returns a Verdict (evaluator ``check``): ``passed`` on exit 0; otherwise one failed
        result ``check`` whose message says the exit code (or the timeout) and the last
        three lines of output. Never raises.
        """
        start = time.monotonic()
        try:
            res = run(self.argv, Path(root), self.timeout, self.policy)
        except OSError as exc:
            message = f"the check command `{' '.join(self.argv)}` could not start: {exc.strerror or exc}"
            return Verdict(self.id, passed=False, results={"check": TestResult("check", "failed", message)},
                           duration=time.monotonic() - start)
        if res.returncode == 0 and not res.timed_out:
            return Verdict(self.id, passed=True, duration=time.monotonic() - start)
        tail = (res.stderr.strip() or res.stdout.strip()).splitlines()[-3:]
        message = (f"the check command `{' '.join(self.argv)}` "
                   + ("timed out" if res.timed_out else f"failed (exit {res.returncode})")
                   + (": " + " / ".join(tail) if tail else ""))
        return Verdict(self.id, passed=False, results={"check": TestResult("check", "failed", message)},
                       duration=time.monotonic() - start)

    def close(self) -> None:
        """Nothing to stop: the process has ended."""

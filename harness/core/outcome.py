"""The plain data of validation: the baseline a run starts from, the evaluator gates a
candidate passes after its tests, and the outcome (verdict) on one candidate; and
:func:`restrict`, which narrows a baseline to the failing tests ``--tests`` names.

:mod:`harness.core.validate` produces these; the loop, the work sources and the
command line read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.evaluators.lint import regressions
from harness.evaluators.verdict import TestResult, Verdict
from harness.core.errors import UsageError
from harness.core.evidence import Protection
from harness.core.protocols import Evaluator
from sandbox.patch import Patch


@dataclass
class Baseline:
    """The test suite's state at the start, updated as patches are accepted.

    Attributes:
        root: the worktree the baseline (and its coverage) was taken in.
        results: test id -> result (accepted fixes turn failures into passes here).
        collected: every test id, in run order.
        coverage: test id -> {absolute path: [lines]} (from the baseline run).
        duration: wall seconds of the baseline run.
        reused: how many results were reused from an earlier run's baseline, not run again.
    """

    root: Path
    results: dict[str, TestResult]
    collected: list[str]
    coverage: dict[str, dict[str, list[int]]]
    duration: float
    reused: int = 0  # test results reused from an earlier run (harness.core.baseline_cache)

    @property
    def failing(self) -> list[str]:
        """Ids that fail now (baseline failures not yet fixed), in run order."""
        return [t for t in self.collected if t in self.results and not self.results[t].ok]

    @property
    def passing(self) -> list[str]:
        """Ids that pass now."""
        return [t for t in self.collected if t in self.results and self.results[t].ok]


def restrict(baseline: Baseline, tests: tuple[str, ...]) -> None:
    """Keep only the failing tests ``tests`` names (node ids, or file/class prefixes of them):
    the others are dropped from the results, so they count neither as work nor as regressions.

    Raises:
        UsageError: a node id matches no collected test.
    """
    if not tests:
        return

    def named(tid: str, t: str) -> bool:
        t = t.rstrip("/")
        return tid == t or tid.startswith((t + "::", t + "/", t + "["))

    for t in tests:
        if not any(named(tid, t) for tid in baseline.collected):
            raise UsageError(f"--tests {t}: no collected test has this node id (see `pytest --collect-only -q`)")
    for tid in list(baseline.failing):
        if not any(named(tid, t) for t in tests):
            del baseline.results[tid]


@dataclass
class Gate:
    """One evaluator of the validator's pipeline, after the failing tests are screened.

    Attributes:
        evaluator: an :class:`~harness.core.protocols.Evaluator` (lint, types, a ``--check`` command).
        baseline: its verdict on the whole repository at the start: only results not
            in it count against a patch (new diagnostics). ``None``: the verdict must pass.
        after_tests: run after the full test suite instead of before it (slow or
            whole-program checks such as ``--check``).
    """

    evaluator: Evaluator
    baseline: Verdict | None = None
    after_tests: bool = False

    @property
    def id(self) -> str:
        """The evaluator's id (``lint``, ``types``, ``check``)."""
        return self.evaluator.id

    def judge(self, root: Path, paths: list[str]) -> tuple[str, str]:
        """Run the evaluator on ``paths`` in ``root``: ``(stage, reason)`` of a rejection,
        ``("error", why)`` when the evaluator could not run, or ``("", "")`` to go on."""
        verdict = self.evaluator.run(root, paths)
        if verdict.error:
            return "error", f"the {self.id} evaluator failed: {verdict.error.splitlines()[0]}"
        if self.baseline is None:
            if verdict.passed:
                return "", ""
            first = next(iter(verdict.failures.values()), None)
            return self.id, first.message if first else f"the {self.id} evaluator rejects it"
        new = regressions(self.baseline, verdict)
        if new:
            return self.id, f"adds {len(new)} {self.id} diagnostic(s): {new[0].message}"
        return "", ""


@dataclass
class Outcome:
    """The verdict on one candidate.

    Attributes:
        patch: the candidate. viable: it fixes ≥1 failing test and breaks none.
        accepted: chosen: viable and fixing every failing test, or the best partial
            fix of its batch (see :meth:`Validator.first_accepted`).
        reason: why it was rejected (or what it fixed), in words, for the trajectory
            and for the next prompt.
        fixed: failing test ids it makes pass. broken: passing ids it breaks.
        stage: where it was decided: ``policy``, ``apply``, ``screen``, ``lint``, ``types``,
            ``full``, ``limit`` (a resource limit of the sandbox tripped: the reason names
            it), ``error`` (an evaluator could not run), or ``progress`` (fixes no failing
            test and breaks none, but moves a failing test's failure forward: a lead for
            the offline search, never applied nor reported as a fix; :mod:`harness.core.progress`).
        progress: the failing tests' failures it moved forward (:class:`harness.core.progress.Step`),
            read from the screen's results; () for none. reached: for a progress lead, the
            ``(path, line)`` pairs the moved tests newly run (:func:`harness.core.progress.reached`).
        seconds: wall seconds per stage. tests_run: tests executed.
        protection: which passing tests watch the changed lines (see :mod:`harness.core.evidence`);
            None when not computed (a candidate rejected before the tests ran).
        plausible: viable and fixing every failing test (chosen unless it is unprotected
            and a protected plausible patch turns up among the next few candidates).
        plausible_patches: for the chosen patch, how many plausible patches (fixing every failing
            test, breaking none) were compared; alternatives: the others' descriptions;
            window: what comparing cost (``candidates`` started after the first plausible
            patch was decided, ``ahead``: those after it already started then, ``seconds``
            from it to the choice, ``first_seconds`` from the batch's start to it).
    """

    patch: Patch
    accepted: bool
    reason: str
    stage: str
    viable: bool = False
    fixed: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    test_seconds: float = 0.0
    tests_run: int = 0
    plausible_patches: int = 0
    order: int = 0  # position in its batch's validation order
    alternatives: list[str] = field(default_factory=list)
    window: dict = field(default_factory=dict)  # the comparison window (chosen patch only)
    protection: Protection | None = None
    plausible: bool = False
    progress: tuple = ()  # progress.Step: failures moved forward (a non-fix's screen)
    reached: tuple = ()  # (path, line): lines a progress lead's moved tests newly run
    # did it change what a failing test it ran sees (harness.core.progress.changed)? None: none ran
    changed: bool | None = None

    @property
    def suspect(self) -> str:
        """Why this plausible patch may only fool the tests ('' when no reason was found)."""
        return self.protection.suspect if self.protection is not None else ""

    @property
    def unprotected(self) -> bool:
        """Viable, but no test that passed at baseline executes a changed line."""
        return self.protection is not None and self.protection.unprotected

    def summary(self) -> dict:
        """JSON form for ``trajectory.jsonl``."""
        return {"accepted": self.accepted, "viable": self.viable, "stage": self.stage, "reason": self.reason,
                "fixed": self.fixed, "broken": self.broken[:10], "tests_run": self.tests_run,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                **(self.protection.summary() if self.protection else {}),
                **({"plausible_patches": self.plausible_patches, "alternatives": self.alternatives}
                   if self.plausible_patches else {}),
                **({"window": self.window} if self.window else {}),
                **({"progress": [s.words() for s in self.progress]} if self.progress else {})}

"""The evaluator gates of a run: the loop's static evaluators (lint, types), each with its
baseline on the whole worktree.

:func:`check_evaluators` decides, before the baseline, which of them run and says what each
is (``"mypy 1.11.2"``) or why it is skipped; ``loopwright doctor`` shows the same answer.
:meth:`harness.core.session.RunSession.validator` then builds the gates with
:func:`build_gates`; :class:`harness.core.outcome.Gate` judges a candidate against its baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.core.config import RunConfig
from harness.core.errors import UsageError
from harness.core.outcome import Gate
from harness.core.protocols import Evaluator
from sandbox.process import SandboxPolicy
from sandbox.worktree import worktree_root


def static_evaluator(implementation: str, policy: SandboxPolicy, python: str, run_id: str) -> Evaluator:
    """The gate evaluator a loop declaration names (``evaluators[].implementation``)."""
    if implementation == "harness.evaluators.lint.RuffEvaluator":
        from harness.evaluators.lint import RuffEvaluator

        return RuffEvaluator(policy, python=python)  # the target environment's ruff, if it has one
    from harness.evaluators.types import TypeCheckEvaluator

    return TypeCheckEvaluator(worktree_root() / f"{run_id}.mypy-cache", policy, python=python)


@dataclass
class EvaluatorCheck:
    """What one static evaluator does in a run, decided before the baseline.

    Attributes:
        id: ``lint`` or ``types``. evaluator: the evaluator (None when it is off).
        runs: it runs in this run (a gate with a baseline).
        text: what it is, for the summary and ``--json``: ``"mypy 1.11.2"`` when it runs,
            ``"off: ..."`` when not asked for, ``"skipped: ..."`` when it cannot run.
        asked: the user asked for it (``--lint``/``--types``): it must run.
    """

    id: str
    evaluator: Evaluator | None
    runs: bool
    text: str
    asked: bool = False

    @property
    def skipped(self) -> bool:
        """Configured (or declared always) but it cannot run: the run goes on without it."""
        return self.text.startswith("skipped:")

    def warning(self) -> str:
        """The loud line for a skipped evaluator ('' when it is not skipped)."""
        if not self.skipped:
            return ""
        what = {"types": "type-checked", "lint": "linted"}.get(self.id, f"checked by {self.id}")
        return (f"WARNING: the {self.id} evaluator is {self.text}; patches are not {what} in this run "
                f"(--{self.id} makes this an error, --no-{self.id} silences it)")


def check_evaluators(config: RunConfig, python: str, root: Path, run_id: str = "doctor") -> dict[str, EvaluatorCheck]:
    """Which static evaluators of ``config`` run for the repository at ``root``, and why not.

    ``config.static`` says when each runs: ``never`` (``--no-X``): off; ``configured``: when
    the repository configures the tool; ``always`` (``--X``): must run. A tool that must
    run but cannot (pyright configured without node, no checker at all) is skipped with the
    reason, unless the user asked for it.

    Returns:
        evaluator id -> :class:`EvaluatorCheck`, in id order.

    Raises:
        UsageError: ``--lint``/``--types`` asked for an evaluator that cannot run.
    """
    out = {}
    for eid, when in sorted(config.static.items()):
        if when == "never":
            out[eid] = EvaluatorCheck(eid, None, False, f"off: --no-{eid}")
            continue
        ev = static_evaluator(config.implementations[eid], config.policy, python, run_id)
        if when == "configured" and not ev.configured(root):
            out[eid] = EvaluatorCheck(eid, None, False, "off: the repository does not configure it")
            continue
        ok, what = ev.probe(root)
        asked = when == "always"
        if not ok and asked:
            raise UsageError(f"the {eid} evaluator cannot run (--{eid} asks for it): {what}; "
                             f"install it, or pass --no-{eid} to run without it")
        out[eid] = EvaluatorCheck(eid, ev if ok else None, ok, what if ok else f"skipped: {what}", asked)
    return out


def build_gates(checks: dict[str, EvaluatorCheck], worktree: Path,
                say: Callable[[str], None]) -> list[Gate]:
    """The evaluators of ``checks`` that run, each with its baseline on ``worktree``.

    A configured evaluator whose baseline run fails (a configuration error, a crash) is
    skipped: its check's ``text`` becomes ``"skipped: its baseline run failed: ..."`` and
    ``say`` says so loudly; the run goes on without it.

    Raises:
        UsageError: the baseline of an evaluator the user asked for (``--lint``/``--types``)
            fails: the user asked for a check that cannot be made.
    """
    gates = []
    for eid, check in checks.items():
        if not check.runs:
            continue
        base = check.evaluator.run(worktree)
        if base.error:
            first = base.error.strip().splitlines()[0] if base.error.strip() else "no output"
            if check.asked:
                raise UsageError(f"the {eid} evaluator cannot run (--{eid} asks for it): its baseline run "
                                 f"failed: {first}; fix its configuration, or pass --no-{eid}")
            check.runs, check.text = False, f"skipped: its baseline run failed: {first}"
            say(check.warning())
            continue
        gates.append(Gate(check.evaluator, base))
        say(f"{eid} evaluator on ({check.text}): {len(base.results)} diagnostic(s) at baseline do not count")
    return gates

"""The evaluator gates of a run: the loop's static evaluators (lint, types), each with its
baseline on the whole worktree. :meth:`harness.core.session.RunSession.validator` builds
them; :class:`harness.core.outcome.Gate` judges a candidate against its baseline."""

from __future__ import annotations

from collections.abc import Callable
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


def build_gates(config: RunConfig, python: str, run_id: str, worktree: Path, root: Path,
                say: Callable[[str], None]) -> list[Gate]:
    """The loop's other evaluators (``config.static``), each with its baseline on ``worktree``.

    Ruff runs from the target environment when it has one (else loopwright's own);
    mypy/pyright run for the target interpreter ``python`` (they need its packages).
    ``root`` (the user's repository) says whether the repository configures a tool.

    Raises:
        UsageError: an evaluator the repository configures (or ``--lint``/``--types``
            asks for) cannot run, or its baseline fails: a run without it could accept
            a regression it exists to catch. ``--no-lint``/``--no-types`` go on without it.
    """
    gates = []
    for eid, when in sorted(config.static.items()):
        ev = static_evaluator(config.implementations[eid], config.policy, python, run_id)
        if when == "never" or (when == "configured" and not ev.configured(root)):
            continue
        why = "the repository configures it" if when == "configured" else f"--{eid} asks for it"
        if not ev.available():
            raise UsageError(f"the {eid} evaluator cannot run ({why}): {ev.MISSING.split(';')[0]}; "
                             f"install it, or pass --no-{eid} to run without it")
        base = ev.run(worktree)
        if base.error:
            first = base.error.strip().splitlines()[0] if base.error.strip() else "no output"
            raise UsageError(f"the {eid} evaluator cannot run ({why}): its baseline run failed: "
                             f"{first}; fix its configuration, or pass --no-{eid} to run without it")
        gates.append(Gate(ev, base))
        say(f"{eid} evaluator on: {len(base.results)} diagnostic(s) at baseline do not count")
    return gates

"""Continue an interrupted instruction run on its existing branch.

:func:`harness.work.instruct.carry_out` starts a run from the developer's HEAD on a new
branch. :func:`continue_instruction` picks a stopped ``loopwright do`` run up
where it was (``loopwright resume RUN_ID``): its branch ``loopwright/<run-id>``
with the checkpoint commits already approved is checked out in a fresh worktree,
the baseline is taken there (so only regressions against the approved state
count), the developer's earlier rejections are fed back to the generator, and
the same loop runs again. The run's budgets (iterations, seconds, tokens, cost)
carry on from what the earlier sessions spent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.core.config import RunConfig
from harness.core.context import Attempt
from harness.work.instruct import InstructResult, TaskOutcome, finish, run_task
from harness.core.loop import LoopEvent
from harness.core.protocols import Generator
from harness.core.session import RunSession
from harness.core.state import RunFiles, RunState
from harness.core.task import Task
from harness.core.outcome import Outcome
from sandbox.patch import Patch

RESUMABLE = ("running", "interrupted", "error", "not_done")


def continue_instruction(path: Path, run_id: str, task: Task, generator: Generator,
                         options: RunConfig, *, check: list[str] | None = None,
                         approve: Callable[[Outcome], tuple[str, str]] | None = None,
                         on_event: Callable[[LoopEvent], None] = lambda e: None,
                         on_task: Callable[[TaskOutcome], None] = lambda o: None,
                         say: Callable[[str], None] = lambda m: None) -> InstructResult:
    """Carry on with ``task`` in run ``run_id`` from the tip of its branch.

    Args:
        path: the repository (or a path inside it).
        run_id: a run of the ``do-instruction`` loop that has not finished
            (status ``running`` with its process gone, ``interrupted``, ``error``,
            or ``not_done`` when a stop rule or the developer stopped it).
        task: the instruction (as the run was started with).
        generator, options, check, approve, on_event, on_task, say: as for
            :func:`harness.work.instruct.carry_out`.

    Returns:
        The :class:`InstructResult` of the whole run: ``outcomes[0].commits`` lists
        every checkpoint on the branch, earlier sessions' included.

    Raises:
        UsageError: no such run, the run is done or still running, or the tests
            cannot be run.
    """
    with RunSession.reopen(path, run_id, options, say, resumable=RESUMABLE,
                           start_over="loopwright do") as run:
        before = run.commits()
        run.note(f"resuming run {run_id} on {run.state.branch}: {len(before)} approved checkpoint(s) kept")
        run.state.generator = generator.name
        run.start_worktree(continue_branch=True)
        run.files.step("resume", head=run.repo.git.rev_parse(run.state.branch), checkpoints=len(before))
        baseline = run.test_baseline(coverage=False)
        run.validator(baseline, require_fix=False, check=check)
        outcome = run_task(run, task, generator, approve, on_event, _earlier(run.files, run.state), resumed=True)
        on_task(outcome)
        return finish(run, [outcome], baseline)


def _earlier(files: RunFiles, state: RunState) -> list[Attempt]:
    """What earlier sessions of the run told the generator, for its context: the approved
    checkpoints (still on the branch) and the developer's rejections with their reasons."""
    out = [Attempt(Patch.from_diff(a.diff, a.description).digest, a.description, True,
                   "accepted and applied: approved by the developer before the run was resumed", a.diff)
           for a in state.accepted]
    diffs = {st["patch"]["digest"]: st["patch"] for st in files.steps()
             if st.get("action") == "evaluate" and "patch" in st}
    for st in files.steps():
        if st.get("action") == "review" and st.get("verdict") == "reject" and st.get("digest") in diffs:
            p = diffs[st["digest"]]
            out.append(Attempt(st["digest"], p.get("description", ""), False,
                               f"rejected by the developer: {st.get('reason') or 'no reason given'}",
                               p.get("diff", "")))
    return out

"""Continue an interrupted instruction run on its existing branch.

:func:`harness.instruct.carry_out` starts a run from the developer's HEAD on a new
branch. :func:`continue_instruction` picks a stopped ``loopwright do`` run up
where it was (``loopwright resume RUN_ID``): its branch ``loopwright/<run-id>``
with the checkpoint commits already approved is checked out in a fresh worktree,
the baseline is taken there (so only regressions against the approved state
count), the developer's earlier rejections are fed back to the generator, and
the same loop runs again. The run's budgets (iterations, seconds, tokens, cost)
carry on from what the earlier sessions spent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import git

from evals.pytest_runner import PytestEvaluator
from harness.context import Attempt
from harness.fix import FixOptions, UsageError, _open, _run_worktrees
from harness.generators.base import Generator
from harness.instruct import InstructResult, TaskOutcome, commit_message, start_validation
from harness.loop import Loop, LoopEvent
from harness.state import RunFiles, RunState, StateError
from harness.task import Task
from harness.undo import branch_exists
from harness.validate import Outcome
from sandbox.patch import Patch
from sandbox.worktree import Worktree, worktree_root

RESUMABLE = ("running", "interrupted", "error", "not_done")


def continue_instruction(path: Path, run_id: str, task: Task, generator: Generator,
                         options: FixOptions, *, check: list[str] | None = None,
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
            :func:`harness.instruct.carry_out`.

    Returns:
        The :class:`InstructResult` of the whole run: ``outcomes[0].commits`` lists
        every checkpoint on the branch, earlier sessions' included.

    Raises:
        UsageError: no such run, the run is done or still running, or the tests
            cannot be run.
    """
    t_start = time.monotonic()
    repo, root, python, messages, note = _open(path, options, say)
    try:
        files = RunFiles(root, run_id, create=False)
        state = files.load()
    except (FileNotFoundError, StateError) as exc:
        raise UsageError(f"{exc}; list runs with `loopwright status`") from None
    state.repo, state.run_id = str(root), run_id  # never trust the file's idea of where they are
    if state.status not in RESUMABLE:
        raise UsageError(f"run {run_id} already finished ({state.status}: {state.stop_reason}); "
                         "start a new one with `loopwright do`")
    if not files.try_lock():
        raise UsageError(f"run {run_id} is still running (its lock is held); wait for it or stop it")
    python = python if options.python else (state.python or python)
    t_start -= state.spent.wall_seconds  # the wall-clock budget carries on
    worktree = slot = evaluator = validator = None
    try:
        for wt in _run_worktrees(repo, run_id):
            Worktree(repo, wt, None).remove()
        repo.git.worktree("prune")
        if not branch_exists(repo, state.branch):  # nothing was approved before the stop
            repo.git.branch(state.branch, state.base_commit)
        before = _commits(repo, state)
        note(f"resuming run {run_id} on {state.branch}: {len(before)} approved checkpoint(s) kept")
        worktree = _checkout(repo, run_id, state.branch)
        state.worktree, state.status, state.python = str(worktree.path), "running", python
        state.generator = generator.name
        files.save(state)
        files.step("resume", head=repo.git.rev_parse(state.branch), checkpoints=len(before))
        evaluator = PytestEvaluator(python, options.policy, options.timeouts,
                                    scratch=worktree_root() / f"{run_id}.scratch")
        slot = Worktree.create(repo, f"{run_id}.slot0", None, state.branch)
        validator, conventions = start_validation(evaluator, worktree, slot, root, python, options,
                                                  files, check, say, messages, note)
        if hasattr(generator, "reset"):
            generator.reset()
        # a fresh no_progress window; iterations, tokens, cost and seconds carry on
        state.stop_reason, state.stop_detail, state.status, state.history = "", "", "running", []
        files.step("task", kind=task.kind, path=task.path, line=task.line,
                   instruction=task.instruction[:2000], resumed=True)

        def checkpoint(outcome: Outcome) -> None:
            worktree.commit(commit_message(task, outcome), list(outcome.patch.files))

        loop = Loop(generator, validator, worktree, state, files, options.limits, options.protected,
                    conventions, [], {}, on_event, _earlier(files, state), task=task, approve=approve,
                    on_accept=checkpoint)
        loop.run()
        outcome = TaskOutcome(task, state.status, state.stop_reason, state.stop_detail,
                              _commits(repo, state))
        on_task(outcome)
        patch = ""
        if outcome.commits:
            patch = repo.git.diff(state.base_commit, state.branch, "--no-color", "--no-ext-diff") + "\n"
            files.patch.write_text(patch)
        state.spent.wall_seconds = round(time.monotonic() - t_start, 3)
        files.step("finish", status=state.status, tasks=[outcome.to_json()])
        files.save(state)
        return InstructResult(state, [outcome], state.branch if patch else "", patch,
                              str(files.patch) if patch else "", messages)
    except BaseException as exc:
        if state.status == "running":
            state.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "error"
        files.save(state)
        raise
    finally:
        if validator:
            validator.close()
        if evaluator:
            evaluator.close()
        if slot:
            slot.remove()
        if worktree and not options.keep:
            worktree.remove(delete_branch=not _commits(repo, state))
        files.unlock()


def _commits(repo: git.Repo, state: RunState) -> list[str]:
    if not branch_exists(repo, state.branch):
        return []
    return repo.git.rev_list("--reverse", f"{state.base_commit}..{state.branch}").split()


def _checkout(repo: git.Repo, run_id: str, branch: str) -> Worktree:
    """A worktree named ``run_id`` on the existing ``branch`` (not a new one)."""
    path = worktree_root() / run_id
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        repo.git.worktree("add", "--quiet", str(path), branch)
    except git.GitCommandError as exc:
        raise UsageError(f"could not check out {branch} in {path}: {exc.stderr.strip()}") from None
    return Worktree(repo, path, branch)


def _earlier(files: RunFiles, state: RunState) -> list[Attempt]:
    """What earlier sessions of the run told the generator, for its context: the approved
    checkpoints (still on the branch) and the developer's rejections with their reasons."""
    out = [Attempt(Patch.from_diff(a["diff"], a["description"]).digest, a["description"], True,
                   "accepted and applied: approved by the developer before the run was resumed", a["diff"])
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

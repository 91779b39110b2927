"""Carry out instructions and review comments: the loop for tasks without failing tests.

Used by ``loopwright do`` (a developer's instruction) and ``loopwright review`` /
``loopwright ci`` (review comments). Each task runs the same loop as ``fix``
(:mod:`harness.loop`) on one branch ``loopwright/<run-id>``, in order: the model
proposes a patch, the validator checks it breaks nothing (tests that passed at
baseline, lint and type diagnostics, an optional ``--check`` command), an
optional human evaluator approves it, and every accepted patch becomes a commit
(a checkpoint) whose message names the task. A task ends when the model says
``DONE`` (or ``ANSWER``s a question), or a stop rule fires.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable

from evals.pytest_runner import PytestEvaluator
from harness.fix import FixOptions, UsageError, _open, _static_checks
from harness.generators.base import Generator
from harness.loop import Loop, LoopEvent
from harness.state import RunFiles, RunState, new_run_id
from harness.task import Task
from harness.validate import Baseline, Outcome, Validator
from sandbox.worktree import BRANCH_PREFIX, Worktree, worktree_root


@dataclass
class TaskOutcome:
    """How one task ended.

    Attributes:
        task: the task. status: ``done``, ``answered`` or ``not_done``.
        stop_reason, detail: the stop rule and its words (for ``answered``, the reply).
        commits: checkpoint commit shas, oldest first.
    """

    task: Task
    status: str
    stop_reason: str
    detail: str
    commits: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """JSON form for summaries."""
        return {"kind": self.task.kind, "path": self.task.path, "line": self.task.line,
                "instruction": self.task.instruction[:500], "status": self.status,
                "stop_reason": self.stop_reason, "detail": self.detail, "commits": self.commits}


@dataclass
class InstructResult:
    """A whole run: per-task outcomes, the run state, the branch and its patch (empty if no commit)."""

    state: RunState
    outcomes: list[TaskOutcome]
    branch: str
    patch: str
    patch_path: str
    messages: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when every task is done or answered, else 1."""
        return 0 if all(o.status in ("done", "answered") for o in self.outcomes) else 1


def commit_message(task: Task, outcome: Outcome) -> str:
    """Checkpoint commit message naming the task (and, for a review comment, where it points)."""
    if task.kind == "review_comment":
        head = f"loopwright: address review comment on {task.path}:{task.line}"
        body = "\n".join(f"> {ln}" for ln in task.instruction.strip().splitlines()[:10])
    else:
        head = "loopwright: " + (task.instruction.strip().splitlines() or ["instruction"])[0][:60]
        body = task.instruction.strip()[:1000]
    return f"{head}\n\n{body}\n\n{outcome.patch.description}\n{outcome.reason}"


def carry_out(path: Path, tasks: list[Task], generator: Generator, options: FixOptions, *,
              loop_name: str = "do-instruction", check: list[str] | None = None,
              approve: Callable[[Outcome], tuple[str, str]] | None = None,
              on_event: Callable[[LoopEvent], None] = lambda e: None,
              on_task: Callable[[TaskOutcome], None] = lambda o: None,
              say: Callable[[str], None] = lambda m: None,
              run_id: str | None = None) -> InstructResult:
    """Carry out ``tasks`` in order on one branch of the repository at ``path``.

    Args:
        tasks: instruction or review-comment tasks.
        generator: a model generator (it must be able to say DONE).
        options: limits (per task), protected paths, sandbox policy, static evaluators.
        check: a command that must succeed for a patch to be accepted.
        approve: the human evaluator: ``approve(outcome) -> (verdict, reason)`` with
            verdict ``approve``, ``reject`` or ``stop``; None accepts verified patches.
        on_task: called when each task ends.

    Raises:
        UsageError: not a git repository, no commits, pytest missing.
    """
    t_start = time.monotonic()
    repo, root, python, messages, note = _open(path, options, say)
    if repo.is_dirty(untracked_files=False):
        note(f"your working tree has uncommitted changes; loopwright works from HEAD "
             f"({repo.head.commit.hexsha[:8]}) and leaves them untouched")
    run_id = run_id or new_run_id()
    files = RunFiles(root, run_id)
    state = RunState(run_id, loop_name, str(root), repo.head.commit.hexsha,
                     branch=BRANCH_PREFIX + run_id, generator=generator.name, python=python)
    files.lock()
    worktree = Worktree.create(repo, run_id, state.branch, state.base_commit)
    state.worktree = str(worktree.path)
    evaluator = PytestEvaluator(python, options.policy, options.timeouts,
                                scratch=worktree_root() / f"{run_id}.scratch")
    slot = Worktree.create(repo, f"{run_id}.slot0", None, state.base_commit)
    outcomes: list[TaskOutcome] = []
    validator = None
    try:
        validator, conventions = start_validation(evaluator, worktree, slot, root, python, options,
                                                  files, check, say, messages, note)
        state.baseline_failing = validator.baseline.failing
        for task in tasks:
            outcomes.append(_one_task(task, generator, validator, worktree, state, files, options,
                                      conventions, approve, on_event))
            on_task(outcomes[-1])
        patch = ""
        if any(o.commits for o in outcomes):
            patch = repo.git.diff(state.base_commit, state.branch, "--no-color", "--no-ext-diff") + "\n"
            files.patch.write_text(patch)
        state.status = "done" if all(o.status in ("done", "answered") for o in outcomes) else "not_done"
        state.spent.wall_seconds = round(time.monotonic() - t_start, 3)
        files.step("finish", status=state.status, tasks=[o.to_json() for o in outcomes])
        files.save(state)
        return InstructResult(state, outcomes, state.branch if patch else "", patch,
                              str(files.patch) if patch else "", messages)
    except BaseException:
        if state.status == "running":
            state.status = "interrupted"
        files.save(state)
        raise
    finally:
        if validator:
            validator.close()
        evaluator.close()
        slot.remove()
        if not options.keep:
            has_commits = repo.git.rev_list("--count", f"{state.base_commit}..{state.branch}") != "0"
            worktree.remove(delete_branch=not has_commits)
        files.unlock()


def start_validation(evaluator: PytestEvaluator, worktree: Worktree, slot: Worktree, root: Path,
                     python: str, options: FixOptions, files: RunFiles, check: list[str] | None,
                     say: Callable[[str], None], messages: list[str],
                     note: Callable[[str], None]) -> tuple[Validator, str]:
    """Take the baseline in ``worktree`` (recorded as a trajectory step), set up the static
    evaluators, and return ``(validator, conventions)``: a validator over ``slot`` that
    does not require a failing test to be fixed, and the repository's AGENTS.md text.

    Raises:
        UsageError: the tests cannot be run (a repository without tests is allowed).
    """
    say(f"baseline: running the test suite in {worktree.path}")
    base = evaluator.run(worktree.path, default_timeout=options.timeouts.baseline,
                         process_timeout=options.limits.max_wall_seconds or 3600)
    if base.error and base.error != "no tests were collected":
        raise UsageError(f"could not run the tests of {root}: {base.error}")
    if base.error:
        note("the repository has no tests: patches are checked by lint/types/--check only")
    baseline = Baseline(worktree.path, base.results, base.collected, {}, base.duration)
    files.step("baseline", tests=len(base.results), failing=baseline.failing,
               seconds=round(base.duration, 3))
    static = _static_checks(root, worktree.path, python, options, files.dir.name, say, messages)
    validator = Validator(evaluator, [slot], baseline, options.protected, options.max_diff_lines,
                          options.timeouts, static, require_fix=False, check=check)
    agents = root / "AGENTS.md"
    return validator, (agents.read_text(errors="replace")[:20000] if agents.exists() else "")


def _one_task(task: Task, generator: Generator, validator: Validator, worktree: Worktree,
              state: RunState, files: RunFiles, options: FixOptions, conventions: str,
              approve, on_event) -> TaskOutcome:
    """Run the loop for one task on the shared worktree; every accepted patch is a commit."""
    if hasattr(generator, "reset"):
        generator.reset()  # a new task: a new conversation
    state.iteration, state.history, state.stop_reason, state.stop_detail = 0, [], "", ""
    state.status = "running"
    commits: list[str] = []
    files.step("task", kind=task.kind, path=task.path, line=task.line, instruction=task.instruction[:2000])

    def checkpoint(outcome: Outcome) -> None:
        commits.append(worktree.commit(commit_message(task, outcome), list(outcome.patch.files)))

    loop = Loop(generator, validator, worktree, state, files, options.limits, options.protected,
                conventions, [], {}, on_event, [], task=task, approve=approve, on_accept=checkpoint)
    loop.run()
    return TaskOutcome(task, state.status, state.stop_reason, state.stop_detail, commits)


def instruction_task(text: str) -> Task:
    """A :class:`Task` for a developer's instruction (``loopwright do "..."``).

    Raises:
        UsageError: the instruction is empty.
    """
    if not text.strip():
        raise UsageError("the instruction is empty; say what to change, e.g. loopwright do \"add a --verbose flag\"")
    return Task("instruction", instruction=text.strip())

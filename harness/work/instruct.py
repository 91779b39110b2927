"""Carry out instructions and review comments: the loop for tasks without failing tests.

Used by ``loopwright do`` (a developer's instruction) and ``loopwright review`` /
``loopwright ci`` (review comments). Each task runs the same loop as ``fix``
(:mod:`harness.core.loop`) on one branch ``loopwright/<run-id>``, in order: the model
proposes a patch, the validator checks it breaks nothing (tests that passed at
baseline, lint and type diagnostics, an optional ``--check`` command), an
optional human evaluator approves it, and every accepted patch becomes a commit
(a checkpoint) whose message names the task. A task ends when the model says
``DONE`` (or ``ANSWER``s a question), or a stop rule fires.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.records import StopReason
from harness.core.config import RunConfig
from harness.core.context import Attempt
from harness.core.errors import UsageError
from harness.core.loop import LoopEvent
from harness.core.protocols import Generator
from harness.core.session import RunSession
from harness.core.state import RunState
from harness.core.task import Task
from harness.core.outcome import Outcome


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
    """A whole run: per-task outcomes, the run state, the branch and its patch (empty if no commit).

    ``python``/``python_why``: the target interpreter and why it was chosen; ``evaluators``:
    evaluator id -> what it was in this run (``{"tests": "pytest 8.3.2", "lint": "off: ..."}``),
    as ``loopwright fix --json`` reports them.
    """

    state: RunState
    outcomes: list[TaskOutcome]
    branch: str
    patch: str
    patch_path: str
    messages: list[str] = field(default_factory=list)
    python: str = ""
    python_why: str = ""
    evaluators: dict[str, str] = field(default_factory=dict)

    def setup_json(self) -> dict:
        """The run's setup as the ``--json`` summaries show it: ``python``, ``python_why``, ``evaluators``."""
        return {"python": self.python, "python_why": self.python_why, "evaluators": self.evaluators}

    @property
    def exit_code(self) -> int:
        """0 when every task is done or answered (and no evaluator fault or forged verdict), else 1."""
        return 0 if self.state.status != "error" and self.state.stop_reason != StopReason.VERDICT_FORGED and all(
            o.status in ("done", "answered") for o in self.outcomes) else 1


def commit_message(task: Task, outcome: Outcome) -> str:
    """Checkpoint commit message naming the task (and, for a review comment, where it points)."""
    if task.kind == "review_comment":
        head = f"loopwright: address review comment on {task.path}:{task.line}"
        body = "\n".join(f"> {ln}" for ln in task.instruction.strip().splitlines()[:10])
    else:
        head = "loopwright: " + (task.instruction.strip().splitlines() or ["instruction"])[0][:60]
        body = task.instruction.strip()[:1000]
    return f"{head}\n\n{body}\n\n{outcome.patch.description}\n{outcome.reason}"


def carry_out(path: Path, tasks: list[Task], generator: Generator, options: RunConfig, *,
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
    options = dataclasses.replace(options, loop_name=loop_name)
    with RunSession.start(path, options, say, generator_name=generator.name, run_id=run_id) as run:
        from harness.work.fix import cost_budget

        cost_budget(generator, options.limits, run.note)  # says so when --max-cost cannot hold
        run.start_worktree()
        baseline = run.test_baseline(coverage=False)
        run.validator(baseline, require_fix=False, check=check)
        outcomes: list[TaskOutcome] = []
        for task in tasks:
            outcomes.append(run_task(run, task, generator, approve, on_event))
            on_task(outcomes[-1])
        return finish(run, outcomes, baseline)


def run_task(run: RunSession, task: Task, generator: Generator, approve, on_event,
             earlier: list[Attempt] = (), resumed: bool = False) -> TaskOutcome:
    """Run the loop for one task on the session's worktree; every accepted patch is a commit.

    ``earlier``: what earlier sessions of a resumed run told the generator. The
    ``no_progress`` window starts afresh; iterations, tokens, cost and seconds carry on
    within the run (limits are per task for a new task: the counters restart).
    """
    generator.reset()  # a new task: a new conversation
    state = run.state
    if not resumed:
        state.iteration = 0
    state.history, state.stop_reason, state.stop_detail, state.status = [], "", "", "running"
    commits: list[str] = []
    run.files.step("task", kind=task.kind, path=task.path, line=task.line,
                   instruction=task.instruction[:2000], **({"resumed": True} if resumed else {}))

    def checkpoint(outcome: Outcome) -> None:
        commits.append(run.worktree.commit(commit_message(task, outcome), list(outcome.patch.files)))

    run.loop(generator, on_event, attempts=list(earlier), task=task, approve=approve,
             on_accept=checkpoint).run()
    return TaskOutcome(task, state.status, state.stop_reason, state.stop_detail,
                       run.commits() if resumed else commits)


def finish(run: RunSession, outcomes: list[TaskOutcome], baseline=None) -> InstructResult:
    """Write the branch's patch, check the user's ``.git`` is unchanged and, given the run's
    ``baseline`` and a patch, confirm with a fresh isolated pytest run that the tests that
    passed at the start still pass (:meth:`RunSession.verify`); a disagreement is an
    ``evaluator_fault`` (status ``error``, exit 1, never applied). Record the run's end and
    return the whole result."""
    state = run.state
    patch = run.write_patch() if any(o.commits for o in outcomes) else ""
    state.status = "done" if all(o.status in ("done", "answered") for o in outcomes) else "not_done"
    if baseline is not None and patch:
        run.verify(baseline)  # .git unchanged, and a fresh isolated run agrees with validation
        if state.stop_reason == StopReason.VERDICT_FORGED:  # the canaries: nothing of it is handed over
            state.status, patch = "not_done", ""
    elif changed := run.git_changes():  # code run during validation changed the user's .git
        run.fault(f"the repository's .git changed during validation:\n{changed}")
    state.spent.wall_seconds = run.elapsed()
    run.files.step("finish", status=state.status, tasks=[o.to_json() for o in outcomes])
    run.files.save(state)
    return InstructResult(state, outcomes, state.branch if patch else "", patch,
                          str(run.files.patch) if patch else "", run.messages,
                          python=run.python, python_why=run.python_why, evaluators=run.evaluators())


def instruction_task(text: str) -> Task:
    """A :class:`Task` for a developer's instruction (``loopwright do "..."``).

    Raises:
        UsageError: the instruction is empty.
    """
    if not text.strip():
        raise UsageError("the instruction is empty; say what to change, e.g. loopwright do \"add a --verbose flag\"")
    return Task("instruction", instruction=text.strip())

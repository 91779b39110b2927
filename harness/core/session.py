"""A run session: everything one run holds, opened once and closed on one path.

``fix``, ``resume``, ``do`` (and its resume) and ``review`` are each a short function
over a :class:`RunSession`::

    with RunSession.start(path, config, say, generator_name=gen.name) as run:
        run.start_worktree()
        validator = run.validator(run.test_baseline(coverage=True))
        run.loop(gen, on_event).run()

The session owns the repository handle, the run's lock, its worktree and validation slots, the
test evaluator (and its fork servers), the evaluator gates, the validator and the state files.
:meth:`RunSession.close` (called by ``with`` on success, error or Ctrl-C) saves the state
(``interrupted`` or ``error`` when an exception ends the run), stops the validator's threads and
every evaluator's processes, removes the slots and, unless ``keep``, the run's worktree (its
branch too when it has no commit), and releases the lock.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import git

from harness.evaluators.command import CommandEvaluator
from harness.evaluators.confirm import FORGED
from harness.evaluators.pytest_runner import PytestEvaluator
from harness.evaluators.pytest_output import NO_TESTS
from harness.core.records import StopReason
from harness.core.baseline import run_baseline, leave_unrun, unrun_note
from harness.core.baseline_cache import BaselineCache
from harness.core.environment import leave_out, summary as environment_summary
from harness.core.config import RunConfig
from harness.core.errors import UsageError
from harness.core.loop import Loop
from harness.core.protocols import Generator
from harness.core.state import RunFiles, RunState, StateError, new_run_id
from harness.core import stop as rules
from harness.core.gates import EvaluatorCheck, build_gates
from harness.core.opening import check_static, open_for_run, sandbox_notes, target_python
from harness.core.outcome import Baseline, Gate, restrict
from harness.core.validate import Validator
from sandbox import integrity
from sandbox.carry import carry_ignored
from sandbox.gitcmd import list_worktrees
from sandbox.worktree import BRANCH_PREFIX, Worktree, worktree_root


class RunSession:
    """One run's repository, lock, worktrees, evaluators, validator and state files.

    Make one with :meth:`start` (a new run from HEAD) or :meth:`reopen` (continue a
    stopped run); use it as a context manager so :meth:`close` always runs.

    Attributes:
        repo, root: the user's repository and its work tree root.
        python: the target interpreter; python_why: why it was chosen (``"the repository's .venv"``).
        config: the run's :class:`RunConfig`.
        state, files: the run state and its files (``.git/loopwright/runs/<run-id>/``).
        messages: notes for the summary (also said as they happen).
        worktree: the run's worktree (branch ``loopwright/<run-id>``), once started.
        evaluator: the test evaluator. gates: the other evaluators, with baselines.
        checks: what each static evaluator does in this run, decided before the baseline
            (:func:`harness.core.gates.check_evaluators`). tests_tool: ``"pytest 8.3.2"``.
        t_start: ``time.monotonic()`` at which the run's wall-clock budget began
            (earlier sessions of a resumed run included).
    """

    def __init__(self, repo: git.Repo, python: str, config: RunConfig, state: RunState,
                 files: RunFiles, say: Callable[[str], None], messages: list[str]):
        # the sandbox binds this .git read-only (credentials hidden); verify() checks it is unchanged
        git_dir = Path(repo.common_dir)
        config.policy = replace(config.policy, git_dir=git_dir)
        self.guard = integrity.take(git_dir)
        self.repo, self.root = repo, Path(repo.working_tree_dir)
        self.python, self.config, self.state, self.files = python, config, state, files
        self.say, self.messages = say, messages
        self.worktree: Worktree | None = None
        self.slots: list[Worktree] = []
        self.evaluator: PytestEvaluator | None = None
        self.gates: list[Gate] = []
        self.python_why, self.tests_tool = "", ""
        self.checks: dict[str, EvaluatorCheck] = {}
        self._validator: Validator | None = None
        self.t_start = time.monotonic() - state.spent.wall_seconds

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def start(cls, path: Path, config: RunConfig, say: Callable[[str], None] = lambda m: None, *,
              generator_name: str, run_id: str | None = None) -> RunSession:
        """A new run of ``config.loop_name`` on the repository at ``path``, from its HEAD.

        Raises:
            UsageError: not a git repository, no commits, no interpreter or pytest, or an
                evaluator that ``--lint``/``--types`` asks for cannot run.
        """
        repo, messages, note = open_for_run(path, say)
        root = Path(repo.working_tree_dir)
        python, why, tests_tool = target_python(root, config.python)
        sandbox_notes(config, note)
        if repo.is_dirty(untracked_files=False):
            note(f"your working tree has uncommitted changes; loopwright works from HEAD "
                 f"({repo.head.commit.hexsha[:8]}) and leaves them untouched")
        run_id = run_id or new_run_id()
        checks = check_static(config, repo, python, run_id, note)  # before anything of the run exists
        state = RunState(run_id, config.loop_name, str(root), repo.head.commit.hexsha,
                         branch=BRANCH_PREFIX + run_id, generator=generator_name, python=python,
                         settings=dict(config.settings))
        files = RunFiles(root, run_id)
        files.lock()  # before anything of the run exists, so `gc` never takes it for dead
        session = cls(repo, python, config, state, files, say, messages)
        session.python_why, session.tests_tool, session.checks = why, tests_tool, checks
        return session

    @classmethod
    def reopen(cls, path: Path, run_id: str, config: RunConfig, say: Callable[[str], None] = lambda m: None,
               *, resumable: tuple[str, ...], start_over: str) -> RunSession:
        """Continue run ``run_id``: its state is loaded and its old worktrees removed.

        Args:
            resumable: the statuses that may be continued.
            start_over: the command that starts a new run (named in the error).

        Raises:
            UsageError: no such run, it already finished, or it is still running.
        """
        repo, messages, note = open_for_run(path, say)
        root = Path(repo.working_tree_dir)
        python, why, tests_tool = target_python(root, config.python)
        sandbox_notes(config, note)
        try:
            files = RunFiles(root, run_id, create=False)
            state = files.load()
        except (FileNotFoundError, StateError) as exc:
            raise UsageError(f"{exc}; list runs with `loopwright status`") from None
        # never trust the file's idea of where the repository, the run or its branch is
        state.repo, state.run_id, state.branch = str(root), run_id, BRANCH_PREFIX + run_id
        try:
            repo.commit(state.base_commit)
        except (ValueError, git.BadName, git.GitCommandError):
            raise UsageError(f"{files.state}: corrupted (base_commit {state.base_commit[:40]!r} is not a "
                             f"commit of this repository); start a new one with `{start_over}`") from None
        if state.status not in resumable:
            raise UsageError(f"run {run_id} already finished ({state.status}: {state.stop_reason}); "
                             f"start a new one with `{start_over}`")
        if not config.python and state.python and state.python != python:
            python, why = state.python, "the interpreter the run was started with"
            tests_tool = target_python(root, python)[2]
        checks = check_static(config, repo, python, run_id, note)
        if not files.try_lock():  # kept from here on: the session's lock
            raise UsageError(f"run {run_id} is still running (its lock is held); wait for it or stop it")
        state.candidates_tried = files.evaluated()  # state.json may predate the last evaluations
        state.settings = dict(config.settings)  # what it started with, and the flags given now
        session = cls(repo, python, config, state, files, say, messages)
        session.python_why, session.tests_tool, session.checks = why, tests_tool, checks
        for wt in session._run_worktrees():
            Worktree(repo, wt, None).remove()
        repo.git.worktree("prune")
        return session

    def __enter__(self) -> RunSession:
        self.files.lock()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.close(exc)
        return False

    def note(self, message: str) -> None:
        """Say ``message`` now and keep it for the summary."""
        self.messages.append(message)
        self.say(message)

    # -- the run's pieces ------------------------------------------------------------------

    def start_worktree(self, *, continue_branch: bool = False) -> Worktree:
        """Create the run's worktree on branch ``loopwright/<run-id>``.

        A new branch at the base commit (an existing one from an earlier session is
        deleted first), or with ``continue_branch`` the existing branch checked out
        (created at the base commit if nothing was committed before).
        """
        s = self.state
        if continue_branch:
            if not self._branch_exists():
                self.repo.git.branch(s.branch, s.base_commit)
            path = worktree_root() / s.run_id
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.repo.git.worktree("add", "--quiet", str(path), s.branch)
            except git.GitCommandError as exc:
                raise UsageError(f"could not check out {s.branch} in {path}: {exc.stderr.strip()}") from None
            self.worktree = Worktree(self.repo, path, s.branch, carried=carry_ignored(self.repo, path))
        else:
            if self._branch_exists():
                self.repo.git.branch("-D", s.branch)
            self.worktree = Worktree.create(self.repo, s.run_id, s.branch, s.base_commit)
        if self.worktree.carried:
            shown = ", ".join(self.worktree.carried[:5]) + (", …" if len(self.worktree.carried) > 5 else "")
            self.note(f"carried {len(self.worktree.carried)} ignored file(s) the packages need from your "
                      f"checkout into the worktree: {shown}")
        s.worktree, s.status, s.python = str(self.worktree.path), "running", self.python
        self.files.save(s)
        return self.worktree

    def test_baseline(self, *, coverage: bool) -> Baseline:
        """The test suite's state in the run's worktree, recorded as a trajectory step.

        ``coverage=True`` (the fix loop): per-test coverage is collected, the baseline is
        kept in ``baseline.json`` (a resumed run reads it back instead of re-running),
        ``config.tests`` restricts the failing tests worked on, and a run that cannot
        collect tests is an error. Without coverage (instructions, review comments) a
        repository without tests is allowed (a note says so).

        Outcomes coverage alone changes are taken from a run without it (:mod:`harness.core.baseline`); tests
        the baseline's share of the budget did not reach are left out (:mod:`harness.core.baseline_budget`),
        and without ``--tests`` those failing for a missing command or module (:mod:`harness.core.environment`).

        Raises:
            UsageError: the tests cannot be run, ``--tests`` names no collected test, or every
                failing test fails for the environment.
        """
        if coverage and (saved := self.files.load_baseline(self.worktree.path)) is not None:
            return saved
        self.say(f"baseline: running the test suite{' with coverage' if coverage else ''} in {self.worktree.path}")
        evaluator, limit = self.test_evaluator(), self.config.limits.max_wall_seconds or 3600
        cache = BaselineCache(self.root, self.python, self.config.policy, repr(self.config.timeouts),
                              use=not self.config.fresh, note=self.note) if coverage else None
        base, uncovered = run_baseline(evaluator, self.worktree.path, cache, coverage=coverage, limit=limit,
                                       timeout=self.config.timeouts.baseline, checkout=self.root,
                                       deadline=self.t_start + limit if self.config.limits.max_wall_seconds else None,
                                       shards=self.config.slots)
        unrun = leave_unrun(base, self.config.limits.max_wall_seconds if coverage else None)  # no evidence
        cache and cache.save(base)  # for the next run (harness.core.baseline_cache); without the unrun
        self.state.spent.test_seconds += self.evaluator.busy_seconds()
        baseline = Baseline(self.worktree.path, dict(base.results), base.collected, base.coverage if coverage else {},
                            base.duration, cache.reused if cache else 0)
        left_out = leave_out(self.root, baseline) if coverage and not self.config.tests else {}
        self.files.step("baseline", tests=len(base.results), failing=baseline.failing,
                        seconds=round(base.duration, 3), error=base.error, **(cache.fields() if cache else {}),
                        **{k: v for k, v in (("uncovered", sorted(uncovered)), ("environment", left_out),
                                             ("unrun", len(unrun))) if v})
        for message in [*uncovered.values(), *([environment_summary(left_out)] if left_out else []), *unrun_note(unrun)]:
            self.note(message)
        if base.error and (coverage or base.error != NO_TESTS):
            raise UsageError(f"could not run the tests of {self.root}: {base.error}")
        if base.error:
            self.note("the repository has no tests: patches are checked by lint/types/--check only")
        if coverage:
            restrict(baseline, self.config.tests)
            self.files.save_baseline(baseline)
        self.state.baseline_failing = self.state.remaining = baseline.failing
        return baseline

    def test_evaluator(self) -> PytestEvaluator:
        """The run's pytest evaluator (made on first use; closed by :meth:`close`)."""
        if self.evaluator is None:
            self.evaluator = PytestEvaluator(self.python, self.config.policy, self.config.timeouts,
                                             scratch=worktree_root() / f"{self.state.run_id}.scratch")
        return self.evaluator

    def evaluators(self) -> dict[str, str]:
        """Evaluator id -> what it is in this run (``{"tests": "pytest 8.3.2", "types":
        "mypy 1.11.2", "lint": "off: the repository does not configure it"}``)."""
        return {"tests": self.tests_tool, **{eid: c.text for eid, c in self.checks.items()}}

    def validator(self, baseline: Baseline, *, require_fix: bool = True,
                  check: list[str] | None = None) -> Validator:
        """Slots at the worktree's HEAD, the evaluator gates with their baselines, the validator.

        ``require_fix`` (the fix loop) uses ``config.slots`` slots; tasks use one.
        ``check`` adds a ``--check`` command gate after the test suite.
        """
        head = self.repo.git.rev_parse(self.state.branch)
        for i in range(self.config.slots if require_fix else 1):
            self.slots.append(Worktree.create(self.repo, f"{self.state.run_id}.slot{i}", None, head))
        self.gates = build_gates(self.checks, self.worktree.path, self.note)
        if check:
            self.gates.append(Gate(CommandEvaluator(check, self.config.policy), None, after_tests=True))
        self._validator = Validator(self.test_evaluator(), self.slots, baseline, self.config.protected,
                                    self.config.max_diff_lines, self.config.timeouts, self.gates,
                                    require_fix=require_fix, editable=self.config.editable,
                                    window=self.config.window, checkout=self.root)
        return self._validator

    def loop(self, generator: Generator, on_event, **kw) -> Loop:
        """A :class:`Loop` over this session's validator and worktree (``kw``: the Loop's extras)."""
        return Loop(generator, self._validator, self.worktree, self.state, self.files, self.config.limits,
                    self.config.protected, on_event=on_event, conventions=self.conventions(), **kw)

    def conventions(self) -> str:
        """The repository's AGENTS.md (first 20,000 characters), or ``""``."""
        agents = self.root / "AGENTS.md"
        return agents.read_text(errors="replace")[:20000] if agents.exists() else ""

    def commits(self) -> list[str]:
        """Commits on the run's branch after the base commit, oldest first."""
        if not self._branch_exists():
            return []
        return self.repo.git.rev_list("--reverse", f"{self.state.base_commit}..{self.state.branch}").split()

    def write_patch(self) -> str:
        """The branch's diff from the base commit, written to ``patch.diff``; ``""`` without commits."""
        if not self.commits():
            return ""
        patch = self.repo.git.diff(self.state.base_commit, self.state.branch, "--no-color", "--no-ext-diff") + "\n"
        self.files.patch.write_text(patch)
        return patch

    def git_changes(self) -> str:
        """What changed in the repository's ``.git`` (config, hooks, refs other than
        ``loopwright/*``) since the session started, in words with a diff; '' when nothing."""
        return integrity.changes(self.guard)

    def verify(self, baseline: Baseline, flaky: set[str] | None = None) -> None:
        """After validation: the repository's ``.git`` is unchanged (:mod:`sandbox.integrity`),
        and fresh isolated pytest runs agree that the tests validation saw pass do pass
        (:meth:`PytestEvaluator.confirm`: split by test file into up to ``config.slots``
        processes at once, the slots being idle by now). Otherwise the run ends in an
        ``evaluator_fault`` (status ``error``; nothing is committed) whose detail shows what
        disagreed. Tests validation found ``flaky`` are not asked to pass again, and a test
        that fails in the confirmation run but passes re-run alone is added to ``flaky``
        instead of faulting. A ``confirm`` trajectory step records its seconds. Wrong canaries
        (:data:`~harness.evaluators.confirm.FORGED`) reject the patches: ``not_fixed``, ``verdict_forged``."""
        s = self.state
        changed = self.git_changes()
        problem = f"the repository's .git changed during validation:\n{changed}" if changed else ""
        if not problem and self.evaluator is not None and s.accepted:
            flaky = set() if flaky is None else flaky
            must = [t for t in baseline.passing if t not in flaky]
            t0 = time.monotonic()
            problem = self.evaluator.confirm(self.worktree.path, must, timeouts={
                t: self.config.timeouts.for_test(baseline.results[t].duration) for t in must},
                process_timeout=60 + 3 * baseline.duration + 2 * len(must), flaky=flaky,
                durations={t: baseline.results[t].duration or 0.0 for t in must}, jobs=self.config.slots)
            self.files.step("confirm", tests=len(must), seconds=round(time.monotonic() - t0, 3),
                            agrees=not problem)
            if problem.startswith(FORGED):  # the canaries: the patch lied about its verdict
                s.status, s.stop_reason, s.stop_detail, s.remaining = "not_fixed", StopReason.VERDICT_FORGED, problem, \
                    list(s.baseline_failing)
                return self.files.step("rejected", reason=problem, patches=[a.description for a in s.accepted])
            problem = problem and f"the confirmation run disagrees with validation: {problem}"
        if problem:
            self.fault(problem)

    def fault(self, problem: str) -> None:
        """End the run in an evaluator fault (:func:`harness.core.stop.evaluator_fault`):
        status ``error``, ``problem`` as the detail, said now and kept for the summary."""
        stop = rules.evaluator_fault(problem)
        self.state.status, self.state.stop_reason, self.state.stop_detail = "error", stop.reason, stop.detail
        self.note(f"evaluator fault: {problem}")

    def elapsed(self) -> float:
        """Wall seconds of the run so far (earlier sessions included), rounded to ms."""
        return round(time.monotonic() - self.t_start, 3)

    # -- closing -----------------------------------------------------------------------------

    def close(self, exc: BaseException | None = None) -> None:
        """The one way a run ends: record why if ``exc`` ended it, stop the validator's
        threads and every evaluator's processes (fork servers included), remove the
        slots and (unless ``keep``) the worktree, save the state, release the lock."""
        s = self.state
        if exc is not None and s.status == "running":
            s.status, stop = rules.ended_by(exc)
            s.stop_reason, s.stop_detail = stop.reason, s.stop_detail or stop.detail
        try:
            if self._validator is not None:
                self._validator.close()
            for ev in [self.evaluator, *(g.evaluator for g in self.gates)]:
                if ev is not None:
                    ev.close()
            for wt in self.slots:
                wt.remove()
            self.slots = []
            if self.worktree is not None and not self.config.keep:
                self.worktree.remove(delete_branch=not self.commits())
            if self.files.state.exists() or exc is None:
                self.files.save(s)
        finally:
            for scratch in (f"{s.run_id}.scratch", f"{s.run_id}.mypy-cache"):  # nothing of a run
                shutil.rmtree(worktree_root() / scratch, ignore_errors=True)  # remains but its state
            self.files.unlock()
            self.repo.close()  # stops GitPython's persistent `git cat-file` processes

    # -- helpers -------------------------------------------------------------------------

    def _branch_exists(self) -> bool:
        return bool(self.repo.git.rev_parse("--verify", "--quiet", f"refs/heads/{self.state.branch}",
                                            with_exceptions=False))  # prints the commit, or nothing

    def _run_worktrees(self) -> list[Path]:
        """Worktrees registered for this run (its own and its slots)."""
        run_id = self.state.run_id
        return [w.path for w in list_worktrees(self.repo) if w.path.name == run_id or w.path.name.startswith(run_id + ".")]

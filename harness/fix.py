"""``loopwright fix``: set a run up, run the loop, finish it.

Setup: open the repository, pick the target interpreter, create the run's worktree
(branch ``loopwright/<run-id>``) and scratch worktrees, take the baseline (full
test run with per-test coverage). Finish: commit the accepted patches on the
branch, write ``patch.diff`` and a lesson, remove the worktrees, and with
``--apply`` apply the patch to the user's (clean) working tree.

Exit codes: 0 fixed or nothing to fix, 1 not (fully) fixed, 2 bad usage or input.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import git

from evals.pytest_runner import (
    EvaluatorError,
    PytestEvaluator,
    TimeoutPolicy,
    check_pytest,
    resolve_python,
)
from harness.generators.base import Generator
from harness.loop import Loop, LoopEvent
from harness.state import (
    RunFiles,
    RunState,
    append_lesson,
    new_run_id,
    operator_priors,
    read_lessons,
)
from harness.stop import StopLimits
from harness.validate import Baseline, Outcome, StaticCheck, Validator
from sandbox import integrity
from sandbox.gitcmd import list_worktrees
from sandbox.patch import Patch
from sandbox.process import SandboxPolicy, network_isolation
from sandbox.worktree import BRANCH_PREFIX, RepoError, Worktree, open_repo, worktree_root

EXIT_OK, EXIT_NOT_FIXED, EXIT_BAD_INPUT = 0, 1, 2

DEFAULT_PROTECTED = ("tests/**", "test/**", "testing/**", "test_*.py", "*_test.py", "conftest.py",
                     "pytest.ini", "pytest.toml", ".pytest.ini", "tox.ini", "setup.cfg",
                     "pyproject.toml", "noxfile.py", "sitecustomize.py", "usercustomize.py", "*.pth",
                     ".gitattributes", ".github/**", ".gitlab-ci.yml", "*.lock", ".loopwright/**")


DEFAULT_POLICY = SandboxPolicy(network=False, private_home=True, memory_bytes=8 * 2**30)


class UsageError(Exception):
    """Bad usage or input (exit code 2); the message says what to do."""


@dataclass
class FixOptions:
    """How to run ``fix``.

    Attributes:
        python: target interpreter (None: REPO/.venv, else the current one).
        limits: stop rule numbers. protected: globs a patch may not touch.
        apply: apply the final patch to the user's working tree (only if clean).
        keep: keep the worktrees after the run.
        jobs: parallel validation slots (default: CPU count, at most 4).
        max_diff_lines: largest patch accepted. timeouts: per-test timeout policy.
        loop_name: the LSS loop this run follows.
        policy: how test processes are sandboxed (default: no network, private HOME,
            8 GiB address-space limit).
        static: when to run the ``lint`` and ``types`` evaluators: ``configured`` (the
            repo configures ruff / mypy or pyright), ``always`` or ``never``.
    """

    python: str | None = None
    limits: StopLimits = field(default_factory=StopLimits)
    protected: tuple[str, ...] = DEFAULT_PROTECTED
    apply: bool = False
    keep: bool = False
    jobs: int = 0
    max_diff_lines: int = 40
    timeouts: TimeoutPolicy = field(default_factory=TimeoutPolicy)
    loop_name: str = "fix-failing-tests"
    policy: SandboxPolicy = field(default_factory=lambda: DEFAULT_POLICY)
    static: dict[str, str] = field(default_factory=lambda: {"lint": "configured", "types": "configured"})


@dataclass
class FixResult:
    """The outcome of ``fix``: final state, exit code, patch text and where things are."""

    state: RunState
    exit_code: int
    patch: str = ""
    patch_path: str = ""
    messages: list[str] = field(default_factory=list)
    sandbox: str = ""  # "strong" (bubblewrap) or "weak" (see sandbox.process)

    def to_json(self) -> dict:
        """The ``--json`` summary (documented in README)."""
        s = self.state
        return {"run_id": s.run_id, "status": s.status, "stop_reason": s.stop_reason,
                "stop_detail": s.stop_detail, "fixed_tests": s.fixed_tests,
                "remaining_failures": s.remaining, "patch": self.patch,
                "patch_path": self.patch_path, "branch": s.branch if self.patch else "",
                "wall_seconds": s.spent.wall_seconds, "test_seconds": round(s.spent.test_seconds, 3),
                "candidates_tried": s.candidates_tried, "iterations": s.iteration,
                "cost_usd": s.spent.cost_usd, "tokens": s.spent.tokens,
                "messages": self.messages, "exit_code": self.exit_code, "sandbox": self.sandbox}


def fix(path: Path, generator: Generator, options: FixOptions,
        on_event: Callable[[LoopEvent], None] = lambda e: None,
        say: Callable[[str], None] = lambda m: None) -> FixResult:
    """Run the fix loop on the repository at ``path``.

    Raises:
        UsageError: not a git repository, no commits, no interpreter or pytest,
            no tests collected, or tests that need a package that is not installed.
    """
    t_start = time.monotonic()
    repo, root, python, messages, note = _open(path, options, say)
    if repo.is_dirty(untracked_files=False):
        note(f"your working tree has uncommitted changes; loopwright works from HEAD "
             f"({repo.head.commit.hexsha[:8]}) and leaves them untouched")
    run_id = new_run_id()
    files = RunFiles(root, run_id)
    state = RunState(run_id, options.loop_name, str(root), repo.head.commit.hexsha,
                     branch=BRANCH_PREFIX + run_id, generator=generator.name)
    state.python = python
    return _execute(repo, python, state, files, generator, options, [], on_event, say, t_start,
                    messages)


def resume(path: Path, run_id: str, generator: Generator, options: FixOptions,
           on_event: Callable[[LoopEvent], None] = lambda e: None,
           say: Callable[[str], None] = lambda m: None) -> FixResult:
    """Continue an interrupted run (even one killed with SIGKILL) from its last saved step.

    The worktree is rebuilt from the base commit plus the accepted patches, the
    baseline is read back from ``baseline.json``, and candidates already evaluated
    (``trajectory.jsonl``) are not evaluated again, so a deterministic generator
    reaches the same patch as an uninterrupted run.

    Raises:
        UsageError: no such run, the run already finished, or it is still running.
    """
    t_start = time.monotonic()
    repo, root, _, messages, note = _open(path, options, say)
    files = RunFiles(root, run_id, create=False)
    state = files.load()
    if state.status not in ("running", "interrupted", "error"):
        raise UsageError(f"run {run_id} already finished ({state.status}: {state.stop_reason}); "
                         "start a new one with `loopwright fix`")
    if not files.try_lock():
        raise UsageError(f"run {run_id} is still running (its lock is held); wait for it or stop it")
    files.unlock()
    state.status = "running"
    for wt in _run_worktrees(repo, run_id):
        Worktree(repo, wt, None).remove()
    try:
        repo.git.branch("-D", state.branch)
    except git.GitCommandError:
        pass
    note(f"resuming run {run_id} at iteration {state.iteration} "
         f"({len(state.accepted)} accepted patch(es), {state.candidates_tried} candidates tried)")
    t_start -= state.spent.wall_seconds
    return _execute(repo, options.python and _open_python(root, options.python) or state.python,
                    state, files, generator, options, files.attempts(), on_event, say, t_start,
                    messages)


def _open(path: Path, options: FixOptions, say: Callable[[str], None]):
    try:
        repo = open_repo(path)
    except RepoError as exc:
        raise UsageError(str(exc)) from None
    root = Path(repo.working_tree_dir)
    messages: list[str] = []

    def note(msg: str) -> None:
        messages.append(msg)
        say(msg)

    python = _open_python(root, options.python)
    if options.policy.mode() == "weak":
        note("WARNING: weak sandbox: bubblewrap is not in use, so tests can write outside the "
             "worktree and setsid children can outlive the run (apt-get install bubblewrap)")
    if not options.policy.network and options.policy.mode() == "weak" and network_isolation() is None:
        note("network isolation is not available on this system (no unprivileged network "
             "namespaces): tests run with network access")
    return repo, root, python, messages, note


def _open_python(root: Path, python: str | None) -> str:
    try:
        found = resolve_python(root, python)
        check_pytest(found, root)
    except EvaluatorError as exc:
        raise UsageError(str(exc)) from None
    return found


def _execute(repo: git.Repo, python: str, state: RunState, files: RunFiles, generator: Generator,
             options: FixOptions, attempts: list, on_event, say, t_start: float,
             messages: list[str]) -> FixResult:
    root = Path(repo.working_tree_dir)
    run_id = state.run_id
    # the sandbox binds this .git read-only (credentials hidden); it must be unchanged at the end
    options = replace(options, policy=replace(options.policy, git_dir=Path(repo.common_dir)))
    guard = integrity.take(Path(repo.common_dir))
    files.lock()
    worktree = Worktree.create(repo, run_id, state.branch, state.base_commit)
    state.worktree = str(worktree.path)
    files.save(state)
    evaluator = PytestEvaluator(python, options.policy, options.timeouts,
                                scratch=worktree_root() / f"{run_id}.scratch")
    slots: list[Worktree] = []
    validator = None
    try:
        baseline = files.load_baseline(worktree.path)
        if baseline is None:
            say(f"baseline: running the test suite with coverage in {worktree.path}")
            base = evaluator.run(worktree.path, coverage=True,
                                 default_timeout=options.timeouts.baseline,
                                 process_timeout=options.limits.max_wall_seconds or 3600)
            state.spent.test_seconds += evaluator.busy_seconds()
            files.step("baseline", tests=len(base.results),
                       failing=sorted(t for t, r in base.results.items() if not r.ok),
                       seconds=round(base.duration, 3), error=base.error)
            if base.error:
                raise UsageError(f"could not run the tests of {root}: {base.error}")
            baseline = Baseline(worktree.path, base.results, base.collected, base.coverage,
                                base.duration)
            files.save_baseline(baseline)
            state.baseline_failing = state.remaining = baseline.failing
        if not baseline.failing:
            state.status, state.stop_reason = "nothing_to_fix", "all_tests_pass"
            state.stop_detail = f"all {len(baseline.results)} tests pass: nothing to fix"
            _verify(guard, None, worktree, state, baseline, options)
            return _finish(repo, worktree, [], files, state, options, t_start, messages)
        missing = _missing_dependency(root, baseline)
        if missing:
            raise UsageError(missing)
        jobs = options.jobs or min(4, os.cpu_count() or 1)
        slots = [Worktree.create(repo, f"{run_id}.slot{i}", None, state.base_commit)
                 for i in range(jobs)]
        static = _static_checks(root, worktree.path, python, options, run_id, say, messages)
        validator = Validator(evaluator, slots, baseline, options.protected, options.max_diff_lines,
                              options.timeouts, static)
        for accepted in state.accepted:  # resuming: replay what was already accepted
            validator.accept(Outcome(Patch.from_diff(accepted["diff"], accepted["description"],
                                                     accepted.get("meta")),
                                     True, "", "full", fixed=accepted["fixed"]), worktree)
        lessons = read_lessons(root)
        from harness.generators.mutations import OPERATOR_PRIORS  # priors are the templates' own

        agents = root / "AGENTS.md"
        loop = Loop(generator, validator, worktree, state, files, options.limits, options.protected,
                    agents.read_text(errors="replace")[:20000] if agents.exists() else "",
                    [_lesson_text(rec) for rec in lessons[-20:]],
                    operator_priors(lessons, OPERATOR_PRIORS), on_event, list(attempts))
        state.spent.wall_seconds = round(time.monotonic() - t_start, 3)
        loop.run()
        _verify(guard, evaluator, worktree, state, baseline, options)
        return _finish(repo, worktree, slots, files, state, options, t_start, messages)
    except BaseException as exc:
        if state.status == "running":
            state.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "error"
            state.stop_reason = state.stop_reason or type(exc).__name__
            state.stop_detail = state.stop_detail or str(exc)[:500]
        if validator:
            validator.close()
        files.save(state)
        for wt in slots:
            wt.remove()
        if not options.keep:
            worktree.remove(delete_branch=True)
        raise
    finally:
        if validator:
            validator.close()
        evaluator.close()
        files.unlock()


def _static_checks(root: Path, main: Path, python: str, options: FixOptions, run_id: str,
                   say: Callable[[str], None], messages: list[str]) -> list[StaticCheck]:
    """Lint/type evaluators this run uses, each with its baseline on the whole worktree.

    A missing tool or a baseline that cannot be taken is reported once and the
    evaluator skipped, visibly (a note in the summary), never silently.
    """
    from evals.lint import RuffEvaluator
    from evals.types import TypeCheckEvaluator

    checks = []
    for eid, when in sorted(options.static.items()):
        ev = RuffEvaluator(options.policy) if eid == "lint" else \
            TypeCheckEvaluator(worktree_root() / f"{run_id}.mypy-cache", options.policy)
        if when == "never" or (when == "configured" and not ev.configured(root)):
            continue
        if not (ev.available() if eid == "lint" else ev.available(python)):
            messages.append(f"{eid} evaluator skipped: {ev.MISSING}")
            say(messages[-1])
            continue
        base = ev.run(main) if eid == "lint" else ev.run(main, python)
        if base.error:
            messages.append(f"{eid} evaluator skipped: its baseline run failed: {base.error.splitlines()[0]}")
            say(messages[-1])
            continue
        run = ev.run if eid == "lint" else (lambda wt, paths, ev=ev: ev.run(wt, python, paths))
        checks.append(StaticCheck(eid, run, base))
        say(f"{eid} evaluator on: {len(base.results)} diagnostic(s) at baseline do not count")
    return checks


def _verify(guard: integrity.GitSnapshot, evaluator: PytestEvaluator | None, worktree: Worktree,
            state: RunState, baseline: Baseline, options: FixOptions) -> None:
    """After validation: the repository's ``.git`` is unchanged, and a fresh isolated run
    agrees that the accepted patches' tests pass; otherwise the run ends in an
    ``evaluator_fault`` (status ``error``, nothing committed) that shows what disagreed."""
    changed = integrity.changes(guard)
    problem = f"the repository's .git changed during validation:\n{changed}" if changed else ""
    if not problem and evaluator is not None and state.accepted:
        must = baseline.passing
        problem = evaluator.confirm(worktree.path, must, timeouts={
            t: options.timeouts.for_test(baseline.results[t].duration) for t in must},
            process_timeout=60 + 3 * baseline.duration + 2 * len(must))
        problem = problem and f"the confirmation run disagrees with validation: {problem}"
    if problem:
        state.status, state.stop_reason, state.stop_detail = "error", "evaluator_fault", problem


def _run_worktrees(repo: git.Repo, run_id: str) -> list[Path]:
    """Worktrees registered for ``run_id`` (the run's own and its slots)."""
    return [w.path for w in list_worktrees(repo)
            if w.path.name == run_id or w.path.name.startswith(run_id + ".")]


def _finish(repo: git.Repo, worktree: Worktree, slots: list[Worktree], files: RunFiles,
            state: RunState, options: FixOptions, t_start: float, messages: list[str]) -> FixResult:
    for wt in slots:
        wt.remove()
    patch = ""
    if state.accepted and state.stop_reason != "evaluator_fault":
        fixed = state.fixed_tests
        worktree.commit(f"loopwright: fix {len(fixed)} failing test(s)\n\n"
                        + "\n".join(f"- {a['description']}" for a in state.accepted)
                        + f"\n\nrun {state.run_id}; fixed:\n" + "\n".join(f"  {t}" for t in fixed),
                        sorted({f for a in state.accepted for f in a["files"]}))
        patch = repo.git.diff(state.base_commit, state.branch, "--no-color", "--no-ext-diff") + "\n"
        files.patch.write_text(patch)
    state.spent.wall_seconds = round(time.monotonic() - t_start, 3)
    if state.status != "nothing_to_fix":
        _lesson(Path(state.repo), state)
    if not options.keep:
        worktree.remove(delete_branch=not state.accepted or state.stop_reason == "evaluator_fault")
    if options.apply and patch:
        messages.append(_apply_to_user_tree(repo, files.patch))
    files.save(state)
    code = EXIT_OK if state.status in ("fixed", "nothing_to_fix") else EXIT_NOT_FIXED
    return FixResult(state, code, patch, str(files.patch) if patch else "", messages,
                     options.policy.mode())


def _apply_to_user_tree(repo: git.Repo, patch_path: Path) -> str:
    if repo.is_dirty(untracked_files=False):
        return ("--apply skipped: your working tree has uncommitted changes; the fix is on "
                f"the branch and in {patch_path} (git apply {patch_path})")
    try:
        repo.git.apply(str(patch_path))
    except git.GitCommandError as exc:
        return f"--apply failed ({exc.stderr.strip()}); the fix is in {patch_path}"
    return "applied the patch to your working tree (not committed)"


def _missing_dependency(root: Path, baseline: Baseline) -> str:
    """A message when every failure is an import of a module that is not part of the repo."""
    names = set()
    for tid in baseline.failing:
        m = re.search(r"No module named '([\w.]+)'", baseline.results[tid].message)
        if not m:
            return ""
        top = m.group(1).split(".")[0]
        for base in (root, root / "src"):
            if (base / top).is_dir() or (base / f"{top}.py").exists():
                return ""  # a module of this repository: a bug loopwright may fix
        names.add(top)
    if not names:
        return ""
    return (f"the tests fail because {', '.join(sorted(names))} is not installed in the target "
            "interpreter; install the project's dependencies there (or pass --python) and run again")


def _lesson(repo_root: Path, state: RunState) -> None:
    sig_tests = state.baseline_failing[:10]
    ops = [a["meta"].get("operator") for a in state.accepted if a.get("meta", {}).get("operator")]
    lines = [f"status: {state.status} ({state.stop_reason}: {state.stop_detail})",
             f"tests: {', '.join(sig_tests)}"]
    for a in state.accepted:
        meta = a.get("meta", {})
        where = f" at {meta['path']}:{meta['line']}" if meta.get("path") else ""
        lines.append(f"fixed {len(a['fixed'])} test(s) with `{meta.get('operator', meta.get('generator', 'patch'))}`"
                     f"{where}: {a['description']}")
    if not state.accepted:
        lines.append(f"{state.candidates_tried} candidates tried, none accepted")
    append_lesson(repo_root, state, f"{time.strftime('%Y-%m-%d')} run {state.run_id} — {state.status}",
                  lines, {"run": state.run_id, "outcome": "fixed" if state.status == "fixed" else state.status,
                          "tests": sig_tests, "operators": ops,
                          "files": sorted({a["meta"].get("path", "") for a in state.accepted} - {""})})


def _lesson_text(rec: dict) -> str:
    ops = ", ".join(rec.get("operators", [])) or "none"
    return f"{rec.get('outcome')}: tests {', '.join(rec.get('tests', [])[:3])}; operators {ops}; files {', '.join(rec.get('files', []))}"

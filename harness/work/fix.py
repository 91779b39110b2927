"""``loopwright fix``: set a run up, run the loop, finish it.

Setup: open the repository, pick the target interpreter, create the run's worktree
(branch ``loopwright/<run-id>``) and scratch worktrees, take the baseline (full
test run with per-test coverage). Finish: commit the accepted patches on the
branch, write ``patch.diff`` and a lesson, remove the worktrees, and with
``--apply`` apply the patch to the user's (clean) working tree.

Exit codes: 0 fixed or nothing to fix, 1 not (fully) fixed, 2 bad usage or input.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import git

from harness.core.baseline import why_no_candidates
from harness.core.checkout import worktree_only_failures
from harness.core.config import DEFAULT_POLICY, DEFAULT_PROTECTED, RunConfig
from harness.core.evidence import describe, missing_module, syntax_errors, unprotected_warning
from harness.core.errors import EXIT_BAD_INPUT, EXIT_NOT_FIXED, EXIT_OK, UsageError
from harness.core.loop import LoopEvent
from harness.core.protocols import Generator
from harness.core.session import RunSession
from harness.core.records import AcceptedPatch, StopReason
from harness.core.stop import evaluator_fault, is_fault, usd
from harness.core.lessons import append_lesson, operator_priors, read_lessons
from harness.core.lesson_records import lesson_texts, prior_records, read_records, record_lesson
from harness.core.memory import CandidateMemory
from harness.core.state import RunState
from harness.core.outcome import Baseline, Outcome
from harness.core.screen import flags
from loops.spec import Limits
from sandbox.patch import Patch, PatchError
from sandbox.process import SandboxPolicy
from sandbox.redact import redact, redact_all
from sandbox.process import run as run_process

__all__ = ["DEFAULT_POLICY", "DEFAULT_PROTECTED", "EXIT_BAD_INPUT", "EXIT_NOT_FIXED", "EXIT_OK",
           "FixResult", "UsageError", "fix", "resume"]


@dataclass
class FixResult:
    """The outcome of ``fix``: final state, exit code, patch text and where things are.

    Attributes:
        flaky: tests that failed with a candidate and passed when re-run alone.
        reasons: test id -> why it still fails (``timed out after 60 s``, the message).
        python, python_why: the target interpreter and why it was chosen.
        evaluators: evaluator id -> what it was in this run (``"pytest 8.3.2"``, ``"mypy 1.11.2"``,
            ``"skipped: pyright is configured but node is not installed"``, ``"off: ..."``).
    """

    state: RunState
    exit_code: int
    patch: str = ""
    patch_path: str = ""
    messages: list[str] = field(default_factory=list)
    flaky: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    cost_budget: str = "none"  # --max-cost: "none" (not set), "enforced" or "unenforceable"
    sandbox: str = ""  # "strong" (bubblewrap) or "weak" (see sandbox.process)
    python: str = ""
    python_why: str = ""
    evaluators: dict[str, str] = field(default_factory=dict)
    skipped_remembered: int = 0  # candidates skipped because an earlier run rejected them
    baseline_reused: int = 0  # baseline test results reused from an earlier run

    @property
    def protected_by_tests(self) -> int | None:
        """Fewest passing tests executing the lines of an accepted patch (None: no patch,
        or patches validated before this was measured)."""
        counts = [a.protected_by_tests for a in self.state.accepted if a.protected_by_tests is not None]
        return min(counts) if counts else None

    @property
    def unprotected(self) -> bool:
        """An accepted patch changes lines that no test passing at the start executes."""
        return any(a.unprotected for a in self.state.accepted)

    @property
    def suspect(self) -> str:
        """Why an accepted patch may only fool the tests (:mod:`harness.core.overfit`; '' when
        no check found a reason): reported as ``fixed (suspect: REASON)``."""
        return next((a.suspect for a in self.state.accepted if a.suspect), "")

    def to_json(self) -> dict:
        """The ``--json`` summary (documented in README); process output in it (``stop_detail``,
        ``failure_reasons``, ``messages``) is redacted (:mod:`sandbox.redact`)."""
        s = self.state
        return {**redact_all({"run_id": s.run_id, "status": s.status, "stop_reason": s.stop_reason,
                "stop_detail": s.stop_detail, "fixed_tests": s.fixed_tests,
                "remaining_failures": s.remaining, "patch": self.patch,
                "patch_path": self.patch_path, "branch": s.branch if self.patch else "",
                "wall_seconds": s.spent.wall_seconds, "test_seconds": round(s.spent.test_seconds, 3),
                "candidates_tried": s.candidates_tried, "iterations": s.iteration,
                "cost_usd": s.spent.cost_usd, "tokens": s.spent.tokens,
                "protected_by_tests": self.protected_by_tests, "unprotected": self.unprotected,
                "suspect": self.suspect, "flaky_tests": self.flaky, "failure_reasons": {t: self.reasons.get(t, "") for t in s.remaining},
                "messages": self.messages, "exit_code": self.exit_code, "sandbox": self.sandbox,
                "cost_budget": self.cost_budget, "python": self.python, "python_why": self.python_why,
                "evaluators": self.evaluators, "skipped_remembered": self.skipped_remembered,
                "baseline_reused": self.baseline_reused, "flagged": s.flagged,
                # per accepted patch: how many plausible patches it was chosen among
                "plausible_patches": sum(a.plausible_patches for a in s.accepted),
                "chosen": [a.description for a in s.accepted],
                "alternatives": [x for a in s.accepted for x in a.alternatives]}),
                "patch": self.patch}  # the validated text itself, as committed


def error_json(message: str, exit_code: int = EXIT_BAD_INPUT) -> dict:
    """The ``--json`` result of a run that could not start: every field of
    :meth:`FixResult.to_json`, null where unknown, plus ``error``."""
    keys = ("run_id", "stop_reason", "stop_detail", "fixed_tests", "remaining_failures", "patch",
            "patch_path", "branch", "wall_seconds", "test_seconds", "candidates_tried", "iterations",
            "cost_usd", "tokens", "protected_by_tests", "unprotected", "suspect", "flaky_tests", "failure_reasons",
            "sandbox", "plausible_patches", "chosen", "alternatives", "cost_budget", "python", "python_why",
            "evaluators", "skipped_remembered", "baseline_reused", "flagged")
    return {**dict.fromkeys(keys), "status": "error", "stop_reason": StopReason.ERROR, "stop_detail": message,
            "error": message, "messages": [], "exit_code": exit_code}


def fix(path: Path, generator: Generator, options: RunConfig,
        on_event: Callable[[LoopEvent], None] = lambda e: None,
        say: Callable[[str], None] = lambda m: None, run_id: str | None = None) -> FixResult:
    """Run the fix loop on the repository at ``path`` (as run ``run_id``: None for a new id;
    the CLI names it first so that it can say which run Ctrl-C stopped).

    Raises:
        UsageError: not a git repository, no commits, no interpreter or pytest,
            no tests collected, or tests that need a package that is not installed.
    """
    with RunSession.start(path, options, say, generator_name=generator.name, run_id=run_id) as run:
        budget = cost_budget(generator, options.limits, run.note)
        result = _fix(run, generator, on_event, [])
        result.cost_budget = budget
        return result


def cost_budget(generator: Generator, limits: Limits, note: Callable[[str], None]) -> str:
    """Whether ``--max-cost`` can hold: ``none`` (not set), ``enforced``, or ``unenforceable``
    (a model's price is unknown, so its calls cost "unknown" USD); the last is said via ``note``
    at the start of the run. loopwright warns rather than refuses: tokens and time still bound
    the run, and a local model (Ollama, vLLM) has no price to know."""
    if limits.max_cost_usd is None:
        return "none"
    from harness.generators.registry import unpriced_models

    unknown = unpriced_models(generator)
    if not unknown:
        return "enforced"
    note(f"--max-cost {usd(limits.max_cost_usd)} cannot be enforced: the price of "
         f"{', '.join(unknown)} is unknown (not in harness/data/prices.json); the run is bounded "
         "by --max-tokens, --max-iterations and --max-seconds only")
    return "unenforceable"


def resume(path: Path, run_id: str, generator: Generator, options: RunConfig,
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
    with RunSession.reopen(path, run_id, options, say, resumable=("running", "interrupted", "error"),
                           start_over="loopwright fix") as run:
        s = run.state
        run.note(f"resuming run {run_id} at iteration {s.iteration} "
                 f"({len(s.accepted)} accepted patch(es), {s.candidates_tried} candidates tried)")
        budget = cost_budget(generator, options.limits, run.note)
        result = _fix(run, generator, on_event, run.files.attempts())
        result.cost_budget = budget
        return result


def _fix(run: RunSession, generator: Generator, on_event, attempts: list) -> FixResult:
    """One fix run over an open session: baseline, validator, the loop, the finish."""
    worktree = run.start_worktree()
    baseline = run.test_baseline(coverage=True)
    state = run.state
    if not baseline.failing:
        state.status, state.stop_reason = "nothing_to_fix", StopReason.ALL_TESTS_PASS
        state.stop_detail = ("the tests named by --tests pass: nothing to fix" if run.config.tests
                             else f"all {len(baseline.results)} tests pass: nothing to fix")
        run.verify(baseline)
        result = _finish(run)
        result.baseline_reused = baseline.reused
        return result
    # an import failure that only the worktree has is the environment's, not a bug to mutate away
    differs = worktree_only_failures(run.test_evaluator(), run.repo, baseline, run.config.policy.mode() == "strong")
    missing = differs or _missing_dependency(run.root, baseline, run.python, run.config.policy)
    if missing:
        raise UsageError(missing)
    _explain_baseline(baseline, run.note)
    validator = run.validator(baseline)
    for n, accepted in enumerate(state.accepted, 1):  # resuming: replay what was already accepted
        _replay(run, validator, worktree, n, accepted)
    from harness.generators.mutations import OPERATOR_PRIORS, take_crashes  # the templates' priors and crashes

    # lessons are read back only when asked (read_lessons): leave-one-out measured no gain (docs/benchmarks.md)
    lessons = read_lessons(run.root) if run.config.settings.get("read_lessons") else None
    messages = {t: baseline.results[t].message for t in baseline.failing}  # before fixes overwrite them
    memory = CandidateMemory(run.root, state.run_id, use=not run.config.fresh)
    loop = run.loop(generator, on_event, lessons=[] if lessons is None else lesson_texts(run.root, baseline, lessons),
                    operator_priors={} if lessons is None else
                    operator_priors(prior_records(lessons, read_records(run.root)), OPERATOR_PRIORS),
                    attempts=list(attempts), memory=memory)
    state.spent.wall_seconds = run.elapsed()
    try:
        loop.run()
    finally:
        memory.close()
    if memory.skipped:
        run.note(f"skipped {memory.skipped} candidates a previous run rejected (--fresh evaluates them again)")
    run.verify(baseline, validator.flaky)
    # the confirmation run's processes are test time too (wall_seconds, set at the finish, has them)
    state.spent.test_seconds = round(loop.test_seconds_before + validator.evaluator.busy_seconds(), 3)
    result = _finish(run)
    if state.accepted:
        record_lesson(run.root, run.worktree.path, state, messages, [a for a in loop.attempts if not a.accepted],
                      (run.config.apply and not state.flagged) or run.config.lessons)
    result.skipped_remembered, result.baseline_reused = memory.skipped, baseline.reused
    if not state.candidates_tried and state.status != "fixed" and (why := why_no_candidates(baseline)):
        result.messages.append(f"no candidate was generated: {why}")
    result.messages += take_crashes()
    result.flaky = sorted(validator.flaky)
    result.reasons = {t: redact(describe(baseline.results[t])) for t in state.remaining if t in baseline.results}
    for t in result.flaky:
        result.messages.append(f"flaky test: {t} failed with a candidate and passed when re-run alone; "
                               "it was left out of the regression checks")
    if result.suspect:
        result.messages.append(f"fixed (suspect: {result.suspect}): the tests pass, but the patch may only "
                               "fool them; review it, or add a test for the behaviour it changes")
    if result.unprotected:
        result.messages.append(unprotected_warning(sum(bool(a.unprotected) for a in state.accepted)))
    return result


def _replay(run: RunSession, validator, worktree, n: int, accepted: AcceptedPatch) -> None:
    """Accept again patch ``n`` of a resumed run's ``state.json``.

    Raises:
        UsageError: the recorded patch is not a safe diff or does not apply (a corrupted
            ``state.json``): exit 2 with one line, never a traceback.
    """
    try:
        patch = Patch.from_diff(accepted.diff, accepted.description, accepted.meta)
        ok = validator.accept(Outcome(patch, True, "", "full", fixed=list(accepted.fixed)), worktree)
        problem = "" if ok else "it does not apply to the base commit"
    except (PatchError, KeyError, TypeError, AttributeError) as exc:
        problem = str(exc) or type(exc).__name__
    if problem:
        raise UsageError(f"{run.files.state}: corrupted (accepted patch {n}: {problem.splitlines()[0][:300]}); "
                         "start a new run with `loopwright fix`")


def _finish(run: RunSession) -> FixResult:
    """Commit the accepted patches on the run's branch, write ``patch.diff`` and a lesson,
    apply with ``--apply``; the session's close removes the worktrees."""
    state = run.state
    for wt in run.slots:
        wt.remove()
    run.slots = []
    patch = ""
    _flag(run)
    if state.accepted and not is_fault(state.stop_reason):
        fixed = state.fixed_tests
        try:  # from the tree of validated texts, checked blob by blob (sandbox/worktree.py)
            run.worktree.commit(f"loopwright: fix {len(fixed)} failing test(s)\n\n"
                                + "\n".join(f"- {a.description}" for a in state.accepted)
                                + f"\n\nrun {state.run_id}; fixed:\n" + "\n".join(f"  {t}" for t in fixed),
                                sorted({f for a in state.accepted for f in a.files}))
            patch = run.write_patch()
        except PatchError as exc:
            stop = evaluator_fault(f"the commit is not what was validated: {exc}")
            state.status, state.stop_reason, state.stop_detail = "error", stop.reason, stop.detail
            run.note(state.stop_detail)
    state.spent.wall_seconds = run.elapsed()
    if state.accepted:  # a run that changed nothing taught nothing worth a lesson
        _lesson(run.root, state, (run.config.apply and not state.flagged) or run.config.lessons)
    if run.config.apply and patch:
        run.messages.append(f"--apply skipped: the patch is flagged for review ({state.flagged[0]}); it is on "
                            f"the branch and in {run.files.patch}" if state.flagged else
                            _apply_to_user_tree(run.repo, run.files.patch, patch))
    run.files.save(state)
    code = EXIT_OK if state.status in ("fixed", "nothing_to_fix") else EXIT_NOT_FIXED
    return FixResult(state, code, patch, str(run.files.patch) if patch else "", run.messages,
                     sandbox=run.config.policy.mode(), python=run.python, python_why=run.python_why,
                     evaluators=run.evaluators())


def _flag(run: RunSession) -> None:
    """The static screen (:func:`harness.core.screen.flags`) over the accepted patches: their
    reasons go to ``state.flagged`` and a ``flagged`` trajectory step, and a ``fixed`` run
    becomes ``flagged`` (exit 1: fixed, but for a human to read before it is used)."""
    state = run.state
    if not state.accepted or is_fault(state.stop_reason):
        return
    state.flagged = [f for a in state.accepted for f in flags(Patch.from_diff(a.diff))]
    if state.flagged:
        run.files.step("flagged", reasons=state.flagged)
        run.messages.append(f"fixed (flagged): the patch reaches into what judges it — {state.flagged[0]}"
                            + (f" (+{len(state.flagged) - 1} more)" if len(state.flagged) > 1 else "")
                            + "; read it before using it: it is not applied or pushed")
        if state.status == "fixed":
            state.status = "flagged"


def _apply_to_user_tree(repo: git.Repo, patch_path: Path, text: str) -> str:
    """``git apply`` of ``text`` (the diff of the commit built from validated texts, not a
    file the run's processes could reach) to the user's clean tree; a message either way."""
    if repo.is_dirty(untracked_files=False):
        return ("--apply skipped: your working tree has uncommitted changes; the fix is on "
                f"the branch and in {patch_path} (git -C {repo.working_tree_dir} apply {patch_path})")
    try:
        Patch.from_diff(text)  # no symlink, no mode change, no unsafe path
        with tempfile.TemporaryFile() as fh:
            fh.write(text.encode("utf-8"))
            fh.seek(0)
            repo.git.apply("-", istream=fh)
    except PatchError as exc:
        return f"--apply refused ({exc}); the fix is in {patch_path}"
    except git.GitCommandError as exc:
        return f"--apply failed ({exc.stderr.strip()}); the fix is in {patch_path}"
    return "applied the patch to your working tree (not committed)"


def _missing_dependency(root: Path, baseline: Baseline, python: str, policy: SandboxPolicy) -> str:
    """A message when every failure is an import of a module that is not installed.

    Only a module that is neither in the repository nor importable from the target
    interpreter, imported unconditionally at module level, is a missing dependency
    (:func:`harness.core.evidence.missing_module`); a wrong version check in the
    repository's own code that imports a module of another Python is a bug to fix.
    """
    names = set()
    for tid in baseline.failing:
        top = missing_module(baseline.root, baseline.results[tid])
        if top is None:
            return ""
        names.add(top)
    if not names:
        return ""
    probe = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec(sys.argv[1]) else 1)"
    if any(run_process([python, "-c", probe, n], root, 60, policy, read_only=True).returncode == 0
           for n in names):
        return ""  # importable from the target: the failure comes from how the code imports it
    return (f"the tests fail because {', '.join(sorted(names))} is not installed in the target "
            "interpreter; install the project's dependencies there (or pass --python) and run again")


def _explain_baseline(baseline: Baseline, note: Callable[[str], None]) -> None:
    """Say what the failures are when words help: syntax errors in the source (file:line
    and pytest's message), tests that timed out."""
    failing = {t: baseline.results[t] for t in baseline.failing}
    for path, line, msg in syntax_errors(baseline.root, failing):
        note(f"syntax error in {path}:{line}: {msg}")
    for t, r in failing.items():
        if r.outcome == "timeout":
            note(f"{t} {describe(r)} at baseline")


def _lesson(repo_root: Path, state: RunState, to_tree: bool) -> None:
    sig_tests = state.baseline_failing[:10]
    ops = [a.meta.get("operator") for a in state.accepted if a.meta.get("operator")]
    lines = [f"status: {state.status} ({state.stop_reason}: {state.stop_detail})",
             f"tests: {', '.join(sig_tests)}"]
    for a in state.accepted:
        meta = a.meta
        where = f" at {meta['path']}:{meta['line']}" if meta.get("path") else ""
        lines.append(f"fixed {len(a.fixed)} test(s) with `{meta.get('operator', meta.get('generator', 'patch'))}`"
                     f"{where}: {a.description}"
                     + (" (unprotected: no passing test executes the changed lines; review it)"
                        if a.unprotected else "")
                     + (f" (suspect: {a.suspect})" if a.suspect else ""))
    if not state.accepted:
        lines.append(f"{state.candidates_tried} candidates tried, none accepted")
    append_lesson(repo_root, state, f"{time.strftime('%Y-%m-%d')} run {state.run_id} — {state.status}",
                  lines, {"run": state.run_id, "outcome": "fixed" if state.status == "fixed" else state.status,
                          "tests": sig_tests, "operators": ops,
                          "files": sorted({a.meta.get("path", "") for a in state.accepted} - {""})},
                  to_tree)


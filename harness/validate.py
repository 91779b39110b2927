"""Validation: does a candidate patch fix failing tests without breaking passing ones?

The hot path of the loop. For each candidate, in a worktree slot of its own:

1. refuse it without running anything if it touches a protected path or is too large;
2. *screen*: run only the currently failing tests; a patch that fixes none is rejected;
3. *full suite*: run every other test (failing ones not screened included), those covering
   the changed lines first, stopping at the first test that passed at baseline and fails
   now (a regression);
4. revert the slot.

Slots run in parallel (one per core); results are consumed in candidate order, so the
accepted patch is always the best-ranked one that passes, whatever finishes first.
The generator never sees this module: it only receives the rejection reasons.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from evals.pytest_runner import PytestEvaluator, TestRun, TimeoutPolicy
from evals.lint import regressions
from evals.verdict import TestResult, Verdict
from harness.evidence import CoverageIndex, Protection, describe, protection, rank_key
from harness.localize import is_protected
from harness.protocols import Evaluator
from sandbox.patch import Patch, PatchError
from sandbox.worktree import Worktree


@dataclass
class Baseline:
    """The test suite's state at the start, updated as patches are accepted.

    Attributes:
        root: the worktree the baseline (and its coverage) was taken in.
        results: test id -> result (accepted fixes turn failures into passes here).
        collected: every test id, in run order.
        coverage: test id -> {absolute path: [lines]} (from the baseline run).
        duration: wall seconds of the baseline run.
    """

    root: Path
    results: dict[str, TestResult]
    collected: list[str]
    coverage: dict[str, dict[str, list[int]]]
    duration: float

    @property
    def failing(self) -> list[str]:
        """Ids that fail now (baseline failures not yet fixed), in run order."""
        return [t for t in self.collected if t in self.results and not self.results[t].ok]

    @property
    def passing(self) -> list[str]:
        """Ids that pass now."""
        return [t for t in self.collected if t in self.results and self.results[t].ok]


@dataclass
class Gate:
    """One evaluator of the validator's pipeline, after the failing tests are screened.

    Attributes:
        evaluator: an :class:`~harness.protocols.Evaluator` (lint, types, a ``--check`` command).
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
            ``full``, or ``error`` (an evaluator could not run).
        seconds: wall seconds per stage. tests_run: tests executed.
        protection: which passing tests watch the changed lines (see :mod:`harness.evidence`);
            None when not computed (a candidate rejected before the tests ran).
        complete: viable and fixing every failing test (chosen unless it is unprotected
            and a protected complete fix turns up among the next few candidates).
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
    protection: Protection | None = None
    complete: bool = False

    @property
    def unprotected(self) -> bool:
        """Viable, but no test that passed at baseline executes a changed line."""
        return self.protection is not None and self.protection.unprotected

    def summary(self) -> dict:
        """JSON form for ``trajectory.jsonl``."""
        return {"accepted": self.accepted, "viable": self.viable, "stage": self.stage, "reason": self.reason,
                "fixed": self.fixed, "broken": self.broken[:10], "tests_run": self.tests_run,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                **(self.protection.summary() if self.protection else {})}


class Validator:
    """Evaluates candidates against the baseline in parallel worktree slots.

    Args:
        evaluator: the pytest evaluator (target interpreter, sandbox policy).
        slots: worktrees at the same state as the run's worktree, one per worker.
        baseline: the test suite's state.
        protected: globs of paths a patch may not touch.
        max_diff_lines: largest accepted patch (added + removed lines).
        timeouts: per-test timeout policy.
        gates: the evaluator pipeline run on the patched files after the screen:
            those without ``after_tests`` before the full suite (lint, types), the
            others after it (a ``--check`` command). The first rejection decides.
        require_fix: a candidate must fix failing tests (the fix loop). False for
            instruction and review tasks: tests failing at baseline are left alone and
            a candidate only has to break nothing.
        editable: globs a patch's files must match (LSS ``editable_paths``); default all.

    Attributes:
        evaluator_errors: evaluations in a row where an evaluator could not run
            (the ``evaluator_error`` stop rule reads it).
        flaky: test ids that failed with a candidate and passed when re-run alone; they
            are excluded from regression checks from then on.
    """

    #: after a complete but unprotected fix, how many more candidates (per slot) are
    #: validated looking for a protected one before the unprotected fix is taken.
    UNPROTECTED_WINDOW = 2

    def __init__(self, evaluator: PytestEvaluator, slots: list[Worktree], baseline: Baseline,
                 protected: tuple[str, ...], max_diff_lines: int = 40,
                 timeouts: TimeoutPolicy | None = None, gates: list[Gate] = (),
                 require_fix: bool = True, editable: tuple[str, ...] = ("**",)):
        self.evaluator = evaluator
        self.slots = slots
        self.baseline = baseline
        self.protected = protected
        self.max_diff_lines = max_diff_lines
        self.timeouts = timeouts or evaluator.timeouts
        self.gates = list(gates)
        self.require_fix = require_fix
        self.editable = tuple(editable)
        self.evaluator_errors = 0
        self.flaky: set[str] = set()
        self._index: CoverageIndex | None = None
        self._free: queue.Queue[Worktree] = queue.Queue()
        for s in slots:
            self._free.put(s)
        self._pool = ThreadPoolExecutor(max_workers=len(slots), thread_name_prefix="validate")
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=True)

    def first_accepted(self, patches: list[Patch], deadline: float,
                       on_outcome: Callable[[Outcome], None]) -> Outcome | None:
        """Validate ``patches`` in order and choose the one to accept, or None.

        A candidate that fixes every failing test and whose changed lines some passing
        test executes is chosen at once. A complete fix that no passing test watches
        (*unprotected*, see :mod:`harness.evidence`) is kept while up to
        ``UNPROTECTED_WINDOW`` candidates per slot more are validated, and a protected
        complete fix among them wins. One that fixes only some (a *partial* fix) is
        kept while the rest of the batch is validated: taking the first partial
        greedily can lock in a patch that fixes one test by accident and hides the
        real fix. Among the kept, :func:`harness.evidence.rank_key` decides: most tests
        fixed, protected first, fewest baseline behaviours touched, earliest.
        ``on_outcome`` is called for every candidate decided, in order. Candidates not
        started before ``deadline`` (``time.monotonic()``) are not evaluated.
        """
        pending: list = []
        kept: list[tuple[tuple, Outcome]] = []
        window: int | None = None  # candidates left to look at after an unprotected complete fix
        it = iter(patches)
        for p in it:  # fill the pipeline: one in flight per slot
            pending.append(self._pool.submit(self._evaluate, p, deadline))
            if len(pending) >= len(self.slots):
                break
        order = 0
        while pending:
            outcome = pending.pop(0).result()
            order += 1
            if outcome is not None:
                on_outcome(outcome)
                if outcome.accepted:
                    for f in pending:  # wait for in-flight work; its results are stale now
                        f.result()
                    return outcome
                if outcome.viable:
                    kept.append((rank_key(len(outcome.fixed), outcome.protection, order), outcome))
                if outcome.complete and window is None:
                    window = self.UNPROTECTED_WINDOW * len(self.slots)
            if window is not None:
                window -= 1
                if window <= 0:  # stop starting new ones; those in flight are still weighed
                    continue
            nxt = next(it, None)
            if nxt is not None and time.monotonic() < deadline:
                pending.append(self._pool.submit(self._evaluate, nxt, deadline))
        if not kept:
            return None
        best = min(kept, key=lambda kv: kv[0])[1]
        best.accepted = True
        return best

    def accept(self, outcome: Outcome, main: Worktree) -> None:
        """Apply an accepted patch to the run's worktree and every slot; update the baseline."""
        for wt in [main, *self.slots]:
            wt.apply(outcome.patch)
        for tid in outcome.fixed:
            old = self.baseline.results[tid]
            self.baseline.results[tid] = TestResult(tid, "passed", "", (), old.duration)

    def _evaluate(self, patch: Patch, deadline: float) -> Outcome | None:
        if time.monotonic() >= deadline:
            return None
        bad = [f for f in patch.files if is_protected(f, self.protected)]
        if bad:
            return Outcome(patch, False, f"touches protected path {bad[0]} (tests and test "
                           "configuration may not be edited)", "policy")
        outside = [f for f in patch.files if not is_protected(f, self.editable)]
        if outside:
            return Outcome(patch, False, f"touches {outside[0]}, outside the editable paths "
                           f"({', '.join(self.editable)})", "policy")
        if patch.size > self.max_diff_lines:
            return Outcome(patch, False, f"diff_too_large: {patch.size} changed lines "
                           f"(limit {self.max_diff_lines})", "policy")
        slot = self._free.get()
        try:
            out = self._in_slot(slot, patch)
        finally:
            self._free.put(slot)
        with self._lock:
            self.evaluator_errors = self.evaluator_errors + 1 if out.stage == "error" else 0
        return out

    def _in_slot(self, slot: Worktree, patch: Patch) -> Outcome:
        t0 = time.monotonic()
        try:
            previous = slot.apply(patch)
        except PatchError as exc:
            return Outcome(patch, False, f"does not apply: {exc}", "apply")
        out = Outcome(patch, False, "", "screen", seconds={"apply": time.monotonic() - t0})
        try:
            self._screen_and_full(slot, patch, out)
        finally:
            slot.revert(previous)
        return out

    @property
    def index(self) -> CoverageIndex:
        """The baseline coverage, inverted (built on first use)."""
        with self._lock:
            if self._index is None:
                self._index = CoverageIndex(self.baseline.coverage, self.baseline.root)
            return self._index

    def _settle(self, slot: Worktree, out: Outcome, full: TestRun, rest: list[str],
                passing: set[str]) -> dict[str, TestResult] | None:
        """Results of the full stage with flaky tests told apart from regressions.

        A test that passed at baseline and fails now is re-run once, alone; if it
        passes then, it is flaky: recorded in :attr:`flaky`, not held against this or
        any later candidate, and the tests the stopped session did not reach are run.
        Returns test id -> result, or None when a run failed to start (``out`` says so).
        """
        results = dict(full.results)
        for _ in range(4):  # each round settles one suspect; a real regression ends it
            suspect = next((t for t in rest if t in passing and t in results and not results[t].ok
                            and t not in self.flaky), None)
            if suspect is None:
                select = [t for t in rest if t not in results and t not in self.flaky]
                if not (full.stopped and select):
                    return results
            else:
                again = self._run(slot, out, "rerun", select=[suspect], timeouts=self._limits([suspect]),
                                  paths=[suspect.split("::", 1)[0]],
                                  process_timeout=30 + sum(self._limits([suspect]).values()))
                if not (suspect in again.results and again.results[suspect].ok):
                    return results
                with self._lock:
                    self.flaky.add(suspect)
                continue
            full = self._run(slot, out, "full", select=select, stop_on=[t for t in select if t in passing],
                             timeouts=self._limits(select),
                             process_timeout=60 + 3 * self.baseline.duration + 2 * len(select))
            if full.error:
                out.stage, out.reason = "error", f"the full test run failed to start: {full.error.splitlines()[0]}"
                return None
            results.update(full.results)
        return results

    def _probe(self, targets: list[str], changed: dict[str, set[int]]) -> str:
        """The failing test most likely to tell: its traceback passes through a changed
        file (nearest frame to a changed line), then the fastest at baseline."""
        res = self.baseline.results

        def key(t: str) -> tuple:
            dist = min((abs(f.line - ln) for f in res[t].frames if f.path in changed
                        for ln in changed[f.path] or {f.line}), default=10**6)
            return (dist, res[t].duration, t)

        return min(targets, key=key)

    def _screen(self, slot: Worktree, out: Outcome, ids: list[str], stage: str,
                already: list[str] = ()) -> bool:
        """Run failing tests ``ids``; record what they fixed; False when the candidate is done for."""
        failing = self.baseline.failing
        limits = self._limits(ids)
        run = self._run(slot, out, stage, select=ids, timeouts=limits,
                        paths=sorted({t.split("::", 1)[0] for t in ids}),
                        process_timeout=30 + sum(limits.values()))
        if run.error:
            out.stage, out.reason = "error", f"the test run failed to start: {run.error.splitlines()[0]}"
            return False
        fixed = [t for t in ids if _passes(run.results, t)]
        out.fixed = [t for t in failing if t in set(fixed) | set(already)]
        if not out.fixed:
            first = next((run.results[t] for t in ids if t in run.results), None)
            out.stage = "screen"
            out.reason = f"fixes none of the {len(failing)} failing tests" + (
                f"; {first.test_id} still fails: {describe(first)}" if first else "")
            return False
        return True

    def _limits(self, ids: list[str]) -> dict[str, float]:
        res = self.baseline.results
        return {t: self.timeouts.for_test(res[t].duration, res[t].ok) if t in res and res[t].outcome != "timeout"
                else self.timeouts.for_test(None) for t in ids}

    def _run(self, slot: Worktree, out: Outcome, stage: str, **kw) -> TestRun:
        t0 = time.monotonic()
        run = self.evaluator.run(slot.path, **kw)
        out.seconds[stage] = out.seconds.get(stage, 0.0) + time.monotonic() - t0
        out.test_seconds += run.duration
        out.tests_run += len(run.results)
        return run

    def _screen_and_full(self, slot: Worktree, patch: Patch, out: Outcome) -> None:
        failing = self.baseline.failing if self.require_fix else []
        changed = _changed_lines(patch)
        covering = set(self.index.covering(changed))
        # Screening selects the failing tests that ran a changed line (regression test
        # selection); no covering test at all means a line run at import time, or no
        # coverage: screen them all. The full stage runs the others too, so a test that
        # reaches the code out of process (a subprocess) is still counted as fixed.
        targets = [t for t in failing if t in covering] or failing
        if len(targets) > 3:  # fail fast: one representative first, the rest only if it passes
            probe = self._probe(targets, changed)
            if not self._screen(slot, out, [probe], "probe"):
                return
            rest = [t for t in targets if t != probe]
            if not self._screen(slot, out, rest, "screen", already=[probe]):
                return
        elif targets and not self._screen(slot, out, targets, "screen"):
            return
        if not self._gates(slot, patch, out, after_tests=False):
            return
        # every test not screened: the passing ones (regressions), and failing ones that
        # ran no changed line in-process but may still be fixed (a test driving a subprocess)
        screened = set(targets) | self.flaky
        rest = [t for t in self.baseline.collected if t not in screened]
        if rest:
            out.stage = "full"
            passing = set(self.baseline.passing)
            full = self._run(slot, out, "full", select=rest, first=sorted(covering),
                             stop_on=[t for t in rest if t in passing], timeouts=self._limits(rest),
                             process_timeout=60 + 3 * self.baseline.duration + 2 * len(rest))
            if full.error:
                out.stage, out.reason = "error", f"the full test run failed to start: {full.error.splitlines()[0]}"
                return
            results = self._settle(slot, out, full, rest, passing)
            if results is None:
                return
            also = {t for t in rest if t not in passing and _passes(results, t)}
            if also:
                done = set(out.fixed) | also
                out.fixed = [t for t in failing if t in done]
            out.broken = [t for t in rest if t in passing and t in results and not results[t].ok
                          and t not in self.flaky]
            if out.broken:
                out.reason = f"breaks {out.broken[0]} (passed before): {describe(results[out.broken[0]])}"
                return
        if not self._gates(slot, patch, out, after_tests=True):
            return
        out.viable = True
        out.accepted = out.complete = len(out.fixed) == len(failing)
        if self.require_fix:
            out.protection = protection(self.index, set(self.baseline.passing) - self.flaky, changed)
            out.accepted = out.complete and not out.protection.unprotected
        after = [g.id for g in self.gates if g.after_tests]
        out.reason = (f"fixes {len(out.fixed)} of {len(failing)} failing tests, no regressions"
                      + ("; unprotected: no passing test executes the changed lines" if out.unprotected else
                         f"; {len(out.protection.tests)} passing test(s) execute the changed lines"
                         if out.protection else "")
                      if failing else f"verified: no test that passed before fails ({len(rest)} run)"
                      + "".join(f", the {eid} evaluator passes" for eid in after))

    def _gates(self, slot: Worktree, patch: Patch, out: Outcome, after_tests: bool) -> bool:
        """Run the gates of one side of the full suite in order; False on the first rejection."""
        for gate in self.gates:
            if gate.after_tests != after_tests:
                continue
            t0 = time.monotonic()
            stage, reason = gate.judge(slot.path, list(patch.files))
            out.seconds[gate.id] = time.monotonic() - t0
            if stage:
                out.stage, out.reason = stage, reason
                return False
        return True


def _passes(results: dict[str, TestResult], tid: str) -> bool:
    """``tid`` passed in ``results``; a file id (a collection error at baseline) passes when
    the file now collects and each of its tests passes."""
    if tid in results:
        return results[tid].ok
    if "::" in tid:
        return False
    mine = [r for t, r in results.items() if t.startswith(tid + "::")]
    return bool(mine) and all(r.ok for r in mine)


def _changed_lines(patch: Patch) -> dict[str, set[int]]:
    """Source-side line numbers each hunk of ``patch`` touches, by path."""
    import unidiff

    out: dict[str, set[int]] = {}
    for pf in unidiff.PatchSet(patch.diff):
        path = pf.path[2:] if pf.path.startswith(("a/", "b/")) else pf.path
        lines = out.setdefault(path, set())
        for h in pf:
            lines.update(ln.source_line_no for ln in h if ln.is_removed)
            if not any(ln.is_removed for ln in h):
                lines.update(range(h.source_start, h.source_start + h.source_length))
    return out

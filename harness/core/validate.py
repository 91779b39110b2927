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
from pathlib import Path

from evals.pytest_runner import PytestEvaluator, TestRun, TimeoutPolicy
from evals.verdict import TestResult, passed_in
from harness.core.evidence import CoverageIndex, describe, protection, rank_key
from harness.core.localize import is_protected
from harness.core.outcome import Baseline, Gate, Outcome
from harness.core.plausible import choose
from sandbox.patch import Patch, PatchError
from sandbox.worktree import Worktree


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
            (the ``evaluator_error`` stop rule reads it); ``last_error`` says why.
        fault: set when a worktree slot cannot run, without any patch, the tests the
            baseline ran: an evaluator fault, not the candidates'. No candidate is
            started after it (the ``evaluator_error`` stop rule fires with this text).
        partial_as_lead: viable partial fixes are kept in ``leads`` (best first) instead of
            being chosen; the loop sets it for generators that build on them.
        compare: candidates still validated after the first plausible patch of a batch,
            so that the most natural one is chosen (:mod:`harness.core.plausible`).
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
        self.partial_as_lead = False
        self.leads: list[Outcome] = []
        self.compare = 4
        self.last_error = ""
        self.fault = ""
        self._sound: set[Path] = set()  # slots seen running the failing tests without a patch
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

        A *plausible* (complete) candidate fixes every failing test and breaks none.
        After the first one, the candidates in flight and ``compare`` more (at least
        ``UNPROTECTED_WINDOW`` per slot when it is *unprotected*: no passing test executes
        its changed lines, see :mod:`harness.core.evidence`) are validated too, and
        :func:`harness.core.plausible.choose` picks: protected first, then the most natural
        (edit sites, kind of edit, size), then fewest baseline behaviours touched, then
        the earliest; ``plausible`` and ``alternatives`` on the chosen outcome say what
        it was compared with. One that fixes only some (a *partial* fix) is, with
        ``partial_as_lead``, kept in ``leads`` and never chosen; otherwise, when no
        plausible patch turns up, the partial with the best
        :func:`harness.core.evidence.rank_key` wins (most tests fixed, protected, fewest
        behaviours touched, earliest): taking the first partial greedily can lock in a
        patch that fixes one test by accident. ``on_outcome`` is called for every
        candidate decided (the plausible ones once the choice is made). Candidates not
        started before ``deadline`` (``time.monotonic()``) are not evaluated.
        """
        pending: list = []
        kept: list[tuple[tuple, Outcome]] = []
        plausible: list[Outcome] = []
        budget: int | None = None  # candidates still to start once a plausible patch is found
        it = iter(patches)
        for p in it:  # fill the pipeline: one in flight per slot
            pending.append(self._pool.submit(self._evaluate, p, deadline))
            if len(pending) >= len(self.slots):
                break
        order = 0
        t_start, t_first, window = time.monotonic(), 0.0, 0
        while pending:
            outcome = pending.pop(0).result()
            order += 1
            if outcome is not None and outcome.complete:
                outcome.order = order
                plausible.append(outcome)
                if budget is None:
                    t_first = time.monotonic()
                    budget = max(self.compare, self.UNPROTECTED_WINDOW * len(self.slots)
                                 if outcome.unprotected else 0)
            elif outcome is not None:
                on_outcome(outcome)
                if outcome.viable and self.partial_as_lead:
                    self.leads = sorted([*self.leads, outcome], key=lambda o: -len(o.fixed))
                elif outcome.viable:
                    kept.append((rank_key(len(outcome.fixed), outcome.protection, order), outcome))
            if budget is not None and budget <= 0:
                continue  # stop starting new ones; those in flight are still weighed
            nxt = next(it, None)
            if nxt is not None and time.monotonic() < deadline and not self.fault:
                pending.append(self._pool.submit(self._evaluate, nxt, deadline))
                window += budget is not None
                budget = None if budget is None else budget - 1
        if plausible:
            chosen = choose(plausible)
            for o in plausible:
                o.accepted = o is chosen
            chosen.plausible = len(plausible)
            chosen.alternatives = [o.patch.description for o in plausible if o is not chosen]
            chosen.window = {"candidates": window, "seconds": round(time.monotonic() - t_first, 3),
                             "first_seconds": round(t_first - t_start, 3)}
            for o in plausible:
                on_outcome(o)
            return chosen
        if not kept:
            return None
        best = min(kept, key=lambda kv: kv[0])[1]
        best.accepted = True
        return best

    def accept(self, outcome: Outcome, main: Worktree) -> None:
        """Apply an accepted patch to the run's worktree and every slot; update the baseline."""
        self.leads = []  # built on the code before this patch
        for wt in [main, *self.slots]:
            wt.apply(outcome.patch)
        for tid in outcome.fixed:
            old = self.baseline.results[tid]
            self.baseline.results[tid] = TestResult(tid, "passed", "", (), old.duration)

    def _evaluate(self, patch: Patch, deadline: float) -> Outcome | None:
        if time.monotonic() >= deadline or self.fault:
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
            if out.stage == "error":
                self.last_error = out.reason
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
        if out.stage == "error" and out.seconds.keys() & {"probe", "screen", "full"}:
            self._check_slot(slot)
        return out

    def _check_slot(self, slot: Worktree) -> None:
        """After a test run that failed to start: can this slot, without the patch, run the
        failing tests the baseline ran? If not, the evaluator is at fault (set ``fault``)."""
        path = Path(slot.path)
        if path in self._sound or self.fault:
            return
        ids = self.baseline.failing or self.baseline.collected[:1]
        run = self.evaluator.run(path, select=ids, paths=sorted({t.split("::", 1)[0] for t in ids}),
                                 timeouts=self._limits(ids), process_timeout=60 + self.baseline.duration)
        if not run.error:
            self._sound.add(path)
        else:
            with self._lock:
                self.fault = ("a worktree slot cannot run, without any patch, the tests the "
                              f"baseline ran: {run.error}")

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
                out.stage, out.reason = "error", f"the full test run failed to start: {full.error}"
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
            out.stage, out.reason = "error", f"the test run failed to start: {run.error}"
            return False
        fixed = [t for t in ids if passed_in(run.results, t)]
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
                out.stage, out.reason = "error", f"the full test run failed to start: {full.error}"
                return
            results = self._settle(slot, out, full, rest, passing)
            if results is None:
                return
            also = {t for t in rest if t not in passing and passed_in(results, t)}
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

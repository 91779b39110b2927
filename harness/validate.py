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
from harness.localize import is_protected, tests_covering
from harness.plausible import choose
from sandbox.patch import Patch, PatchError
from sandbox.process import run as run_process
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
class StaticCheck:
    """A baseline-aware static evaluator (lint or types) used by the validator.

    Attributes:
        id: evaluator id (``lint``, ``types``).
        run: ``run(worktree, paths) -> Verdict`` for the files a patch touches.
        baseline: the verdict on the whole repository at the start; diagnostics
            already there never count against a patch.
    """

    id: str
    run: Callable[[Path, list[str]], Verdict]
    baseline: Verdict


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
        plausible: for the chosen patch, how many plausible patches (fixing every failing
            test, breaking none) were compared; alternatives: the others' descriptions.
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
    plausible: int = 0
    alternatives: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """JSON form for ``trajectory.jsonl``."""
        return {"accepted": self.accepted, "viable": self.viable, "stage": self.stage, "reason": self.reason,
                "fixed": self.fixed, "broken": self.broken[:10], "tests_run": self.tests_run,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                **({"plausible_patches": self.plausible, "alternatives": self.alternatives}
                   if self.plausible else {})}


class Validator:
    """Evaluates candidates against the baseline in parallel worktree slots.

    Args:
        evaluator: the pytest evaluator (target interpreter, sandbox policy).
        slots: worktrees at the same state as the run's worktree, one per worker.
        baseline: the test suite's state.
        protected: globs of paths a patch may not touch.
        max_diff_lines: largest accepted patch (added + removed lines).
        timeouts: per-test timeout policy.
        static: lint/type checks run on the patched files before the full suite.
        require_fix: a candidate must fix failing tests (the fix loop). False for
            instruction and review tasks: tests failing at baseline are left alone and
            a candidate only has to break nothing.
        check: an extra command (argv) that must exit 0 in the patched worktree
            (``loopwright do --check``), run last, within ``check_timeout`` seconds.

    Attributes:
        evaluator_errors: evaluations in a row where an evaluator could not run
            (the ``evaluator_error`` stop rule reads it); ``last_error`` says why.
        fault: set when a worktree slot cannot run, without any patch, the tests the
            baseline ran: an evaluator fault, not the candidates'. No candidate is
            started after it (the ``evaluator_error`` stop rule fires with this text).
        partial_as_lead: viable partial fixes are kept in ``leads`` (best first) instead of
            being chosen; the loop sets it for generators that build on them.
        compare: candidates still validated after the first plausible patch of a batch,
            so that the most natural one is chosen (:mod:`harness.plausible`).
    """

    def __init__(self, evaluator: PytestEvaluator, slots: list[Worktree], baseline: Baseline,
                 protected: tuple[str, ...], max_diff_lines: int = 40,
                 timeouts: TimeoutPolicy | None = None, static: list[StaticCheck] = (),
                 require_fix: bool = True, check: list[str] | None = None, check_timeout: float = 600.0):
        self.evaluator = evaluator
        self.slots = slots
        self.baseline = baseline
        self.protected = protected
        self.max_diff_lines = max_diff_lines
        self.timeouts = timeouts or evaluator.timeouts
        self.static = list(static)
        self.require_fix = require_fix
        self.check = check
        self.check_timeout = check_timeout
        self.evaluator_errors = 0
        self.partial_as_lead = False
        self.leads: list[Outcome] = []
        self.compare = 4
        self.last_error = ""
        self.fault = ""
        self._sound: set[Path] = set()  # slots seen running the failing tests without a patch
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

        A *plausible* candidate fixes every failing test and breaks none. After the
        first one, the candidates in flight and ``compare`` more are validated too, and
        the most natural plausible patch is chosen (:func:`harness.plausible.choose`;
        its ``plausible`` and ``alternatives`` say what it was compared with). One that
        fixes only some (a *partial* fix) is, with ``partial_as_lead``, kept in
        ``leads`` and not chosen; otherwise the partial fixing the most tests wins
        when the batch holds no plausible patch (the earliest on ties): taking the
        first partial greedily can lock in a patch that fixes one test by accident.
        ``on_outcome`` is called for every candidate decided (the plausible ones once
        the choice is made). Candidates not started before ``deadline``
        (``time.monotonic()``) are not evaluated.
        """
        pending: list = []
        best: Outcome | None = None
        plausible: list[Outcome] = []
        budget = None  # candidates still to start once a plausible patch is found
        it = iter(patches)
        for p in it:  # fill the pipeline: one in flight per slot
            pending.append(self._pool.submit(self._evaluate, p, deadline))
            if len(pending) >= len(self.slots):
                break
        while pending:
            outcome = pending.pop(0).result()
            if outcome is not None and outcome.accepted:
                plausible.append(outcome)
                budget = self.compare if budget is None else budget
            elif outcome is not None:
                on_outcome(outcome)
                if outcome.viable and self.partial_as_lead:
                    self.leads = sorted([*self.leads, outcome], key=lambda o: -len(o.fixed))
                elif outcome.viable and (best is None or len(outcome.fixed) > len(best.fixed)):
                    best = outcome
            if budget is not None and budget <= 0:
                continue
            nxt = next(it, None)
            if nxt is not None and time.monotonic() < deadline and not self.fault:
                pending.append(self._pool.submit(self._evaluate, nxt, deadline))
                budget = None if budget is None else budget - 1
        if plausible:
            chosen = choose(plausible)
            for o in plausible:
                o.accepted = o is chosen
            chosen.plausible = len(plausible)
            chosen.alternatives = [o.patch.description for o in plausible if o is not chosen]
            for o in plausible:
                on_outcome(o)
            return chosen
        if best is not None:
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
        fixed = [t for t in ids if t in run.results and run.results[t].ok]
        out.fixed = [t for t in failing if t in set(fixed) | set(already)]
        if not out.fixed:
            first = next((run.results[t] for t in ids if t in run.results), None)
            out.stage = "screen"
            out.reason = f"fixes none of the {len(failing)} failing tests" + (
                f"; {first.test_id} still fails: "
                f"{first.message.splitlines()[0] if first.message else first.outcome}" if first else "")
            return False
        return True

    def _limits(self, ids: list[str]) -> dict[str, float]:
        res = self.baseline.results
        return {t: self.timeouts.for_test(res[t].duration, res[t].ok) if t in res and res[t].outcome != "timeout"
                else self.timeouts.for_test(None) for t in ids}

    def _run(self, slot: Worktree, out: Outcome, stage: str, **kw) -> TestRun:
        t0 = time.monotonic()
        run = self.evaluator.run(slot.path, **kw)
        out.seconds[stage] = time.monotonic() - t0
        out.test_seconds += run.duration
        out.tests_run += len(run.results)
        return run

    def _screen_and_full(self, slot: Worktree, patch: Patch, out: Outcome) -> None:
        failing = self.baseline.failing if self.require_fix else []
        changed = _changed_lines(patch)
        covering = set(tests_covering(self.baseline.coverage, self.baseline.root, changed))
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
        for check in self.static:
            t0 = time.monotonic()
            verdict = check.run(slot.path, list(patch.files))
            out.seconds[check.id] = time.monotonic() - t0
            if verdict.error:
                out.stage, out.reason = "error", f"the {check.id} evaluator failed: {verdict.error.splitlines()[0]}"
                return
            new = regressions(check.baseline, verdict)
            if new:
                out.stage = check.id
                out.reason = f"adds {len(new)} {check.id} diagnostic(s): {new[0].message}"
                return
        # every test not screened: the passing ones (regressions), and failing ones that
        # ran no changed line in-process but may still be fixed (a test driving a subprocess)
        screened = set(targets)
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
            also = {t for t in rest if t not in passing and t in full.results and full.results[t].ok}
            if also:
                done = set(out.fixed) | also
                out.fixed = [t for t in failing if t in done]
            out.broken = [t for t in rest if t in passing and t in full.results and not full.results[t].ok]
            if out.broken:
                r = full.results[out.broken[0]]
                msg = r.message.splitlines()[0] if r.message else r.outcome
                out.reason = f"breaks {out.broken[0]} (passed before): {msg}"
                return
        if self.check:
            t0 = time.monotonic()
            res = run_process(self.check, slot.path, self.check_timeout, self.evaluator.policy)
            out.seconds["check"] = time.monotonic() - t0
            if res.returncode != 0:
                tail = (res.stderr.strip() or res.stdout.strip()).splitlines()[-3:]
                out.stage = "check"
                out.reason = (f"the check command `{' '.join(self.check)}` "
                              + ("timed out" if res.timed_out else f"failed (exit {res.returncode})")
                              + (": " + " / ".join(tail) if tail else ""))
                return
        out.viable = True
        out.accepted = len(out.fixed) == len(failing)
        out.reason = (f"fixes {len(out.fixed)} of {len(failing)} failing tests, no regressions"
                      if failing else f"verified: no test that passed before fails ({len(rest)} run)"
                      + (", the check command passes" if self.check else ""))


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

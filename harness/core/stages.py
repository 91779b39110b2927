"""What one candidate goes through in one worktree slot: the screen (the failing tests,
one probe first when there are many), the evaluator gates, the full suite (stopping at the
first regression, flaky tests told apart), and the verdict's words.

:class:`CandidateStages` is a part of :class:`harness.core.validate.Validator`, which
provides what these stages read: ``baseline``, ``evaluator``, ``timeouts``, ``gates``,
``require_fix``, ``flaky``, ``regressions``, ``regressed``, ``leads``, ``progressed`` (the
progress leads' :func:`~harness.core.progress.rank`), ``statements`` (the failing tests'
statements, :class:`~harness.core.progress.TestStatements`, or None), ``partial_as_lead``,
``index`` (the baseline coverage, inverted) and ``_lock``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import unidiff

from harness.evaluators.pytest_runner import TestRun
from harness.evaluators.verdict import TestResult, passed_in, renamed_ids
from harness.core.evidence import describe, not_collected, protection
from harness.core import progress
from harness.core.outcome import Outcome
from harness.core.progress import advance, bypassed, changed, rank, reached, step
from harness.core.overfit import OverfitChecks
from sandbox.patch import Patch
from sandbox.worktree import Worktree


#: candidates a passing test must fail with (alone, after the full run) before it is run
#: without any patch (:meth:`CandidateStages._fails_without_patch`): one pristine run per
#: such test, only for the tests that keep failing.
UNSOUND_AFTER = 2
#: seconds: the probe test's baseline duration counts in steps of this size, then its id decides.
#: A few milliseconds between two fast tests is timing noise, and it changed the probe (and so
#: which candidates pass the screen) from one run of the same task to the next.
PROBE_GRAIN = 0.1


class CandidateStages(OverfitChecks):
    """The stages of one candidate's validation in a slot (a mixin of the validator)."""

    def _settle(self, slot: Worktree, out: Outcome, full: TestRun, rest: list[str],
                passing: set[str], can_complete: bool = True) -> dict[str, TestResult] | None:
        """Results of the full stage with flaky tests told apart from regressions.

        A test that passed at baseline and fails now is re-run once, alone; if it
        passes then, it is flaky: recorded in :attr:`flaky`, not held against this or
        any later candidate, and the tests the stopped session did not reach are run.
        If it fails again it is a real regression, recorded in :attr:`regressions`; such a
        test is not re-run for a later candidate that cannot be complete anyway (a failing
        test it was screened on still fails): a partial fix's verdict is not worth a process.
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
            elif suspect in self.regressions and not can_complete:
                return results
            else:
                again = self._run(slot, out, "rerun", select=[suspect], timeouts=self._limits([suspect]),
                                  paths=[suspect.split("::", 1)[0]],
                                  process_timeout=30 + sum(self._limits([suspect]).values()))
                if not (suspect in again.results and again.results[suspect].ok):
                    with self._lock:
                        self.regressions.add(suspect)
                        self.regressed[suspect] = self.regressed.get(suspect, 0) + 1
                        check = self.regressed[suspect] == UNSOUND_AFTER
                    if check and self._fails_without_patch(slot, out, suspect):
                        return None
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

    def _fails_without_patch(self, slot: Worktree, out: Outcome, test: str) -> bool:
        """Whether ``test``, which passed at baseline and failed alone with
        :data:`UNSOUND_AFTER` candidates, fails alone in ``slot`` with no patch at all (a
        test that needs what the baseline run left, an order, or the coverage tracer:
        python-dotenv's ``sys.gettrace()`` check). Such a test says nothing of a patch: it
        joins :attr:`flaky` (no longer held against candidates, not asked of the
        confirmation run) and ``out`` says so; this candidate, its slot reset, is done for.
        False (nothing changed) when the slot cannot be reset or the test passes there."""
        run = self._run_without_patch(slot, out, "pristine", [test])
        if run is None or test not in run.results or run.results[test].ok:
            return False
        with self._lock:
            self.flaky.add(test)
        out.stage = "full"
        out.reason = (f"breaks {test} (passed before), which fails without any patch in a validation worktree "
                      "too: it is no longer held against candidates")
        return True

    def _probe(self, targets: list[str], changed: dict[str, set[int]]) -> str:
        """The failing test most likely to tell: its traceback passes through a changed
        file (nearest frame to a changed line), then the fastest at baseline (in steps of
        :data:`PROBE_GRAIN`), then the first by id: the same test on every run."""
        res = self.baseline.results

        def key(t: str) -> tuple:
            dist = min((abs(f.line - ln) for f in res[t].frames if f.path in changed
                        for ln in changed[f.path] or {f.line}), default=10**6)
            return (dist, round(res[t].duration / PROBE_GRAIN), t)

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
        out.changed = bool(out.changed) or any(changed(self.baseline.results.get(t), run.results.get(t)) for t in ids)
        if not out.fixed:
            out.progress = tuple(advance(self.baseline.results, run.results, ids, self.statements,
                                         self._code_line(out.patch)))
            first = next((run.results[t] for t in ids if t in run.results), None)
            out.stage = "screen"
            out.reason = f"fixes none of the {len(failing)} failing tests" + (
                f"; {first.test_id} still fails: {describe(first)}" if first else "")
            return False
        return True

    def _code_line(self, patch: Patch) -> Callable[[str, int], str] | None:
        """``(path, line) -> text`` of the code under test as ``patch`` has it, read from the
        checkout (:meth:`~harness.core.progress.TestStatements.line`); '' for every line when the
        patch does not keep line numbers (a hunk adds more lines than it removes, or fewer),
        which is read only when a line is asked for. None without a checkout."""
        statements = self.statements
        if statements is None:
            return None
        keeps = functools.cache(lambda: _keeps_lines(patch))
        return lambda path, line: statements.line(path, line) if keeps() else ""

    def _lead_fixed(self, patch: Patch) -> set[str]:
        """The failing tests the lead of a two-site candidate fixes (``patch.meta["lead"]``:
        a digest among :attr:`leads`); empty for a single edit or an unknown lead."""
        digest = (patch.meta or {}).get("lead")
        return next((set(o.fixed) for o in self.leads if o.patch.digest == digest), set()) if digest else set()

    def _limits(self, ids: list[str]) -> dict[str, float]:
        """Test id -> seconds (:meth:`TimeoutPolicy.for_test`; a failing test on its file's scale)."""
        res = self.baseline.results
        if self._peers is None:  # the slowest passing test of each file
            self._peers = {}
            for t in self.baseline.passing:
                f = t.split("::", 1)[0]
                self._peers[f] = max(self._peers.get(f, 0.0), res[t].duration)
        return {t: self.timeouts.for_test(res[t].duration if res[t].outcome != "timeout" else None, res[t].ok,
                                          self._peers.get(t.split("::", 1)[0]))
                if t in res else self.timeouts.for_test(None) for t in ids}

    def _run(self, slot: Worktree, out: Outcome, stage: str, **kw) -> TestRun:
        t0 = time.monotonic()
        run = self.evaluator.run(slot.path, **kw)
        out.seconds[stage] = out.seconds.get(stage, 0.0) + time.monotonic() - t0
        out.test_seconds += run.duration
        out.tests_run += len(run.results)
        return run

    def _screen_and_full(self, slot: Worktree, patch: Patch, out: Outcome) -> None:
        """Screen, the gates before the tests, the full suite, the gates after it; ``out``
        says where the candidate was decided and why."""
        failing = self.baseline.failing if self.require_fix else []
        changed = _changed_lines(patch)
        covering = set(self.index.covering(changed))
        # Screening selects the failing tests that ran a changed line (regression test
        # selection); no covering test at all means a line run at import time, or no
        # coverage: screen them all. The full stage runs the others too, so a test that
        # reaches the code out of process (a subprocess) is still counted as fixed.
        targets = [t for t in failing if t in covering] or failing
        # a two-site candidate (a lead's edit + one more) is probed on a test its lead leaves
        # failing: the lead's own fixes say nothing of the second edit
        left = [t for t in targets if t not in self._lead_fixed(patch)]
        # a failing test that hung at baseline costs its whole time limit each time it still hangs
        hung = sum(1 for t in targets if t in self.baseline.results and self.baseline.results[t].outcome == "timeout")
        if len(targets) > 3 or hung > 1 or 0 < len(left) < len(targets):  # fail fast: one representative first
            probe = self._probe(left or targets, changed)
            if not self._screen(slot, out, [probe], "probe"):
                if out.stage == "screen" and len(left) < len(targets):
                    _, sep, tail = out.reason.partition(";")
                    out.reason = f"fixes none of the {len(left)} failing tests its lead leaves failing{sep}{tail}"
                return self._progressed(slot, patch, out, {probe}, covering)
            rest = [t for t in targets if t != probe]
            if not self._screen(slot, out, rest, "screen", already=[probe]):
                return
        elif targets and not self._screen(slot, out, targets, "screen"):
            return self._progressed(slot, patch, out, set(targets), covering)
        if not self._gates(slot, patch, out, after_tests=False):
            return
        # every test not screened: the passing ones (regressions), and failing ones that
        # ran no changed line in-process but may still be fixed (a test driving a subprocess)
        screened = set(targets) | self.flaky
        rest = [t for t in self.baseline.collected if t not in screened]
        can_complete = set(targets) <= set(out.fixed)
        # a patch that may turn out plausible has its watching tests' coverage recorded in the
        # full run itself, and a few of the tests it fixes run again there: the overfit checks
        # read it (harness/core/overfit.py), with no coverage run of their own
        watch = self._watching(out, changed) if self.require_fix and can_complete else ([], [])
        seen: dict[str, dict[str, list[int]]] = {}
        if rest and not self._full(slot, out, rest, failing, covering, can_complete, watch, seen):
            return
        if not self._gates(slot, patch, out, after_tests=True):
            return
        out.viable = True
        out.accepted = out.plausible = len(out.fixed) == len(failing)
        if self.require_fix:
            out.protection = protection(self.index, set(self.baseline.passing) - self.flaky, changed)
            out.accepted = out.plausible and not out.protection.unprotected
            if out.plausible and not self._steady(slot, patch, out, seen if rest else None):  # overfit.py
                return
        after = [g.id for g in self.gates if g.after_tests]
        out.reason = (f"fixes {len(out.fixed)} of {len(failing)} failing tests, no regressions"
                      + (f"; suspect: {out.suspect}" if out.suspect else "")
                      + ("; unprotected: no passing test executes the changed lines" if out.unprotected else
                         f"; {len(out.protection.tests)} passing test(s) execute the changed lines"
                         if out.protection else "")
                      if failing else f"verified: no test that passed before fails ({len(rest)} run)"
                      + "".join(f", the {eid} evaluator passes" for eid in after))

    def _progressed(self, slot: Worktree, patch: Patch, out: Outcome, screened: set[str],
                    covering: set[str]) -> None:
        """After a screen that fixed nothing: a candidate that moved a failing test's failure
        forward (``out.progress``) and would be among the :data:`~harness.core.progress.LEADS`
        most progressed so far has the moved tests re-run under coverage (a step whose test
        no longer runs the line that failed, :func:`~harness.core.progress.bypassed`, is
        dropped), then the gates and the full suite; with no regression it is decided at
        stage ``progress`` (a lead for a generator that builds on leads, never applied or
        reported as a fix), with ``out.reached``: the lines the moved tests newly run. Only
        for such a generator's single edits."""
        if not (out.stage == "screen" and out.progress and self.require_fix and self.partial_as_lead
                and not (patch.meta or {}).get("lead")) or not self._may_progress(rank(out.progress)):
            return
        ids = [s.test for s in out.progress]
        cov = self._run(slot, out, "progress", select=ids, timeouts=self._limits(ids), coverage_tests=ids,
                        paths=sorted({t.split("::", 1)[0] for t in ids}),
                        process_timeout=30 + sum(self._limits(ids).values()))
        res, root = self.baseline.results, str(slot.path)
        out.progress = tuple(s for s in out.progress if s.test in cov.results  # moved again, not by chance
                             and step(res[s.test], cov.results[s.test], self.statements,
                                      self._code_line(patch)) is not None
                             and not bypassed(res[s.test], cov.coverage.get(s.test, {}), root))
        if cov.error or not out.progress or not self._may_progress(rank(out.progress)):
            return
        if not self._gates(slot, patch, out, after_tests=False):
            return
        failing = self.baseline.failing
        rest = [t for t in self.baseline.collected if t not in screened | self.flaky]
        if rest and not self._full(slot, out, rest, failing, covering, can_complete=False):
            return
        if not self._gates(slot, patch, out, after_tests=True):
            return
        if out.fixed:  # the full run fixed a failing test the screen did not run: a partial fix
            out.viable = True
            out.reason = f"fixes {len(out.fixed)} of {len(failing)} failing tests, no regressions"
            return
        with self._lock:
            self.progressed.append(rank(out.progress))
        moved = [s.test for s in out.progress]
        out.reached = reached(cov.coverage, self.baseline.coverage, moved, root, str(self.baseline.root))
        out.stage = "progress"
        out.reason = (f"fixes none of the {len(failing)} failing tests, breaks none, but moves a failure forward: "
                      + "; ".join(s.words() for s in out.progress[:3]) + " (a lead, not a fix)")

    def _may_progress(self, moved: tuple[int, int]) -> bool:
        """A progress lead this far (:func:`~harness.core.progress.rank`) would be among the
        :data:`~harness.core.progress.LEADS` most progressed verified so far."""
        with self._lock:
            best = sorted(self.progressed, reverse=True)[:progress.LEADS]
        return len(best) < progress.LEADS or moved > best[-1]

    def _full(self, slot: Worktree, out: Outcome, rest: list[str], failing: list[str],
              covering: set[str], can_complete: bool = True,
              watch: tuple[list[str], list[str]] = ([], []), seen: dict | None = None) -> bool:
        """The full stage: ``rest`` (tests covering the change first), stopping at the first
        regression; records tests it fixed too. False when the candidate is done for.
        ``can_complete``: every failing test it was screened on passes (see :meth:`_settle`).
        ``watch``: (passing tests watching the patch, fixed tests to run again): their line
        coverage is recorded into ``seen`` (test id -> absolute path -> lines)."""
        out.stage = "full"
        passing = set(self.baseline.passing)
        again = [t for t in watch[1] if t not in rest]
        select = rest + again
        full = self._run(slot, out, "full", select=select, first=sorted(covering | set(again)),
                         stop_on=[t for t in rest if t in passing], timeouts=self._limits(select),
                         process_timeout=60 + 3 * self.baseline.duration + 2 * len(select),
                         coverage_tests=watch[0] + watch[1])
        if seen is not None:
            seen.update(full.coverage)
        if full.error:
            out.stage, out.reason = "error", f"the full test run failed to start: {full.error}"
            return False
        results = self._settle(slot, out, full, rest, passing, can_complete)
        if results is None:
            return False
        also = {t for t in rest if t not in passing and passed_in(results, t)}
        if also:
            done = set(out.fixed) | also
            out.fixed = [t for t in failing if t in done]
        # a test that passed before and has no result now (its module no longer imports) is
        # broken too: after _settle, a passing test of ``rest`` without a result was not collected,
        # unless the run stopped at a regression before reaching it (then it is merely not run)
        failed = [t for t in rest if t in passing and t not in self.flaky and t in results and not results[t].ok]
        missing = [t for t in rest if t in passing and t not in self.flaky and t not in results]
        renamed = renamed_ids(missing, results, self.baseline.results)
        out.broken = failed or [t for t in missing if t not in renamed]
        if out.broken:
            # the test whose own file no longer collects says most; else the first
            first = next((t for t in out.broken if t not in results and t.split("::", 1)[0] in results),
                         out.broken[0])
            out.reason = f"breaks {first} (passed before): " + (
                describe(results[first]) if first in results else not_collected(results, first))
            return False
        return True

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


def _keeps_lines(patch: Patch) -> bool:
    """Whether ``patch`` adds as many lines as it removes in each hunk, so every line number of
    the code it changes means the same line before and after."""
    return all(h.source_length == h.target_length for pf in unidiff.PatchSet(patch.diff) for h in pf)

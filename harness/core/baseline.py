"""Baseline tests that time out or fail only because coverage traces them.

Per-test coverage (coverage.py's tracer with a dynamic context per test, or the
plugin's ``sys.settrace`` fallback) can make a test many times slower: a test with
a hot Python loop that takes 15 s runs 69 s traced, hits the baseline's per-test
limit and would be counted as a failing test, one that every candidate then screens
against the failing-test limit. So a test that times out in the coverage baseline is
run once more without coverage (all such tests in one process, each under the same
baseline limit). If it passes there it is a passing test, with the uncovered run's
result and duration (later limits derive from its real duration) and no coverage
spectrum: fault localization and per-line protection
(:func:`harness.core.evidence.protection`) simply do not count it. A test that
still times out, or fails, stays failing.

The same goes for a test that *fails* under coverage and passes without it (one that
measures time, or looks at ``sys.gettrace()``): counted failing, it would be "fixed" by
any candidate, since candidates are screened without coverage. So a failing test that could
fail for the tracer alone is run once more without it, in the same process as the timed-out
ones (:func:`coverage_sensitive`): one whose run executed a file reading the tracer
(:data:`TRACER_PROBE`, its own test module included) or whose test module reads a clock
(:data:`CLOCK_PROBE`: tracing makes code 2-3 times slower), or whose process was killed. Any
other failing test fails the same way without coverage, and a second process for it (0.7 s on
semantic-version's 68 tests, on every run) would say nothing.

The reverse happens too: code that asks whether it is traced (``sys.gettrace()``, to tell a
debugger is attached; python-dotenv's ``find_dotenv`` does) takes another branch under
coverage, so a test can pass there and fail without it. Counted passing, it would make every
candidate "break" it. So the passing tests that executed a non-test file reading the tracer
(:data:`TRACER_PROBE`) join the same re-run, and one that fails there is counted failing,
with the uncovered result and its coverage spectrum kept for fault localization.

The whole baseline stays within its share of the run's wall-clock budget (:func:`run_baseline`,
:mod:`harness.core.baseline_budget`): a suite slower under coverage than the budget (chardet
7.4.2's, 113 s at load 3 against 150 s) was killed at the budget, and its lost coverage then
re-run in full, for a second budget; then it spent the whole budget on its first slow tests.

A run that ends without any candidate says why from its baseline (:func:`why_no_candidates`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.core.baseline_budget import CUT, NOT_RUN, baseline_deadline, covered_test_limit, to_go_on, unrun
from harness.core.baseline_budget import leave_unrun, unrun_note  # noqa: F401  (the session's)
from harness.core.outcome import Baseline
from harness.core.public_api import is_test_module
from harness.evaluators.pytest_runner import PytestEvaluator, TestRun
from harness.evaluators.verdict import TestResult

if TYPE_CHECKING:
    from harness.core.baseline_cache import BaselineCache

#: source text by which code can tell it is traced (coverage.py, a debugger, a profiler)
TRACER_PROBE = re.compile(r"\b(?:gettrace|getprofile|settrace|monitoring\.get_tool)\s*\(")
#: source text of a test module that times what it runs (a tracer slows it 2-3 times)
CLOCK_PROBE = re.compile(r"\b(?:time|perf_counter|monotonic|process_time|timeit|default_timer)(?:_ns)?\s*\(")


def run_baseline(evaluator: PytestEvaluator, root: Path, cache: BaselineCache | None, *, coverage: bool,
                 timeout: float, limit: float, deadline: float | None,
                 checkout: Path | None = None, shards: int = 1) -> tuple[TestRun, dict[str, str]]:
    """The baseline in worktree ``root`` (through ``cache`` when given) and, under ``coverage``,
    :func:`rerun_uncovered`'s tests kept as passing (test id -> sentence).

    Args:
        timeout: the per-test limit (seconds). limit: each test process's wall seconds.
        deadline: ``time.monotonic()`` seconds at which the run's budget ``limit`` ends; no test
            process runs past the baseline's share of it (:mod:`harness.core.baseline_budget`:
            the re-runs after a process died, the coverage recovery and the uncovered re-run
            included), and each test's coverage run is cut at its per-test share; None:
            ``limit`` per process and ``timeout`` per test only.
        checkout: the user's checkout, where the covered files' sources are read to find the
            tests that see the tracer (:func:`tracer_aware`); None: ``root``.
        shards: the coverage run split by test file into up to this many processes at once (the
            validation slots; no more than the cores idle then: :mod:`harness.evaluators.shards`);
            the re-runs stay whole.
    """
    # with a budget, the baseline keeps a share of it for the search and cuts a slow test's
    # coverage run short (harness.core.baseline_budget); the cut ones re-run without coverage
    whole, deadline = deadline, baseline_deadline(deadline, limit)
    first = covered_test_limit(timeout, limit if deadline is not None and coverage else None)
    if cache is not None:
        base = cache.run(evaluator, root, coverage=coverage, default_timeout=first, process_timeout=limit,
                         deadline=deadline, shards=shards)
    else:
        base = evaluator.run(root, coverage=coverage, default_timeout=first, process_timeout=limit, deadline=deadline,
                             shards=shards)
    more = to_go_on(base) if whole is not None and not base.error else []
    if more and whole is not None and whole - time.monotonic() >= 1.0:  # no failing test yet: the rest of the budget
        rest = evaluator.run(root, select=more, paths=sorted({t.split("::", 1)[0] for t in more}), coverage=coverage,
                             default_timeout=first, process_timeout=limit, deadline=whole)
        base.results.update(rest.results)
        base.coverage.update(rest.coverage)
        base.duration += rest.duration
        deadline = whole
    left = limit if deadline is None else max(1.0, min(limit, deadline - time.monotonic()))
    sources = CheckoutSources(root, checkout or root)
    uncovered = rerun_uncovered(evaluator, root, base, timeout=timeout, process_timeout=left,
                                aware=tracer_aware(base, root, checkout or root, sources), covered=first,
                                failing=coverage_sensitive(base, root, checkout or root, sources)) \
        if coverage and not base.error else {}
    return base, uncovered


def tracer_aware(run: TestRun, root: Path, checkout: Path, sources: CheckoutSources | None = None) -> list[str]:
    """The passing tests of coverage run ``run`` (taken in worktree ``root``) that executed a
    non-test file whose source (read at the same relative path in ``checkout``, never in the
    worktree the tests ran in) matches :data:`TRACER_PROBE`; in run order. A test module that
    reads the tracer itself is left to the pristine check of a test that fails whatever the
    patch (:meth:`harness.core.stages.CandidateStages._fails_without_patch`): no code edit
    makes it pass."""
    sources = sources or CheckoutSources(root, checkout)

    def probes(path: str) -> bool:
        rel = sources.relative(path)
        return rel is not None and not is_test_module(rel) and sources.matches(rel, TRACER_PROBE)

    return [t for t in run.collected if t in run.results and run.results[t].outcome == "passed"
            and any(probes(p) for p in run.coverage.get(t, {}))]


def coverage_sensitive(run: TestRun, root: Path, checkout: Path, sources: CheckoutSources | None = None) -> list[str]:
    """The failing tests of coverage run ``run`` (taken in worktree ``root``) that may fail for
    the tracer alone, in run order: timed out or killed, or executed a file whose source (read
    at the same relative path in ``checkout``, never in the worktree) matches
    :data:`TRACER_PROBE`, or whose own test module matches :data:`CLOCK_PROBE`. A test that never
    started (no time was left for it) is not one."""
    sources = sources or CheckoutSources(root, checkout)
    out = []
    for t in run.collected:
        res = run.results.get(t)
        if res is None or res.ok or res.message == NOT_RUN:
            continue
        module = t.split("::", 1)[0]
        ran = [rel for p in run.coverage.get(t, {}) if (rel := sources.relative(p)) is not None]
        if res.outcome == "timeout" or res.message.startswith("process killed") \
                or sources.matches(module, CLOCK_PROBE) or any(sources.matches(rel, TRACER_PROBE) for rel in {module, *ran}):
            out.append(t)
    return out


class CheckoutSources:
    """The sources of the files a run in worktree ``root`` executed, read at the same relative
    path in ``checkout`` (never in the worktree: code under test ran there), each once, and
    searched for a probe's pattern once per file and pattern: every test that ran a file asks
    again (tabulate: 138 failing tests, each over its 105 KB module, 2 s of searching)."""

    def __init__(self, root: Path, checkout: Path) -> None:
        self.root, self.checkout = root, checkout
        self._texts: dict[str, str] = {}
        self._found: dict[tuple[str, re.Pattern[str]], bool] = {}
        self._relative: dict[str, str | None] = {}

    def relative(self, path: str) -> str | None:
        """``path`` (absolute, in the worktree) relative to it, POSIX; None outside it."""
        if path not in self._relative:
            try:
                self._relative[path] = Path(path).relative_to(self.root).as_posix()
            except ValueError:
                self._relative[path] = None
        return self._relative[path]

    def matches(self, rel: str, probe: re.Pattern[str]) -> bool:
        """Does the checkout's file ``rel`` contain ``probe``? False when it cannot be read."""
        key = (rel, probe)
        if key not in self._found:
            if rel not in self._texts:
                try:
                    self._texts[rel] = (self.checkout / rel).read_text(encoding="utf-8", errors="replace")
                except OSError:
                    self._texts[rel] = ""
            self._found[key] = bool(probe.search(self._texts[rel]))
        return self._found[key]


def rerun_uncovered(evaluator: PytestEvaluator, root: Path, run: TestRun, *, timeout: float,
                    process_timeout: float, failing: Sequence[str], aware: Sequence[str] = (),
                    covered: float | None = None) -> dict[str, str]:
    """Run the tests that timed out or failed in coverage run ``run`` again without
    coverage; keep those that pass as passing. The passing tests ``aware`` (see
    :func:`tracer_aware`) run with them; those that fail there are counted failing.
    ``failing``: the failing tests to re-run (:func:`coverage_sensitive`).

    Args:
        evaluator: the test evaluator. root: the worktree ``run`` was taken in.
        run: the coverage baseline; updated in place: a test that passes uncovered gets
            that result (its duration, seconds, is the uncovered one) and loses its
            coverage entry; ``duration`` grows by the re-run's seconds.
        timeout: the per-test limit of the re-run (seconds; the baseline's).
        process_timeout: wall seconds for the re-run's pytest process.
        covered: the per-test limit the coverage run had (seconds; None: ``timeout``). A failing
            test cut there that fails without coverage gets that result (its message and frames,
            which the generators read), its spectrum kept; one the re-run had no time for
            either is marked :data:`~harness.core.baseline_budget.CUT` (no evidence either way).

    Returns:
        test id -> one sentence for the run's messages, for each test kept as passing or
        counted failing (empty when no test timed out or none passed uncovered).
    """
    slow = list(failing)
    slow += [t for t in aware if t not in slow]
    if not slow:
        return {}
    # one plain process: a fork server for the run's own worktree would cost more than it runs
    again, _ = evaluator.fresh_run(root, slow, sorted({t.split("::", 1)[0] for t in slow}),
                                   dict.fromkeys(slow, timeout), process_timeout)
    run.duration += again.duration
    kept: dict[str, str] = {}
    for tid in slow:
        new, old = again.results.get(tid), run.results[tid]
        if old.ok and new is not None and not new.ok:
            run.results[tid] = new  # its spectrum stays: the lines it ran are still the ones to rank
            kept[tid] = f"{tid} passed under coverage and {new.outcome} without it (the code looks at the " \
                        f"tracer): counted failing, as candidates are judged without coverage"
            continue
        if old.outcome == "timeout" and not unrun(old) and covered is not None and covered < timeout \
                and (new is None or unrun(new)):
            run.results[tid] = TestResult(tid, "timeout", CUT, (), old.duration)  # no evidence: left out
            continue
        if new is not None and not new.ok and new.outcome != "timeout" and old.outcome == "timeout":
            run.results[tid] = new  # cut under coverage, fails without: its failure, not the cut
            continue
        if new is None or not new.ok or old.ok:
            continue
        limit = process_timeout if old.message.startswith("process killed") else (covered or timeout)
        run.results[tid] = new
        run.coverage.pop(tid, None)
        why = f"timed out under coverage ({limit:g} s)" if old.outcome == "timeout" else f"{old.outcome} under coverage"
        kept[tid] = f"{tid} {why} and passed without it in {new.duration:.1f} s: kept as passing, without coverage"
    return kept


def why_no_candidates(baseline: Baseline) -> str:
    """Why a run may have had no candidate to try, from its baseline: failing tests without a
    coverage spectrum (fault localization has no line of theirs to rank) and tests that timed
    out, or lost their spectrum, at baseline. ``''`` when every failing test has a spectrum
    and nothing timed out.
    """
    failing = baseline.failing
    blind = [t for t in failing if not baseline.coverage.get(t)]
    slow = [t for t, r in baseline.results.items() if r.outcome == "timeout"]
    spectrumless = [t for t in baseline.passing if t not in baseline.coverage and baseline.coverage]
    parts = []
    if blind:
        parts.append(f"{len(blind)} of the {len(failing)} failing test(s) have no coverage spectrum, so fault "
                     f"localization had none of their lines to rank ({_some(blind)})")
    if slow:
        parts.append(f"test(s) that timed out at baseline: {_some(slow)}")
    if spectrumless:
        parts.append(f"passing test(s) without a coverage spectrum (timed out under coverage, or their "
                     f"process died): {_some(spectrumless)}")
    return "; ".join(parts)


def _some(ids: list[str]) -> str:
    return ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")

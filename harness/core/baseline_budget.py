"""The baseline's share of a run's wall-clock budget, and the tests it had no time for.

With a wall budget (``--max-seconds``), the coverage baseline used to be bounded by the whole
budget only: a suite whose first files hold a few slow tests (chardet 7.4.2 and 7.4.3: nine
timing-ratio tests, 5-26 s each under coverage, 104 s of a 150 s budget) spent it all before the
first candidate, and the tests it never reached were counted failing (1513 "failing" tests, the
search left no second). Two rules keep a part of the budget for the search:

- the baseline, its uncovered re-run included, ends by :data:`BASELINE_SHARE` of the budget;
- in the coverage pass each test gets at most :data:`TEST_SHARE` of the budget (never less than
  :data:`TEST_FLOOR` seconds, never more than the configured per-test baseline limit): a slower
  test is cut there and re-run without coverage with the full limit
  (:func:`harness.core.baseline.rerun_uncovered`), where tracing does not slow it, so a few slow
  tests no longer keep the rest of the suite, and the failing tests among it, from running.

A baseline that reaches its share without a failing test among those it ran goes on with the
others up to the run's own deadline (:func:`to_go_on`): there is no search to keep time for yet.
The tests the baseline still did not run (or that its deadline killed) are no evidence either way:
:func:`leave_unrun` drops them from the baseline, so they count neither as failing tests to fix
nor as regressions, as long as a test that did run fails (else there is no task without them, and
they stay as before: failing).

The shares are a policy, not a measurement: a search of the offline repairer needs tens of
seconds for the few dozen candidates that fix most release-pair tasks (``evals/bench.py``), so a
150 s run keeps 60 s; a per-test cut of 1/50 of the budget (3 s at 150 s) lets ten slow tests cost
at most a fifth of it.
"""

from __future__ import annotations

from harness.evaluators.pytest_runner import TestRun

#: share of the run's wall budget the baseline may use, re-runs included; the rest is the search's.
BASELINE_SHARE = 0.6
#: share of the run's wall budget one test may take in the coverage pass of the baseline.
TEST_SHARE = 1 / 50
#: the shortest per-test limit of the coverage pass (seconds): the import of a test module's
#: first test counts in its time.
TEST_FLOOR = 2.0
#: the result message of a test the baseline's process did not reach before its deadline
#: (:meth:`harness.evaluators.pytest_runner.PytestEvaluator.run`).
NOT_RUN = "not run: process timed out"
#: the result message of a test cut at the coverage pass's per-test limit whose re-run without
#: coverage did not end before the baseline's deadline (:func:`harness.core.baseline.rerun_uncovered`).
CUT = "not run to its end: cut under coverage, no time left to run it without"


def baseline_deadline(deadline: float | None, budget: float) -> float | None:
    """The baseline's own deadline (``time.monotonic()`` seconds) inside a run's ``deadline``
    for a wall ``budget`` of seconds: :data:`BASELINE_SHARE` of it; None without a deadline."""
    return None if deadline is None else deadline - (1.0 - BASELINE_SHARE) * budget


def covered_test_limit(per_test: float, budget: float | None) -> float:
    """Per-test limit (seconds) of the baseline's coverage pass: ``per_test`` (the configured
    baseline limit) capped at :data:`TEST_SHARE` of a wall ``budget`` (seconds), at least
    :data:`TEST_FLOOR`; ``per_test`` itself without a budget."""
    if budget is None:
        return per_test
    return min(per_test, max(TEST_FLOOR, TEST_SHARE * budget))


def unrun(result) -> bool:
    """Whether a baseline ``TestResult`` is a test the baseline had no time for: never started
    before the deadline, running when the deadline killed its process, or cut under coverage
    and not re-run to its end without it."""
    return result.message in (NOT_RUN, CUT) or (result.outcome == "timeout" and result.message.startswith("process killed"))


def leave_unrun(run: TestRun, budget: float | None) -> list[str]:
    """Drop from baseline ``run`` (in place: results, collected, coverage) the tests it had no
    time for (:func:`unrun`) within a wall ``budget`` (seconds), when some other test failed; the
    ids dropped, in run order ([] without a budget, when none is, or when no test that ran fails:
    the run has no task without them)."""
    cut = [t for t in run.collected if t in run.results and unrun(run.results[t])] if budget else []
    if not cut or not any(not r.ok for r in run.results.values() if not unrun(r)):
        return []
    gone = set(cut)
    for tid in cut:
        del run.results[tid]
        run.coverage.pop(tid, None)
    run.collected = [t for t in run.collected if t not in gone]
    return cut


def to_go_on(run: TestRun) -> list[str]:
    """The tests baseline ``run`` never started (:data:`NOT_RUN`), in run order, when no test
    that ran fails: the task is not found yet, so the baseline goes on with them past its share,
    up to the run's own deadline (jsonschema 4.26.0: 7762 tests in 93 s, the failing one after the
    share). [] when a test that ran fails: the search's share is kept."""
    if any(not r.ok for r in run.results.values() if not unrun(r)):
        return []
    return [t for t in run.collected if t in run.results and run.results[t].message == NOT_RUN]


def unrun_note(cut: list[str]) -> list[str]:
    """The run's message (a list of one sentence, [] for none) about the tests
    :func:`leave_unrun` dropped."""
    if not cut:
        return []
    shown = ", ".join(cut[:3]) + (f" and {len(cut) - 3} more" if len(cut) > 3 else "")
    return [f"{len(cut)} test(s) did not run within the baseline's share ({BASELINE_SHARE:.0%}) of the "
            f"run's budget: left out, neither work nor regressions ({shown}); a larger --max-seconds runs them"]

"""Fault localization of lines that run when a decorator decorates, not when a test runs.

Modelled on tenacity 8.4.2 (``evals/suites/release-pairs.yaml``, tenacity-8.5.0-1): its
``Retrying.wraps`` builds the wrapper and sets ``wrapped_f.retry = wrapped_f`` where 8.5.0
has ``= self``. The test module decorates at import, so the wrong line runs once, outside
any test (``<import>``: "run by every test", the lowest suspiciousness), while only the
failing test sees its effect, through the wrapper; and the failing assertion reads
``.retry``, which that line stores. Real pytest with coverage, real localization.
"""

from __future__ import annotations

import pytest

from harness.core.config import DEFAULT_PROTECTED
from harness.core.evidence import IMPORT_CONTEXT
from harness.core.localize import STORE_WEIGHT, localize
from harness.evaluators.pytest_runner import PytestEvaluator
from tests.conftest import PYTHON

RETRYING = {
    "retrying.py": """
        import functools


        class Retrying:
            def __init__(self, attempts=3):
                self.attempts = attempts
                self.statistics = {}

            def copy(self):
                return Retrying(self.attempts)

            def __call__(self, fn, *args, **kwargs):
                self.statistics["attempt_number"] = 0
                for _ in range(self.attempts):
                    self.statistics["attempt_number"] += 1
                    result = fn(*args, **kwargs)
                    if result is not None:
                        return result
                return None

            def wraps(self, f):
                @functools.wraps(f)
                def wrapped_f(*args, **kw):
                    copy = self.copy()
                    wrapped_f.statistics = copy.statistics
                    return copy(f, *args, **kw)

                # Preserve attributes
                wrapped_f.retry = wrapped_f
                wrapped_f.statistics = {}
                return wrapped_f


        def retry(attempts=3):
            return Retrying(attempts).wraps


        def total(xs):
            return sum(xs)


        def mean(xs):
            return total(xs) / len(xs)
    """,
    "tests/test_retrying.py": """
        from retrying import Retrying, mean, retry, total

        calls = []


        @retry(attempts=3)
        def flaky():
            calls.append(1)
            return 'ok' if len(calls) % 2 == 0 else None


        def test_retries_until_a_value():
            assert flaky() == 'ok'

        def test_statistics_of_the_last_call():
            flaky()
            assert flaky.statistics['attempt_number'] >= 1

        def test_retry_object_keeps_no_statistics():
            flaky()
            assert flaky.retry.statistics == {}

        def test_call_directly():
            assert Retrying(2)(lambda: 1) == 1

        def test_total():
            assert total([1, 2]) == 3

        def test_mean():
            assert mean([1, 3]) == 2

        def test_mean_one():
            assert mean([4]) == 4
    """,
}


def _scores(root, base):
    return {(loc.path, loc.line): loc.score
            for loc in localize(root, base.results, base.coverage, DEFAULT_PROTECTED)}


def test_a_decorators_line_run_at_import_is_as_suspicious_as_the_wrapper_it_builds(make_repo):
    root = make_repo(RETRYING)
    base = PytestEvaluator(PYTHON).run(root, coverage=True)
    failing = [t for t, r in base.results.items() if not r.ok]
    assert failing == ["tests/test_retrying.py::test_retry_object_keeps_no_statistics"]
    src = (root / "retrying.py").read_text().splitlines()
    line = {text: src.index(text) + 1 for text in (
        "        wrapped_f.retry = wrapped_f", "        return wrapped_f", "            copy = self.copy()",
        "            wrapped_f.statistics = copy.statistics", "class Retrying:", "    return total(xs) / len(xs)")}
    bug = line["        wrapped_f.retry = wrapped_f"]
    assert bug in base.coverage[IMPORT_CONTEXT][str(root / "retrying.py")]  # run at decoration only
    scores = _scores(root, base)
    at = {text: scores.get(("retrying.py", n)) for text, n in line.items()}
    # the builder's lines: run by the tests that call the wrapper (ef = 1, ep = 2), not by
    # every test (ep = 6), like the wrapper's own lines
    assert at["        return wrapped_f"] == at["            copy = self.copy()"] > 0.5
    assert at["        return wrapped_f"] > at["class Retrying:"]
    # a line only passing tests run (no closure near it) stays out of the ranking
    assert at["    return total(xs) / len(xs)"] is None
    # the failing test reads `flaky.retry.statistics`: the lines storing `retry` or
    # `statistics` come first
    assert at["        wrapped_f.retry = wrapped_f"] == pytest.approx(at["            copy = self.copy()"] + STORE_WEIGHT)
    assert at["            wrapped_f.statistics = copy.statistics"] == at["        wrapped_f.retry = wrapped_f"]
    top = sorted(scores, key=lambda k: -scores[k])[:2]
    assert ("retrying.py", bug) in top

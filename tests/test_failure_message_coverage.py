"""Lines run only while pytest explains a failure are not the failing test's coverage
(``harness/evaluators/plugin/loopwright_explain.py``; issue 21, furl 2.1.3 of the release-pair
tune suite: ``Query.__repr__``, run only by pytest's message for the failing assertions, ranked
first by Ochiai and the developer's fix 842nd).

After ``assert a == b`` fails, pytest's assertion rewriting reprs the operands and every
intermediate value, and the report reprs the locals with ``-l``: a ``__repr__`` then runs only
in failing tests. Before, its lines had the highest suspiciousness (1.0) and the offline
repairer mutated them first. The comparison (``__eq__``) runs before the failure: it stays.
"""

from __future__ import annotations

import json

import pytest

from harness.core.config import DEFAULT_PROTECTED
from harness.core.localize import localize
from harness.evaluators.pytest_runner import PytestEvaluator
from tests.conftest import PYTHON, fix_offline, run_dir, write_tree

MONEY = """
    class Money:
        def __init__(self, cents):
            self.cents = cents

        def __eq__(self, other):
            if not isinstance(other, Money):
                return NotImplemented
            return self.cents == other.cents

        def __repr__(self):
            units, cents = divmod(abs(self.cents), 100)
            sign = "-" if self.cents < 0 else ""
            return f"Money({sign}{units}.{cents:02d})"


    def discount(price, percent):
        if percent <= 0:
            return price
        cut = price.cents * percent // 100
        return Money(price.cents + cut)


    def half(price):
        return Money(price.cents // 2)


    class PriceError(ValueError):
        def __init__(self, cents):
            self.cents = cents

        def __str__(self):
            return f"bad price {self.cents}"


    def check(price):
        if price.cents < 0:
            raise PriceError(price.cents)
        return price
"""
EQ = {6, 8}  # __eq__'s body as run: the comparison, evidence
REPR = {11, 12, 13}  # __repr__'s body: only pytest's failure message runs it
BUG = 20  # `return Money(price.cents + cut)`: the fix is `-`
HALF = 24
STR = 32  # PriceError.__str__'s body

TESTS = """
    from pkg.money import Money, discount


    def test_no_discount():
        assert discount(Money(1000), 0) == Money(1000)


    def test_small_discount_rounds_to_nothing():
        assert discount(Money(10), 5) == Money(10)


    def test_ten_percent():
        assert discount(Money(1000), 10) == Money(900)
"""
FAILING = "tests/test_money.py::test_ten_percent"


def _run(root, select=None):
    ev = PytestEvaluator(PYTHON)
    try:
        return ev.run(root, coverage=True, select=select)
    finally:
        ev.close()


@pytest.mark.parametrize("tracer", ["coverage.py", "settrace"])
def test_repr_lines_of_the_failure_message_are_not_the_failing_tests_coverage(make_repo, tmp_path, monkeypatch, tracer):
    # Before: the failing test's lines held 11-13 (`Money.__repr__`, called by pytest's
    # `assert Money(11.00) == Money(9.00)` and its `where` lines); Ochiai put them at 1.0, first,
    # above the bug (0.71).
    if tracer == "settrace":  # the target without coverage.py: the plugin's own tracer
        write_tree(tmp_path / "no-coverage", {"coverage/__init__.py": "raise ImportError('no coverage.py here')\n"})
        monkeypatch.setenv("PYTHONPATH", str(tmp_path / "no-coverage"))
    root = make_repo({"pkg/__init__.py": "", "pkg/money.py": MONEY, "tests/test_money.py": TESTS})
    run = _run(root)
    assert [t for t, r in run.results.items() if not r.ok] == [FAILING]
    assert "Money(11.00) == Money(9.00)" in run.results[FAILING].message  # pytest still explains it
    money = str((root / "pkg" / "money.py").resolve())
    lines = set(run.coverage[FAILING][money])
    assert not lines & REPR
    assert EQ | {BUG} <= lines  # the comparison ran before the failure: it stays
    ranked = [(loc.path, loc.line) for loc in localize(root, run.results, run.coverage, DEFAULT_PROTECTED)]
    assert not {("pkg/money.py", n) for n in REPR} & set(ranked)
    assert ranked.index(("pkg/money.py", BUG)) < 2  # with `cut = ...`, the only lines at 0.71


def test_the_whole_explanation_is_measured_out_and_what_follows_is_not(make_repo):
    # a message expression (`assert x, f"{obj}"`), a boolean operator's explanation, `-l` (the
    # report's reprs of locals) and an exception from the code: each reprs a Money only to
    # explain. A failed assertion that the test catches ends its pause: what the test runs next
    # is measured (half). pytest.raises(match=...) matches str(exception): evidence, it stays.
    tests = """
        import pytest

        from pkg.money import Money, check, discount, half


        def test_message():
            price = discount(Money(1000), 10)
            assert price.cents == 900, f"got {price}"


        def test_boolop():
            price = discount(Money(1000), 10)
            assert price.cents > 0 and price == Money(900)


        def test_report_shows_locals():
            price = Money(-300)
            check(price)


        def test_caught_then_goes_on():
            with pytest.raises(AssertionError):
                assert Money(1) == Money(2)
            assert half(Money(500)) == Money(250)


        def test_match():
            with pytest.raises(ValueError, match="negative"):
                check(Money(-5))
    """
    root = make_repo({"pkg/__init__.py": "", "pkg/money.py": MONEY, "tests/test_money.py": tests,
                      "pytest.ini": "[pytest]\naddopts = -l\n"})
    run = _run(root)
    outcome = {t.split("::")[1]: r.outcome for t, r in run.results.items()}
    assert outcome == {"test_message": "failed", "test_boolop": "failed", "test_report_shows_locals": "failed",
                       "test_caught_then_goes_on": "passed", "test_match": "failed"}
    assert "got Money(11.00)" in run.results["tests/test_money.py::test_message"].message
    money = str((root / "pkg" / "money.py").resolve())
    cov = {t.split("::")[1]: set(files.get(money, ())) for t, files in run.coverage.items() if "::" in t}
    for name in outcome:
        assert not cov[name] & REPR, name
    assert EQ <= cov["test_boolop"] and EQ <= cov["test_caught_then_goes_on"]
    assert HALF in cov["test_caught_then_goes_on"]
    assert STR in cov["test_match"]  # what match= compared
    assert STR not in cov["test_report_shows_locals"]  # the report's str of the exception


def test_unittest_assertion_methods_messages_are_measured_out_too(make_repo):
    # unittest's assertEqual/assertListEqual format their message with safe_repr,
    # _common_shorten_repr and pprint.pformat after the comparison failed: a Money's repr ran
    # only there. A failure the test catches (assertRaises) ends nothing the test runs next.
    tests = """
        import unittest

        from pkg.money import Money, discount, half


        class TestMoney(unittest.TestCase):
            def test_equal(self):
                self.assertEqual(discount(Money(1000), 10), Money(900))

            def test_list(self):
                self.assertListEqual([discount(Money(1000), 10)], [Money(900)])

            def test_caught_then_goes_on(self):
                with self.assertRaises(AssertionError):
                    self.assertEqual(Money(1), Money(2))
                self.assertEqual(half(Money(500)), Money(250))
    """
    root = make_repo({"pkg/__init__.py": "", "pkg/money.py": MONEY, "tests/test_money.py": tests})
    run = _run(root)
    outcome = {t.rsplit("::", 1)[1]: r.outcome for t, r in run.results.items()}
    assert outcome == {"test_equal": "failed", "test_list": "failed", "test_caught_then_goes_on": "passed"}
    assert "Money(11.00) != Money(9.00)" in run.results["tests/test_money.py::TestMoney::test_equal"].message
    money = str((root / "pkg" / "money.py").resolve())
    cov = {t.rsplit("::", 1)[1]: set(files.get(money, ())) for t, files in run.coverage.items() if "::" in t}
    for name in outcome:
        assert not cov[name] & REPR, name
        assert EQ <= cov[name], name
    assert BUG in cov["test_equal"] and HALF in cov["test_caught_then_goes_on"]


def test_a_fix_no_longer_starts_with_the_repr(make_repo):
    # Before: the first batch of candidates mutated `Money.__repr__` (lines 11-13, ranked first);
    # the fix was found after them. Now no candidate touches them.
    out, root, _ = fix_offline(make_repo, {"pkg/__init__.py": "", "pkg/money.py": MONEY,
                                           "tests/test_money.py": TESTS}, max_seconds=120)
    assert out["status"] == "fixed", out.get("error")
    diff = (run_dir(root, out["run_id"]) / "patch.diff").read_text()
    assert "-    return Money(price.cents + cut)" in diff and "+    return Money(price.cents - cut)" in diff
    steps = [json.loads(ln) for ln in (run_dir(root, out["run_id"]) / "trajectory.jsonl").read_text().splitlines()]
    tried = [s["patch"]["meta"].get("line") for s in steps if s.get("action") == "evaluate"]
    assert tried and not REPR & set(tried)

"""A parametrized test whose id changes at each collection (a parameter from the clock) is run
under its new id and is neither broken nor a disagreement of the confirmation run: unit
checks of ``renamed_ids`` and a fix end to end beside such a test."""

from __future__ import annotations

from harness.evaluators.verdict import TestResult, renamed_ids
from tests.conftest import fix_offline, snapshot
from tests.mutant_checks import src


def _ok(tid: str) -> TestResult:
    return TestResult(tid, "passed")


def test_only_as_many_new_passing_ids_of_the_same_function_rename_the_missing_ones():
    results = {"t.py::test_at[20:00:02]": _ok("t.py::test_at[20:00:02]"), "t.py::test_x": _ok("t.py::test_x")}
    known = {"t.py::test_at[20:00:01]", "t.py::test_x"}
    assert renamed_ids(["t.py::test_at[20:00:01]"], results, known) == {"t.py::test_at[20:00:01]"}
    # two ids gone, one new: not a renaming; a failing new id renames nothing either
    assert renamed_ids(["t.py::test_at[a]", "t.py::test_at[b]"], results, known) == set()
    failing = {"t.py::test_at[20:00:02]": TestResult("t.py::test_at[20:00:02]", "failed", "boom")}
    assert renamed_ids(["t.py::test_at[20:00:01]"], failing, known) == set()
    assert renamed_ids(["t.py::test_gone"], results, known) == set()  # not parametrized: not collected


CALC = src('''
    def add(a, b):
        return a - b


    def stamp():
        return "ok"
''')
CALC_TESTS = src('''
    import time

    import pytest

    from calc import add, stamp


    def test_add():
        assert add(2, 3) == 5


    @pytest.mark.parametrize("when", [str(time.time_ns())])
    def test_stamp(when):
        assert stamp() == "ok" and add(1, 0) == 1
''')


def test_loopwright_fix_keeps_a_test_whose_id_comes_from_the_clock(make_repo):
    out, root, before = fix_offline(make_repo, {"calc.py": CALC, "test_calc.py": CALC_TESTS})
    assert out["status"] == "fixed", out
    assert "+    return a + b" in out["patch"]
    assert snapshot(root) == before

"""evals.gold_rank: the developer's fix found among the offline repairer's candidates, on a
real repository with a failing pytest run, without a candidate being evaluated."""

from evals.gold_rank import _changed_lines, gold_rank
from sandbox.patch import unified_diff

BUGGY = '''\
def clamp(x, lo, hi):
    """x limited to [lo, hi]."""
    if x < lo:
        return lo
    if x >= hi:
        return x
    return x
'''
TEST = '''\
from m import clamp


def test_inside():
    assert clamp(5, 0, 10) == 5


def test_above():
    assert clamp(12, 0, 10) == 10
'''


def test_an_operator_edit_is_ranked_and_nothing_is_run(make_repo):
    root = make_repo({"m.py": BUGGY, "tests/test_m.py": TEST})
    gold = unified_diff("m.py", BUGGY, BUGGY.replace("return x\n    return x", "return hi\n    return x"))
    row = gold_rank(root, gold, limit=500)
    assert row["error"] == "" and row["rank"] is not None and 1 <= row["rank"] <= row["enumerated"]
    assert "hi" in row["description"]
    assert row["status"] == "not_fixed"  # the probe proposes nothing: no candidate was run
    assert (root / "m.py").read_text() == BUGGY


def test_an_edit_no_operator_writes_is_not_found(make_repo):
    root = make_repo({"m.py": BUGGY, "tests/test_m.py": TEST})
    odd = BUGGY.replace("    return x\n", "    import sys\n    return min(max(x, lo), hi) if sys else x\n", 1)
    row = gold_rank(root, unified_diff("m.py", BUGGY, odd), limit=500)
    assert row["rank"] is None and row["enumerated"] > 0


def test_a_gold_patch_that_does_not_apply_is_an_error_row(make_repo):
    root = make_repo({"m.py": BUGGY, "tests/test_m.py": TEST})
    row = gold_rank(root, unified_diff("m.py", "x = 1\n", "x = 2\n"), limit=10)
    assert row["rank"] is None and "m.py" in row["error"]


def test_changed_lines():
    assert _changed_lines("a\nb\nc\n", "a\nB\nc\n") == (2, 2)
    assert _changed_lines("a\nc\n", "a\nb\nc\n") == (2, 2)
    assert _changed_lines("a\nb\nc\nd\n", "a\nd\n") == (2, 3)

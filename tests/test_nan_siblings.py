"""Equality that NaN breaks (``harness.generators.nan_ops``) and the same edit at a sibling
statement (``harness.generators.siblings``, Hercules-style systematic edits), end to end."""

from __future__ import annotations

from pathlib import Path

from harness.core.context import Context, SuspiciousLocation
from harness.core.task import Task
from harness.evaluators.verdict import TestResult
from harness.generators.nan_ops import nan_edits
from harness.core.progress import shape
from harness.generators.siblings import edit_of, same_edit, sibling_lines
from tests.conftest import fix_offline

STORE = '''class Box:
    def __init__(self, value):
        self.value = value


def _lookup(table, key):
    return table[key]


def merge(base, head):
    """The values of two tables of boxes, each read back through the lookup."""
    out = {}
    for key, box in base.items():
        got = _lookup(base, key)
        assert got.value == box.value
        out[key] = got.value
    for key, box in head.items():
        got = _lookup(head, key)
        assert got.value == box.value
        out[key] = got.value
    return out
'''
STORE_TESTS = '''from store import Box, merge


def test_merge():
    assert merge({"a": Box(1)}, {"b": Box([2])}) == {"a": 1, "b": [2]}


def test_nan_values_merge():
    nan = float("nan")
    out = merge({"a": Box(nan)}, {"b": Box(nan)})
    assert sorted(out) == ["a", "b"]
'''


def test_shape_blanks_names_and_keeps_operators():
    assert shape("        assert base.val == resolved") == shape("assert head.val == resolved")
    assert shape("assert base.val == resolved") != shape("assert base.val is resolved")
    assert shape("x = 1") == ()  # too short to be a statement worth repeating an edit on
    assert edit_of("line 117: `==` -> `is`") == (117, "`==` -> `is`")
    lead = (117, "`==` -> `is`")
    def head() -> str:
        return "assert head.val == resolved"
    assert same_edit(lead, "assert base.val == resolved", 121, "line 121: `==` -> `is`", head)
    assert not same_edit(lead, "assert base.val == resolved", 121, "line 121: `==` -> `!=`", head)
    assert not same_edit(lead, "assert base.val == resolved", 121, "line 121: `==` -> `is`", lambda: "return a == b")
    # the lead search looks at the statements of the lead line's shape first, nearest first
    assert sibling_lines(STORE.replace("got.value == box.value", "got.value is box.value", 1),
                         "        assert got.value == box.value", 15) == [19]


def _context(root: Path, test: str, lines: list[int]) -> Context:
    failing = {f"test_store.py::{test}": TestResult(f"test_store.py::{test}", "failed", "AssertionError", ())}
    return Context(task=Task(kind="fix", failing=failing), root=str(root),
                   locations=[SuspiciousLocation("store.py", n, 1.0) for n in lines])


def test_nan_edits_need_a_nan_in_the_failing_tests(tmp_path):
    (tmp_path / "store.py").write_text(STORE)
    (tmp_path / "test_store.py").write_text(STORE_TESTS)
    read = lambda rel: (tmp_path / rel).read_text()  # noqa: E731
    lines = [(("store.py", 15), 1.0), (("store.py", 19), 0.5)]
    got = nan_edits(_context(tmp_path, "test_nan_values_merge", [15, 19]), lines, read)
    assert [m.new_source.splitlines()[14].strip() for _, m in got[:2]] == [
        "assert got.value is box.value", "assert (got.value is box.value or got.value == box.value)"]
    assert {m.line for _, m in got} == {15, 19}
    assert nan_edits(_context(tmp_path, "test_merge", [15, 19]), lines, read) == []


def test_loopwright_fix_makes_both_sibling_asserts_identity_checks(make_repo):
    """The NaN fails the first assert; ``is`` there moves the failure to its sibling, whose
    same edit comes next in the lead's search: the fix is the two-site systematic edit."""
    out, _root, _before = fix_offline(make_repo, {"store.py": STORE, "test_store.py": STORE_TESTS})
    assert out["status"] == "fixed", out
    assert out["patch"].count("+        assert got.value is box.value") == 2, out["patch"]

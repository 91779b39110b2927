"""Inert lines (harness/generators/feedback.py): a line whose candidates never change what a
failing test sees is searched later (mutation-based fault localization's negative signal),
read from :func:`harness.core.progress.changed` on real results and, end to end, on a real
pytest run; and marked lines: the punctuation a failing assertion's values differ by puts
the lines splitting on it first."""

from __future__ import annotations

from harness.core.context import Attempt, Context
from harness.core.progress import changed
from harness.core.task import Task
from harness.evaluators.verdict import Frame, TestResult
from harness.core.localize import SuspiciousLocation
from harness.generators.feedback import INERT_AFTER, differing_marks, inert_sites, marked
from harness.generators.templates import TemplateGenerator
from tests.conftest import validate_patches
from tests.test_templates import make_context

TID = "tests/test_a.py::test_one"


def _result(outcome: str, message: str, line: int = 7) -> TestResult:
    return TestResult(TID, outcome, message, (Frame("tests/test_a.py", line, "test_one"), Frame("pkg/m.py", 3, "f")))


def test_a_result_changes_by_outcome_message_or_the_tests_own_line_not_by_addresses():
    before = _result("failed", "AssertionError: assert <Node at 0x7f3a10> == 3")
    assert not changed(before, _result("failed", "AssertionError: assert <Node at 0x55e0ff> == 3"))
    assert changed(before, _result("failed", "AssertionError: assert <Node at 0x7f3a10> == 4"))
    assert changed(before, _result("failed", "AssertionError: assert <Node at 0x7f3a10> == 3", line=9))
    assert changed(before, _result("passed", ""))
    assert changed(before, _result("timeout", "AssertionError: assert <Node at 0x7f3a10> == 3"))
    assert not changed(before, None) and not changed(None, before)


def _attempt(digest: str, moved: bool | None) -> Attempt:
    return Attempt(digest, digest, False, "fixes none", changed=moved)


def test_a_site_is_inert_after_enough_candidates_that_changed_nothing():
    sites = {f"a{i}": ("pkg/m.py", 5) for i in range(5)} | {f"b{i}": ("pkg/m.py", 9) for i in range(5)}
    quiet = [_attempt(f"a{i}", False) for i in range(INERT_AFTER)]
    assert inert_sites(quiet[:-1], sites) == set()
    assert inert_sites(quiet, sites) == {("pkg/m.py", 5)}
    # one candidate that changed the failure clears the line; a candidate that ran no failing
    # test (rejected before the tests: None) says nothing
    assert inert_sites([*quiet, _attempt("a4", True)], sites) == set()
    assert inert_sites([_attempt(f"b{i}", None) for i in range(5)], sites) == set()
    assert inert_sites([_attempt("zz", False)] * 5, sites) == set()  # not a single edit of ours


def test_the_search_moves_an_inert_lines_candidates_behind(tmp_path):
    gen = TemplateGenerator(batch=64)
    ctx = make_context(tmp_path, {5: 1.0, 3: 0.9})
    task = Task("failing_tests", failing={"t.py::test_one": None})
    first = gen.generate(Context(ctx.root, task, ctx.locations, ctx.protected)).candidates
    top = [p for p in first if p.meta["line"] == 5]
    assert len(top) >= INERT_AFTER
    attempts = [Attempt(p.digest, p.description, False, "fixes none", p.diff, changed=False) for p in first]
    attempts = [a for a in attempts if a.digest in {p.digest for p in top}][:INERT_AFTER]
    batch = gen.generate(Context(ctx.root, task, ctx.locations, ctx.protected, attempts=attempts)).candidates
    lines = [p.meta["line"] for p in batch]
    assert lines[0] == 3  # line 5 is more suspicious, but its edits changed nothing
    # the same search told nothing of the failures (changed None) keeps line 5 first
    fresh = TemplateGenerator(batch=64)
    fresh.generate(Context(ctx.root, task, ctx.locations, ctx.protected))
    plain = fresh.generate(Context(ctx.root, task, ctx.locations, ctx.protected,
                                   attempts=[Attempt(a.digest, a.description, False, "fixes none", a.diff)
                                             for a in attempts])).candidates
    assert plain[0].meta["line"] == 5


CALC = '''\
def total(prices, rate):
    """The sum of ``prices`` plus tax at ``rate`` (0.2 = 20 %)."""
    base = sum(prices)
    label = "total"
    return base * rate
'''
CALC_TESTS = '''\
from calc import total


def test_total():
    assert total([10, 20], 0.5) == 45
'''


def test_the_validator_says_which_candidates_changed_the_failure(make_repo):
    """Real pytest runs: an edit of the line the failure flows through changes the assertion's
    message; an edit of a dead assignment changes nothing; a fix is a change too."""
    from sandbox.patch import Patch

    root = make_repo({"calc.py": CALC, "test_calc.py": CALC_TESTS})

    def edit(old: str, new: str) -> Patch:
        return Patch.from_texts({"calc.py": (CALC, CALC.replace(old, new))}, f"{old} -> {new}")

    outs, _ = validate_patches(root, [edit('label = "total"', 'label = "sum"'), edit("base * rate", "base - rate"),
                                      edit("base * rate", "base * (1 + rate)")], ("test_*.py",))
    assert [o.changed for o in outs] == [False, True, True]
    assert outs[2].plausible


QUERY = '''\
def pairs(query):
    """``a=1&b=2`` -> [('a', '1'), ('b', '2')]."""
    if not query:
        return []
    parts = [p for chunk in query.split("&") for p in chunk.split(";")]
    return [tuple(part.split("=", 1)) for part in parts]
'''


def test_the_punctuation_an_assertions_values_differ_by_marks_the_lines_that_split_on_it(tmp_path):
    msg = "AssertionError: assert [('a', '1'), ('b', '2')] == [('a', '1;b=2')]\n  At index 0 diff"
    assert differing_marks({TID: TestResult(TID, "failed", msg)}) == {";", "="}  # one side has them
    msg = "AssertionError: assert [('a', '1'), ('b', '2')] == [('a', '1;b', '2')]\n  At index 0 diff"
    failing = {TID: TestResult(TID, "failed", msg)}
    assert differing_marks(failing) == {";"}  # quotes, brackets, commas and blanks are a repr's syntax
    assert differing_marks({TID: TestResult(TID, "failed", "AssertionError: 'a-b' != 'a_b'")}) == {"-"}
    assert differing_marks({TID: TestResult(TID, "failed", "ValueError: bad ';'")}) == frozenset()
    assert marked('    parts = [p for chunk in query.split("&") for p in chunk.split(";")]', frozenset(";"))
    assert not marked('    return query.split("&")', frozenset(";")) and not marked('x = ";"', frozenset())
    # two lines equally suspicious: the one splitting on `;` is searched first, every operator
    # there (the unwrap that is the fix included) ahead of the same operator elsewhere
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "q.py").write_text(QUERY)
    locs = [SuspiciousLocation("pkg/q.py", line, 0.5) for line in (3, 5, 6)]
    task = Task("failing_tests", failing=failing)
    ranked = TemplateGenerator().candidates(Context(tmp_path, task, locs, ("tests/*",)))
    plain = TemplateGenerator().candidates(Context(tmp_path, Task("failing_tests", failing={
        TID: TestResult(TID, "failed", "AssertionError: assert 1 == 2")}), locs, ("tests/*",)))
    at = [m.line for _, m in ranked]
    assert at[:at.index(6)] and set(at[:at.index(6)]) <= {5}
    unwrap = next(i for i, (_, m) in enumerate(ranked) if m.operator == "unwrap_comprehension" and m.line == 5)
    unwrap_plain = next(i for i, (_, m) in enumerate(plain) if m.operator == "unwrap_comprehension" and m.line == 5)
    assert unwrap < unwrap_plain

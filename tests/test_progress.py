"""Progress leads: a candidate that fixes no failing test and breaks none, but moves a failing
test's failure forward (its own frame at a later line, or a crash in the code under test
turned into the test's own assertion), is verified, never applied, and searched from by the
offline repairer, so a fix that needs two coordinated edits is found with one failing test."""

from __future__ import annotations

import json

from harness.core.config import RunConfig
from harness.core.context import Attempt, Context
from harness.core.outcome import Outcome
from harness.core.progress import TestStatements, advance, bypassed, exception_name, rank, reached, step
from harness.core.task import Task
from harness.evaluators.verdict import Frame, TestResult
from harness.generators.templates import LEAD_WEIGHT, PROGRESS_WEIGHT, TemplateGenerator
from harness.work.fix import fix
from loops.spec import Limits
from sandbox.patch import Patch
from tests.conftest import PYTHON, fix_offline, git, run_dir, validate_patches
from tests.test_templates import make_context

TID = "tests/test_a.py::TestA::test_one[2]"
OWN = "test_one"


def _result(outcome: str, message: str, *frames: tuple[str, int, str]) -> TestResult:
    return TestResult(TID, outcome, message, tuple(Frame(*f) for f in frames))


#: at baseline: the test's line 26 calls the code, which crashes at pkg/after.py:39
CRASH = _result("failed", "TypeError: must be real number, not str",
                ("tests/test_a.py", 26, OWN), ("pkg/after.py", 39, "log_it"))


def test_a_failure_at_a_later_line_of_the_test_is_progress():
    later = _result("failed", "AssertionError: expected call not found.",
                    ("tests/test_a.py", 27, OWN), ("/usr/lib/python3/unittest/mock.py", 939, "assert_called_with"))
    moved = step(CRASH, later)
    assert moved is not None and (moved.kind, moved.before, moved.after) == ("later", 26, 27)
    assert "fails at line 27, was 26" in moved.words()
    # a crash at a later line is progress too: the statements before it ran through
    assert step(CRASH, _result("failed", "KeyError: 'x'", ("tests/test_a.py", 30, OWN), ("pkg/a.py", 3, "f")))


def test_a_crash_turned_into_the_tests_own_assertion_at_the_same_line_is_progress():
    mine = _result("failed", "AssertionError: assert 'a' == 'b'", ("tests/test_a.py", 26, OWN))
    assert step(CRASH, mine).kind == "assertion"
    # an assertion helper outside the repository (unittest's assertEqual) is the test's own
    helper = _result("failed", "AssertionError: 1 != 2", ("tests/test_a.py", 26, OWN),
                     ("/usr/lib/python3/unittest/case.py", 873, "assertEqual"))
    assert step(CRASH, helper).kind == "assertion"


def test_the_same_failure_an_earlier_line_or_another_crash_is_not_progress():
    assert step(CRASH, CRASH) is None
    assert step(CRASH, _result("failed", "TypeError: x", ("tests/test_a.py", 24, OWN), ("pkg/a.py", 3, "f"))) is None
    # a crash inside the code under test at the same line is no closer to a fix
    assert step(CRASH, _result("failed", "ValueError: x", ("tests/test_a.py", 26, OWN), ("pkg/a.py", 3, "f"))) is None
    # an AssertionError raised inside the code under test is not the test's own
    inner = _result("failed", "AssertionError", ("tests/test_a.py", 26, OWN), ("pkg/a.py", 3, "f"))
    assert step(CRASH, inner) is None
    # the test's own assertion at baseline already: an assertion again is not a step
    mine = _result("failed", "AssertionError: assert 1 == 2", ("tests/test_a.py", 26, OWN))
    assert step(mine, _result("failed", "AssertionError: assert 1 == 3", ("tests/test_a.py", 26, OWN))) is None


MULTI = """\
import unittest


class TestA(unittest.TestCase):
    def test_one(self):
        for n in range(
                3):
            self.assertEqual(
                n,
                0,
            )
        x = 1; y = 2
"""


def test_test_statements_span_each_line_of_a_statement_written_over_several(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_a.py").write_text(MULTI)
    (tmp_path / "tests/test_bad.py").write_text("def test(:\n")
    spans = TestStatements(tmp_path)
    assert [spans("tests/test_a.py", n) for n in (8, 9, 11)] == [(8, 11)] * 3
    assert spans("tests/test_a.py", 6) == spans("tests/test_a.py", 7) == (6, 7)  # a `for` header only
    assert spans("tests/test_a.py", 12) == (12, 12) and spans("tests/test_a.py", 99) == (99, 99)
    assert spans("tests/test_bad.py", 1) == (1, 1) and spans("tests/missing.py", 4) == (4, 4)


def test_inside_one_statement_a_crash_in_an_argument_is_not_a_later_line(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_a.py").write_text(MULTI)
    spans = TestStatements(tmp_path)
    asserts = _result("failed", "AssertionError: 1 != 0", ("tests/test_a.py", 8, OWN),
                      ("/usr/lib/python3/unittest/case.py", 873, "assertEqual"))
    crash = _result("failed", "TypeError: x", ("tests/test_a.py", 9, OWN), ("pkg/a.py", 3, "f"))
    # the argument on line 9 is computed before the call on line 8 fails: backward, not forward
    assert step(asserts, crash, spans) is None and step(asserts, crash) is not None
    # and the other way round, the crash became the test's own assertion in the same statement
    assert step(crash, asserts, spans).kind == "assertion" and step(crash, asserts) is None
    later = _result("failed", "AssertionError", ("tests/test_a.py", 12, OWN))
    assert step(asserts, later, spans).kind == "later"


def test_a_test_that_stops_early_is_not_progress():
    frames = (("tests/test_a.py", 40, OWN), ("pkg/a.py", 3, "f"))
    for outcome, message in [("skipped", "Skipped: no"), ("xfailed", "XFailed"), ("timeout", "Timeout"),
                             ("error", "TypeError: setup"), ("failed", "SystemExit: 0"),
                             ("failed", "_pytest.outcomes.Exit: stop"), ("failed", "KeyboardInterrupt")]:
        assert step(CRASH, _result(outcome, message, *frames)) is None, (outcome, message)
    # no frame of the test's own function (a traceback cut short, another test's frame)
    assert step(CRASH, _result("failed", "AssertionError", ("tests/test_a.py", 40, "helper"))) is None
    assert exception_name("pkg.errors.Bad: text") == "Bad" and exception_name("assert x") == ""


def test_rank_counts_tests_first_then_lines_and_advance_reads_only_the_named_tests():
    later = _result("failed", "AssertionError", ("tests/test_a.py", 29, OWN))
    steps = advance({TID: CRASH, "other": CRASH}, {TID: later, "other": later}, [TID])
    assert [s.test for s in steps] == [TID] and rank(steps) == (1, 3) and rank([]) == (0, 0)
    assert (2, 1) > (1, 30)  # more tests moved beats more lines in one


def test_reached_lines_are_the_ones_the_moved_tests_run_only_with_the_candidate():
    now = {TID: {"/s/pkg/a.py": [1, 2, 8, 9], "/elsewhere/lib.py": [5]}}
    before = {TID: {"/m/pkg/a.py": [1, 2]}}
    assert reached(now, before, [TID], "/s", "/m") == (("pkg/a.py", 8), ("pkg/a.py", 9))


def test_a_test_that_got_further_by_skipping_the_code_that_failed_bypassed_it():
    assert not bypassed(CRASH, {"/r/pkg/after.py": [38, 39]}, "/r")  # it ran through line 39
    assert bypassed(CRASH, {"/r/pkg/after.py": [46]}, "/r")
    mine = _result("failed", "AssertionError", ("tests/test_a.py", 26, OWN))
    assert not bypassed(mine, {}, "/r")  # raised by the test itself: nothing to run through


# -- the offline repairer: a progress attempt becomes a lead -----------------------------------

def _next_batch(tmp_path, make_attempt) -> tuple[list[Patch], Patch]:
    gen = TemplateGenerator(batch=64)
    tmp_path.mkdir(exist_ok=True)
    ctx = make_context(tmp_path, {5: 1.0, 3: 0.9})
    task = Task("failing_tests", failing={"t.py::test_one": None})
    first = gen.generate(Context(ctx.root, task, ctx.locations, ctx.protected)).candidates
    lead = first[0]
    attempts = [Attempt(p.digest, p.description, False, "fixes none") for p in first[1:]]
    attempts.append(make_attempt(lead))
    return gen.generate(Context(ctx.root, task, ctx.locations, ctx.protected, attempts=attempts)).candidates, lead


def test_a_progress_attempt_is_searched_from_below_a_partial_fix(tmp_path):
    def moved(p): return Attempt(p.digest, p.description, False, "moves", p.diff, progress=(1, 2))
    def partial(p): return Attempt(p.digest, p.description, False, "partial", p.diff, True, ("t.py::test_one",))
    def neither(p): return Attempt(p.digest, p.description, False, "fixes none", p.diff)

    batch, lead = _next_batch(tmp_path / "a", moved)
    pairs = [p for p in batch if p.meta.get("lead") == lead.digest]
    assert pairs and all(p.meta["sites"] == 2 for p in pairs)
    batch_b, lead_b = _next_batch(tmp_path / "b", partial)
    best_partial = max(p.meta["score"] for p in batch_b if p.meta.get("lead") == lead_b.digest)
    assert max(p.meta["score"] for p in pairs) < best_partial and PROGRESS_WEIGHT < LEAD_WEIGHT
    batch_c, lead_c = _next_batch(tmp_path / "c", neither)  # a rejection that moved nothing: no lead
    assert not [p for p in batch_c if p.meta.get("lead")]


def test_the_two_most_progressed_are_the_leads(tmp_path):
    gen = TemplateGenerator(batch=64)
    ctx = make_context(tmp_path, {5: 1.0, 3: 0.9})
    task = Task("failing_tests", failing={"t.py::test_one": None})
    first = gen.generate(Context(ctx.root, task, ctx.locations, ctx.protected)).candidates
    a, b, c = first[:3]
    attempts = [Attempt(p.digest, p.description, False, "moves", p.diff, progress=(1, 1)) for p in (a, b)]
    gen.generate(Context(ctx.root, task, ctx.locations, ctx.protected, attempts=attempts))
    attempts.append(Attempt(c.digest, c.description, False, "moves further", c.diff, progress=(1, 4)))
    batch = gen.generate(Context(ctx.root, task, ctx.locations, ctx.protected, attempts=attempts)).candidates
    leads = {p.meta.get("lead") for p in batch} - {None}
    assert c.digest in leads and len(leads & {a.digest, b.digest}) == 1


def test_a_progress_leads_newly_reached_lines_are_searched_first(tmp_path):
    def moved(p):  # line 11 (the loop of ``total``) is not among the suspicious lines
        return Attempt(p.digest, p.description, False, "moves", p.diff, progress=(1, 2),
                       reached=(("pkg/m.py", 11), ("tests/test_m.py", 1)))  # a test file: protected

    batch, lead = _next_batch(tmp_path, moved)
    lines = {p.meta["line"] for p in batch if p.meta.get("lead") == lead.digest}
    assert 11 in lines and all(p.meta["line"] != 11 for p in batch if not p.meta.get("lead"))
    assert all("tests/" not in p.meta["path"] for p in batch)


# -- the evaluators: verified, never viable ----------------------------------------------------

CLAMP = '''\
"""Keep values inside a range."""


def clamp(lo, hi, x):
    """``x`` moved into ``[lo, hi]``."""
    if x < lo:
        return hi
    if x > hi:
        return lo
    return x


def width(lo, hi):
    """The length of ``[lo, hi]``."""
    return hi - lo
'''
CLAMP_TESTS = '''\
from rangeutil import clamp, width


def test_clamp():
    assert clamp(2, 10, -5) == 2
    assert clamp(2, 10, 15) == 10
    assert clamp(2, 10, 5) == 5


def test_degenerate():
    assert clamp(3, 3, 1) == 3
    assert clamp(3, 3, 5) == 3


def test_width():
    assert width(2, 10) == 8
'''
#: both returns are swapped: one edit alone gets the failing test one line further
FILES = {"rangeutil/__init__.py": CLAMP, "tests/test_clamp.py": CLAMP_TESTS}
FIRST = CLAMP.replace("    if x < lo:\n        return hi", "    if x < lo:\n        return lo")


def _validate(root, patches: list[Patch]) -> list[Outcome]:
    seen, leads = validate_patches(root, patches, ("tests/*",))
    assert leads == []  # a progress lead is never a partial fix to apply
    return seen


def test_progress_is_verified_against_the_full_suite_and_never_viable(make_repo):
    root = make_repo(FILES)
    breaks = FIRST.replace("return hi - lo", "return lo - hi")  # the same step, and width() broken
    ok, bad = _validate(root, [Patch.from_texts({"rangeutil/__init__.py": (CLAMP, FIRST)}, "first", {}),
                               Patch.from_texts({"rangeutil/__init__.py": (CLAMP, breaks)}, "first + break", {})])
    assert ok.stage == "progress" and not ok.viable and not ok.accepted and ok.fixed == []
    assert "fails at line 6, was 5" in ok.reason and "full" in ok.seconds
    assert ("rangeutil/__init__.py", 9) in ok.reached  # `return lo`, which the test now reaches
    assert bad.stage == "full" and "breaks tests/test_clamp.py::test_width" in bad.reason


LOGGER = '''\
def make_logger(fmt):
    def log_it(name, secs):
        label = fmt % name
        return f"{label} after {secs}"
    return log_it
'''
LOGGER_TESTS = '''\
from logs import make_logger


def test_log():
    log = make_logger("%0.3f")
    out = log("job", 0.5)
    assert out == "job after 0.500"


def test_make():
    assert callable(make_logger("%s"))
'''


def test_a_failure_moved_by_skipping_the_code_that_crashed_is_not_progress(make_repo):
    root = make_repo({"logs.py": LOGGER, "tests/test_logs.py": LOGGER_TESTS})
    through = LOGGER.replace("fmt % name", "fmt % secs")  # runs the line, then a wrong text
    skips = LOGGER.replace("    return log_it\n", "    return lambda *args: None\n")
    ok, bad = _validate(root, [Patch.from_texts({"logs.py": (LOGGER, through)}, "through", {}),
                               Patch.from_texts({"logs.py": (LOGGER, skips)}, "skips", {})])
    assert ok.stage == "progress" and "fails at line 7, was 6" in ok.reason
    assert bad.stage == "screen" and not bad.progress and "progress" in bad.seconds  # re-run, then dropped


SPEC = "def parse(text):\n    return tuple(int(p) for p in text.split('.'))\n"
SPEC_TESTS = """\
import unittest

from spec import parse


class TestParse(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(
            parse("1.2"),
            (1, 3),
        )
"""


def test_a_crash_in_an_argument_of_the_failing_assertion_is_no_lead(make_repo):
    root = make_repo({"spec.py": SPEC, "tests/test_spec.py": SPEC_TESTS})
    crash = SPEC.replace("int(p)", "int(p + 'x')")  # fails on line 10 of the assertion on line 9
    back = _validate(root, [Patch.from_texts({"spec.py": (SPEC, crash)}, "crash", {})])[0]
    assert back.stage == "screen" and not back.progress and "ValueError" in back.reason
    assert "progress" not in back.seconds  # no run spent verifying it


def test_a_progress_lead_alone_is_not_a_result(make_repo):
    root = make_repo(FILES)
    lim = Limits(max_iterations=1, max_wall_seconds=120, no_progress=None)
    s = fix(root, TemplateGenerator(), RunConfig(python=PYTHON, limits=lim)).state
    steps = [json.loads(ln) for ln in (run_dir(root, s.run_id) / "trajectory.jsonl").read_text().splitlines()]
    assert any(st["action"] == "evaluate" and st["verdict"]["stage"] == "progress" for st in steps)
    assert s.status == "not_fixed" and not s.accepted


def test_a_second_run_evaluates_a_progress_lead_again_instead_of_skipping_it(make_repo):
    root = make_repo(FILES)
    lim = Limits(max_iterations=1, max_wall_seconds=120, no_progress=None)
    runs = [fix(root, TemplateGenerator(), RunConfig(python=PYTHON, limits=lim)).state for _ in range(2)]
    leads = []
    for s in runs:
        steps = [json.loads(ln) for ln in (run_dir(root, s.run_id) / "trajectory.jsonl").read_text().splitlines()]
        leads.append({st["patch"]["digest"] for st in steps
                      if st["action"] == "evaluate" and st["verdict"]["stage"] == "progress"})
    assert leads[0] and leads[0] <= leads[1]  # the memory keeps rejections, not leads


def test_a_fix_needing_two_edits_is_found_from_a_progress_lead(make_repo):
    out, root, _ = fix_offline(make_repo, FILES)
    assert out["status"] == "fixed", out["stop_detail"]
    steps = [json.loads(ln) for ln in (run_dir(root, out["run_id"]) / "trajectory.jsonl").read_text().splitlines()]
    moved = [st for st in steps if st["action"] == "evaluate" and st["verdict"]["stage"] == "progress"]
    accepted = next(st for st in steps if st["action"] == "accept")
    chosen = next(st for st in steps if st["action"] == "evaluate" and st["patch"]["digest"] == accepted["digest"])
    assert chosen["patch"]["meta"]["lead"] in {st["patch"]["digest"] for st in moved}
    right = CLAMP.replace("return hi\n    if x > hi:\n        return lo", "return lo\n    if x > hi:\n        return hi")
    assert git(root, "show", f"{out['branch']}:rangeutil/__init__.py") == right


def test_a_failure_moved_to_a_statement_written_alike_is_a_sibling_step(tmp_path):
    """The same exception, the test at the same line, raised in the code under test at another
    statement of the same shape: the edit got through where it was made (a systematic edit's
    first site); any other line, or another shape, is no step."""
    (tmp_path / "m.py").write_text("def f(a, b):\n    assert a.x == b\n    y = 1\n    assert c.x == b\n    return a + b\n")
    lines = TestStatements(tmp_path)

    def failing(line: int, message: str = "AssertionError") -> TestResult:
        return TestResult("t.py::test_f", "failed", message, (Frame("t.py", 5, "test_f"), Frame("m.py", line, "f")))

    got = step(failing(2), failing(4), lines, lines.line)
    assert got is not None and (got.kind, got.before, got.after) == ("sibling", 2, 4)
    assert "fails alike" in got.words()
    assert step(failing(2), failing(5), lines, lines.line) is None  # another shape
    assert step(failing(2), failing(4, "TypeError: x"), lines, lines.line) is None  # another exception
    assert step(failing(2), failing(4), lines) is None  # no code text: no sibling step

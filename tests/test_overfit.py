"""Overfit checks on plausible patches (``harness.core.overfit``, issue 21): a flaky patch is
rejected; a patch that makes code dead, drops a recursion or special-cases the failing test's
literal is suspect, preferred last, and reported as ``fixed (suspect: ...)``."""

from __future__ import annotations

import time

from rich.console import Console

from harness.core.config import RunConfig
from harness.core.dead_code import dead_code, error_path_lines, line_map, new_line, reporting_calls
from harness.core.overfit import _failing_sources, _texts, _validated_source, nudged_unit, static_suspicion
from harness.core.plausible import choose
from harness.evaluators.pytest_runner import PytestEvaluator, TimeoutPolicy
from harness.core.validate import Baseline, Validator
from harness.cli.fix import _summary
from loops.spec import Limits
from harness.generators.registry import make_generator
from harness.work.fix import fix
from evals.model_server import FakeLLMServer
from tests.test_fix_llm import FAST_RETRY
from sandbox.patch import Patch
from sandbox.worktree import Worktree, open_repo
from tests.conftest import PYTHON

FACT = "def fact(n):\n    if n <= 1:\n        return 1\n    return n * fact(n - 1)\n"


def _patch(old: str, new: str, path: str = "m.py") -> Patch:
    return Patch.from_texts({path: (old, new)}, "test patch")


def test_a_removed_recursion_is_suspect():
    new = FACT.replace("n * fact(n - 1)", "n * (n - 1)")
    assert static_suspicion(_patch(FACT, new), {"m.py": new}, "") == "removes the recursive call of `fact`"
    # changing the argument of the recursion keeps it
    kept = FACT.replace("fact(n - 1)", "fact(n - 2)")
    assert static_suspicion(_patch(FACT, kept), {"m.py": kept}, "") == ""


def test_a_literal_of_the_failing_test_special_cased_is_suspect():
    old = "def f(n):\n    return n * 2\n"
    new = "def f(n):\n    if n == 13:\n        return 1\n    return n * 2\n"
    tests = "def test_thirteen():\n    assert f(13) == 1\n"
    assert "special-cases 13" in static_suspicion(_patch(old, new), {"m.py": new}, tests)
    # the same literal, not in the failing test: a constant of the program's own
    assert static_suspicion(_patch(old, new), {"m.py": new}, "def test_x():\n    assert f(2) == 4\n") == ""



def test_error_handling_deleted_is_suspect():
    old = "def parse(text):\n    try:\n        return int(text)\n    except ValueError as exc:\n        raise ParseError(text) from exc\n"
    swallowed = old.replace("raise ParseError(text) from exc", "pass")
    assert "handler that does nothing" in static_suspicion(_patch(old, swallowed), {"m.py": swallowed}, "")
    check = "def check(x):\n    if x < 0:\n        raise ValueError(x)\n    return x\n"
    unchecked = check.replace("raise ValueError(x)", "return None")
    assert "removes a `raise`" in static_suspicion(_patch(check, unchecked), {"m.py": unchecked}, "")
    # another exception raised instead is still error handling
    other = old.replace("raise ParseError(text) from exc", "raise ValueError(text) from exc")
    assert static_suspicion(_patch(old, other), {"m.py": other}, "") == ""
    # a raise only moved (its condition fixed) is not a deletion
    guard = "def f(x):\n    if x < 0:\n        raise ValueError(x)\n    return x\n"
    moved = guard.replace("if x < 0:", "if x <= 0:")
    assert static_suspicion(_patch(guard, moved), {"m.py": moved}, "") == ""
    # the handler's own line deleted (the error kept for a later raise): the handler does nothing now
    kept = ("def parse(text):\n    exc = None\n    try:\n        return int(text)\n    except ValueError as err:\n"
            "        exc = err\n    if exc is not None:\n        raise exc\n")
    emptied = kept.replace("        exc = err\n", "        pass\n")
    assert "does nothing" in static_suspicion(_patch(kept, emptied), {"m.py": emptied}, "")
    # a handler that already did nothing, untouched by the patch, says nothing
    quiet = "def f(x):\n    try:\n        x.close()\n    except OSError:\n        pass\n    return 1\n"
    other = quiet.replace("return 1", "return 2")
    assert static_suspicion(_patch(quiet, other), {"m.py": other}, "") == ""


def test_a_deletion_in_disguise_is_suspect():
    """A block edited down to ``pass`` and ``x = x`` delete what they replace while they read as
    small edits (marko 2.2.1's ``delimiters.remove(d_closer)`` -> ``pass`` and 2.1.4's
    ``end = i`` -> ``end = end`` were plausible and wrong); a block already empty is not the
    patch's doing."""
    loop = "def f(xs, x):\n    if x in xs:\n        xs.remove(x)\n    return xs\n"
    emptied = loop.replace("xs.remove(x)", "pass")
    assert "leaves a `if` block that does nothing" in static_suspicion(_patch(loop, emptied), {"m.py": emptied}, "")
    end = "def g(text, i):\n    end = text.find(')', i)\n    if end < 0:\n        end = i\n    return text[i:end]\n"
    same = end.replace("end = i\n", "end = end\n")
    assert "`end = end`, which does nothing" in static_suspicion(_patch(end, same), {"m.py": same}, "")
    right = end.replace("end = i\n", "end = len(text)\n")
    assert static_suspicion(_patch(end, right), {"m.py": right}, "") == ""
    idle = "def h(x):\n    if x:\n        pass\n    return 1\n"
    other = idle.replace("return 1", "return 2")
    assert static_suspicion(_patch(idle, other), {"m.py": other}, "") == ""


def test_line_numbers_follow_the_diff():
    old = "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\ng = 7\nh = 8\ni = 9\nj = 10\n"
    new = old.replace("b = 2\n", "b = 2\nb2 = 3\nb3 = 4\n").replace("i = 9\n", "")
    mapping = line_map(_patch(old, new))["m.py"]
    assert new_line(mapping, 1) == 1 and new_line(mapping, 3) == 5 and new_line(mapping, 9) is None
    assert new_line(mapping, 10) == 11


def test_lines_the_passing_tests_ran_made_dead_are_suspect(tmp_path):
    old = "def clamp(x):\n    if x > 10:\n        return 10\n    return x\n"
    new = old.replace("x > 10", "x > 100")
    root, slot = str(tmp_path / "base") + "/", str(tmp_path / "slot") + "/"
    base = {root + "m.py": {1: ["<import>"], 2: ["t::a", "t::b"], 3: ["t::a"], 4: ["t::b"]}}
    # after the patch `t::a` no longer runs line 3 (its `return 10`)
    after = {"t::a": {slot + "m.py": [2, 4]}, "t::b": {slot + "m.py": [2, 4]}}
    why = dead_code(base, root, slot, after, ["t::a", "t::b"], {}, [], _patch(old, new), {"m.py": new})
    assert why.startswith("1 line(s) the passing tests ran are no longer run (m.py:3")
    # a line the failing test merely ran too is not exempt: the patch may kill its branch
    base[root + "m.py"][3].append("t::bad")
    assert dead_code(base, root, slot, after, ["t::a", "t::b"], {}, [], _patch(old, new), {"m.py": new}) != ""
    # a line of the failing test's traceback is the bug's path: the fix may leave it
    assert dead_code(base, root, slot, after, ["t::a", "t::b"], {"m.py": {3}}, [], _patch(old, new),
                     {"m.py": new}) == ""
    base[root + "m.py"][3].remove("t::bad")
    after["t::a"][slot + "m.py"].append(3)
    assert dead_code(base, root, slot, after, ["t::a", "t::b"], {}, [], _patch(old, new), {"m.py": new}) == ""
    # a test module's own line that no longer runs (its branch on `sys.modules`, which moves with
    # the order the tests run in) is no code the patch made dead
    base[root + "tests/test_m.py"] = {7: ["t::a"], 8: ["t::a"]}
    after["t::a"][slot + "tests/test_m.py"] = [7]
    assert dead_code(base, root, slot, after, ["t::a", "t::b"], {}, [], _patch(old, new), {"m.py": new}) == ""


def test_a_function_the_failing_test_reached_only_through_the_edit_is_suspect(tmp_path):
    old = "def helper(x):\n    return x + 1\n\ndef f(x):\n    return helper(x)\n"
    new = old.replace("return helper(x)", "return x + 2")
    root, slot = str(tmp_path / "base") + "/", str(tmp_path / "slot") + "/"
    base = {root + "m.py": {1: ["<import>"], 2: ["t::bad"], 4: ["<import>"], 5: ["t::bad"]}}
    after = {"t::bad": {slot + "m.py": [5]}}
    why = dead_code(base, root, slot, after, [], {}, ["t::bad"], _patch(old, new), {"m.py": new})
    assert why.startswith("no test runs `helper` (m.py) any more")
    # a fixed test the re-run did not run says nothing of what it reaches
    assert dead_code(base, root, slot, after, [], {}, [], _patch(old, new), {"m.py": new}) == ""


def test_a_repr_the_failing_assertion_called_is_not_a_lost_function(tmp_path):
    # `assert find(...) is None` failed and showed the Result it got: its __repr__ ran in the
    # failing test only; the fix returns None, and nothing shows a Result any more (parse 1.12)
    old = ("class Result:\n    def __repr__(self):\n        return 'R'\n\n"
           "def find(s):\n    if s[0] == '{':\n        return Result()\n")
    new = old.replace("if s[0] == '{':", "if s[0] == '{' and s[-1] == '}':")
    root, slot = str(tmp_path / "base") + "/", str(tmp_path / "slot") + "/"
    base = {root + "m.py": {1: ["<import>"], 2: ["<import>"], 3: ["t::bad"], 5: ["<import>"], 6: ["t::bad"],
                            7: ["t::bad"]}}
    after = {"t::bad": {slot + "m.py": [6]}}
    assert dead_code(base, root, slot, after, [], {}, ["t::bad"], _patch(old, new), {"m.py": new}) == ""
    # a helper of the test module itself (a callback the test hands the code) is no code path
    helper = "def lookup(name):\n    return False\n"
    base_t = {**base, root + "tests/test_m.py": {1: ["<import>"], 2: ["t::bad"]}}
    assert dead_code(base_t, root, slot, after, [], {}, ["t::bad"], _patch(old, new), {"m.py": new},
                     source=lambda rel: helper) == ""
    # the failing test's own traceback (the error-reporting chain the fix stops reaching) is no loss
    raising = "def parse(s):\n    if s[0] == '{':\n        return error(s)\n\ndef error(s):\n    raise ValueError(s)\n"
    fixed_raising = raising.replace("if s[0] == '{':", "if s[0] == '{' and s[-1] != '}':")
    base_r = {root + "m.py": {1: ["<import>"], 2: ["t::bad"], 3: ["t::bad"], 5: ["<import>"], 6: ["t::bad"]}}
    after_r = {"t::bad": {slot + "m.py": [2]}}
    args = (base_r, root, slot, after_r, [])
    assert "no test runs `error`" in dead_code(*args, {}, ["t::bad"], _patch(raising, fixed_raising), {"m.py": fixed_raising})
    assert dead_code(*args, {"m.py": {3, 6}}, ["t::bad"], _patch(raising, fixed_raising), {"m.py": fixed_raising}) == ""
    named = old.replace("__repr__", "describe")  # any other function is still judged
    assert "no test runs `describe`" in dead_code(base, root, slot, after, [], {}, ["t::bad"], _patch(named, new.replace(
        "__repr__", "describe")), {"m.py": new.replace("__repr__", "describe")})


def test_choose_prefers_a_patch_that_is_not_suspect():
    class Plausible:
        def __init__(self, op, suspect):
            self.patch = Patch.from_texts({"m.py": ("x = 1\n", f"x = {len(op)}\n")}, op, {"operator": op})
            self.suspect, self.unprotected, self.protection = suspect, False, None

    first = Plausible("compare_swap", "removes the recursive call of `f`")
    second = Plausible("delete_statement", "")
    assert choose([first, second]) is second
    assert choose([first]) is first
    # a sign of fooling the tests weighs more than no passing test running the change
    # (an alias line the test imports, added at module level, has no baseline test on it)
    second.unprotected = True
    assert choose([first, second]) is second


def _validator(root):
    repo = open_repo(root)
    wt = Worktree.create(repo, "v", None)
    ev = PytestEvaluator(PYTHON, timeouts=TimeoutPolicy(min_seconds=5.0, default=5.0))
    base = ev.run(wt.path, coverage=True)
    baseline = Baseline(wt.path, base.results, base.collected, base.coverage, base.duration)
    return Validator(ev, [wt], baseline, ("tests/**", "test_*.py"), 40, ev.timeouts), wt


DOUBLE = "def double(x):\n    return x * 3\n"
DOUBLE_TESTS = ("from m import double\n\n\ndef test_zero():\n    assert double(0) == 0\n\n\n"
                "def test_two():\n    assert double(2) == 4\n")
#: right for its first four calls in a worktree, wrong from the fifth: passes the screen, the
#: full run and the coverage run (two tests), fails when the passing test is re-run.
COUNTING = ("import pathlib\n\n\ndef double(x):\n    p = pathlib.Path(__file__).with_name('.calls')\n"
            "    n = int(p.read_text()) if p.exists() else 0\n    p.write_text(str(n + 1))\n"
            "    return x * 2 if n < 4 or n % 2 else -1\n")  # right, then wrong every other call


def test_a_patch_that_makes_a_passing_test_flaky_is_rejected(make_repo):
    root = make_repo({"m.py": DOUBLE, "test_m.py": DOUBLE_TESTS})
    validator, wt = _validator(root)
    seen = []
    flaky = _patch(DOUBLE, COUNTING)
    right = _patch(DOUBLE, DOUBLE.replace("x * 3", "x * 2"))
    try:
        assert validator.first_accepted([flaky], time.monotonic() + 120, seen.append) is None, [(o.stage, o.reason, o.tests_run) for o in seen]
        assert seen[0].stage == "flaky" and "flaky: it passed in the full run and in some re-runs" in seen[0].reason
        got = validator.first_accepted([right], time.monotonic() + 120, seen.append)
        assert got is not None and got.accepted and got.suspect == ""
        # the screen (1 test); the full run (the passing test, and the fixed one again: their
        # coverage is recorded there, no coverage run of its own); 3 re-runs of the passing test
        assert got.tests_run == 1 + 2 + 3
        assert got.seconds["rerun"] > 0 and seen[0].tests_run == 1 + 2 + 2  # flaky: stopped after 2
    finally:
        validator.close()
        wt.remove()


STATEFUL = COUNTING.replace("n < 4 or n % 2", "n < 3")  # right in the screen and the full run, then wrong


def test_a_test_that_fails_in_every_re_run_makes_the_patch_suspect_not_rejected(make_repo):
    """A watching test that passed in the full run and fails in every re-run is the subset's
    order or shared state as often as the patch (a sqlparse test under the correct fix): the
    patch is accepted and reported suspect, not rejected as flaky."""
    root = make_repo({"m.py": DOUBLE, "test_m.py": DOUBLE_TESTS})
    validator, wt = _validator(root)
    try:
        got = validator.first_accepted([_patch(DOUBLE, STATEFUL)], time.monotonic() + 120, lambda o: None)
        assert got is not None and got.accepted, got
        assert "failed in every re-run of the tests watching the patch" in got.suspect
    finally:
        validator.close()
        wt.remove()


SIGN = '''
def sign(x):
    """-1, 0 or 1."""
    if x > 0:
        return 1
    if x < 0:
        return 1
    return 0
'''

SIGN_TESTS = '''
from num import sign


def test_positive_and_zero():
    assert sign(5) == 1
    assert sign(0) == 0


def test_minus_seven():
    assert sign(-7) == -1
'''


def test_the_only_plausible_patch_special_cases_the_test_and_is_reported_suspect(make_repo):
    # a model's patch goes through the same checks: the one it offers hard-codes the failing
    # test's input; the summary, the JSON and the status line say "suspect"
    root = make_repo({"num.py": SIGN, "test_num.py": SIGN_TESTS})
    hack = ("num.py\n<<<<<<< SEARCH\n    if x < 0:\n        return 1\n=======\n    if x == -7:\n"
            "        return -1\n    if x < 0:\n        return 1\n>>>>>>> REPLACE\n")
    with FakeLLMServer([hack]) as srv:
        gen = make_generator("openai:gpt-4.1-mini", base_url=srv.openai_url, retry=FAST_RETRY,
                             env={"OPENAI_API_KEY": "sk-test"})
        res = fix(root, gen, RunConfig(python=PYTHON, limits=Limits(max_iterations=2, max_wall_seconds=240)))
    out = res.to_json()
    assert out["status"] == "fixed" and "special-cases -7" in out["suspect"], out
    assert any(m.startswith("fixed (suspect: special-cases -7") for m in out["messages"])
    console = Console(record=True, width=200)
    _summary(console, res)
    assert "fixed (suspect: special-cases -7, a literal of the failing test)" in console.export_text()


SIZE = "def size(xs):\n    if not xs:\n        return 0\n    return len(xs) + 1\n"
SIZE_TESTS = ("from m import size\n\n\ndef test_empty():\n    assert size([]) == 0\n\n\n"
              "def test_three():\n    assert size([1, 2, 3]) == 3\n")


def test_dead_code_is_read_from_the_full_runs_coverage(make_repo):
    """The watching tests' coverage comes from the candidate's full run (no coverage run of its
    own): a patch that leaves the passing test's `return 0` unrun is suspect; the right one is not."""
    root = make_repo({"m.py": SIZE, "test_m.py": SIZE_TESTS})
    validator, wt = _validator(root)
    dead = _patch(SIZE, SIZE.replace("if not xs:", "if xs is None:").replace("len(xs) + 1", "len(xs)"))
    try:
        got = validator.first_accepted([dead], time.monotonic() + 120, lambda o: None)
        assert got is not None and got.plausible
        assert got.suspect.startswith("1 line(s) the passing tests ran are no longer run (m.py:3"), got.suspect
        assert got.tests_run == 1 + 2 + 3  # screen; full with the fixed test again; 3 re-runs
        right = validator.first_accepted([_patch(SIZE, SIZE.replace("len(xs) + 1", "len(xs)"))],
                                         time.monotonic() + 120, lambda o: None)
        assert right is not None and right.accepted and right.suspect == ""
    finally:
        validator.close()
        wt.remove()


STORE = ("class Store:\n    def __init__(self):\n        self.data, self.order = {}, []\n\n"
         "    def put(self, key, value):\n        if key in self.data:\n            self.order.remove(key)\n"
         "            self.order.append(key)\n        else:\n            self.data[key] = value\n"
         "            self.order.append(key)\n")
STORE_TESTS = ("from m import Store\n\n\ndef test_put_twice_same():\n    s = Store()\n    s.put('a', 1)\n"
               "    s.put('a', 1)\n    assert s.data == {'a': 1}\n\n\n"
               "def test_update():\n    s = Store()\n    s.put('a', 1)\n    s.put('a', 2)\n    assert s.data['a'] == 2\n")


def test_a_branch_the_failing_test_took_made_dead_for_every_test_is_suspect(make_repo):
    """The failing test ran the update branch too (it failed by its own assertion, not in that
    branch): a guard made false for every key sends all tests to the other branch and passes
    the weak tests; the lines it leaves unrun are not the bug's path. The developer's fix is not suspect."""
    root = make_repo({"m.py": STORE, "test_m.py": STORE_TESTS})
    validator, wt = _validator(root)
    kill = _patch(STORE, STORE.replace("if key in self.data:", "if key in self.data and not key:"))
    right = _patch(STORE, STORE.replace("            self.order.remove(key)\n",
                                        "            self.data[key] = value\n            self.order.remove(key)\n"))
    try:
        got = validator.first_accepted([kill], time.monotonic() + 120, lambda o: None)
        assert got is not None and got.plausible
        assert got.suspect.startswith("2 line(s) the passing tests ran are no longer run (m.py:7"), got.suspect
        got = validator.first_accepted([right], time.monotonic() + 120, lambda o: None)
        assert got is not None and got.accepted and got.suspect == "", got.suspect
    finally:
        validator.close()
        wt.remove()


CLI = ("def check(opt):\n    if opt in (True, False):\n        raise ValueError('bad option')\n\n\n"
       "def render(width):\n    if width < 0:\n        raise ValueError('bad width')\n\n\n"
       "def run(opt, width=1):\n    try:\n        check(opt)\n    except ValueError:\n        return 'bad option'\n"
       "    try:\n        render(width)\n    except ValueError:\n        return 'bad width'\n    return 'ok'\n")
CLI_TESTS = ("from m import run\n\n\ndef test_negative_width_is_an_error():\n    assert run(True, -1).startswith('bad')\n\n\n"
             "def test_true_is_ok():\n    assert run(True) == 'ok'\n")


def test_the_error_path_the_failing_tests_ran_may_be_left_by_the_fix(make_repo):
    """The bug raises for a valid option; a passing test expecting an error for another reason
    passed through that raise and its handler. The right fix leaves both unrun by that test:
    the error path the failing tests ran is the bug's path, not dead code."""
    root = make_repo({"m.py": CLI, "test_m.py": CLI_TESTS})
    validator, wt = _validator(root)
    try:
        got = validator.first_accepted([_patch(CLI, CLI.replace("opt in (True", "opt not in (True"))],
                                       time.monotonic() + 120, lambda o: None)
        assert got is not None and got.accepted and got.suspect == "", got.suspect
    finally:
        validator.close()
        wt.remove()


def test_error_path_lines_are_raises_and_handlers():
    assert error_path_lines(CLI) == {3, 8, 14, 15, 18, 19}
    assert error_path_lines("def f(:\n") == set()


ORDER = "STATE = {}\n\n\ndef double(x):\n    return x * 3\n"
ORDER_TESTS = ("from m import STATE, double\n\n\ndef test_a_two():\n    STATE['v'] = 1\n    assert double(2) == 4\n\n\n"
               "def test_b_zero_after_two():\n    assert double(0) == 0 and STATE.get('v') == 1\n")


def test_a_test_failing_in_every_re_run_without_the_patch_too_is_not_held_against_it(make_repo):
    """`test_b...` needs state a failing test leaves (it passes in the full run, where the fixed
    test runs first); run alone it fails with or without the patch: the subset's doing."""
    root = make_repo({"m.py": ORDER, "test_m.py": ORDER_TESTS})
    validator, wt = _validator(root)
    try:
        got = validator.first_accepted([_patch(ORDER, ORDER.replace("x * 3", "x * 2"))],
                                       time.monotonic() + 120, lambda o: None)
        assert got is not None and got.accepted and got.suspect == "", got.suspect
        assert got.tests_run == 1 + 2 + 3 + 1  # screen; full; 3 re-runs; the subset without the patch
    finally:
        validator.close()
        wt.remove()


def test_the_overfit_checks_read_sources_from_git_not_from_the_worktree(make_repo, tmp_path):
    """Once tests ran in the slot its files are untrusted: a source or test file replaced by a
    link to a file outside is not followed; the patched text is made in memory from git's copy."""
    root = make_repo({"m.py": DOUBLE, "test_m.py": DOUBLE_TESTS})
    wt = Worktree.create(open_repo(root), "links", None)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN=hunter2\n")
    try:
        for rel in ("m.py", "test_m.py"):
            (wt.path / rel).unlink()
            (wt.path / rel).symlink_to(secret)
        source = _validated_source(wt)
        assert source("m.py") == DOUBLE and source("gone.py") is None
        texts = _texts(_patch(DOUBLE, DOUBLE.replace("x * 3", "x * 2")), source)
        assert texts == {"m.py": DOUBLE.replace("x * 3", "x * 2")}
        assert "hunter2" not in _failing_sources(source, ["test_m.py::test_two"])
        assert _failing_sources(source, ["test_m.py::test_two"]) == DOUBLE_TESTS
    finally:
        wt.remove()


def test_a_function_the_error_report_called_is_not_a_lost_function(tmp_path):
    # pycparser's p_error reports `self._parse_error(msg, self._coord(column=self.clex.find_tok_column(p)))`:
    # the fix stops the error, and with it the column helper the report called (no other test did)
    old = ("def column(s):\n    return s.index('a')\n\n"
           "def error(msg):\n    raise ValueError(msg)\n\n"
           "def parse(s):\n    if s.startswith('{'):\n        error('before: %s at %d'\n"
           "              % (s, column(s)))\n    return s\n")
    new = old.replace("if s.startswith('{'):", "if s.startswith('{') and not s.endswith('}'):")
    root, slot = str(tmp_path / "base") + "/", str(tmp_path / "slot") + "/"
    base = {root + "m.py": {1: ["<import>"], 2: ["t::bad"], 4: ["<import>"], 5: ["t::bad"], 7: ["<import>"],
                            8: ["t::bad"], 9: ["t::bad"]}}
    after = {"t::bad": {slot + "m.py": [8, 11]}}
    args = (base, root, slot, after, [], {"m.py": {9, 5}}, ["t::bad"], _patch(old, new), {"m.py": new})
    assert "no test runs `column`" in dead_code(*args)
    chains = [[("m.py", 9), ("m.py", 5)]]  # the test's frames, outermost first: it ends in a raise
    reporters = reporting_calls(chains, lambda rel: old)
    assert {"error", "column"} <= reporters and "index" not in reporters
    assert dead_code(*args, reporters=reporters) == ""
    # a failure that is no reported error (a TypeError inside a computation) names nothing
    assert reporting_calls([[("m.py", 9), ("m.py", 2)]], lambda rel: old) == set()


def test_a_unit_moved_by_one_is_suspect():
    # parse 1.21.1: `int(float("." + u) * 1000000)` -> `* 1000001` rounds the failing test's
    # microseconds right and every other conversion wrong; the developer parses the digits
    old = 'def micro(u):\n    return int(float("." + u) * 1000000)\n'
    new = old.replace("1000000)", "1000001)")
    why = static_suspicion(_patch(old, new), {"m.py": new}, "def test_x():\n    assert micro('000001') == 1\n")
    assert why == "moves the unit 1000000 to 1000001: a conversion tuned to the failing test's value"
    assert nudged_unit(["    return secs // 60"], ["    return secs // 59"]) != ""
    # a bound or an index off by one is an ordinary fix, and so is a unit that does not scale
    for before, after in (("    for i in range(100):", "    for i in range(101):"),
                          ("    return xs[1000]", "    return xs[1001]"),
                          ("    return ms // 1000 + 1", "    return ms // 1000 + 2"),
                          ("    return secs // 7", "    return secs // 8")):
        assert nudged_unit([before], [after]) == ""


def test_the_error_report_of_many_failing_tests_parses_each_file_once(monkeypatch):
    # tabulate: 138 failing tests ending in its 105 KB module, parsed once per test: 7 s
    import harness.core.dead_code as dead_code_module
    old = "def error(msg):\n    raise ValueError(msg)\n\ndef parse(s):\n    error('bad %s' % len(s))\n"
    parsed = []
    real = dead_code_module.error_path_lines
    monkeypatch.setattr(dead_code_module, "error_path_lines", lambda text: parsed.append(text) or real(text))
    chains = [[("m.py", 5), ("m.py", 2)] for _ in range(138)]
    assert reporting_calls(chains, lambda rel: old) == {"error", "len", "ValueError"}
    assert len(parsed) == 1


def test_an_exceptions_own_method_the_fix_stops_reaching_is_no_lost_function():
    from harness.core.dead_code import _lost_function
    from tests.mutant_checks import src

    text = src('''
        class ParseError(Exception):
            def __init__(self, part):
                super().__init__(f"bad {part}")


        class BadHost(ParseError):
            def __init__(self, host):
                super().__init__(host)


        def helper(x):
            return x * 2
    ''')
    ran = set(range(1, 13))
    assert _lost_function(text, ran, set()) == "helper"  # a plain function is still noticed
    assert _lost_function(text, ran, {12}) == ""  # BadHost/ParseError.__init__ are the error path


BAG = ("class Bag:\n    def __init__(self, items=()):\n        self.items = dict.fromkeys(items)\n\n"
       "    def remove(self, element):\n        if element in self.items:\n            items = dict(self.items)\n"
       "            del items[element]\n            return Bag(items)\n"
       "        raise KeyError('Element %s not present' % element)\n")
BAG_TESTS = ("import pytest\n\nfrom m import Bag\n\n\ndef test_missing_element_is_the_error_argument():\n"
             "    with pytest.raises(KeyError) as info:\n        Bag().remove(1)\n    assert info.value.args == (1,)\n\n\n"
             "def test_remove():\n    assert Bag([1, 2]).remove(1).items == {2: None}\n\n\n"
             "def test_missing_from_a_full_bag():\n    with pytest.raises(KeyError):\n        Bag([2]).remove(1)\n")


def test_a_guard_that_sends_the_failing_test_to_another_raise_is_suspect(make_repo):
    """The test asks for the missing element as the ``KeyError``'s argument. Letting an empty bag
    into the removal branch makes ``del items[element]`` raise it, so the test passes while the
    ``raise`` it checks is as wrong as before (pyrsistent 0.18's ``PSet.remove`` got this patch,
    plain "fixed"). The developer's fix edits the ``raise`` and is not suspect."""
    root = make_repo({"m.py": BAG, "test_m.py": BAG_TESTS})
    validator, wt = _validator(root)
    around = _patch(BAG, BAG.replace("if element in self.items:", "if not self.items or element in self.items:"))
    right = _patch(BAG, BAG.replace("KeyError('Element %s not present' % element)", "KeyError(element)"))
    try:
        got = validator.first_accepted([around], time.monotonic() + 120, lambda o: None)
        assert got is not None and got.plausible
        assert got.suspect.startswith("the failing tests expect an exception and no longer reach the `raise` "
                                      "at m.py:10 in `remove`"), got.suspect
        got = validator.first_accepted([right], time.monotonic() + 120, lambda o: None)
        assert got is not None and got.accepted and got.suspect == "", got.suspect
    finally:
        validator.close()
        wt.remove()

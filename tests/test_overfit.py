"""Overfit checks on plausible patches run in real repositories (``harness.core.overfit``, issue
21): a flaky patch is rejected; a patch that makes code dead, special-cases the failing test's
literal or routes an expected exception around its ``raise`` is suspect, preferred last, and
reported as ``fixed (suspect: ...)``. The checks read from the diff alone are in
``test_overfit_static.py``, the coverage checks as functions in ``test_dead_code.py``."""

from __future__ import annotations

import time

from rich.console import Console

from harness.core.config import RunConfig
from harness.core.overfit import _failing_sources, _texts, _validated_source
from harness.evaluators.pytest_runner import PytestEvaluator, TimeoutPolicy
from harness.core.validate import Baseline, Validator
from harness.cli.fix import _summary
from loops.spec import Limits
from harness.generators.registry import make_generator
from harness.work.fix import fix
from evals.model_server import FakeLLMServer
from tests.test_fix_llm import FAST_RETRY
from sandbox.worktree import Worktree, open_repo
from tests.conftest import PYTHON, text_patch as _patch


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

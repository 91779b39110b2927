"""One slow test must not erase fault localization (issue 20, item 3).

``test_stuck`` stands for more-itertools' tests that timed out at 60 s under coverage: it
ignores its timeout alarm while coverage traces it (its process is ended by the plugin after
the grace period), and returns at once without coverage. Before, the dead process took every
test's coverage with it, the tests after it were never run, and the run generated no
candidate. Now it loses only its own spectrum: the failing tests' spectra are kept (taken
again first, in their own process) and the bug is fixed. Real repositories, real pytest.
"""

from __future__ import annotations

from harness.core.config import RunConfig
from harness.core.session import RunSession
from loops.spec import Limits
from harness.evaluators.pytest_runner import TimeoutPolicy
from harness.generators.templates import TemplateGenerator
from harness.work.fix import fix
from tests.conftest import PYTHON, snapshot
from tests.test_fix import CLAMP

STUCK = """
import sys
import time


def test_stuck():
    if sys.gettrace() is None:  # not traced: quick
        return
    end = time.monotonic() + 30
    while time.monotonic() < end:  # traced: swallows its timeout alarm, as a hung C call would
        try:
            time.sleep(0.2)
        except BaseException:
            pass
"""
#: the stuck test runs between the clamp tests (test_a... before it, test_z... after it)
FILES = {"mathx/__init__.py": CLAMP["mathx/__init__.py"],
         "tests/test_a_clamp.py": "from mathx import clamp\n\n\ndef test_above():\n    assert clamp(9, 0, 5) == 5\n",
         "tests/test_m_stuck.py": STUCK,
         "tests/test_z_clamp.py": "from mathx import clamp\n\n\ndef test_inside():\n    assert clamp(2, 0, 5) == 2\n\n\n"
                                  "def test_below():\n    assert clamp(-3, 0, 5) == 0\n\n\n"
                                  "def test_above_too():\n    assert clamp(7, 0, 5) == 5\n"}
STUCK_ID = "tests/test_m_stuck.py::test_stuck"
FAILING = ["tests/test_a_clamp.py::test_above", "tests/test_z_clamp.py::test_above_too"]
TIMEOUTS = TimeoutPolicy(min_seconds=1.0, default=2.0, baseline=1.0)


def test_a_test_that_dies_under_coverage_loses_only_its_own_spectrum(make_repo):
    root = make_repo(FILES)
    with RunSession.start(root, RunConfig(python=PYTHON, timeouts=TIMEOUTS), generator_name="templates") as run:
        run.start_worktree()
        baseline = run.test_baseline(coverage=True)
    assert sorted(baseline.results) == sorted([*FAILING, STUCK_ID, "tests/test_z_clamp.py::test_inside",
                                               "tests/test_z_clamp.py::test_below"])  # every test ran
    assert baseline.failing == FAILING
    assert all(baseline.coverage.get(t) for t in FAILING)  # before and after the stuck test
    assert baseline.coverage.get("tests/test_z_clamp.py::test_inside")
    # the stuck test passes without coverage: kept passing, without a spectrum
    assert baseline.results[STUCK_ID].ok and STUCK_ID not in baseline.coverage
    assert any(m.startswith(f"{STUCK_ID} timed out under coverage") for m in run.messages), run.messages


def test_the_bug_is_still_fixed(make_repo):
    root = make_repo(FILES)
    before = snapshot(root)
    res = fix(root, TemplateGenerator(), RunConfig(python=PYTHON, timeouts=TIMEOUTS,
                                                   limits=Limits(max_iterations=5, max_wall_seconds=300)))
    assert res.exit_code == 0 and res.state.status == "fixed", (res.state.stop_detail, res.messages)
    assert sorted(res.state.fixed_tests) == FAILING
    assert snapshot(root) == before


def test_a_run_without_candidates_says_why(make_repo):
    # the failing test itself is stuck under coverage and times out without it too: no spectrum
    # for the only failing test, nothing for fault localization to rank
    stuck_failing = (STUCK.replace("    if sys.gettrace() is None:  # not traced: quick\n        return\n",
                                   "    from mathx import clamp\n\n    clamp(9, 0, 5)\n")
                     + "    assert clamp(9, 0, 5) == 5\n")
    root = make_repo({"mathx/__init__.py": CLAMP["mathx/__init__.py"], "tests/test_m_stuck.py": stuck_failing})
    res = fix(root, TemplateGenerator(), RunConfig(python=PYTHON, timeouts=TIMEOUTS,
                                                   limits=Limits(max_iterations=3, max_wall_seconds=120)))
    assert res.exit_code == 1 and res.state.candidates_tried == 0, (res.state.stop_detail, res.messages)
    why = [m for m in res.messages if m.startswith("no candidate was generated: ")]
    assert why == [f"no candidate was generated: 1 of the 1 failing test(s) have no coverage spectrum, so fault "
                   f"localization had none of their lines to rank ({STUCK_ID}); test(s) that timed out at "
                   f"baseline: {STUCK_ID}"], res.messages

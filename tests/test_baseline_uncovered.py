"""A test that times out in the coverage baseline only because coverage traces it is run
again without coverage and kept as passing (:mod:`harness.core.baseline`).

Real repository, real pytest runs. ``test_traced_slow`` stands for a test whose hot
Python loop is cheap uncovered but slow under coverage's tracer (furl's
``TestQuery::test_add``: 15 s plain, 69 s traced): it sleeps whenever a trace function
is set, which coverage.py's tracer (and the plugin's ``sys.settrace`` fallback) does,
so the covered run hits a 1 s baseline limit on any machine and the plain run does not.
"""

from __future__ import annotations

from pathlib import Path

from harness.core.config import RunConfig
from harness.core.evidence import CoverageIndex, protection
from harness.core.session import RunSession
from harness.evaluators.pytest_runner import TimeoutPolicy
from tests.conftest import PYTHON

FILES = {
    "spin.py": ("def spin(n):\n"
                "    total = 0\n"
                "    for i in range(n):\n"
                "        total += i\n"
                "    return total\n"
                "\n\n"
                "def is_adult(age):\n"
                "    return age > 18\n"),
    "tests/test_spin.py": ("import sys\nimport time\n\nfrom spin import is_adult, spin\n\n\n"
                           "def test_traced_slow():\n"
                           "    if sys.gettrace() is not None:  # coverage's tracer is on\n"
                           "        time.sleep(4)\n"
                           "    assert spin(1000) == 499500\n\n\n"
                           "def test_always_slow():\n"
                           "    time.sleep(4)\n\n\n"
                           "def test_eighteen():\n"
                           "    assert is_adult(18)\n"),
}
TRACED = "tests/test_spin.py::test_traced_slow"
ALWAYS = "tests/test_spin.py::test_always_slow"
FAILING = "tests/test_spin.py::test_eighteen"


def _baseline(root: Path):
    config = RunConfig(python=PYTHON, timeouts=TimeoutPolicy(baseline=1.0))
    said: list[str] = []
    run = RunSession.start(root, config, said.append, generator_name="templates")
    with run:
        run.start_worktree()
        baseline = run.test_baseline(coverage=True)
        steps = run.files.steps()
        again = run.files.load_baseline(run.worktree.path)  # what a resumed run reads back
        index = CoverageIndex(baseline.coverage, baseline.root)
        prot = protection(index, set(baseline.passing), {"spin.py": {2, 3, 4, 5}})
        return baseline, run.messages, steps, again, prot


def test_timed_out_only_under_coverage_is_kept_passing_without_coverage(make_repo):
    baseline, messages, steps, again, prot = _baseline(make_repo(FILES))
    # the traced-slow test passes (uncovered result and duration); the others stay failing
    assert baseline.results[TRACED].outcome == "passed"
    assert baseline.results[TRACED].duration < 1.0
    assert TRACED in baseline.passing
    assert baseline.failing == [ALWAYS, FAILING]
    assert baseline.results[ALWAYS].outcome == "timeout"
    assert baseline.results[FAILING].outcome == "failed"
    # no coverage spectrum: it protects no line it ran, even though it ran spin()
    assert TRACED not in baseline.coverage and FAILING in baseline.coverage
    assert TRACED not in prot.tests and prot.unprotected
    # said once, in the messages and in the baseline step
    said = [m for m in messages if "timed out under coverage" in m]
    assert said == [f"{TRACED} timed out under coverage (1 s) and passed without it in "
                    f"{baseline.results[TRACED].duration:.1f} s: kept as passing, without coverage"]
    step = next(s for s in steps if s["action"] == "baseline")
    assert step["uncovered"] == [TRACED] and step["failing"] == [ALWAYS, FAILING]
    # a resumed run reads the same baseline back
    assert again.results[TRACED].outcome == "passed" and TRACED not in again.coverage
    assert again.failing == baseline.failing


TRACE_FILES = {
    "calc.py": "def double(x):\n    return x * 2\n\n\ndef half(x):\n    return x // 3\n",
    "tests/test_calc.py": ("import sys\n\nfrom calc import double, half\n\n\n"
                           "def test_not_traced():\n"
                           "    # stands for a test that measures time, or asks whether a debugger runs\n"
                           "    assert sys.gettrace() is None\n    assert double(2) == 4\n\n\n"
                           "def test_half():\n"
                           "    assert half(4) == 2\n"),
}


def test_failing_only_under_coverage_is_no_test_to_fix(make_repo):
    # screened without coverage, it would pass with any candidate: a random patch "fixed"
    baseline, messages, steps, _again, _prot = _baseline(make_repo(TRACE_FILES))
    assert baseline.failing == ["tests/test_calc.py::test_half"]
    assert "tests/test_calc.py::test_not_traced" in baseline.passing
    said = [m for m in messages if "under coverage" in m]
    assert len(said) == 1 and said[0].startswith("tests/test_calc.py::test_not_traced failed under coverage and "
                                                  "passed without it in ")
    step = next(s for s in steps if s["action"] == "baseline")
    assert step["uncovered"] == ["tests/test_calc.py::test_not_traced"]


def _second_time_files(clock: str) -> dict[str, str]:
    """A test that fails the first time it runs and passes after (a marker file it leaves):
    what a re-run without coverage would find, were the test re-run."""
    return {
        "calc.py": "def half(x):\n    return x // 3\n",
        "tests/test_calc.py": ("import time\nfrom pathlib import Path\n\nfrom calc import half\n\n\n"
                               "def test_second_time():\n"
                               f"    {clock}\n"
                               "    marker = Path(__file__).with_name('ran-before')\n"
                               "    first = not marker.exists()\n"
                               "    marker.write_text('x')\n"
                               "    assert not first\n\n\n"
                               "def test_half():\n"
                               "    assert half(4) == 2\n"),
    }


def test_a_failing_test_blind_to_the_tracer_is_not_run_again(make_repo):
    # no tracer read, no clock read: it fails the same way without coverage, so no second
    # process is started for it (it would pass there only because it left a file behind)
    baseline, messages, steps, _again, _prot = _baseline(make_repo(_second_time_files("pass")))
    assert baseline.failing == ["tests/test_calc.py::test_second_time", "tests/test_calc.py::test_half"]
    assert not [m for m in messages if "under coverage" in m]
    step = next(s for s in steps if s["action"] == "baseline")
    assert not step.get("uncovered")


def test_a_failing_test_that_reads_a_clock_is_run_again_without_coverage(make_repo):
    baseline, messages, _steps, _again, _prot = _baseline(
        make_repo(_second_time_files("start = time.perf_counter()")))
    assert baseline.failing == ["tests/test_calc.py::test_half"]
    assert [m for m in messages if "under coverage" in m][0].startswith(
        "tests/test_calc.py::test_second_time failed under coverage and passed without it")

"""The baseline keeps a share of the run's budget for the search (:mod:`harness.core.baseline_budget`).

chardet 7.4.2 and 7.4.3 (release-pair tune tasks): nine slow timing tests at the head of the suite
took 104 s of a 150 s budget under coverage; the baseline ended at the budget with the failing
tests unreached, 1513 tests counted failing, and no candidate tried. Here the slow tests sleep
(any per-test limit cuts them, whatever the machine's load); what is asserted is which tests the
baseline ran and kept, and that the bug after them is fixed, not how long anything took.
"""

from __future__ import annotations

import json

from harness.core.baseline_budget import BASELINE_SHARE, TEST_FLOOR, baseline_deadline, covered_test_limit
from harness.core.baseline_cache import CACHE
from harness.core.config import RunConfig
from harness.core.session import RunSession
from harness.core.state import state_dir
from harness.evaluators.pytest_runner import TimeoutPolicy
from loops.spec import Limits
from tests.conftest import PYTHON, fix_offline

SLOW = "import time\n\n\ndef test_slow_one():\n    time.sleep(100)\n\n\ndef test_slow_two():\n    time.sleep(100)\n"
FILES = {
    "m.py": "def double(x):\n    return x * 3\n",
    # first in run order, each slower than the whole budget
    "tests/test_a_slow.py": SLOW,
    "tests/test_b.py": "from m import double\n\n\ndef test_double():\n    assert double(2) == 4\n",
    "tests/test_c.py": "from m import double\n\n\ndef test_zero():\n    assert double(0) == 0\n",
}
BUG = "tests/test_b.py::test_double"


def test_the_shares_of_a_budget():
    assert baseline_deadline(None, 150) is None
    assert baseline_deadline(1000.0, 150) == 1000.0 - (1 - BASELINE_SHARE) * 150  # 60 s kept for the search
    assert covered_test_limit(60.0, None) == 60.0  # no budget: the configured per-test limit
    assert covered_test_limit(60.0, 150) == 3.0
    assert covered_test_limit(60.0, 10) == TEST_FLOOR
    assert covered_test_limit(1.0, 150) == 1.0  # never above the configured limit


def test_slow_tests_first_leave_time_for_the_failing_test_and_are_left_out(make_repo):
    root = make_repo(FILES)
    config = RunConfig(python=PYTHON, timeouts=TimeoutPolicy(baseline=300.0), limits=Limits(max_wall_seconds=20))
    with RunSession.start(root, config, lambda _msg: None, generator_name="templates") as run:
        run.start_worktree()
        baseline = run.test_baseline(coverage=True)
        steps = [json.loads(line) for line in run.files.trajectory.read_text().splitlines()]
    # the slow tests were cut, the tests after them ran: the bug is the one failing test, with
    # its spectrum for fault localization
    assert baseline.failing == [BUG]
    assert baseline.results["tests/test_c.py::test_zero"].outcome == "passed"
    assert baseline.coverage[BUG]
    # the slow ones ran to their end neither with coverage nor without: no evidence, left out
    assert not any(t.startswith("tests/test_a_slow.py") for t in [*baseline.collected, *baseline.results])
    assert [s.get("unrun") for s in steps if s["action"] == "baseline"] == [2]
    # nor are they kept for the next run's baseline to reuse (harness.core.baseline_cache)
    stored = json.loads((state_dir(root) / CACHE).read_text())
    assert BUG in stored["tests"] and not any(t.startswith("tests/test_a_slow.py") for t in stored["tests"])


def test_fix_with_slow_tests_ahead_of_the_bug(make_repo):
    summary, _root, _ = fix_offline(make_repo, FILES, max_seconds=40)
    assert summary["status"] == "fixed", summary
    assert "x * 2" in summary["patch"]


def test_a_baseline_without_a_failing_test_at_its_share_goes_on(make_repo):
    # twelve tests just under the per-test cut outlast the baseline's share (18 s of 30 s) before
    # the failing test is reached: with no task found yet, the baseline takes the rest of the budget
    slow = "".join(f"\n\ndef test_slow_{i}():\n    time.sleep(1.7)\n" for i in range(12))
    root = make_repo({**FILES, "tests/test_a_slow.py": "import time" + slow})
    config = RunConfig(python=PYTHON, timeouts=TimeoutPolicy(baseline=300.0), limits=Limits(max_wall_seconds=30))
    with RunSession.start(root, config, lambda _msg: None, generator_name="templates") as run:
        run.start_worktree()
        baseline = run.test_baseline(coverage=True)
    assert baseline.failing == [BUG]
    assert baseline.results["tests/test_c.py::test_zero"].outcome == "passed"
    assert baseline.coverage[BUG]

"""The coverage baseline stays within the run's wall-clock budget (:func:`harness.core.baseline.run_baseline`).

chardet 7.4.2's suite takes 113 s under coverage at load 3: against a 150 s budget at a higher
load its baseline process was killed at the budget, the tests after the one running were started
again in a new process, and the coverage the killed process took with it was recovered by running
the whole suite once more: 312 s, twice the budget, before the first candidate. Real repository,
real pytest runs; what is asserted is which tests ran, not how long they took.
"""

from __future__ import annotations

from harness.core.config import RunConfig
from harness.core.session import RunSession
from harness.evaluators.pytest_runner import TimeoutPolicy
from loops.spec import Limits
from tests.conftest import PYTHON

FILES = {
    "m.py": "def double(x):\n    return x * 2\n",
    "tests/test_a.py": "from m import double\n\n\ndef test_first():\n    assert double(2) == 4\n",
    # outlives the run's budget (the per-test limit is longer, and the test blocks the alarm that
    # cuts a slow test's coverage run short: harness.core.baseline_budget): the budget kills its process
    "tests/test_b.py": "import signal\nimport time\n\n\ndef test_outlives_the_budget():\n"
                       "    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\n    time.sleep(120)\n",
    "tests/test_c.py": "from m import double\n\n\ndef test_last():\n    assert double(3) == 6\n",
}


def test_a_baseline_killed_at_the_runs_budget_is_not_run_again(make_repo):
    root = make_repo(FILES)
    # one process (jobs=1): split by file (harness.evaluators.shards), test_first's process would not be killed
    config = RunConfig(python=PYTHON, timeouts=TimeoutPolicy(baseline=300.0), limits=Limits(max_wall_seconds=12),
                       jobs=1)
    with RunSession.start(root, config, lambda _msg: None, generator_name="templates") as run:
        run.start_worktree()
        baseline = run.test_baseline(coverage=True)
    results = baseline.results
    assert results["tests/test_a.py::test_first"].outcome == "passed"
    assert results["tests/test_b.py::test_outlives_the_budget"].outcome == "timeout"
    assert results["tests/test_b.py::test_outlives_the_budget"].message.startswith("process killed")
    # the first test's coverage, lost with the killed process, is not recovered by running it
    # again; the test after it was killed at the baseline's share of the budget and, no test that
    # ran failing, runs in the rest of it (harness.core.baseline_budget.to_go_on), once
    assert results["tests/test_c.py::test_last"].outcome == "passed"
    assert "tests/test_a.py::test_first" not in baseline.coverage

"""The fork server rewrites a test module's asserts once per content, not once per candidate
(``harness/evaluators/plugin/loopwright_rewrite.py``).

furl 2.1.3 (release-pair tune task): rewriting its 2394-line test module took about 1.5 s of each
candidate's 1.6 s screen, for two tests that run in 0.01 s. What is asserted here is who rewrote
the module (a conftest records each rewrite pytest does in the test process) and that the verdicts
are the same, not how long anything took.
"""

from __future__ import annotations

from harness.evaluators.pytest_runner import PytestEvaluator
from tests.conftest import PYTHON

# records every assertion rewrite done in the test process (the fork server's own are not seen:
# the conftest is not loaded there)
CONFTEST = """\
import pathlib
from _pytest.assertion import rewrite

_real = rewrite.rewrite_asserts


def _recorded(mod, source, module_path=None, config=None):
    with open(pathlib.Path(__file__).parent.parent / "rewrites.log", "a") as log:
        log.write(f"{pathlib.Path(module_path).name}\\n")
    return _real(mod, source, module_path, config)


rewrite.rewrite_asserts = _recorded
"""
FILES = {
    "m.py": "def double(x):\n    return x * 3\n",
    "tests/conftest.py": CONFTEST,
    "tests/test_m.py": "from m import double\n\n\ndef test_double():\n    assert double(2) == 4\n\n\n"
                       "def test_zero():\n    assert double(0) == 0\n",
}
IDS = ["tests/test_m.py::test_double", "tests/test_m.py::test_zero"]


def _rewrites(root) -> list[str]:
    log = root / "rewrites.log"
    return [line for line in log.read_text().splitlines() if line == "test_m.py"] if log.exists() else []


def test_a_test_module_is_rewritten_once_for_many_runs(make_repo):
    root = make_repo(FILES)
    evaluator = PytestEvaluator(PYTHON)
    try:
        runs = [evaluator.run(root, select=IDS, paths=["tests/test_m.py"]) for _ in range(3)]
    finally:
        evaluator.close()
    for run in runs:  # the rewritten asserts still explain the failure
        assert run.results[IDS[0]].outcome == "failed"
        assert "assert 6 == 4" in run.results[IDS[0]].message
        assert run.results[IDS[1]].outcome == "passed"
    assert _rewrites(root) == []  # the server's rewrite served every run


def test_a_module_changed_after_the_servers_rewrite_is_rewritten_again(make_repo):
    # the conftest edits the test module in the test process, after the server read it: the
    # server's code is for other bytes and must not run
    files = {**FILES, "tests/conftest.py": CONFTEST + (
        "\ntest = pathlib.Path(__file__).parent / 'test_m.py'\n"
        "test.write_text(test.read_text().replace('== 4', '== 5'))\n")}
    root = make_repo(files)
    evaluator = PytestEvaluator(PYTHON)
    try:
        run = evaluator.run(root, select=IDS, paths=["tests/test_m.py"])
    finally:
        evaluator.close()
    assert "assert 6 == 5" in run.results[IDS[0]].message
    assert _rewrites(root) == ["test_m.py"]

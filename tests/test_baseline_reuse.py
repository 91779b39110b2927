"""Baseline reuse (harness.core.baseline_cache) on real repositories and real pytest runs:
a one-file commit re-runs only the tests that executed that file; a changed conftest or a
changed dependency set re-runs everything."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from harness.core.config import RunConfig
from harness.core.baseline_cache import BaselineCache, _freeze_here
from harness.core.config import DEFAULT_POLICY
from loops.spec import Limits
from harness.evaluators.pytest_runner import PytestEvaluator
from harness.generators.templates import TemplateGenerator
from harness.work.fix import fix
from tests.conftest import PYTHON, git, run_dir, write_tree

FILES = {
    "calc/__init__.py": "from calc.add import add  # noqa: F401\nfrom calc.mul import mul  # noqa: F401\n",
    "calc/add.py": """
        def add(a, b):
            return a + b
    """,
    "calc/mul.py": """
        def mul(a, b):
            return a * b
    """,
    "tests/test_add.py": """
        from calc.add import add

        def test_add_small():
            assert add(1, 2) == 3

        def test_add_zero():
            assert add(0, 5) == 5

        def test_add_neg():
            assert add(-1, 1) == 0
    """,
    "tests/test_mul.py": """
        from calc.mul import mul

        def test_mul_small():
            assert mul(2, 3) == 6

        def test_mul_zero():
            assert mul(0, 5) == 0
    """,
}
ALL = 5


@pytest.fixture
def evaluator(tmp_path):
    ev = PytestEvaluator(PYTHON, DEFAULT_POLICY, scratch=tmp_path / "scratch")
    yield ev
    ev.close()


def baseline(root: Path, ev: PytestEvaluator, python: str = PYTHON):
    """One baseline through the cache, stored for the next; returns (run, cache)."""
    cache = BaselineCache(root, python, DEFAULT_POLICY, "limits")
    run = cache.run(ev, root, coverage=True, default_timeout=60, process_timeout=120)
    cache.save(run)
    return run, cache


def test_a_one_file_commit_reruns_only_the_tests_that_executed_it(make_repo, evaluator):
    root = make_repo(FILES)
    first, cache = baseline(root, evaluator)
    assert len(first.results) == ALL and cache.reused == 0
    write_tree(root, {"calc/mul.py": "def mul(a, b):\n    return a * b + 1\n"})  # breaks both mul tests
    git(root, "commit", "-qam", "touch mul")
    second, cache = baseline(root, evaluator)
    assert cache.reused == 3  # the add tests: they never executed calc/mul.py
    assert {t for t, r in second.results.items() if not r.ok} == {
        "tests/test_mul.py::test_mul_small", "tests/test_mul.py::test_mul_zero"}
    assert "reused 3 of 5" in cache.summary and "calc/mul.py" in cache.summary
    assert sorted(second.collected) == sorted(first.collected)
    assert any(p.endswith("calc/add.py") for p in second.coverage["tests/test_add.py::test_add_small"])
    third, cache = baseline(root, evaluator)  # nothing changed since: nothing runs
    assert cache.reused == ALL and third.duration == 0


def test_a_new_test_file_runs_and_the_rest_is_reused(make_repo, evaluator):
    root = make_repo(FILES)
    baseline(root, evaluator)
    write_tree(root, {"tests/test_more.py": "from calc.add import add\n\ndef test_more():\n    assert add(2, 2) == 4\n"})
    run, cache = baseline(root, evaluator)
    assert cache.reused == ALL and "tests/test_more.py::test_more" in run.results


def test_a_changed_conftest_reruns_everything(make_repo, evaluator):
    root = make_repo(FILES)
    baseline(root, evaluator)
    write_tree(root, {"tests/conftest.py": "import pytest\n"})
    git(root, "add", "-A")
    git(root, "commit", "-qm", "conftest")
    run, cache = baseline(root, evaluator)
    assert cache.reused == 0 and len(run.results) == ALL
    assert "test configuration changed (tests/conftest.py)" in cache.summary


def test_a_dependency_change_reruns_everything(make_repo, evaluator, tmp_path):
    # a real interpreter of our own: a venv that sees this one's packages through a .pth file
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "ours.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    root = make_repo(FILES)
    ev = PytestEvaluator(python, DEFAULT_POLICY, scratch=tmp_path / "scratch2")
    try:
        baseline(root, ev, python)
        _, cache = baseline(root, ev, python)
        assert cache.reused == ALL
        dist = site / "newdep-1.0.dist-info"  # a distribution installed since the last run
        dist.mkdir()
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: newdep\nVersion: 1.0\n")
        run, cache = baseline(root, ev, python)
        assert cache.reused == 0 and len(run.results) == ALL
        assert "installed packages" in cache.summary
    finally:
        ev.close()


def test_fresh_takes_the_whole_baseline(make_repo, evaluator):
    root = make_repo(FILES)
    baseline(root, evaluator)
    cache = BaselineCache(root, PYTHON, DEFAULT_POLICY, "limits", use=False)
    run = cache.run(evaluator, root, coverage=True, default_timeout=60, process_timeout=120)
    assert cache.reused == 0 and len(run.results) == ALL and "--fresh" in cache.summary


def test_a_second_fix_run_reuses_the_baseline_and_says_so(make_repo):
    files = {**FILES, "calc/mul.py": "def mul(a, b):\n    return a + b\n"}
    root = make_repo(files)
    opts = RunConfig(python=PYTHON, limits=Limits(max_iterations=1, max_wall_seconds=240))
    first = fix(root, TemplateGenerator(), opts)
    assert first.baseline_reused == 0
    second = fix(root, TemplateGenerator(), opts)
    assert second.to_json()["baseline_reused"] == ALL
    assert any("reused 5 of 5 test results" in m for m in second.messages)
    steps = [json.loads(line) for line in (run_dir(root, second.state.run_id) / "trajectory.jsonl").read_text().splitlines()]
    (step,) = [st for st in steps if st["action"] == "baseline"]
    assert step["reused"] == ALL and step["wall"] >= step["seconds"] >= 0  # the whole step, tests included


def test_the_environment_key_of_this_interpreter_is_taken_in_process_and_sees_new_packages(make_repo, monkeypatch,
                                                                                           tmp_path):
    assert _freeze_here(str(tmp_path / "bin" / "python")) is None  # another interpreter: the sandboxed probe
    frozen = _freeze_here(sys.executable)
    assert frozen is not None and f"pytest-{pytest.__version__}.dist-info" in frozen
    root = make_repo(FILES)
    cache = BaselineCache(root, sys.executable, DEFAULT_POLICY, "limits")
    key = cache.environment(root)
    assert cache.environment(root) == key
    site = tmp_path / "site"
    dist = site / "newdep-1.0.dist-info"  # a distribution installed since the last run
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: newdep\nVersion: 1.0\n")
    monkeypatch.syspath_prepend(str(site))
    assert cache.environment(root) != key


def test_a_changed_import_time_constant_reruns_the_tests_that_read_it(make_repo, evaluator):
    files = {**FILES, "calc/consts.py": "OFFSET = 0\n",
             "calc/add.py": "from calc.consts import OFFSET\n\n\ndef add(a, b):\n    return a + b + OFFSET\n"}
    root = make_repo(files)
    first, _ = baseline(root, evaluator)
    assert all(r.ok for r in first.results.values())
    write_tree(root, {"calc/consts.py": "OFFSET = 1\n"})  # no test executes a line of consts.py
    git(root, "commit", "-qam", "offset")
    second, cache = baseline(root, evaluator)
    assert {t for t, r in second.results.items() if not r.ok} == {
        "tests/test_add.py::test_add_small", "tests/test_add.py::test_add_zero", "tests/test_add.py::test_add_neg"}
    assert cache.reused <= 2  # the mul tests may be reused: nothing they import reads OFFSET

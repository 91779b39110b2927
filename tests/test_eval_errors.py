"""``loopwright eval`` when a task fails: its own error row with the reason, and the eval goes on
(issue 24, issue 20 item 5); the eval's verification tests the task's clone in a src/ layout."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

import evals.task
from evals.metrics import run_metrics
from evals.runner import run_eval
from evals.suite import load_suite
from tests.conftest import git, write_tree
from tests.test_eval import calc_repo, eval_cmd, rows


def _commit(root: Path, files: dict[str, str]) -> Path:
    write_tree(root, files)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    return root


def _no_tests_repo(root: Path) -> Path:
    """A repository where pytest collects nothing: ``loopwright fix`` ends in an error."""
    return _commit(root, {"lib.py": "def one():\n    return 1\n"})


def test_a_no_tests_task_is_an_error_row_and_the_fixable_task_is_fixed(tmp_path, monkeypatch):
    """Issue 20 item 5: a 2-task suite (no tests + fixable) gives one ``error`` row that says why
    and one fixed row, exit 1 (not all fixed), no traceback; the HTML report's red cell says why."""
    monkeypatch.setenv("LOOPWRIGHT_WORKTREES", str(tmp_path / "worktrees"))
    _no_tests_repo(tmp_path / "empty")
    calc_repo(tmp_path / "calc", 0)
    suite = tmp_path / "two.yaml"
    suite.write_text("suite: two\ntasks:\n  - id: notests\n    repo: {path: empty}\n    timeout: 120\n"
                     "  - id: calc\n    repo: {path: calc}\n    tests: [tests/test_calc.py::test_f]\n    timeout: 120\n")
    res = eval_cmd(str(suite), "--out", str(tmp_path / "out"), "--html")
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    got = {r["task_id"]: r for r in rows(tmp_path / "out")}
    assert got["notests"]["status"] == "error" and got["notests"]["fixed"] is False
    assert "no tests were collected" in got["notests"]["error"]
    assert got["notests"]["tests_fixed"] == [] and got["notests"]["goal"] is None
    assert got["calc"]["status"] == "fixed" and got["calc"]["fixed"] is True
    assert "every task errored" not in res.stderr  # one of two did not
    page = (tmp_path / "out" / "report.html").read_text()
    row = re.search(r'<tr class="task" data-task="notests">(.*?)</tr>', page, re.S).group(1)
    assert 'class="bad"' in row and "no tests were collected" in html.unescape(row)
    assert 'class="why"' not in re.search(r'<tr class="task" data-task="calc">(.*?)</tr>', page, re.S).group(1)


def test_an_eval_whose_every_task_errored_exits_1_with_one_line(tmp_path):
    """Every task errored: exit 1, one ``error:`` line naming the count and the first reason, no traceback."""
    _no_tests_repo(tmp_path / "a")
    _no_tests_repo(tmp_path / "b")
    suite = tmp_path / "bad.yaml"
    suite.write_text("suite: bad\ntasks:\n  - id: a\n    repo: {path: a}\n    timeout: 120\n"
                     "  - id: b\n    repo: {path: b}\n    timeout: 120\n")
    res = eval_cmd(str(suite), "--out", str(tmp_path / "out"), "--json")
    assert res.returncode == 1
    said = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(said) == 1 and "every task errored (2)" in said[0] and "no tests were collected" in said[0]
    assert "Traceback" not in res.stderr
    assert json.loads(res.stdout)["generators"]["templates"]["fixed"] == 0


def test_any_exception_preparing_a_task_is_its_row_with_the_traceback(tmp_path, monkeypatch):
    """An exception the preparation did not foresee (issue 24's AttributeError) becomes that task's
    ``prepare_error`` row with type and message, its traceback lands in the task's run folder, and
    the next task still runs (the local pool forks, so the workers see the patched function)."""
    real = evals.task.materialize

    def materialize(spec, out):
        if "broken" in str(spec.get("path", "")):
            return Path(out).writetext_or_none("x")  # the bug of issue 24, for real
        return real(spec, out)

    monkeypatch.setattr(evals.task, "materialize", materialize)
    monkeypatch.setenv("LOOPWRIGHT_WORKTREES", str(tmp_path / "worktrees"))
    calc_repo(tmp_path / "broken", 0)
    calc_repo(tmp_path / "calc", 0)
    suite = tmp_path / "s.yaml"
    suite.write_text("suite: s\ntasks:\n  - id: broken\n    repo: {path: broken}\n    timeout: 120\n"
                     "  - id: calc\n    repo: {path: calc}\n    tests: [tests/test_calc.py::test_f]\n    timeout: 120\n")
    run = run_eval(load_suite(suite), ["templates"], tmp_path / "out", jobs=1)
    got = {r["task_id"]: r for r in run.rows}
    assert got["broken"]["status"] == "prepare_error" and got["broken"]["fixed"] is False
    assert got["broken"]["error"] == "AttributeError: 'PosixPath' object has no attribute 'writetext_or_none'"
    trace = (tmp_path / "out" / got["broken"]["run_dir"] / "traceback.txt").read_text()
    assert trace.startswith("Traceback") and "writetext_or_none" in trace
    assert got["calc"]["fixed"] is True


def test_run_metrics_of_a_run_that_ended_in_an_error():
    """The error summary has ``fixed_tests``/``remaining_failures`` null (harness.work.fix.error_json)."""
    from harness.work.fix import error_json

    got = run_metrics(error_json("no tests were collected"), "", None)
    assert got["tests_fixed"] == [] and got["goal"] is None and got["candidates"] == 0
    state = json.dumps({"baseline_failing": None, "remaining": None, "spent": {}})
    assert run_metrics(error_json("x"), "", state)["tests_fixed"] == []


@pytest.fixture
def src_layout(tmp_path):
    """A src/ layout repo with a bug, and an "editable install" of a separate buggy checkout:
    that checkout's src/ on PYTHONPATH, as a .pth file of an editable install puts it on sys.path."""
    files = {"src/shapes/__init__.py": "", "src/shapes/area.py": "def square(a):\n    return a + a\n",
             "tests/test_area.py": "from shapes.area import square\n\n\ndef test_square():\n"
                                   "    assert square(3) == 9\n\n\ndef test_zero():\n    assert square(0) == 0\n"}
    _commit(tmp_path / "repo", files)
    _commit(tmp_path / "checkout", files)
    return tmp_path / "repo", tmp_path / "checkout" / "src"


def test_verification_tests_the_clone_of_a_src_layout_not_the_installed_checkout(src_layout, tmp_path,
                                                                                 monkeypatch):
    """The run fixes the clone (its src/ first on the path); the eval's verification must judge the
    same tree, not the buggy checkout the editable install points at (a correct fix shown red)."""
    repo, installed = src_layout
    monkeypatch.setenv("PYTHONPATH", str(installed))
    monkeypatch.setenv("LOOPWRIGHT_WORKTREES", str(tmp_path / "worktrees"))
    suite = tmp_path / "s.yaml"
    suite.write_text(f"suite: s\ntasks:\n  - id: src\n    repo: {{path: {repo}}}\n"
                     "    tests: [tests/test_area.py::test_square]\n    timeout: 120\n")
    run = run_eval(load_suite(suite), ["templates"], tmp_path / "out", jobs=1)
    (row,) = run.rows
    assert row["status"] == "fixed", row
    assert row["fixed"] is True, row.get("verify_error")
    assert "verify_error" not in row

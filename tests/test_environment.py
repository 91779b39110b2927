"""Failing tests that fail for the environment (a program not installed) are left out of
the task with a loud line, and a test that passes only under coverage (the code looks at the
tracer) counts as failing: real repositories, real pytest runs, ``loopwright fix`` as a user
runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.core.environment import environment_failures, summary
from harness.evaluators.verdict import Frame, TestResult
from tests.conftest import PYTHON, fix_offline, snapshot

_CALC = '''def total(prices):
    """The sum of ``prices``."""
    out = 0
    for p in prices:
        out -= p
    return out
'''

_CLI_TEST = '''import subprocess


def test_total():
    from calc import total
    assert total([1, 2, 3]) == 6


def test_console_script():
    out = subprocess.run(["calc-total", "1", "2"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"
'''

_PYPROJECT = '''[project]
name = "calc"
version = "0.1"

[project.scripts]
calc-total = "calc:main"
'''


def _failed(tid: str, message: str, innermost: str = "tests/test_x.py") -> TestResult:
    return TestResult(tid, "failed", message, (Frame("tests/test_x.py", 3, "test"), Frame(innermost, 10, "f")))


def test_a_missing_console_script_or_tool_is_the_environment_but_a_misspelt_one_is_a_task(make_repo):
    root = make_repo({"pyproject.toml": _PYPROJECT, "calc.py": _CALC + 'RUN = ["gti", "status"]\n',
                      "tests/test_x.py": "def test_x():\n    pass\n"})
    exec_file = "/usr/lib/python3.11/subprocess.py"
    results = {
        "t::script": _failed("t::script", "FileNotFoundError: [Errno 2] No such file or directory: 'calc-total'",
                             exec_file),
        "t::tool": _failed("t::tool", "sh.CommandNotFound: some-missing-tool-x"),
        # a misspelt program the code names, a data file, a module (evidence.missing_module's question)
        "t::module": _failed("t::module", "ModuleNotFoundError: No module named 'yaml_not_here'"),
        "t::typo": _failed("t::typo", "FileNotFoundError: [Errno 2] No such file or directory: 'gti'", exec_file),
        "t::data": _failed("t::data", "FileNotFoundError: [Errno 2] No such file or directory: 'prices.csv'"),
        "t::pass": TestResult("t::pass", "passed"),
    }
    found = environment_failures(root, results)
    assert sorted(found) == ["t::script", "t::tool"]
    assert "console script" in found["t::script"] and "pip install -e ." in found["t::script"]
    assert "`some-missing-tool-x`" in found["t::tool"]
    line = summary(found)
    assert line.startswith("warning: 2 failing test(s) fail for the environment") and "--tests" in line


def test_fix_leaves_out_a_test_of_the_uninstalled_console_script_and_fixes_the_bug(make_repo):
    out, root, _ = fix_offline(make_repo, {"pyproject.toml": _PYPROJECT, "calc.py": _CALC,
                                           "tests/test_calc.py": _CLI_TEST})
    assert out["status"] == "fixed", out
    assert out["fixed_tests"] == ["tests/test_calc.py::test_total"]
    assert "out += p" in out["patch"]
    loud = [m for m in out["messages"] if m.startswith("warning: 1 failing test(s) fail for the environment")]
    assert loud and "tests/test_calc.py::test_console_script" in loud[0] and "calc-total" in loud[0], out["messages"]
    assert out["remaining_failures"] == []


def test_fix_stops_with_exit_2_when_every_failing_test_is_the_environment(make_repo):
    root = make_repo({"pyproject.toml": _PYPROJECT, "calc.py": _CALC.replace("-=", "+="),
                      "tests/test_calc.py": _CLI_TEST})
    before = snapshot(root)
    res = subprocess.run([sys.executable, "-m", "loopwright", "fix", str(root), "--python", PYTHON, "--json"],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert res.returncode == 2, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert "every failing test fails for the environment" in out["error"]
    assert snapshot(root) == before
    # named with --tests, the test is worked on (and, with nothing to change it, not fixed)
    res = subprocess.run([sys.executable, "-m", "loopwright", "fix", str(root), "--python", PYTHON, "--json",
                          "--tests", "tests/test_calc.py::test_console_script", "--max-seconds", "20"],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert res.returncode == 1, res.stderr[-2000:]
    assert json.loads(res.stdout)["remaining_failures"] == ["tests/test_calc.py::test_console_script"]


_GREET = '''import sys

SEEN = []


def greeting(name):
    """A greeting for ``name``; under a debugger (it is traced) the names are kept in SEEN."""
    if sys.gettrace() is not None:
        SEEN.append(name)
        return "Hello, " + name
    return "Hello " + name
'''


def test_a_test_that_passes_only_under_coverage_is_a_failing_test(make_repo):
    out, _, _ = fix_offline(make_repo, {
        "greet.py": _GREET,
        "tests/test_greet.py": "from greet import greeting\n\n\ndef test_greeting():\n"
                               "    assert greeting('Bob') == 'Hello, Bob'\n\n\n"
                               "def test_name():\n    assert 'Ann' in greeting('Ann')\n"})
    assert out["status"] == "fixed", out
    assert out["fixed_tests"] == ["tests/test_greet.py::test_greeting"]
    assert '+    return "Hello, " + name' in out["patch"]
    assert any("passed under coverage and failed without it" in m for m in out["messages"]), out["messages"]


def test_console_scripts_declared_in_setup_cfg_and_setup_py_count(make_repo):
    root = make_repo({
        "setup.cfg": "[metadata]\nname = calc\n\n[options.entry_points]\nconsole_scripts =\n    cfg-tool = calc:main\n",
        "setup.py": "from setuptools import setup\n\nsetup(entry_points={'console_scripts': ['py-tool = calc:main']})\n",
        # the code names both programs, so only being the project's own scripts makes them the environment
        "calc.py": 'PROGRAMS = ["cfg-tool", "py-tool"]\n', "tests/test_x.py": "def test_x():\n    pass\n"})
    results = {t: _failed(t, f"sh.CommandNotFound: {t}") for t in ("cfg-tool", "py-tool")}
    found = environment_failures(root, results)
    assert sorted(found) == ["cfg-tool", "py-tool"] and all("console script" in r for r in found.values())

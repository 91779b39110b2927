"""The lint (ruff) and types (mypy) evaluators: real tool runs on small projects in tmp_path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.evaluators.lint import RuffEvaluator, compare, normalize_message, regressions
from harness.evaluators.types import TypeCheckEvaluator, pyright_diagnostics
from tests.conftest import snapshot, write_tree

RUFF_TOML = '[lint]\nselect = ["F"]\n'  # pinned, so a parent or user config cannot leak in

LINT_BASE = {
    "ruff.toml": RUFF_TOML,
    "pkg/__init__.py": "",
    "pkg/a.py": """
        import os


        def f():
            return 1
        """,
}


def shift(path: Path, lines: int) -> None:
    """Insert ``lines`` comment lines at the top of ``path``: every diagnostic moves down."""
    path.write_text("# filler\n" * lines + path.read_text())


def test_lint_new_unused_variable_is_a_regression(tmp_path):
    write_tree(tmp_path, LINT_BASE)
    ev = RuffEvaluator()
    base = ev.run(tmp_path)
    assert base.error == "" and not base.passed
    assert list(base.results) == ["pkg/a.py::F401::`os` imported but unused#1"]

    (tmp_path / "pkg/a.py").write_text("import os\n\n\ndef f():\n    x = 1\n    return 1\n")
    now = ev.run(tmp_path)
    new = regressions(base, now)
    assert [r.test_id for r in new] == [
        "pkg/a.py::F841::Local variable `x` is assigned to but never used#1"]
    (r,) = new
    assert r.outcome == "failed"
    assert r.message == "pkg/a.py:5:5: F841 Local variable `x` is assigned to but never used"
    assert (r.frames[0].path, r.frames[0].line) == ("pkg/a.py", 5)
    judged = compare(base, now)
    assert not judged.passed and judged.new_failures == [r.test_id]
    assert now.duration > 0


def test_lint_preexisting_diagnostics_do_not_count_after_lines_shift(tmp_path):
    write_tree(tmp_path, LINT_BASE)
    ev = RuffEvaluator()
    before = snapshot(tmp_path)
    base = ev.run(tmp_path, ["pkg"])
    shift(tmp_path / "pkg/a.py", 7)
    now = ev.run(tmp_path, ["pkg"])
    assert list(now.results) == list(base.results)
    assert now.results["pkg/a.py::F401::`os` imported but unused#1"].frames[0].line == 8
    assert regressions(base, now) == []
    assert compare(base, now).passed
    # --no-cache: nothing written into the tree but our own edit
    assert set(snapshot(tmp_path)) == set(before)


def test_lint_duplicates_are_numbered_and_one_more_is_a_regression(tmp_path):
    write_tree(tmp_path, {"ruff.toml": RUFF_TOML,
                          "m.py": "def f():\n    x = 1\n\n\ndef g():\n    x = 2\n"})
    ev = RuffEvaluator()
    base = ev.run(tmp_path)
    key = "m.py::F841::Local variable `x` is assigned to but never used"
    assert list(base.results) == [f"{key}#1", f"{key}#2"]
    (tmp_path / "m.py").write_text((tmp_path / "m.py").read_text() + "\n\ndef h():\n    x = 3\n")
    assert [r.test_id for r in regressions(base, ev.run(tmp_path))] == [f"{key}#3"]


def test_lint_tool_error_is_a_verdict_error(tmp_path):
    write_tree(tmp_path, {"ruff.toml": "[lint\nselect = 3\n", "m.py": "x = 1\n"})
    v = RuffEvaluator().run(tmp_path)
    assert not v.passed and v.results == {}
    assert v.error.startswith("ruff failed with exit code 2")


def test_missing_tools_give_a_clear_error_and_do_not_raise(tmp_path):
    write_tree(tmp_path, {"m.py": "x = 1\n"})
    ruff = RuffEvaluator(executable="/nonexistent/ruff")
    assert not ruff.available()
    v = ruff.run(tmp_path)
    assert not v.passed and v.evaluator == "lint"
    assert "ruff is not installed" in v.error and "pip install ruff" in v.error
    types = TypeCheckEvaluator(cache_dir=tmp_path / "cache", executable="/nonexistent/mypy", python=sys.executable)
    assert not types.available()
    v = types.run(tmp_path)
    assert not v.passed and v.evaluator == "types"
    assert "pip install mypy" in v.error and "--types" in v.error


def test_types_new_error_is_a_regression_and_old_ones_survive_shifts(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    write_tree(root, {
        "pkg/__init__.py": "",
        "pkg/a.py": """
            def f() -> int:
                return "a"


            def g(x: int) -> int:
                return x + 1
            """,
    })
    ev = TypeCheckEvaluator(cache_dir=tmp_path / "cache", python=sys.executable)
    assert ev.available()
    base = ev.run(root)
    key = 'pkg/a.py::return-value::Incompatible return value type (got "str", expected "int")#1'
    assert base.error == "" and list(base.results) == [key]

    shift(root / "pkg/a.py", 3)
    with (root / "pkg/a.py").open("a") as f:
        f.write('\n\ndef h() -> None:\n    g("no")\n')
    now = ev.run(root)
    assert now.results[key].frames[0].line == 5
    (new,) = regressions(base, now)
    assert new.test_id.startswith("pkg/a.py::arg-type::Argument 1 to \"g\" has incompatible type")
    assert new.message.startswith("pkg/a.py:13:7: arg-type Argument 1")
    assert not compare(base, now).passed
    # the standard line format (mypy without --output json) gives the same ids
    monkeypatch.setattr(ev, "_supports_json", lambda cmd, root: False)
    assert ev.run(root).results.keys() == now.results.keys()
    # the cache lives outside the worktree, one per worktree
    assert sorted(p.name for p in root.rglob("*")) == ["__init__.py", "a.py", "pkg"]
    assert [p.parent for p in (tmp_path / "cache").iterdir()] == [tmp_path / "cache"]


def test_ruff_configured_forms(tmp_path):
    cases = {
        "ruff.toml": ({"ruff.toml": ""}, True),
        ".ruff.toml": ({".ruff.toml": ""}, True),
        "tool.ruff": ({"pyproject.toml": "[project]\nname = 'x'\n\n[tool.ruff]\nline-length = 99\n"}, True),
        "tool.ruff.lint": ({"pyproject.toml": "[tool.ruff.lint]\nselect = ['F']\n"}, True),
        "other tool": ({"pyproject.toml": "[tool.ruffle]\n[tool.black]\n"}, False),
        "nothing": ({"m.py": ""}, False),
    }
    for name, (files, expected) in cases.items():
        write_tree(tmp_path / name, files)
        assert RuffEvaluator.configured(tmp_path / name) is expected, name


def test_types_configured_forms(tmp_path):
    cases = {
        "mypy.ini": ({"mypy.ini": "[mypy]\n"}, "mypy"),
        ".mypy.ini": ({".mypy.ini": "[mypy]\n"}, "mypy"),
        "setup.cfg": ({"setup.cfg": "[metadata]\nname = x\n\n[mypy]\nstrict = True\n"}, "mypy"),
        "tool.mypy": ({"pyproject.toml": "[tool.mypy]\nstrict = true\n"}, "mypy"),
        "pyrightconfig": ({"pyrightconfig.json": "{}"}, "pyright"),
        "tool.pyright": ({"pyproject.toml": "[tool.pyright]\n"}, "pyright"),
        "both": ({"pyproject.toml": "[tool.pyright]\n[tool.mypy]\n"}, "mypy"),
        "setup.cfg other": ({"setup.cfg": "[mypy-pkg.*]\nignore_errors = True\n[flake8]\n"}, None),
        "nothing": ({"pyproject.toml": "[tool.ruff]\n"}, None),
    }
    for name, (files, tool) in cases.items():
        write_tree(tmp_path / name, files)
        assert TypeCheckEvaluator.configured_tool(tmp_path / name) == tool, name
        assert TypeCheckEvaluator.configured(tmp_path / name) is (tool is not None), name


@pytest.mark.parametrize("message, expected", [
    ("Redefinition of unused `f` from line 3", "Redefinition of unused `f` from line N"),
    ('Name "x" already defined on line 12', 'Name "x" already defined on line N'),
    ("too   many\tspaces", "too many spaces"),
])
def test_normalize_message(message, expected):
    assert normalize_message(message) == expected


def test_pyright_report_parsing(tmp_path):
    report = {"generalDiagnostics": [
        {"file": str(tmp_path / "pkg/a.py"), "severity": "error", "rule": "reportReturnType",
         "message": 'Type "str" is not assignable to return type "int"',
         "range": {"start": {"line": 1, "character": 11}, "end": {"line": 1, "character": 14}}},
        {"file": str(tmp_path / "pkg/a.py"), "severity": "warning", "message": "unused",
         "range": {"start": {"line": 0, "character": 0}}},
    ]}
    (d,) = pyright_diagnostics(report, tmp_path)
    assert (d.path, d.line, d.col, d.code) == ("pkg/a.py", 2, 12, "reportReturnType")

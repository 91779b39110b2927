"""The first run on an everyday repository (issue 20, items 1 and 2): the type checker a
repository configures runs with no install step and sees the target's packages; one that
cannot run is skipped loudly; the target interpreter is ``--python``, the active
``$VIRTUAL_ENV``, the repository's ``.venv``, then loopwright's own.

Real repositories, real virtual environments (``venv --without-pip``; a ``.pth`` file lends
them this environment's site-packages, so nothing is installed), real mypy and pytest runs.
"""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.evaluators import types as types_module
from harness.evaluators.interpreter import choose_python, is_own_environment
from harness.evaluators.types import TypeCheckEvaluator
from loopwright.cli import app
from tests.conftest import PYTHON, run_dir, snapshot, write_tree
from tests.test_fix import CLAMP


def make_venv(where: Path, packages: dict[str, str] | None = None) -> Path:
    """A real venv at ``where`` that sees this environment's packages through a ``.pth``
    file, with ``packages`` (``{relative path: text}``) installed in its site-packages;
    returns its python."""
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(where)], check=True, capture_output=True)
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site_dir = where / "lib" / ver / "site-packages"
    (site_dir / "lent.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    write_tree(site_dir, packages or {})
    return where / "bin" / "python"


#: a package only the target environment has, with inline types (``py.typed``)
EXTLIB = {"extlib/__init__.py": "def upper(lo: int) -> int:\n    return lo\n", "extlib/py.typed": ""}
#: the clamp bug in a repository that configures mypy and uses ``extlib``
TYPED = {**CLAMP, ".gitignore": ".venv/\n",
         "pyproject.toml": "[tool.mypy]\nfiles = ['mathx']\n",
         "mathx/bounds.py": "from extlib import upper\n\n\ndef top(hi: int) -> int:\n    return upper(hi)\n"}


_find_spec = types_module.importlib.util.find_spec


@pytest.fixture
def no_active_venv(monkeypatch):
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)


def _fix(root: Path, *args: str) -> tuple[int, dict]:
    res = CliRunner().invoke(app, ["fix", str(root), "--json", "--max-iterations", "10", *args])
    return res.exit_code, json.loads(res.stdout)


@pytest.mark.parametrize("whose", ["the .venv's", "loopwright's"])
def test_a_mypy_repo_is_type_checked_with_the_venvs_packages(make_repo, monkeypatch, no_active_venv, whose):
    if whose == "the .venv's":
        # loopwright itself without mypy (a pipx install before mypy was a dependency): the
        # repository's .venv has it. Every venv of one base Python resolves to the same binary,
        # so only sys.prefix tells the .venv from loopwright's environment.
        monkeypatch.setattr(types_module.importlib.util, "find_spec",
                            lambda name, *a: None if name == "mypy" else _find_spec(name, *a))
    else:  # a .venv without mypy: loopwright's own runs, with --python-executable the .venv's python
        monkeypatch.setattr(TypeCheckEvaluator, "_target_has_mypy", lambda self, python: False)
    root = make_repo(TYPED)
    venv_python = make_venv(root / ".venv", EXTLIB)
    assert venv_python.resolve() == Path(PYTHON).resolve() and not is_own_environment(str(venv_python))
    before = snapshot(root)
    code, out = _fix(root)
    assert code == 0 and out["status"] == "fixed", out
    assert out["python"] == str(venv_python) and out["python_why"] == "the repository's .venv"
    assert out["evaluators"]["types"].startswith("mypy "), out["evaluators"]
    assert out["evaluators"]["tests"].startswith("pytest ") and out["evaluators"]["lint"].startswith("off:")
    # mypy saw extlib (the .venv's package): no import-not-found at baseline
    assert any(m.startswith("types evaluator on (mypy ") and ": 0 diagnostic(s)" in m for m in out["messages"]), \
        out["messages"]
    assert snapshot(root) == before


def test_mypy_output_with_only_notes_is_not_an_error(tmp_path):
    write_tree(tmp_path, {"a.py": "x = 1\nreveal_type(x)\n"})  # a note; mypy exits 1 for it
    verdict = TypeCheckEvaluator(cache_dir=tmp_path / "cache", python=PYTHON).run(tmp_path, ["a.py"])
    assert not verdict.error and verdict.passed and not verdict.results, verdict
    write_tree(tmp_path, {"b.py": "x: int = 'no'\n"})  # an error is still one
    verdict = TypeCheckEvaluator(cache_dir=tmp_path / "cache", python=PYTHON).run(tmp_path, ["b.py"])
    assert not verdict.error and len(verdict.results) == 1, verdict



def test_a_checker_without_a_cache_dir_leaves_no_temp_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    write_tree(tmp_path / "src", {"a.py": "x: int = 'no'\n"})
    checker = TypeCheckEvaluator(python=PYTHON)
    assert checker.probe(tmp_path / "src")[0]  # asking what can run makes no cache
    assert list((tmp_path / "tmp").iterdir()) == []
    verdict = checker.run(tmp_path / "src", ["a.py"])
    assert len(verdict.results) == 1 and any((tmp_path / "tmp").iterdir())
    checker.close()
    assert list((tmp_path / "tmp").iterdir()) == []
    kept = tmp_path / "kept"
    given = TypeCheckEvaluator(cache_dir=kept, python=PYTHON)
    given.run(tmp_path / "src", ["a.py"])
    given.close()
    assert kept.is_dir() and any(kept.iterdir())  # a cache the caller gave stays for reuse


PYRIGHT = {**CLAMP, "pyrightconfig.json": "{}\n"}


def test_pyright_configured_without_node_cannot_run_and_says_why(make_repo, tmp_path, monkeypatch):
    root = make_repo(PYRIGHT)
    bin_dir = tmp_path / "bin"
    write_tree(bin_dir, {"pyright": "#!/bin/sh\nexit 0\n"})
    (bin_dir / "pyright").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))  # pyright is there, node is not
    ev = TypeCheckEvaluator(cache_dir=tmp_path / "cache", python=PYTHON)
    assert ev.probe(root) == (False, "pyright is configured but node is not installed")
    assert "node is not installed" in ev.run(root).error


@pytest.mark.skipif(bool(shutil.which("pyright") and shutil.which("node")), reason="pyright can run here")
def test_a_pyright_repo_where_pyright_cannot_run_is_fixed_and_says_so(make_repo, no_active_venv):
    root = make_repo(PYRIGHT)
    code, out = _fix(root, "--python", PYTHON)
    assert code == 0 and out["status"] == "fixed", out
    types = out["evaluators"]["types"]
    assert types.startswith("skipped: pyright is configured but"), types
    assert any(m.startswith("WARNING: the types evaluator is skipped: pyright") for m in out["messages"])
    # doctor says the same, from the same function, and exits 0 as fix goes on
    res = CliRunner().invoke(app, ["doctor", str(root), "--python", PYTHON], env={"COLUMNS": "400"})
    assert res.exit_code == 0 and f"warning {types}" in res.stdout, res.stdout
    runs = sorted(p.name for p in run_dir(root).iterdir())
    code, out = _fix(root, "--python", PYTHON, "--types")  # asked for: it must run
    assert code == 2 and out["error"].startswith("the types evaluator cannot run (--types asks for it): pyright")
    assert sorted(p.name for p in run_dir(root).iterdir()) == runs  # said before any run (or baseline) began


def test_the_target_interpreter_order(tmp_path):
    repo, active = tmp_path / "repo", tmp_path / "active"
    for venv in (repo / ".venv", active):
        write_tree(venv, {"bin/python": ""})
    env = {"VIRTUAL_ENV": str(active)}
    assert choose_python(repo, PYTHON, env) == (PYTHON, "--python")
    assert choose_python(repo, None, env) == (str(active / "bin/python"),
                                              "the active virtual environment ($VIRTUAL_ENV)")
    assert choose_python(repo, None, {}) == (str(repo / ".venv/bin/python"), "the repository's .venv")
    # loopwright's own environment, active, is loopwright's own: the repository's .venv comes first
    assert choose_python(repo, None, {"VIRTUAL_ENV": sys.prefix})[1] == "the repository's .venv"
    own, why = choose_python(tmp_path / "elsewhere", None, {})
    assert own == sys.executable and why.startswith("loopwright's own interpreter")


def test_an_activated_virtual_env_is_chosen_over_the_repositorys_venv(make_repo, tmp_path, monkeypatch):
    # the tests need helperlib, which only the activated environment has
    files = {**CLAMP, ".gitignore": ".venv/\n",
             "tests/test_low.py": "from helperlib import LOW\nfrom mathx import clamp\n\n\n"
                                  "def test_low():\n    assert clamp(LOW - 1, LOW, 5) == LOW\n"}
    root = make_repo(files)
    make_venv(root / ".venv")
    active = make_venv(tmp_path / "active", {"helperlib/__init__.py": "LOW = 0\n"})
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "active"))
    code, out = _fix(root)
    assert code == 0 and out["status"] == "fixed", out
    assert out["python"] == str(active) and out["python_why"] == "the active virtual environment ($VIRTUAL_ENV)"
    res = CliRunner().invoke(app, ["fix", str(root), "--max-iterations", "10"], env={"COLUMNS": "400"})
    assert f"{active} (the active virtual environment ($VIRTUAL_ENV))" in res.stdout, res.stdout


#: a hatch-vcs-style package: src/vpkg/_version.py is generated at install time and ignored
HATCH = {
    ".gitignore": "src/vpkg/_version.py\n__pycache__/\n.env\nbuild/\n",
    "pyproject.toml": "[tool.hatch.version]\nsource = 'vcs'\n",
    "src/vpkg/__init__.py": "from ._version import __version__\nfrom .core import clamp\n",
    "src/vpkg/core.py": "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x >= hi:\n"
                        "        return x\n    return x\n",
    "tests/test_core.py": "from vpkg import __version__, clamp\n\n\ndef test_version():\n"
                          "    assert __version__ == '1.2.3'\n\n\ndef test_inside():\n    assert clamp(2, 0, 5) == 2\n\n\n"
                          "def test_above():\n    assert clamp(9, 0, 5) == 5\n",
}
VERSION = {"src/vpkg/_version.py": "__version__ = '1.2.3'\n"}


def test_a_generated_ignored_version_file_is_carried_into_the_worktree(make_repo, no_active_venv):
    root = make_repo(HATCH)
    write_tree(root, VERSION)  # as `pip install -e .` leaves it: ignored, in the checkout only
    before = snapshot(root)
    code, out = _fix(root, "--python", PYTHON)
    assert code == 0 and out["status"] == "fixed", out
    assert out["fixed_tests"] == ["tests/test_core.py::test_above"]
    assert "carried 1 ignored file(s) the packages need from your checkout into the worktree: " \
           "src/vpkg/_version.py" in out["messages"]
    assert snapshot(root) == before


def test_only_importable_regular_ignored_files_are_carried(make_repo, tmp_path):
    import git as gitlib

    from sandbox.carry import carry_ignored

    root = make_repo(HATCH)
    write_tree(root, {**VERSION, "src/vpkg/.env": "TOKEN=x\n", "src/vpkg/__pycache__/core.cpython-311.pyc": "",
                      "build/lib/vpkg/core.py": "", "src/vpkg/_speedups.abi3.so": "\x7fELF",
                      ".gitignore": HATCH[".gitignore"] + "*.so\n_link.py\n"})
    (root / "src/vpkg/_link.py").symlink_to(tmp_path / "outside.py")
    (tmp_path / "outside.py").write_text("SECRET = 1\n")
    dest = tmp_path / "wt"
    dest.mkdir()
    copied = carry_ignored(gitlib.Repo(root), dest)
    assert copied == ["src/vpkg/_speedups.abi3.so", "src/vpkg/_version.py"], copied
    assert (dest / "src/vpkg/_version.py").read_text() == VERSION["src/vpkg/_version.py"]
    assert not (dest / "src/vpkg/_link.py").exists() and not (dest / "src/vpkg/.env").exists()


def test_a_baseline_that_fails_only_in_the_worktree_stops_with_what_differs(make_repo, no_active_venv):
    # vpkg/generated.py is needed, exists in the checkout, but was never committed (and is not ignored)
    files = {**HATCH, "src/vpkg/__init__.py": "from .generated import __version__\nfrom .core import clamp\n"}
    root = make_repo(files)
    write_tree(root, {"src/vpkg/generated.py": "__version__ = '1.2.3'\n"})
    before = snapshot(root)
    code, out = _fix(root, "--python", PYTHON)
    assert code == 2, out
    error = out["error"]
    assert "test(s) fail in loopwright's worktree" in error and "but pass in your checkout" in error, error
    assert "No module named 'vpkg.generated'" in error and "untracked files src/vpkg/generated.py" in error, error
    assert snapshot(root) == before

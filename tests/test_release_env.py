"""A release-pair task built from an EMPTY cache, as on a fresh machine (issue 24), off the network.

Both releases are sdists in a local ``--find-links`` folder with the wheels of pytest,
coverage and their requirements (repacked from this interpreter: :mod:`tests.wheelhouse`);
pip reads no config file and no index. The cache root is ``XDG_CACHE_HOME`` in tmp_path, so
the download, the unpacking and the task's venv (``python -m venv`` + ``pip install``) all run.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from evals.materialize import materialize
from evals.release_env import requirements, venv_slot
from evals.release_trees import source_tree
from tests.wheelhouse import offline_pip_env, repack, sdist

OLD = "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return x\n    return x\n"
NEW = OLD.replace("        return x\n    return x", "        return hi\n    return x")
TEST_OLD = "from tinyclamp import clamp\n\n\ndef test_low():\n    assert clamp(-1, 0, 5) == 0\n"
TEST_NEW = TEST_OLD + "\n\ndef test_high():\n    assert clamp(9, 0, 5) == 5\n"


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """A find-links folder: tinyclamp 1.0 (clamp above the range returns x) and 1.1 (the fix and
    a test for it), plus wheels of pytest and coverage."""
    folder = tmp_path_factory.mktemp("index")
    repack(["pytest", "coverage"], folder)
    sdist(folder, "tinyclamp", "1.0", {"tinyclamp.py": OLD, "tests/test_clamp.py": TEST_OLD})
    sdist(folder, "tinyclamp", "1.1", {"tinyclamp.py": NEW, "tests/test_clamp.py": TEST_NEW})
    return folder


def test_release_pair_task_materializes_from_an_empty_cache(index, tmp_path, monkeypatch):
    """The eval's own entry point builds the task: the sdists are downloaded by pip from the local
    index into the empty cache, the venv is created and marked ready, and the task's tree is 1.0's
    source with 1.1's tests, where 1.1's new test fails and the old one passes in that venv."""
    cache = tmp_path / "xdg"
    for key, value in offline_pip_env(index).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    spec = {"release_pair": {"package": "tinyclamp", "old": "1.0", "new": "1.1", "file": "tinyclamp.py"}}

    repo = materialize(spec, tmp_path / "task")

    assert sorted(p.name for p in (cache / "loopwright" / "sdists").iterdir()) == ["tinyclamp-1.0", "tinyclamp-1.1"]
    reqs = requirements(source_tree("tinyclamp", "1.1"))
    slot = venv_slot(reqs)
    assert str(slot).startswith(str(cache)) and (slot / ".ready").read_text().split() == reqs
    assert (repo / ".venv").resolve() == slot.resolve()
    assert (repo / "tinyclamp.py").read_text() == OLD and "test_high" in (repo / "tests/test_clamp.py").read_text()
    res = subprocess.run([str(repo / ".venv/bin/python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf"],
                         cwd=repo, capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(repo)})
    assert res.returncode == 1, res.stdout + res.stderr
    assert "FAILED tests/test_clamp.py::test_high" in res.stdout and "1 passed" in res.stdout

    again = materialize(spec, tmp_path / "task2")  # the ready venv is reused, not rebuilt
    assert (again / ".venv").resolve() == slot.resolve()


def test_release_pairs_run_makes_any_setup_exception_that_tasks_row(tmp_path, capsys):
    """``python -m evals.release_pairs run``: a task whose spec breaks the builder in a way it did not
    foresee (here a string where a mapping belongs: AttributeError) is a prepare_error row with the
    exception's type and its traceback in the task's folder; the other rows are still written."""
    import json

    from evals.release_pairs import main, write_suite

    bad = {"id": "bad-1", "repo": {"release_pair": "tinyclamp 1.0 1.1"}, "command": "fix", "tests": ["t"],
           "timeout": 60}
    also = {**bad, "id": "bad-2"}
    write_suite(tmp_path / "s.yaml", {"suite": "s", "description": "", "tasks": [bad, also]})
    assert main(["run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out")]) == 0
    rows = json.loads((tmp_path / "out" / "results.json").read_text())["rows"]
    assert [r["status"] for r in rows] == ["prepare_error", "prepare_error"]
    assert rows[0]["note"].startswith("AttributeError: 'str' object has no attribute")
    assert "Traceback" in (tmp_path / "out" / "tasks" / "bad-1" / "traceback.txt").read_text()


def test_run_pytest_imports_a_src_layout_package_from_the_tree(tmp_path):
    """The miner's pytest run puts ``src/`` on the path (the venv has only the requirements), as
    ``loopwright fix`` does; without it every test of a src-layout library failed to import, and
    no src-layout library could give a task."""
    import sys

    from evals.release_env import run_pytest

    (tmp_path / "src" / "sq").mkdir(parents=True)
    (tmp_path / "src" / "sq" / "__init__.py").write_text("def sq(x):\n    return x + x\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_sq.py").write_text("from sq import sq\n\n\ndef test_two():\n    assert sq(2) == 4\n"
                                                    "\n\ndef test_three():\n    assert sq(3) == 9\n")
    rc, failing = run_pytest(Path(sys.executable), tmp_path, timeout=120)
    assert (rc, failing) == (1, {"tests/test_sq.py::test_three"})


def test_an_sdist_whose_build_backend_needs_a_wheel_downloads(tmp_path, monkeypatch):
    """The isolated download (when the backend is not installed here) takes the build requirements
    as wheels: only the package itself must be an sdist (``--no-binary PACKAGE``, not ``:all:``,
    which built setuptools and its own build requirements from source, minutes per download)."""
    from evals.release_trees import source_tree
    from tests.wheelhouse import wheel

    index = tmp_path / "index"
    wheel(index, "lwhelper", "1.0", {"lwhelper.py": "HELP = 1\n"})  # a wheel only: no sdist of it anywhere
    sdist(index, "needshelp", "2.0", {"needshelp.py": "X = 1\n"}, build_requires=("lwhelper",))
    for key, value in offline_pip_env(index).items():
        monkeypatch.setenv(key, value)
    tree = source_tree("needshelp", "2.0", tmp_path / "cache")
    assert (tree / "needshelp.py").read_text() == "X = 1\n"

"""The fork server's warm start: one throw-away pytest session before serving, so that what the
installed plugins import lazily during a session (hypothesis's plugin imports all of
``hypothesis`` at the end of each) is imported once, in the server, not in every forked child;
and nothing of that session leaks into the children's runs of the target's tests."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from harness.evaluators.pytest_runner import PytestEvaluator

#: an installed pytest plugin (dist-info + module, outside the repository) that imports a
#: helper module lazily at the end of each session and notes in the worktree whether the
#: helper was already in memory then (``warm``) or had to be imported (``fresh``).
PLUGIN_SITE = {
    "lazyplug-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: lazyplug\nVersion: 1.0\n",
    "lazyplug-1.0.dist-info/entry_points.txt": "[pytest11]\nlazyplug = lazyplug_plugin\n",
    "lazyplug-1.0.dist-info/RECORD": "lazyplug_plugin.py,,\nlazyplug_heavy.py,,\n",
    "lazyplug_plugin.py": textwrap.dedent("""\
        import os
        import sys

        def pytest_sessionfinish(session):
            state = "warm" if "lazyplug_heavy" in sys.modules else "fresh"
            import lazyplug_heavy  # noqa: F401 (lazily, as hypothesis's plugin does)
            if os.path.exists("lazy-marker.txt") or os.path.exists("mod.py"):  # only in the target
                with open("lazy-marker.txt", "a") as f:
                    f.write(state + "\\n")
        """),
    "lazyplug_heavy.py": "HEAVY = True\n",
}

#: the target: its tests check that the warm-up session left nothing behind in the child
TARGET = {
    "mod.py": "def value():\n    return 1\n",
    "conftest.py": "import pytest\n\n\n@pytest.fixture\ndef answer():\n    return 42\n",
    "test_mod.py": textwrap.dedent("""\
        import os
        import sys

        import mod


        def test_value():
            assert mod.value() == 1


        def test_conftest_fixture(answer):
            assert answer == 42


        def test_nothing_of_the_warm_up_left():
            assert not [p for p in sys.path if "loopwright-warm" in p]
            assert not [m for m in sys.modules if "loopwright_warm" in m]
            assert os.path.realpath(os.getcwd()) == os.path.realpath(os.path.dirname(mod.__file__))


        def test_assertions_rewritten():
            x = [1, 2]
            assert x == [1, 3]
        """),
}


def install_plugin(tmp_path: Path, monkeypatch) -> Path:
    """The plugin installed in a directory on PYTHONPATH inside the evaluator's scratch
    directory (readable in the sandbox); returns that scratch directory."""
    scratch = tmp_path / "scratch"
    site = scratch / "site"
    for rel, text in PLUGIN_SITE.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.syspath_prepend(str(site))  # as if started with it (the plugins are asked here)
    return scratch


@pytest.fixture
def target(make_repo, tmp_path, monkeypatch):
    """(scratch, repo): the plugin installed apart from the repository (:func:`install_plugin`)."""
    scratch = install_plugin(tmp_path, monkeypatch)
    return scratch, make_repo(TARGET)


def _marker(root: Path) -> list[str]:
    path = root / "lazy-marker.txt"
    return path.read_text().split() if path.exists() else []


def test_forked_runs_find_the_lazy_import_done_and_see_each_edit(target):
    scratch, root = target
    ev = PytestEvaluator(sys.executable, scratch=scratch, fork=True)
    try:
        first = ev.run(root, paths=["test_mod.py"])
        (root / "mod.py").write_text("def value():\n    return 2\n")  # a candidate's edit
        second = ev.run(root, paths=["test_mod.py"])
        server = next(iter(ev._servers.values()))
    finally:
        ev.close()
    assert server is not None, ev.fork_fallbacks  # the runs were forked
    outcomes = {t.split("::")[1]: r.outcome for t, r in first.results.items()}
    assert outcomes == {"test_value": "passed", "test_conftest_fixture": "passed",
                        "test_nothing_of_the_warm_up_left": "passed",
                        "test_assertions_rewritten": "failed"}, first.results
    assert "[1, 2] == [1, 3]" in first.results["test_mod.py::test_assertions_rewritten"].message
    assert second.results["test_mod.py::test_value"].outcome == "failed"  # the edit is seen
    # the helper the plugin imports at session finish was already in each forked child
    assert _marker(root) == ["warm", "warm"], _marker(root)


def test_plain_runs_import_it_themselves(target):
    scratch, root = target
    ev = PytestEvaluator(sys.executable, scratch=scratch, fork=False)
    try:
        ev.run(root, paths=["test_mod.py"], select=["test_mod.py::test_value"])
    finally:
        ev.close()
    assert _marker(root) == ["fresh"]


def test_no_warm_up_when_it_would_import_the_target(make_repo, tmp_path, monkeypatch):
    """A plugin whose lazy import is a module the worktree defines: no warm-up (the target's
    code must be imported fresh in each child), and the fork server still serves."""
    scratch = install_plugin(tmp_path, monkeypatch)
    root = make_repo({**TARGET, "lazyplug_heavy.py": "HEAVY = 'the target'\n"})
    ev = PytestEvaluator(sys.executable, scratch=scratch, fork=True)
    try:
        run = ev.run(root, paths=["test_mod.py"], select=["test_mod.py::test_value"])
        server = next(iter(ev._servers.values()))
    finally:
        ev.close()
    assert run.results["test_mod.py::test_value"].outcome == "passed"
    assert server is not None and "lazyplug_heavy" not in server.modules
    assert server.warm.get("error", "").startswith("skipped"), server.warm
    assert _marker(root) == ["fresh"]


def test_a_forked_child_leaves_the_servers_objects_to_the_permanent_generation(tmp_path):
    """The child's garbage collections (pytest runs two per session) walk only what the child
    made: what it inherited from the server is frozen (``gc.freeze()``)."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "test_gc.py").write_text(
        "import gc\n\n\ndef test_inherited_objects_are_frozen():\n"
        "    assert gc.get_freeze_count() > 1000\n")
    for fork, outcome in ((True, "passed"), (False, "failed")):  # a plain process has nothing frozen
        ev = PytestEvaluator(sys.executable, fork=fork)
        try:
            run = ev.run(root, select=["test_gc.py::test_inherited_objects_are_frozen"], paths=["test_gc.py"])
            assert run.results["test_gc.py::test_inherited_objects_are_frozen"].outcome == outcome
        finally:
            ev.close()

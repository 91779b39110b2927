"""pytest's auto-loaded plugins are loaded by name (``--disable-plugin-autoload -p NAME``):
the same plugins run, but their distributions' modules are not assertion-rewritten in every
test process (hypothesis's plugin imports all of ``hypothesis`` at the end of each session,
and with bytecode writing off pytest rewrote and compiled it again each time, ~1 s of CPU)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from harness.evaluators.pytest_output import plugin_args, probe_here
from harness.evaluators.pytest_runner import PytestEvaluator

#: a plugin distribution installed in the repository itself (its dist-info on sys.path): the
#: plugin module gives a fixture and, like hypothesis's, imports a helper of its package lazily.
PLUGIN_REPO = {
    "fakeplug-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: fakeplug\nVersion: 1.0\n",
    "fakeplug-1.0.dist-info/entry_points.txt": "[pytest11]\nfakeplug = fakeplug_plugin\n",
    "fakeplug-1.0.dist-info/RECORD": "fakeplug_plugin.py,,\nfakeplug_helper.py,,\n",
    "fakeplug_plugin.py": textwrap.dedent("""\
        import pytest

        @pytest.fixture
        def answer():
            return 42

        def pytest_terminal_summary(terminalreporter):
            import fakeplug_helper  # noqa: F401 (imported lazily, as hypothesis's plugin does)
        """),
    "fakeplug_helper.py": "LOADER = __loader__\n",
    "test_it.py": textwrap.dedent("""\
        def test_plugin_fixture(answer):
            assert answer == 42

        def test_helper_not_rewritten():
            import fakeplug_helper
            assert type(fakeplug_helper.LOADER).__name__ != "AssertionRewritingHook"
        """),
}


def test_plugin_args_parses_the_probe():
    assert plugin_args('["9.2.0", ["anyio", "xdist.looponfail"]]\n') == [
        "--disable-plugin-autoload", "-p", "anyio", "-p", "xdist.looponfail"]
    assert plugin_args('["8.4.0rc1", []]') == ["--disable-plugin-autoload"]
    assert plugin_args('["8.3.5", ["anyio"]]') == []  # no such flag before 8.4
    assert plugin_args("") == [] and plugin_args("Traceback ...") == []


@pytest.mark.skipif(tuple(int(x) for x in pytest.__version__.split(".")[:2]) < (8, 4),
                    reason="--disable-plugin-autoload needs pytest 8.4")
@pytest.mark.parametrize("fork,wrapped", [(True, False), (False, False), (True, True)])
def test_plugins_load_by_name_and_their_modules_are_not_rewritten(make_repo, tmp_path, fork, wrapped):
    root = make_repo(PLUGIN_REPO)
    python = sys.executable
    if wrapped:  # another interpreter path: the plugins are asked of it in a process of its own
        python = str(tmp_path / "python")
        Path(python).write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        Path(python).chmod(0o755)
        assert probe_here(python, root) is None
    ev = PytestEvaluator(python, scratch=tmp_path / "scratch", fork=fork)
    try:
        run = ev.run(root, paths=["test_it.py"])
    finally:
        ev.close()
    assert "-p" in ev._plugins and "fakeplug" in ev._plugins, ev._plugins
    assert {t: r.outcome for t, r in run.results.items()} == {
        "test_it.py::test_plugin_fixture": "passed",  # the plugin is loaded
        "test_it.py::test_helper_not_rewritten": "passed",  # its distribution is not rewritten
    }, run.results


def test_another_venv_of_the_same_interpreter_is_probed_in_its_own_process(make_repo, tmp_path):
    # a task's own venv resolves to the same binary as loopwright's; reading loopwright's plugin
    # list for it made pytest fail to start there ("Error importing plugin ...": not installed)
    import subprocess
    import venv

    root = make_repo({"test_a.py": "def test_a():\n    pass\n"})
    venv.EnvBuilder(with_pip=False, system_site_packages=False, symlinks=True).create(tmp_path / "venv")
    other = tmp_path / "venv" / "bin" / "python"
    assert other.resolve() == Path(sys.executable).resolve()
    assert probe_here(str(other), root) is None
    assert probe_here(sys.executable, root) is not None  # this very environment: read in-process
    bare = subprocess.run([str(other), "-c", "import pytest"], capture_output=True)
    assert bare.returncode != 0  # the other venv has no pytest at all: nothing of ours may leak in

"""loopwright's pytest runs behave like the user's ``python -m pytest`` (issue 21, found on
real repositories of the release-pair suite):

1. pytest-cov's options in the repository's ``addopts`` (arrow's tox.ini: ``--cov=arrow
   --cov-fail-under=100 --cov-report=xml``) are dropped from every loopwright run with
   ``-o addopts=...``: without pytest-cov pytest refused to start ("unrecognized arguments",
   the run ended as an error, exit 2); with it every test process wrote reports, ran a second
   tracer and exited 1 under the coverage floor. The other addopts stay.
2. The baseline's coverage starts before pytest imports the initial conftests: a
   ``conftest.py`` that imports the package under test (arrow's, pyjwt's) runs its
   module-level lines then, and they were missing from ``<import>``, so fault localization
   never ranked a bug in a class-level table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.config import DEFAULT_PROTECTED
from harness.core.evidence import IMPORT_CONTEXT
from harness.core.localize import localize
from harness.evaluators.addopts import plain_addopts
from harness.evaluators.pytest_runner import PytestEvaluator
from tests.conftest import PYTHON, fix_offline, write_tree

ADD = {
    "pkg/__init__.py": """
        def add(a, b):
            return a - b
    """,
    "tests/test_add.py": """
        from pkg import add


        def test_add():
            assert add(2, 3) == 5


        def test_zero():
            assert add(0, 0) == 0
    """,
}

#: what pytest-cov does with these options, for an environment without it (ours): defined by
#: the repository's own conftest, so ``--cov`` in addopts is accepted; a session run with them
#: writes coverage.xml into the tree (and fails under the floor: pytest-cov's exit status 1)
FAKE_PYTEST_COV = """
    import os


    def pytest_addoption(parser):
        group = parser.getgroup("cov")
        group.addoption("--cov", action="append", nargs="?", const=True, default=[])
        group.addoption("--cov-report", action="append", default=[])
        group.addoption("--cov-fail-under", type=float, default=None)
        group.addoption("--cov-branch", action="store_true")


    def pytest_sessionfinish(session):
        opt = session.config.option
        if opt.cov:
            if "xml" in opt.cov_report:
                with open(os.path.join(str(session.config.rootpath), "coverage.xml"), "w") as fh:
                    fh.write("<coverage/>")
            if opt.cov_fail_under:
                session.exitstatus = 1
"""


def test_cov_options_in_addopts_no_longer_stop_a_fix(make_repo):
    # Before: "could not run the tests ...: unrecognized arguments: --cov=pkg --cov-report=xml"
    # (status error, exit 2) in an environment without pytest-cov, as ours.
    files = {**ADD, "pytest.ini": "[pytest]\naddopts = -ra --cov=pkg --cov-report=xml\n"}
    # fix_offline asserts exit 0 and the user's tree as it was: no coverage.xml or .coverage in it
    summary, _, _ = fix_offline(make_repo, files, max_seconds=120)
    assert summary["status"] == "fixed", summary.get("error")
    diff = Path(summary["patch_path"]).read_text()
    assert "a + b" in diff and "coverage.xml" not in diff and ".coverage" not in diff


def test_the_runs_do_not_pass_cov_options_and_keep_the_other_addopts(make_repo):
    files = {**ADD, "conftest.py": FAKE_PYTEST_COV,
             "pkg/__init__.py": 'def add(a, b):\n    """\n    >>> add(1, 1)\n    2\n    """\n    return a + b\n',
             "setup.cfg": "[tool:pytest]\naddopts =\n    --cov pkg --cov-branch\n    --doctest-modules\n"
                          "    --cov-report=xml --cov-fail-under=100\n"}
    root = make_repo(files)
    ev = PytestEvaluator(PYTHON)
    try:
        run = ev.run(root, coverage=True)
        # --doctest-modules is kept: the docstring's example is a test
        assert {t: r.outcome for t, r in run.results.items()} == {
            "pkg/__init__.py::pkg.add": "passed", "tests/test_add.py::test_add": "passed",
            "tests/test_add.py::test_zero": "passed"}
        assert ev.confirm(root, sorted(run.results)) == ""  # a plain fresh process too
    finally:
        ev.close()
    # before: every run, the coverage one included, wrote the report into the tree
    assert not (root / "coverage.xml").exists()


@pytest.mark.parametrize(("name", "text"), [
    ("pytest.ini", "[pytest]\naddopts = -ra --cov=arrow --cov-report term-missing -p no:randomly\n"),
    ("tox.ini", "[tox]\nenvlist = py\n\n[pytest]\naddopts = -ra --cov-branch --cov=arrow --cov-fail-under=100 "
                "--cov-report=term-missing --cov-report=xml\n"),
    ("setup.cfg", "[metadata]\nname = x\n\n[tool:pytest]\naddopts = --cov arrow -ra\n"),
    ("pyproject.toml", '[tool.pytest.ini_options]\naddopts = "--cov=arrow -ra"\n'),
    ("pyproject.toml", '[tool.pytest.ini_options]\naddopts = ["--cov", "arrow", "-ra"]\n'),
    ("pyproject.toml", '[tool.pytest]\naddopts = ["--no-cov-on-fail", "-ra", "--cov-precision", "2"]\n'),
    ("pytest.toml", '[pytest]\naddopts = ["-ra", "--cov=arrow"]\n'),
])
def test_plain_addopts_reads_each_config_file_as_pytest_does(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    assert plain_addopts(tmp_path) == ("-ra -p no:randomly" if name == "pytest.ini" else "-ra")


def test_plain_addopts_takes_the_file_pytest_takes_and_follows_no_link(tmp_path):
    # pytest.ini is pytest's configuration even without a [pytest] section: pyproject's is not used
    write_tree(tmp_path, {"pytest.ini": "[other]\nx = 1\n", "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "--cov=x"\n'})
    assert plain_addopts(tmp_path) is None
    # a tox.ini without [pytest] is not: setup.cfg's [tool:pytest] is
    (tmp_path / "pytest.ini").unlink()
    (tmp_path / "pyproject.toml").unlink()
    write_tree(tmp_path, {"tox.ini": "[tox]\nenvlist = py\n", "setup.cfg": "[tool:pytest]\naddopts = -ra --cov=x\n"})
    assert plain_addopts(tmp_path) == "-ra"
    assert plain_addopts(tmp_path / "nothing-here") is None
    # no cov option: nothing to override
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\naddopts = -ra\n")
    assert plain_addopts(tmp_path) is None
    # a link in place of the config file is not followed
    outside = tmp_path / "elsewhere.ini"
    outside.write_text("[pytest]\naddopts = --cov=x -ra\n")
    (tmp_path / "pytest.ini").symlink_to(outside)
    assert plain_addopts(tmp_path) is None


LOCALES = {
    "pkg/__init__.py": """
        from pkg.locales import English, French

        __all__ = ["English", "French"]
    """,
    "pkg/locales.py": """
        class Locale:
            timeframes = {}

            def describe(self, unit, count):
                form = self.timeframes[unit]
                return form.format(count)


        class English(Locale):
            timeframes = {
                "second": "{0} seconds",
                "minute": "{0} minute",
                "hour": "{0} hours",
            }


        class French(Locale):
            timeframes = {
                "second": "{0} secondes",
                "minute": "{0} minutes",
                "hour": "{0} heures",
            }
    """,
    "tests/conftest.py": """
        import pytest

        import pkg


        @pytest.fixture
        def english():
            return pkg.English()
    """,
    "tests/test_locales.py": """
        from pkg import French


        def test_seconds(english):
            assert english.describe("second", 3) == "3 seconds"


        def test_minutes(english):
            assert english.describe("minute", 2) == "2 minutes"


        def test_french():
            assert French().describe("minute", 2) == "2 minutes"
    """,
}
WRONG = 12  # pkg/locales.py: "minute": "{0} minute", in English's class-level table
MINUTES = "tests/test_locales.py::test_minutes"


@pytest.mark.parametrize("tracer", ["coverage.py", "settrace"])
def test_lines_a_conftest_imports_are_in_the_baseline_and_localized(make_repo, tmp_path, monkeypatch, tracer):
    # Before: coverage started at pytest_configure, after tests/conftest.py had imported pkg, so
    # <import> had no line of pkg/locales.py, and localize() never returned the wrong entry.
    if tracer == "settrace":  # the target without coverage.py: the plugin's own tracer
        write_tree(tmp_path / "no-coverage", {"coverage/__init__.py": "raise ImportError('no coverage.py here')\n"})
        monkeypatch.setenv("PYTHONPATH", str(tmp_path / "no-coverage"))
    root = make_repo(LOCALES)
    ev = PytestEvaluator(PYTHON)
    try:
        run = ev.run(root, coverage=True)
        only = ev.run(root, coverage_tests=[MINUTES])
    finally:
        ev.close()
    assert [t for t, r in run.results.items() if not r.ok] == [MINUTES]
    locales = str((root / "pkg" / "locales.py").resolve())
    imported = set(run.coverage[IMPORT_CONTEXT][locales])
    assert {1, 2, 9, 10, WRONG, 17, 18} <= imported
    # settrace also records the call event: `def describe` in the test's lines tells the tracers apart
    assert (4 in run.coverage[MINUTES][locales]) == (tracer == "settrace")
    ranked = [(loc.path, loc.line) for loc in localize(root, run.results, run.coverage, DEFAULT_PROTECTED, limit=50)]
    assert ("pkg/locales.py", WRONG) in ranked
    # coverage of named tests only: still nothing recorded at import or outside them
    assert set(only.coverage) == {MINUTES}
    assert set(only.coverage[MINUTES][locales]) >= {5, 6} and WRONG not in only.coverage[MINUTES][locales]


def test_lines_pytest_imports_for_the_ini_file_are_in_the_baseline(make_repo):
    # pyjwt's `filterwarnings = ignore::jwt.warnings.InsecureKeyLengthWarning`: pytest imports
    # the package to resolve the category while it reads its configuration, before the conftests
    # (and before any hook of ours): only a measurement started in boot() sees those lines
    root = make_repo({
        "pytest.ini": "[pytest]\nfilterwarnings =\n    error\n    ignore::pkg.warnings.WeakKeyWarning\n",
        "pkg/__init__.py": "from pkg.keys import MIN_BITS, strong\n",
        "pkg/warnings.py": "class WeakKeyWarning(UserWarning):\n    pass\n",
        "pkg/keys.py": "MIN_BITS = 1024\n\n\ndef strong(bits):\n    return bits >= MIN_BITS\n",
        "tests/test_keys.py": "from pkg import strong\n\n\ndef test_strong():\n    assert strong(2048)\n\n\n"
                              "def test_weak():\n    assert not strong(1024)\n",
    })
    ev = PytestEvaluator(PYTHON)
    try:
        run = ev.run(root, coverage=True)
    finally:
        ev.close()
    assert [t for t, r in run.results.items() if not r.ok] == ["tests/test_keys.py::test_weak"]
    assert set(run.coverage[IMPORT_CONTEXT][str((root / "pkg" / "keys.py").resolve())]) == {1, 4}
    ranked = [(loc.path, loc.line) for loc in localize(root, run.results, run.coverage, DEFAULT_PROTECTED)]
    assert ("pkg/keys.py", 1) in ranked


@pytest.mark.parametrize("opts, kept", [
    ("-n auto -ra", "-ra"), ("-n 4 --dist loadfile -rA", "-rA"), ("-nauto -s", "-s"), ("-n4", ""),
    ("--numprocesses=2 --dist=loadscope --maxprocesses 3 -rA", "-rA"), ("-ra --looponfail", "-ra"),
    ("-ra --strict-markers", None),  # nothing of xdist, pytest-cov or verbosity: nothing to override
    # verbosity: loopwright reads the output at its own; -q with its -q hides the summary line
    ("-ra -q", "-ra"), ("-qq -s", "-s"), ("-vv --verbose", ""), ("--verbosity=2 -ra", "-ra"),
    ("--verbosity 1 -ra", "-ra"), ("--quiet --tb=short", "--tb=short"),
])
def test_xdist_and_verbosity_options_are_dropped_too(tmp_path, opts, kept):
    # `addopts = -n auto` (loopwright's own pyproject has it): the tests ran in xdist workers,
    # out of reach of loopwright's plugin, and every run stopped before any test
    (tmp_path / "pytest.ini").write_text(f"[pytest]\naddopts = {opts}\n")
    assert plain_addopts(tmp_path) == kept


@pytest.mark.parametrize("config", [
    {"pytest.ini": "[pytest]\naddopts = -n 2 -ra\n"},
    # lark's: with loopwright's own -q pytest printed no summary line, and the confirmation run
    # ended the fix with "evaluator fault: ... pytest's summary says 0"
    {"pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-ra -q"\n'},
], ids=["xdist", "quiet"])
def test_loopwright_fix_runs_in_a_repository_whose_addopts_ask_for_xdist_or_quiet_output(make_repo, config):
    out, root, _before = fix_offline(make_repo, {
        **config,
        "adult.py": "def is_adult(age):\n    return age > 18\n",
        "test_adult.py": "from adult import is_adult\n\n\ndef test_eighteen():\n    assert is_adult(18)\n\n\n"
                         "def test_seventeen():\n    assert not is_adult(17)\n"})
    assert out["status"] == "fixed" and "age >= 18" in out["patch"], out

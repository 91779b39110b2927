"""The confirmation run split by test file into processes run at once (harness/evaluators/confirm.py):
each process is still checked on its own three witnesses."""

from __future__ import annotations

from harness.evaluators.confirm import canary_check, chunks, summary_counts
from harness.evaluators.verdict import TestResult
from harness.evaluators.pytest_runner import PytestEvaluator
from tests.conftest import PYTHON

FORGER = """
import sys as _sys
_lw = _sys.modules.get("loopwright_pytest")
if _lw is not None and getattr(_lw, "_rec", None) is not None:
    _emit = _lw._rec.emit
    _lw._rec.emit = lambda r: _emit({**r, "outcome": "passed", "message": ""} if r.get("event") == "result" else r)
"""

FILES = {
    "a.py": "def one():\n    return 1\n",
    "b.py": "def two():\n    return 2\n",
    "tests/test_a.py": "from a import one\n\ndef test_one():\n    assert one() == 1\n\ndef test_one_again():\n    assert one() + 0 == 1\n",
    "tests/test_b.py": "from b import two\n\ndef test_two():\n    assert two() == 2\n",
}
IDS = ["tests/test_a.py::test_one", "tests/test_a.py::test_one_again", "tests/test_b.py::test_two"]


def test_tests_are_split_by_file_into_balanced_groups_in_order():
    ids = ["t/a.py::x", "t/b.py::y", "t/a.py::z", "t/c.py::w"]
    groups = chunks(ids, {"t/a.py::x": 5.0, "t/a.py::z": 5.0, "t/b.py::y": 4.0, "t/c.py::w": 4.0}, 2)
    assert sorted(groups) == [["t/a.py::x", "t/a.py::z"], ["t/b.py::y", "t/c.py::w"]]
    assert chunks(ids, {}, 1) == [ids]
    assert chunks(["t/a.py::x", "t/a.py::z"], {}, 4) == [["t/a.py::x", "t/a.py::z"]]  # a file is not split
    assert summary_counts("2 failed, 5 passed, 1 warnings in 0.12s") == {"failed": 2, "passed": 5, "warning": 1}


def test_a_split_confirmation_agrees_on_honest_results(make_repo):
    root = make_repo(FILES)
    ev = PytestEvaluator(PYTHON)
    try:
        assert ev.confirm(root, IDS, jobs=2, process_timeout=120) == ""
    finally:
        ev.close()


def test_a_split_confirmation_catches_a_forged_pass_in_one_of_its_processes(make_repo):
    # test_one_again fails for real; a.py rewrites the plugin's records to say it passed
    root = make_repo({**FILES, "a.py": FORGER + "\ndef one():\n    return 1\n",
                      "tests/test_a.py": FILES["tests/test_a.py"].replace("one() + 0 == 1", "one() + 1 == 1")})
    ev = PytestEvaluator(PYTHON)
    try:
        flaky: set[str] = set()
        problem = ev.confirm(root, IDS, jobs=2, process_timeout=120, flaky=flaky)
    finally:
        ev.close()
    # the canary that must fail is forged to pass too (the forger rewrites every record)
    assert problem.startswith("verdict forged: the canary test that must fail reports passed"), problem
    assert not flaky


def test_canaries_skipped_by_their_module_are_no_evidence_but_a_stubbed_runner_is():
    """semantic-version's first test module was skipped (no Django): both canaries reported
    skipped, and a correct fix was called forged. Both skipped is no evidence either way (a skip is
    never a pass); a must-fail canary that passes is a forged verdict."""
    names = {"pass": "test_c1", "fail": "test_c2"}
    ok = {"t.py::test_real": TestResult("t.py::test_real", "passed")}

    def results(p: str, f: str) -> dict:
        return {**ok, "t.py::test_c1": TestResult("t.py::test_c1", p), "t.py::test_c2": TestResult("t.py::test_c2", f)}

    assert canary_check(results("skipped", "skipped"), names) == ""
    assert canary_check(results("passed", "failed"), names) == ""
    assert "must fail reports passed" in canary_check(results("passed", "passed"), names)


def test_a_test_cut_by_its_limit_under_load_gets_a_looser_limit_alone(make_repo, monkeypatch):
    import harness.evaluators.confirm as confirm_module

    monkeypatch.setattr(confirm_module, "ALONE_MIN_SECONDS", 5.0)  # the hang below is cut sooner
    # validation saw test_slow pass within its limit; the confirmation's limit is cut to
    # 0.5 s here, as a loaded machine does to a fast test: alone, with a looser limit, it passes
    slow = "import time\n\ndef test_slow():\n    time.sleep(1.5)\n"
    root = make_repo({**FILES, "tests/test_c.py": slow})
    ids = [*IDS, "tests/test_c.py::test_slow"]
    ev = PytestEvaluator(PYTHON)
    try:
        flaky: set[str] = set()
        limits = {t: 0.5 for t in ids}
        assert ev.confirm(root, ids, timeouts=limits, process_timeout=120, flaky=flaky) == ""
        assert flaky == {"tests/test_c.py::test_slow"}
        hang = "def test_slow():\n    while True:\n        pass\n"  # a hang is still cut
        root2 = make_repo({**FILES, "tests/test_c.py": hang})
        problem = ev.confirm(root2, ids, timeouts={**limits, "tests/test_c.py::test_slow": 1.0},
                             process_timeout=120, flaky=set())
        assert "do not pass in a fresh run" in problem and "test_slow" in problem
    finally:
        ev.close()


def test_a_test_that_parses_all_of_sys_argv_passes_in_validation_and_confirmation_alike(make_repo):
    # rsa's CLI calls `parser.parse_args(sys.argv)`: under `python -c BOOT` sys.argv[0] was "-c",
    # an unknown option, so a test that passed in validation failed in every confirmation run
    files = {"cli.py": "import optparse, sys\n\n\ndef main():\n    parser = optparse.OptionParser()\n"
                       "    parser.add_option('-i', dest='infile')\n    opts, _ = parser.parse_args(sys.argv)\n"
                       "    return opts.infile\n",
             "test_cli.py": "import sys\nfrom cli import main\n\n\ndef test_main():\n    old = sys.argv[:]\n"
                            "    sys.argv[1:] = ['-i', 'key.pem']\n    try:\n        assert main() == 'key.pem'\n"
                            "    finally:\n        sys.argv[:] = old\n"}
    root = make_repo(files)
    ev = PytestEvaluator(PYTHON)
    try:
        assert ev.run(root).results["test_cli.py::test_main"].ok
        assert ev.confirm(root, ["test_cli.py::test_main"], process_timeout=120) == ""
    finally:
        ev.close()


def test_the_main_module_is_pytests_as_under_python_m_pytest(make_repo):
    # python-dotenv's `_is_interactive()` asks `not hasattr(__main__, "__file__")`: under `python -c
    # BOOT` the answer was yes, so its tests of that check passed here and failed in the user's
    # `python -m pytest` (the task's failing tests were passing at baseline: nothing to fix)
    files = {"where.py": "import sys\n\n\ndef interactive():\n    main = __import__('__main__')\n"
                         "    return not hasattr(main, '__file__')\n",
             "test_where.py": "import os, sys\nfrom where import interactive\n\n\ndef test_not_interactive():\n"
                              "    assert not interactive()\n    main = sys.modules['__main__']\n"
                              "    assert main.__file__ == sys.argv[0]\n"
                              "    assert os.path.basename(sys.argv[0]) == '__main__.py'\n"
                              "    assert main.__spec__.name == 'pytest.__main__'\n"}
    root = make_repo(files)
    ev = PytestEvaluator(PYTHON)
    try:
        for coverage in (False, True):  # the fork server's child, then a plain process
            res = ev.run(root, coverage=coverage).results["test_where.py::test_not_interactive"]
            assert res.ok, res.message
        assert ev.confirm(root, ["test_where.py::test_not_interactive"], process_timeout=120) == ""
    finally:
        ev.close()


def test_canaries_never_split_a_class_or_another_module(make_repo):
    """wcmatch's TestGlobFilter keeps its file list in class state that skipped "update" cases
    set and ``setup_class`` resets: a canary placed among the class's tests made pytest tear the
    class down and set it up again, so later cases failed in every confirmation run (an
    evaluator fault, exit 1, on a correct partial fix). Canaries go only where a module-level
    function of their module could stand."""
    stateful = ("class TestState:\n    seen = []\n\n    @classmethod\n    def setup_class(cls):\n"
                "        cls.seen = []\n\n"
                + "".join(f"    def test_{i}(self):\n        type(self).seen.append({i})\n"
                          f"        assert type(self).seen == list(range({i + 1}))\n\n" for i in range(12)))
    module_state = ("import pytest\n\nSTATE = []\n\n\n@pytest.fixture(scope='module', autouse=True)\n"
                    "def reset():\n    STATE.clear()\n    yield\n\n\n"
                    + "".join(f"def test_m{i}():\n    STATE.append({i})\n    assert STATE == list(range({i + 1}))\n\n\n"
                              for i in range(12)))
    root = make_repo({"tests/test_a.py": stateful, "tests/test_b.py": module_state})
    ids = [f"tests/test_a.py::TestState::test_{i}" for i in range(12)] + [f"tests/test_b.py::test_m{i}" for i in range(12)]
    ev = PytestEvaluator(PYTHON)
    try:
        for _ in range(6):  # the canaries' places are random: each run must agree
            assert ev.confirm(root, ids, process_timeout=120) == ""
    finally:
        ev.close()

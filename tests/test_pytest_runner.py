"""The pytest evaluator: structured results from real pytest runs."""

from __future__ import annotations

import os
import time

import pytest

from harness.evaluators.pytest_runner import EvaluatorError, PytestEvaluator, TimeoutPolicy, check_pytest, resolve_python
from harness.core.localize import localize, ochiai
from sandbox.process import SandboxPolicy
from tests.conftest import PYTHON, survivors, write_tree

LIB = {
    "pkg/__init__.py": """
        def total(xs):
            s = 0
            for i in range(len(xs) - 1):
                s += xs[i]
            return s

        def ok(x):
            return x
    """,
    "tests/test_pkg.py": """
        import os
        from pkg import total, ok

        def test_total():
            assert total([1, 2, 3]) == 6

        def test_total_empty():
            assert total([]) == 0

        def test_ok():
            assert ok(1) == 1

        def test_hang():
            if os.environ.get("HANG"):
                while True:
                    try:
                        pass
                    except BaseException:
                        pass

        def test_die():
            if os.environ.get("DIE"):
                os._exit(3)

        def test_after():
            assert True is not False
    """,
}


@pytest.fixture
def lib(tmp_path):
    write_tree(tmp_path, LIB)
    return tmp_path


def test_structured_results_and_coverage(lib):
    ev = PytestEvaluator(PYTHON)
    run = ev.run(lib, coverage=True)
    assert not run.error and run.processes == 1
    assert run.results["tests/test_pkg.py::test_total"].outcome == "failed"
    r = run.results["tests/test_pkg.py::test_total"]
    assert r.message.startswith("AssertionError") and "3 == 6" in r.message
    assert r.frames[-1].path == "tests/test_pkg.py" and r.frames[-1].line == 5
    assert run.results["tests/test_pkg.py::test_ok"].outcome == "passed"
    cov = run.coverage["tests/test_pkg.py::test_total"]
    pkg = next(p for p in cov if p.endswith("pkg/__init__.py"))
    assert {2, 3, 4, 5} <= set(cov[pkg])
    assert 9 not in cov[pkg]


def test_coverage_of_named_tests_only_in_a_forked_run(lib):
    """``coverage_tests``: lines recorded only while those tests run (nothing at import, no other
    test), in the fork server's children as in a plain process; the results are the usual ones."""
    ev = PytestEvaluator(PYTHON)
    try:
        for _ in range(2):  # the first run starts the fork server, the second is served by it
            run = ev.run(lib, coverage_tests=["tests/test_pkg.py::test_total", "tests/test_pkg.py::test_ok"])
            assert not run.error and run.results["tests/test_pkg.py::test_total"].outcome == "failed"
            assert set(run.coverage) == {"tests/test_pkg.py::test_total", "tests/test_pkg.py::test_ok"}
            pkg = next(p for p in run.coverage["tests/test_pkg.py::test_ok"] if p.endswith("pkg/__init__.py"))
            assert set(run.coverage["tests/test_pkg.py::test_ok"][pkg]) == {8}
            assert {2, 3, 4, 5} == set(run.coverage["tests/test_pkg.py::test_total"][pkg])
        assert any(s is not None and s.served for s in ev._servers.values())
    finally:
        ev.close()


def test_capture_records_the_calls_of_named_functions(tmp_path):
    """``capture``: the named functions' arguments and results (or exception type) while the
    named tests run, object addresses removed, bounded per test; other tests record nothing."""
    write_tree(tmp_path, {
        "calc.py": """
            class Box:
                pass

            def half(n, box=None):
                if n % 2:
                    raise ValueError(n)
                return n // 2

            def safe(n):
                try:
                    return half(n)
                except ValueError:
                    return None
        """,
        "test_calc.py": """
            from calc import Box, half, safe

            def test_half():
                assert half(4, Box()) == 2 and safe(3) is None and safe(8) == 4

            def test_many():
                assert [half(2 * i) for i in range(50)] == list(range(50))

            def test_other():
                assert half(6) == 3
        """})
    ev = PytestEvaluator(PYTHON)
    spec = {"targets": [{"path": "calc.py", "name": "half"}, {"path": "calc.py", "name": "safe"}],
            "tests": ["test_calc.py::test_half", "test_calc.py::test_many"], "calls": 10}
    try:
        run = ev.run(tmp_path, capture=spec)
    finally:
        ev.close()
    assert not run.error and all(r.ok for r in run.results.values())
    assert run.calls["test_calc.py::test_half"] == [
        ["half", "n=4, box=<calc.Box object>", "= 2"], ["safe", "n=3", "= None"], ["half", "n=3, box=None", "! ValueError"],
        ["safe", "n=8", "= 4"], ["half", "n=8, box=None", "= 4"]]
    assert len(run.calls["test_calc.py::test_many"]) == 10 and "test_calc.py::test_other" not in run.calls


def test_hanging_and_dying_tests_lose_only_themselves(lib, monkeypatch):
    monkeypatch.setenv("HANG", "1")
    monkeypatch.setenv("DIE", "1")
    # the environment is an allow-list: variables a test needs are declared (a loop file's pass_env)
    ev = PytestEvaluator(PYTHON, SandboxPolicy(pass_env=("HANG", "DIE")), timeouts=TimeoutPolicy(default=1.0))
    t0 = time.monotonic()
    run = ev.run(lib, default_timeout=1.0, process_timeout=60)
    assert time.monotonic() - t0 < 30
    assert run.results["tests/test_pkg.py::test_hang"].outcome == "timeout"
    assert run.results["tests/test_pkg.py::test_die"].outcome == "error"
    assert "exited with code 3" in run.results["tests/test_pkg.py::test_die"].message
    assert run.results["tests/test_pkg.py::test_after"].outcome == "passed"  # rerun after the crash
    assert run.processes >= 2


def test_select_first_and_stop_on_regression(lib):
    ev = PytestEvaluator(PYTHON)
    ids = ["tests/test_pkg.py::test_ok", "tests/test_pkg.py::test_total"]
    run = ev.run(lib, select=ids)
    assert set(run.results) == set(ids)
    run = ev.run(lib, first=["tests/test_pkg.py::test_total"], stop_on=["tests/test_pkg.py::test_total"])
    assert run.stopped and list(run.results) == ["tests/test_pkg.py::test_total"]


def test_collection_error_is_work(tmp_path):
    write_tree(tmp_path, {"mod.py": "def f(:\n    pass\n", "test_mod.py": "from mod import f\n\ndef test_f():\n    f()\n"})
    run = PytestEvaluator(PYTHON).run(tmp_path)
    assert not run.error
    (tid, r), = run.results.items()
    assert tid == "test_mod.py" and r.outcome == "error"
    assert r.message.startswith("File") or "SyntaxError" in r.message
    assert ("mod.py", 1) in [(f.path, f.line) for f in r.frames]


def test_no_tests_is_an_error(tmp_path):
    write_tree(tmp_path, {"mod.py": "x = 1\n"})
    run = PytestEvaluator(PYTHON).run(tmp_path)
    assert run.error == "no tests were collected"


def test_missing_pytest_is_reported(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(EvaluatorError, match="pytest is not installed"):
        check_pytest(str(fake), tmp_path)
    with pytest.raises(EvaluatorError, match="no such interpreter"):
        resolve_python(tmp_path, str(tmp_path / "nope"))


def test_ochiai_formula():
    assert ochiai(0, 5, 2) == 0.0
    assert ochiai(2, 0, 2) == 1.0
    assert ochiai(1, 3, 1) == pytest.approx(1 / 2)


def test_localize_ranks_the_faulty_lines_first(lib):
    run = PytestEvaluator(PYTHON).run(lib, coverage=True)
    locs = localize(lib, run.results, run.coverage, protected=("tests/**",))
    assert locs and all(not loc.path.startswith("tests/") for loc in locs)
    top = {(loc.path, loc.line) for loc in locs if loc.score == locs[0].score}
    assert ("pkg/__init__.py", 4) in top or ("pkg/__init__.py", 3) in top
    assert all(loc.line != 9 for loc in locs)  # only passing tests run it: score 0


def test_a_candidate_is_judged_against_the_baseline_by_the_validator(make_repo):
    """What the product does with a test run (``harness.core.validate``): a patch that fixes the
    failing test but breaks a passing one names both and is rejected."""
    from harness.core.validate import Outcome
    from sandbox.patch import Patch
    from tests.test_fix import _validator

    src = "def inc(n):\n    return n\n\n\ndef dec(n):\n    return n - 1\n"
    root = make_repo({"num.py": src, "test_num.py": "from num import dec, inc\n\n\n"
                      "def test_inc():\n    assert inc(1) == 2\n\n\ndef test_dec():\n    assert dec(1) == 0\n"})
    validator, wt = _validator(root)
    try:
        assert validator.baseline.failing == ["test_num.py::test_inc"]
        swap = Patch.from_texts({"num.py": (src, src.replace("return n\n", "return n + 1\n")
                                            .replace("return n - 1", "return n + 1"))}, "both")
        seen: list[Outcome] = []
        assert validator.first_accepted([swap], time.monotonic() + 120, seen.append) is None
        (out,) = seen
        assert out.fixed == ["test_num.py::test_inc"] and out.broken == ["test_num.py::test_dec"]
        assert not out.accepted and "test_dec" in out.reason
    finally:
        validator.close()
        wt.remove()


def test_hanging_test_and_its_children_are_gone_after_the_timeout(tmp_path):
    token = f"loopwright-orphan-{os.getpid()}-{time.monotonic_ns()}"
    write_tree(tmp_path, {"test_spawn.py": f"""
        import subprocess, sys, time

        def test_spawn_and_hang():
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", {token!r}])
            subprocess.Popen(["setsid", sys.executable, "-c", "import time; time.sleep(120)", {token!r}])
            while True:
                try:
                    time.sleep(0.05)
                except BaseException:
                    pass
    """})
    for fork in (False, True):
        ev = PytestEvaluator(PYTHON, fork=fork)
        t0 = time.monotonic()
        run = ev.run(tmp_path, default_timeout=1.0, process_timeout=30)
        ev.close()
        assert time.monotonic() - t0 < 25
        assert run.results["test_spawn.py::test_spawn_and_hang"].outcome == "timeout"
        time.sleep(0.2)
        if run_mode(ev) == "strong":  # the weak fallback cannot catch setsid children
            assert not survivors(token)


def run_mode(ev: PytestEvaluator) -> str:
    return ev.policy.mode()


def test_messages_carry_no_terminal_colour_codes(make_repo):
    # humanize's `addopts = "--color=yes"`: pytest coloured its assertion diff, and the
    # recorded messages (what a generator reads, what a prompt shows) were full of `\x1b[91m`
    root = make_repo({"pytest.ini": "[pytest]\naddopts = --color=yes\n",
                      "test_word.py": "def test_word():\n    assert '1.0 Byte' == '1 Byte'\n"})
    ev = PytestEvaluator(PYTHON)
    try:
        res = ev.run(root).results["test_word.py::test_word"]
    finally:
        ev.close()
    assert res.outcome == "failed"
    assert "\x1b" not in res.message
    assert "- 1 Byte" in res.message and "+ 1.0 Byte" in res.message


WAITER = {
    "tests/test_wait.py": """
        import os
        import time

        HERE = os.path.dirname(os.path.abspath(__file__))

        def test_wait():
            open(os.path.join(HERE, "waiting.txt"), "w").close()
            for _ in range(600):
                if os.path.exists(os.path.join(HERE, "go.txt")):
                    return
                time.sleep(0.05)
            raise AssertionError("go.txt never came")

        def test_quick():
            assert True
    """,
}


def test_a_run_while_the_worktrees_fork_server_serves_another_thread_is_a_plain_process(tmp_path):
    """Two runs at once in one worktree (the shards of a split run without coverage): one is
    served by the fork server, the other runs in a plain process. Both asking the one server
    made one thread read, and drop, the other's reply: its run waited for its whole time limit
    (a review's baseline hung in the suite). Here the served test waits for a file the other
    run's caller writes only after its own run has returned."""
    import threading

    write_tree(tmp_path, WAITER)
    quick, wait = "tests/test_wait.py::test_quick", "tests/test_wait.py::test_wait"
    ev = PytestEvaluator(PYTHON)
    try:
        assert ev.run(tmp_path, select=[quick]).results[quick].outcome == "passed"  # starts the server
        server = ev._servers[tmp_path]
        runs = {}
        waiter = threading.Thread(target=lambda: runs.setdefault("wait", ev.run(tmp_path, select=[wait],
                                                                               process_timeout=60)))
        waiter.start()
        for _ in range(600):
            if (tmp_path / "tests/waiting.txt").exists():
                break
            time.sleep(0.05)
        runs["quick"] = ev.run(tmp_path, select=[quick], process_timeout=20)
        (tmp_path / "tests/go.txt").write_text("")
        waiter.join(90)
        assert runs["quick"].results[quick].outcome == "passed"
        assert runs["wait"].results[wait].outcome == "passed"
        # the server served the first run and the waiting one, and was never given up
        assert ev._servers[tmp_path] is server and server.served == 2 and not ev.fork_fallbacks
    finally:
        ev.close()

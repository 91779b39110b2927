"""What "fixed" proves, flaky tests, bugs the localizer could not see, and what the user reads.

Each case is a small real repository in ``tmp_path`` modelled on a bug met in a real
library (jmespath ``to_number``, colorama ``CYAN``, six ``_dummy_thread``), run through
``loopwright fix`` (real pytest, real git), asserting the verdict, the message and the
exit code.
"""

from __future__ import annotations

import json
import time

from typer.testing import CliRunner

from loopwright.cli import app
from harness.core.config import RunConfig
from harness.work.fix import fix
from harness.generators.templates import TemplateGenerator
from loops.spec import Limits
from harness.core.evidence import IMPORT_CONTEXT
from harness.core.validate import Baseline, Validator
from harness.evaluators.pytest_runner import PytestEvaluator, TimeoutPolicy
from sandbox.patch import Patch
from sandbox.worktree import Worktree, open_repo
from tests.conftest import PYTHON, lessons_file, run_dir, snapshot

runner = CliRunner()


def fix_json(root, *extra):
    res = runner.invoke(app, ["fix", str(root), "--python", PYTHON, "--json", "--max-seconds", "200",
                              *extra])
    return res.exit_code, json.loads(res.stdout)


# jmespath 1.0.1: a new test `to_number('nan') is None`; flipping `elif arg is None`
# makes it pass, and no passing test runs that branch.
TO_NUMBER = {
    "jp/__init__.py": "",
    "jp/functions.py": """
        def to_number(arg):
            if isinstance(arg, bool):
                return None
            if isinstance(arg, (int, float)):
                return arg
            elif arg is None:
                return None
            try:
                value = float(arg)
            except (TypeError, ValueError):
                return None
            return int(value) if value.is_integer() else value
    """,
    "tests/test_functions.py": """
        from jp.functions import to_number

        def test_number_passes_through():
            assert to_number(7) == 7

        def test_bool_is_not_a_number():
            assert to_number(True) is None

        def test_nan_is_not_a_number():
            assert to_number('nan') is None
    """,
}


def test_a_fix_no_passing_test_executes_is_reported_fixed_unprotected(make_repo):
    root = make_repo(TO_NUMBER)
    before = snapshot(root)
    code, out = fix_json(root)
    assert code == 0 and out["status"] == "fixed", out
    assert out["unprotected"] is True and out["protected_by_tests"] == 0
    assert any(m.startswith("fixed (unprotected)") for m in out["messages"])
    assert snapshot(root) == before
    lessons = lessons_file(root).read_text()
    assert "unprotected: no passing test executes the changed lines" in lessons
    state = json.loads((run_dir(root, out["run_id"]) / "state.json").read_text())
    lines = state["accepted"][0]["changed_lines"]
    assert lines and all(x["passing_tests"] == 0 and x["path"] == "jp/functions.py" for x in lines)


SCALE = """
    def scale(x):
        k = 3
        if x > 100:
            return x * 5
        return x * k
"""


def _validator(root):
    wt = Worktree.create(open_repo(root), "v", None)
    ev = PytestEvaluator(PYTHON, timeouts=TimeoutPolicy(min_seconds=2.0, default=5.0))
    base = ev.run(wt.path, coverage=True)
    baseline = Baseline(wt.path, base.results, base.collected, base.coverage, base.duration)
    return Validator(ev, [wt], baseline, ("tests/**",), 40, ev.timeouts), wt


def test_a_protected_fix_is_ranked_before_an_unprotected_one_in_a_src_layout(make_repo):
    root = make_repo({
        "src/scaler/__init__.py": SCALE,
        "tests/test_scale.py": """
            from scaler import scale

            def test_small():
                assert scale(1) == 3

            def test_big():
                assert scale(200) == 400
        """,
    })
    src = (root / "src/scaler/__init__.py").read_text()
    validator, wt = _validator(root)
    # overfit to the failing test, on a line only it runs
    lucky = Patch.from_texts({"src/scaler/__init__.py": (src, src.replace(
        "return x * 5", "return 400 if x == 200 else x * 5"))}, "lucky")
    # the same fix through a line the passing test runs too
    shared = Patch.from_texts({"src/scaler/__init__.py": (src, src.replace(
        "k = 3", "k = 2 if x > 100 else 3").replace("return x * 5", "return x * k"))}, "shared")
    seen = []
    chosen = validator.first_accepted([lucky, shared], time.monotonic() + 120, seen.append)
    validator.close()
    wt.remove()
    assert [o.patch.description for o in seen] == ["lucky", "shared"]
    assert seen[0].unprotected and "unprotected" in seen[0].reason and not seen[0].accepted
    assert chosen is seen[1] and chosen.accepted and not chosen.unprotected
    assert chosen.protection.tests == ["tests/test_scale.py::test_small"]
    assert chosen.protection.lines["src/scaler/__init__.py"][2] == 1  # `k = 3`: run by test_small


def test_a_flaky_test_is_rerun_alone_and_left_out_of_regression_checks(make_repo):
    # the counter lives in the worktree the tests run in (the only place a sandboxed test
    # may write): baseline run 1 passes, the candidate's run 2 fails, the re-run 3 passes
    root = make_repo({
        "calc.py": "def double(x):\n    return x * 3\n",
        "tests/test_calc.py": "from calc import double\n\ndef test_double():\n    assert double(2) == 4\n",
        "tests/test_flaky.py": """
            from pathlib import Path

            COUNTER = Path(__file__).with_name("runs.txt")

            def test_flaky():
                n = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
                COUNTER.write_text(str(n))
                assert n % 2 == 1, f"run {n}: this test fails every other run"
        """,
    })
    validator, wt = _validator(root)
    flaky = "tests/test_flaky.py::test_flaky"
    assert validator.baseline.results[flaky].ok
    src = (root / "calc.py").read_text()
    good = Patch.from_texts({"calc.py": (src, src.replace("x * 3", "x * 2"))}, "good")
    seen = []
    chosen = validator.first_accepted([good], time.monotonic() + 120, seen.append)
    runs_left = (wt.path / "tests" / "runs.txt").exists()  # the slot is reset by git after a candidate
    validator.close()
    wt.remove()
    assert chosen is seen[0] and chosen.accepted and chosen.broken == [], seen[0].reason
    # baseline run 1 passed, the candidate's run 2 failed, the re-run 3 passed: flaky
    assert validator.flaky == {flaky} and not runs_left
    assert "rerun" in chosen.seconds
    # from now on it is not held against any candidate: not even run
    assert flaky not in chosen.protection.tests


def _rejected(root, src_path: str, old: str, new: str):
    """The one outcome of validating the patch ``old -> new`` of ``src_path`` that is not
    accepted, and the validator (closed)."""
    validator, wt = _validator(root)
    seen = []
    patch = Patch.from_texts({src_path: (old, new)}, "candidate")
    assert validator.first_accepted([patch], time.monotonic() + 120, seen.append) is None
    validator.close()
    wt.remove()
    return seen[0], validator


def test_a_real_regression_is_still_one_after_the_rerun(make_repo):
    src = "def sign(x):\n    if x > 0:\n        return 1\n    return 0\n"
    root = make_repo({"s.py": src, "tests/test_s.py": "from s import sign\n\ndef test_neg():\n"
                      "    assert sign(-2) == -1\n\ndef test_zero():\n    assert sign(0) == 0\n"})
    out, validator = _rejected(root, "s.py", src, src.replace("return 0", "return -1"))
    assert out.broken == ["tests/test_s.py::test_zero"] and not validator.flaky
    assert "breaks tests/test_s.py::test_zero (passed before): AssertionError" in out.reason


def test_tests_a_run_stopped_at_a_regression_did_not_reach_are_not_called_broken(make_repo):
    src = "def sign(x):\n    if x > 0:\n        return 1\n    return 0\n\ndef double(x):\n    return 2 * x\n"
    others = "".join(f"def test_double_{n}():\n    assert double({n}) == {2 * n}\n\n" for n in range(6))
    root = make_repo({"s.py": src, "tests/test_s.py": "from s import sign\n\ndef test_neg():\n"
                      "    assert sign(-2) == -1\n\ndef test_zero():\n    assert sign(0) == 0\n",
                      "tests/test_t.py": "from s import double\n\n" + others})
    out, _ = _rejected(root, "s.py", src, src.replace("return 0", "return -1"))
    # the run stops at test_zero's failure: the six tests of test_t.py have no result, and are
    # not run, not broken (nor "not collected any more")
    assert out.broken == ["tests/test_s.py::test_zero"], out.broken
    assert "breaks tests/test_s.py::test_zero (passed before): AssertionError" in out.reason


def test_a_candidate_that_still_hangs_pays_one_time_limit_not_one_per_hanging_test(make_repo):
    src = "def bits(n):\n    count = 0\n    while n:\n        n ^= n - 1\n        count += 1\n    return count\n"
    tests = "from b import bits\n\n" + "".join(f"def test_{n}():\n    assert bits({n}) == {bin(n).count('1')}\n\n"
                                              for n in (1, 3, 7)) + "def test_zero():\n    assert bits(0) == 0\n"
    root = make_repo({"b.py": src, "tests/test_b.py": tests})
    out, validator = _rejected(root, "b.py", src, src.replace("count += 1", "count += 2"))
    assert [r.outcome for r in validator.baseline.results.values()].count("timeout") == 3
    # one of the three hanging tests is run as the probe; it hangs again and the candidate is done
    assert out.stage == "screen" and out.tests_run == 1 and "probe" in out.seconds, out
    assert "timed out" in out.reason


def test_a_flaky_test_is_rerun_named_and_left_out_of_regression_checks(make_repo):
    # The sandbox lets a test write only its own worktree, so the flakiness is kept per
    # worktree: the test passes in the run's worktree (baseline) and, in a validation
    # slot, fails every other run (the full-suite run fails, the re-run alone passes).
    root = make_repo({
        "calc.py": "def double(x):\n    return x * 3\n",
        "tests/test_calc.py": "from calc import double\n\ndef test_double():\n    assert double(2) == 4\n",
        "tests/test_flaky.py": """
            from pathlib import Path

            COUNTER = Path(__file__).parent / "flaky-counter"

            def test_flaky():
                n = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
                COUNTER.write_text(str(n))
                in_slot = ".slot" in Path(__file__).parts[-3]
                assert not (in_slot and n % 2 == 1), f"run {n}: this test fails every other run"
        """,
    })
    code, out = fix_json(root, "--jobs", "1")
    assert code == 0 and out["status"] == "fixed", out
    assert out["flaky_tests"] == ["tests/test_flaky.py::test_flaky"]
    assert any("flaky test: tests/test_flaky.py::test_flaky failed with a candidate and passed "
               "when re-run alone" in m for m in out["messages"])


# colorama 0.4.6: `CYAN = 36` -> `37` is a class attribute, run only at import.
COLORAMA = {
    "ansi.py": """
        CSI = '\\033['


        def code_to_chars(code):
            return CSI + str(code) + 'm'


        class AnsiCodes:
            def __init__(self):
                for name in dir(self):
                    if not name.startswith('_'):
                        setattr(self, name, code_to_chars(getattr(self, name)))


        class AnsiFore(AnsiCodes):
            RED = 31
            GREEN = 32
            CYAN = 37
            WHITE = 37


        Fore = AnsiFore()
    """,
    "tests/test_ansi.py": """
        from ansi import Fore

        def test_red():
            assert Fore.RED == '\\033[31m'

        def test_white():
            assert Fore.WHITE == '\\033[37m'

        def test_cyan():
            assert Fore.CYAN == '\\033[36m'
    """,
}


def test_a_bug_in_a_class_attribute_run_at_import_is_found_and_fixed(make_repo):
    root = make_repo(COLORAMA)
    code, out = fix_json(root)
    assert code == 0 and out["status"] == "fixed", out
    assert "+    CYAN = 36" in out["patch"]
    # only the failing test checks CYAN: honest about it
    assert out["unprotected"] is True


def test_import_time_lines_are_recorded_apart_from_the_tests(make_repo):
    root = make_repo(COLORAMA)
    base = PytestEvaluator(PYTHON).run(root, coverage=True)
    imported = base.coverage[IMPORT_CONTEXT][str(root / "ansi.py")]
    assert 18 in imported  # CYAN = 37
    assert all(18 not in files.get(str(root / "ansi.py"), []) for t, files in base.coverage.items()
               if t != IMPORT_CONTEXT)


# six 1.16: a wrong version check makes the repository import a module of Python 2.
SIX = {
    "compat.py": """
        import sys

        PY2 = sys.version_info[0] == 3


        def thread_module():
            if PY2:
                import dummy_thread as module
            else:
                import _thread as module
            return module
    """,
    "tests/test_compat.py": """
        from compat import PY2, thread_module

        def test_flag_is_a_bool():
            assert isinstance(PY2, bool)

        def test_thread_module():
            assert thread_module().get_ident()
    """,
}


def test_a_module_not_found_caused_by_the_repositorys_own_code_is_a_bug_not_a_missing_package(make_repo):
    root = make_repo(SIX)
    code, out = fix_json(root)
    # the only failure is `No module named 'dummy_thread'`, raised from inside a function
    assert "not installed" not in json.dumps(out)
    assert code == 0 and out["status"] == "fixed", out
    assert out["fixed_tests"] == ["tests/test_compat.py::test_thread_module"]


def test_an_unconditional_import_of_an_uninstalled_module_is_still_a_missing_package(make_repo):
    root = make_repo({"a.py": "import sys\nimport requests_not_installed_xyz\n",
                      "test_a.py": "import a\n\ndef test_a():\n    pass\n"})
    code, out = fix_json(root)
    assert code == 2 and "requests_not_installed_xyz is not installed" in out["error"]


def test_a_syntax_error_in_the_source_is_named_with_file_and_line(make_repo):
    root = make_repo({
        "calc.py": "def add(a, b)\n    return a + b\n",
        "test_calc.py": "from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    })
    code, out = fix_json(root, "--max-iterations", "3")
    assert any(m.startswith("syntax error in calc.py:1: SyntaxError: expected ':'") for m in out["messages"]), out
    assert code == 0 and out["status"] == "fixed", out
    assert "+def add(a, b):" in out["patch"]


def test_a_test_that_times_out_is_named_as_such(make_repo):
    root = make_repo({
        "count.py": "def count_to(n):\n    i = 0\n    while i != n:\n        i += 2\n    return i\n",
        "test_count.py": "from count import count_to\n\ndef test_even():\n    assert count_to(4) == 4\n\n"
                         "def test_odd():\n    assert count_to(3) == 3\n",
    })
    res = fix(root, TemplateGenerator(), RunConfig(
        python=PYTHON, limits=Limits(max_iterations=1, max_wall_seconds=20, no_progress=1),
        timeouts=TimeoutPolicy(min_seconds=1.0, default=2.0, baseline=2.0)))
    assert "test_count.py::test_odd timed out after 2 s at baseline" in res.messages, res.messages
    out = res.to_json()
    if out["remaining_failures"]:  # not fixed in one iteration: the reason is kept
        assert out["failure_reasons"]["test_count.py::test_odd"] == "timed out after 2 s"
        assert res.exit_code == 1


def test_the_human_summary_goes_to_stdout_whole(make_repo, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    root = make_repo(TO_NUMBER)
    res = runner.invoke(app, ["fix", str(root), "--python", PYTHON, "--max-seconds", "200"])
    assert res.exit_code == 0, res.output
    assert "fixed (unprotected)" in res.stdout and "warning" in res.stdout
    run_id = next(run_dir(root).iterdir()).name
    path = str(run_dir(root, run_id) / "patch.diff")
    assert f"patch: {path}\n" in res.stdout  # one line, never wrapped or cut
    assert f"apply it: git -C {root} apply {path}\n" in res.stdout


def test_json_error_results_carry_every_documented_field(tmp_path):
    res = runner.invoke(app, ["fix", str(tmp_path), "--python", PYTHON, "--json"])
    out = json.loads(res.stdout)
    assert res.exit_code == 2 and out["status"] == "error" and "not inside a git repository" in out["error"]
    for key in ("run_id", "stop_reason", "stop_detail", "fixed_tests", "remaining_failures", "patch",
                "patch_path", "branch", "wall_seconds", "test_seconds", "candidates_tried", "iterations",
                "cost_usd", "tokens", "messages", "exit_code", "protected_by_tests", "unprotected",
                "flaky_tests"):
        assert key in out, key


def test_review_without_a_key_does_not_suggest_the_templates_it_refuses(make_repo, monkeypatch, tmp_path):
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    root = make_repo({"a.py": "x = 1\n", "test_a.py": "from a import x\n\ndef test_x():\n    assert x == 1\n"})
    comments = tmp_path / "comments.json"
    comments.write_text(json.dumps([{"path": "a.py", "line": 1, "body": "rename x", "author": "r", "id": 1}]))
    res = runner.invoke(app, ["review", str(root), "--comments", str(comments), "--model", "anthropic:claude-x",
                              "--python", PYTHON])
    assert res.exit_code == 2
    assert "ANTHROPIC_API_KEY is not set" in res.output and "--model templates" not in res.output


def test_a_missing_type_checker_the_repo_configures_is_skipped_loudly_and_exit_2_with_types(make_repo, monkeypatch):
    """Issue 20: a configured evaluator that cannot run no longer stops the main job: the run
    goes on and says so (a WARNING note, ``evaluators`` in --json); ``--types`` makes it exit 2."""
    from harness.evaluators.types import TypeCheckEvaluator

    monkeypatch.setattr(TypeCheckEvaluator, "probe", lambda self, root=None: (False, "no type checker is installed"))
    # the repository configures mypy; `--types` was not given
    root = make_repo({"mypy.ini": "[mypy]\n", "calc.py": "def double(x):\n    return x * 3\n",
                      "test_calc.py": "from calc import double\n\ndef test_double():\n    assert double(2) == 4\n"})
    code, out = fix_json(root)
    assert code == 0 and out["status"] == "fixed", out
    assert out["evaluators"]["types"].startswith("skipped"), out["evaluators"]
    assert any("WARNING" in m and "types" in m for m in out["messages"]), out["messages"]
    code, out = fix_json(root, "--types")
    assert code == 2 and "(--types asks for it)" in out["error"]
    code, out = fix_json(root, "--no-types")
    assert code == 0 and out["status"] == "fixed", out


def test_the_confirmation_run_reruns_a_failing_test_alone_before_it_faults(make_repo):
    # a timing-sensitive test fails in the fresh confirmation run, then passes alone
    root = make_repo({"tests/test_timing.py": """
        from pathlib import Path

        COUNTER = Path(__file__).with_name("runs.txt")

        def test_timing():
            n = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
            COUNTER.write_text(str(n))
            assert n % 2 == 0, f"run {n}: fails every other run"

        def test_steady():
            pass
    """})
    ev = PytestEvaluator(PYTHON)
    ids = ["tests/test_timing.py::test_timing", "tests/test_timing.py::test_steady"]
    try:
        found: set[str] = set()
        assert ev.confirm(root, ids, flaky=found) == ""  # run 1 fails, run 2 (alone) passes
        assert found == {"tests/test_timing.py::test_timing"}
        assert "do not pass in a fresh run" in ev.confirm(root, ids)  # run 3 fails, no re-run asked
    finally:
        ev.close()

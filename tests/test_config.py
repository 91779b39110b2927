"""The run configuration: one RunConfig from loop file, pyproject, environment and flags,
range-checked at the edge; LSS fields the shipped loops set are enforced."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from harness.evaluators.pytest_runner import PytestEvaluator
from harness.evaluators.verdict import TestResult
from harness.core import config as config
from loopwright.cli import app
from harness.core.errors import UsageError
from harness.core.outcome import restrict
from harness.core.validate import Baseline, Validator
from loops.spec import builtin_spec
from sandbox.patch import Patch
from tests.conftest import PYTHON

FIX = builtin_spec("fix-failing-tests")


def test_precedence_flag_over_env_over_pyproject_over_loop_file(tmp_path):
    assert config.build(FIX, tmp_path, {}, env={}).limits.max_iterations == 30  # the loop file
    (tmp_path / "pyproject.toml").write_text('[tool.loopwright]\nmax-iterations = 5\njobs = 3\nmodel = "templates"\n')
    got = config.build(FIX, tmp_path, {}, env={})
    assert (got.limits.max_iterations, got.jobs, got.model) == (5, 3, "templates")
    env = {"LOOPWRIGHT_MAX_ITERATIONS": "7", "LOOPWRIGHT_MAX_COST": "0.5"}
    got = config.build(FIX, tmp_path, {}, env=env)
    assert (got.limits.max_iterations, got.limits.max_cost_usd, got.jobs) == (7, 0.5, 3)
    got = config.build(FIX, tmp_path, {"max_iterations": 9, "jobs": None}, env=env)
    assert (got.limits.max_iterations, got.jobs) == (9, 3)


def test_loop_file_values_reach_the_config():
    got = config.build(FIX, None, {}, env={})
    assert got.max_diff_lines == 40 and got.candidates_per_iteration == 64
    assert got.limits.max_wall_seconds == 600 and got.limits.no_progress == 8
    assert "**/conftest.py" in got.protected and got.editable == ("**",)
    assert got.static == {"lint": "configured", "types": "configured"}
    assert config.build(FIX, None, {}, env={}, force={"lint": True}).static["lint"] == "always"
    review = config.build(builtin_spec("review-comments"), None, {}, env={})
    assert review.max_diff_lines == 200 and review.candidates_per_iteration == 1


@pytest.mark.parametrize("args, named", [
    (["--max-seconds", "nan"], "--max-seconds nan"), (["--max-seconds", "inf"], "--max-seconds inf"),
    (["--max-seconds", "-5"], "--max-seconds -5"), (["--max-iterations", "-1"], "--max-iterations -1"),
    (["--max-iterations", "0"], "--max-iterations 0"), (["--jobs", "-1"], "--jobs -1"),
    (["--jobs", "0"], "--jobs 0"), (["--max-cost", "-1"], "--max-cost -1"), (["--max-tokens", "0"], "--max-tokens 0"),
])
def test_out_of_range_flags_exit_2_with_one_line(args, named, tmp_path):
    res = CliRunner().invoke(app, ["fix", str(tmp_path), *args])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {named}: must be"), res.output


def test_bad_environment_and_pyproject_values_name_their_source(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOPWRIGHT_JOBS", "many")
    res = CliRunner().invoke(app, ["fix", str(tmp_path), "--json"])
    assert res.exit_code == 2 and "LOOPWRIGHT_JOBS=many: must be a whole number >= 1" in res.output
    monkeypatch.delenv("LOOPWRIGHT_JOBS")
    (tmp_path / "pyproject.toml").write_text("[tool.loopwright]\nmax_seconds = -1\n")
    with pytest.raises(UsageError, match=r"\[tool.loopwright\] max_seconds = -1: must be a finite number > 0"):
        config.build(FIX, tmp_path, {}, env={})
    (tmp_path / "pyproject.toml").write_text("[tool.loopwright]\nmax_second = 5\n")
    with pytest.raises(UsageError, match="max_second: unknown setting"):
        config.build(FIX, tmp_path, {}, env={})


def test_a_loop_naming_an_unknown_evaluator_implementation_is_refused(tmp_path):
    text = Path(FIX.source).read_text().replace("implementation: harness.evaluators.lint.RuffEvaluator",
                                                 "implementation: harness.evaluators.lint.Nope")
    spec = tmp_path / "loop.yaml"
    spec.write_text(text)
    res = CliRunner().invoke(app, ["run", str(spec), str(tmp_path)])
    assert res.exit_code == 2 and "harness.evaluators.lint.Nope' is not an evaluator loopwright has" in res.output


def test_editable_paths_bound_where_a_patch_may_go(tmp_path):
    cfg = config.build(FIX, None, {}, env={})
    assert cfg.editable == ("**",)
    ev = PytestEvaluator(PYTHON, scratch=tmp_path / "scratch", fork=False)
    baseline = Baseline(tmp_path, {}, [], {}, 0.0)
    slot = SimpleNamespace(path=tmp_path)  # never used: the policy refuses the patch first
    validator = Validator(ev, [slot], baseline, cfg.protected, cfg.max_diff_lines, ev.timeouts,
                          editable=("src/**",))
    try:
        seen = []
        patch = Patch.from_texts({"setup_helpers.py": ("a = 1\n", "a = 2\n")}, "edit outside src")
        assert validator.first_accepted([patch], float("inf"), seen.append) is None
        assert seen[0].stage == "policy" and "outside the editable paths (src/**)" in seen[0].reason
    finally:
        validator.close()
        ev.close()


def test_tests_option_restricts_the_failing_tests_worked_on(tmp_path):
    results = {t: TestResult(t, "failed") for t in ("tests/test_a.py::test_x", "tests/test_b.py::test_y[1]")}
    results["tests/test_b.py::test_ok"] = TestResult("tests/test_b.py::test_ok", "passed")
    base = Baseline(tmp_path, dict(results), list(results), {}, 1.0)
    restrict(base, ("tests/test_b.py",))
    assert base.failing == ["tests/test_b.py::test_y[1]"] and base.passing == ["tests/test_b.py::test_ok"]
    with pytest.raises(UsageError, match=re.escape("--tests tests/test_c.py: no collected test")):
        restrict(Baseline(tmp_path, dict(results), list(results), {}, 1.0), ("tests/test_c.py",))


def test_the_loops_worker_model_settings_reach_its_generator(monkeypatch):
    from harness.cli.common import build_generator

    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    loop = builtin_spec("do-instruction")
    own = build_generator(loop.generator, loop)
    assert (own.temperature, own.max_tokens) == (0.2, 8192)  # workers[0].model in the loop file
    other = build_generator("openai:gpt-4.1-mini", loop)
    assert (other.temperature, other.max_tokens) == (None, 4096)  # another model: its defaults


def test_fix_with_tests_works_on_the_named_failing_test_only(make_repo):
    import json

    root = make_repo({"ages.py": "def is_adult(age):\n    return age > 18\n",
                      "names.py": "def greet(name):\n    return 'Hello, ' + name\n",
                      "tests/test_ages.py": "from ages import is_adult\n\n\ndef test_eighteen():\n    assert is_adult(18)\n",
                      "tests/test_names.py": "from names import greet\n\n\ndef test_bye():\n    assert greet('x') == 'Bye'\n"})
    res = CliRunner().invoke(app, ["fix", str(root), "--json", "--python", PYTHON, "--tests", "tests/test_ages.py"])
    out = json.loads(res.stdout)
    assert res.exit_code == 0 and out["status"] == "fixed", res.output
    assert out["fixed_tests"] == ["tests/test_ages.py::test_eighteen"] and "names.py" not in out["patch"]

"""Evaluators a user can count on: the target's own ruff; a configured evaluator that cannot
run is skipped loudly (the summary's ``evaluators``), and exit 2 only when ``--lint`` asks for it."""

from __future__ import annotations

import json
import sys

from ruff.__main__ import find_ruff_bin

from typer.testing import CliRunner

from harness.evaluators.lint import RuffEvaluator
from loopwright.cli import app
from tests.conftest import PYTHON, snapshot
from tests.test_fix import CLAMP


def test_the_target_environments_ruff_runs_when_it_has_one(tmp_path):
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    assert RuffEvaluator(python=str(bin_dir / "python")).command() == [sys.executable, "-m", "ruff"]
    ruff = bin_dir / "ruff"  # the target's own ruff: the native binary a ruff wheel installs
    ruff.symlink_to(find_ruff_bin())
    ev = RuffEvaluator(python=str(bin_dir / "python"))
    assert ev.command() == [str(ruff)]
    (tmp_path / "bad.py").write_text("import os\n")
    verdict = ev.run(tmp_path)
    assert not verdict.error and any("F401" in tid for tid in verdict.results), verdict


def test_a_configured_lint_evaluator_that_cannot_run_is_skipped_loudly_and_exit_2_with_lint(make_repo):
    broken = '[tool.ruff]\nline-length = "very long"\n'  # ruff refuses its own configuration
    root = make_repo({**CLAMP, "pyproject.toml": broken})
    before = snapshot(root)
    result = CliRunner().invoke(app, ["fix", str(root), "--python", PYTHON, "--json", "--lint"])
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert error.startswith("the lint evaluator cannot run (--lint asks for it): its baseline run failed")
    assert "--no-lint" in error and "\n" not in error
    result = CliRunner().invoke(app, ["fix", str(root), "--python", PYTHON, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "fixed"
    assert summary["evaluators"]["lint"].startswith("skipped: its baseline run failed"), summary["evaluators"]
    assert any(m.startswith("WARNING: the lint evaluator is skipped") for m in summary["messages"])
    result = CliRunner().invoke(app, ["fix", str(root), "--python", PYTHON, "--json", "--no-lint"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["evaluators"]["lint"] == "off: --no-lint"
    assert snapshot(root) == before

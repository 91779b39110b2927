"""Command-line conventions: --version, -h, completion, python -m loopwright, plain help,
doctor's exit codes (lazy subcommands: tests/test_session.py, which runs fix once)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from loopwright.cli import app
from harness.core.config import default_jobs
from tests.conftest import PYTHON

ROOT = Path(__file__).parents[1]


def test_version_and_short_help():
    for flag in ("--version", "-V"):
        res = CliRunner().invoke(app, [flag])
        assert res.exit_code == 0 and res.output.strip() == "loopwright 0.1.0"
    top = CliRunner().invoke(app, ["-h"])
    assert top.exit_code == 0 and "--install-completion" in top.output and "``" not in top.output
    fix = CliRunner().invoke(app, ["fix", "-h"])
    assert fix.exit_code == 0 and "<bool>" not in fix.output and "--tests" in fix.output
    assert f"(default: {default_jobs()}," in " ".join(fix.output.split())


def test_python_dash_m_loopwright(tmp_path):
    res = subprocess.run([sys.executable, "-m", "loopwright", "--version"], capture_output=True, text=True,
                         cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0 and res.stdout.strip() == "loopwright 0.1.0", res.stderr


def test_doctor_on_a_missing_path_is_exit_2(tmp_path):
    res = CliRunner().invoke(app, ["doctor", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_doctor_passes_and_warns_when_configured_tools_cannot_run(make_repo, monkeypatch):
    from harness.evaluators.lint import RuffEvaluator
    from harness.evaluators.types import TypeCheckEvaluator

    monkeypatch.setattr(RuffEvaluator, "probe", lambda self, root=None: (False, "ruff is not installed"))
    monkeypatch.setattr(TypeCheckEvaluator, "probe", lambda self, root=None: (False, "no type checker is installed"))
    root = make_repo({"a.py": "X = 1\n", "pyproject.toml": "[tool.ruff]\n[tool.mypy]\n"})
    res = CliRunner().invoke(app, ["doctor", str(root), "--python", PYTHON])
    assert res.exit_code == 0, res.output  # as `fix`, which goes on without them
    assert res.output.count("warning skipped:") == 2, res.output
    res = CliRunner().invoke(app, ["doctor", str(root), "--python", PYTHON, "--types"])
    assert res.exit_code == 1 and "--types asks for it" in res.output, res.output

"""One path from flags to a run, settings that survive a resume, and saying what a run is
doing: Ctrl-C/SIGTERM, status at 80 columns, progress on stderr, help metavars, the apply hint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.core import config
from harness.core.errors import UsageError
from loopwright.cli import app
from loops.spec import builtin_spec
from tests.conftest import PYTHON, git, run_dir

FIX = builtin_spec("fix-failing-tests")
CLI = [sys.executable, "-m", "loopwright"]
ROOT = Path(__file__).parents[1]

#: a bug the templates fix in a few candidates, and a test slow enough to stop a run during its baseline
SLOW = {
    "calc/__init__.py": "def add(a, b):\n    return a - b\n",
    "tests/test_add.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    "tests/test_slow.py": "import time\n\n\ndef test_slow():\n    time.sleep(1)\n",
}


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, env=_env(**env))


def _start_and_signal(root: Path, sig: int, *args: str, **env: str) -> tuple[str, subprocess.CompletedProcess]:
    """Start `loopwright fix ROOT ARGS` and send it ``sig`` once its run is saved as running
    (before its baseline ends); the run id and the finished process."""
    # Ctrl-C as a terminal gives it: a test worker that ignores SIGINT (a library it ran may have
    # set that) would pass SIG_IGN on, and Python then installs no KeyboardInterrupt handler
    proc = subprocess.Popen([*CLI, "fix", str(root), "--python", PYTHON, "--jobs", "1", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(**env),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    runs, deadline, run_id = run_dir(root), time.monotonic() + 120, None
    while time.monotonic() < deadline and run_id is None:
        for state in runs.glob("*/state.json") if runs.exists() else []:
            try:
                if json.loads(state.read_text())["status"] == "running":
                    run_id = state.parent.name
            except (ValueError, KeyError):
                pass
        time.sleep(0.05)
    assert run_id, "the run never started"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=300)
    return run_id, subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _state(root: Path, run_id: str) -> dict:
    return json.loads((run_dir(root, run_id) / "state.json").read_text())


def test_new_settings_have_env_and_pyproject_forms(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.loopwright]\ntypes = false\nlint = true\nkeep = true\n'
                                             'tests = ["tests/test_a.py::test_x"]\n')
    got = config.build(FIX, tmp_path, {}, env={})
    assert got.static == {"lint": "always", "types": "never"} and got.keep
    assert got.tests == ("tests/test_a.py::test_x",)
    env = {"LOOPWRIGHT_TYPES": "1", "LOOPWRIGHT_LINT": "off", "LOOPWRIGHT_TESTS": "a.py::t b.py",
           "LOOPWRIGHT_LESSONS": "yes"}
    got = config.build(FIX, tmp_path, {}, env=env)
    assert got.static == {"lint": "never", "types": "always"} and got.lessons
    assert got.tests == ("a.py::t", "b.py")
    got = config.build(FIX, tmp_path, {"types": False, "tests": ["c.py"]}, env=env)  # the flag wins
    assert got.static["types"] == "never" and got.tests == ("c.py",)
    assert got.settings["types"] is False and got.settings["lint"] is False  # what a run records
    with pytest.raises(UsageError, match="LOOPWRIGHT_LINT=maybe: must be true or false"):
        config.build(FIX, None, {}, env={"LOOPWRIGHT_LINT": "maybe"})


def test_a_resumed_run_uses_its_stored_settings_under_the_flags(tmp_path):
    stored = {"types": False, "max_iterations": 4, "tests": ["t.py::a"]}
    env = {"LOOPWRIGHT_TYPES": "1", "LOOPWRIGHT_MAX_ITERATIONS": "9"}
    got = config.build(FIX, tmp_path, {}, env=env, stored=stored)
    assert (got.static["types"], got.limits.max_iterations, got.tests) == ("never", 4, ("t.py::a",))
    got = config.build(FIX, tmp_path, {"types": True, "max_iterations": 2}, env=env, stored=stored)
    assert (got.static["types"], got.limits.max_iterations) == ("always", 2)


def test_docs_configuration_holds_the_settings_table():
    doc = (ROOT / "docs" / "configuration.md").read_text()
    assert config.settings_table() in doc
    for s in config.SETTINGS:
        assert s.env in doc and f"`{s.name}`" in doc


def test_help_shows_metavars_and_every_run_command_takes_the_same_run_options():
    import typer.main

    import harness.cli.fix  # noqa: F401  (the commands are loaded lazily)
    from loopwright.cli import COMMANDS

    for name in ("fix", "resume", "run"):
        out = CliRunner().invoke(app, [name, "-h"], env={"COLUMNS": "120"}).output
        for metavar in ("--python PATH", "--max-seconds SECONDS", "--max-cost USD", "--max-tokens TOKENS",
                        "--tests NODEID", "--types / --no-types", "--lint / --no-lint", "-v, --verbose",
                        "-q, --quiet", "LOOPWRIGHT_MAX_SECONDS"):
            assert metavar in out, (name, metavar)
        options_part = out.split("Options:")[1]
        assert not [t for t in ("<float>", "<list[str]>", "<int>", "<str>", "<path>") if t in options_part]
    settings = {s.flag.split("/")[0] for s in config.SETTINGS}

    def options(name):
        import importlib

        group = typer.main.get_group(importlib.import_module(COMMANDS[name]).commands)
        return {o for p in group.get_command(None, name).params for o in p.opts if o.startswith("-")}

    assert settings <= options("fix") and options("fix") == options("resume") == options("run")


def test_pytest_evaluator_leaves_no_temporary_folder(make_repo, monkeypatch, tmp_path):
    from harness.evaluators.pytest_runner import PytestEvaluator

    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    root = make_repo({"test_a.py": "def test_a():\n    assert True\n"})
    ev = PytestEvaluator(PYTHON)
    assert ev.run(root).results and list(where.glob("loopwright-pytest-*"))
    ev.close()
    assert list(where.glob("loopwright-pytest-*")) == []



def test_a_no_types_run_stopped_with_ctrl_c_says_how_to_resume_and_resumes_with_its_settings(make_repo):
    # the repository configures mypy, which cannot run here: --no-types is what lets the run go
    root = make_repo({**SLOW, "pyproject.toml": "[tool.mypy]\nstrict = false\n"})
    run_id, res = _start_and_signal(root, signal.SIGINT, "--no-types", "--json")
    assert res.returncode == 130, res.stderr
    hint = f"loopwright resume {run_id} {root.resolve()}"
    assert "stopped (Ctrl-C)" in res.stderr and hint in res.stderr
    out = json.loads(res.stdout)
    assert out["status"] == "interrupted" and out["run_id"] == run_id and out["resume"] == hint
    state = _state(root, run_id)
    assert state["status"] == "interrupted" and state["stop_reason"] == "interrupted"
    assert state["settings"]["types"] is False

    status = _cli("status", str(root), COLUMNS="80")
    assert run_id in status.stdout, status.stdout  # never cut at 80 columns
    assert "interrupted" in status.stdout and "Ctrl-C" in status.stdout and "KeyboardInterrupt" not in status.stdout
    (row,) = json.loads(_cli("status", str(root), "--json").stdout)
    assert row["status"] == "interrupted (resume it)"

    resumed = _cli("resume", run_id, str(root), "--python", PYTHON, "--jobs", "1", "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "fixed"
    assert _state(root, run_id)["settings"]["types"] is False
    steps = [json.loads(ln) for ln in (run_dir(root, run_id) / "trajectory.jsonl").read_text().splitlines()]
    judged = [st["verdict"] for st in steps if st["action"] == "evaluate"]
    assert judged and not [v for v in judged if "types" in v.get("seconds", {})]  # mypy never ran


def test_sigterm_cleans_up_like_ctrl_c(make_repo, tmp_path):
    root = make_repo(SLOW)
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    run_id, res = _start_and_signal(root, signal.SIGTERM, TMPDIR=str(tmp))
    assert res.returncode == 130, res.stderr
    assert "stopped (SIGTERM)" in res.stderr and f"loopwright resume {run_id}" in res.stderr
    assert sorted(p.name for p in tmp.iterdir() if p.name.startswith(("loopwright-gitconfig-",
                                                                     "loopwright-pytest-"))) == []
    assert run_id not in git(root, "worktree", "list")
    state = _state(root, run_id)
    assert state["status"] == "interrupted" and state["stop_detail"].startswith("terminated (SIGTERM)")
    # a dead run (its process killed before it could say so) is told apart once gc removed its worktrees
    state["status"] = "running"
    (run_dir(root, run_id) / "state.json").write_text(json.dumps(state))
    (row,) = json.loads(_cli("status", str(root), "--json").stdout)
    assert row["status"] == "dead, worktree gone (resume it)"
    assert _cli("gc", str(root)).returncode == 0
    (row,) = json.loads(_cli("status", str(root), "--json").stdout)
    assert row["status"] == "interrupted (resume it)" and row["stop_reason"] == "interrupted"


def test_progress_goes_to_stderr_and_the_apply_hint_works_from_any_folder(make_repo, tmp_path):
    root = make_repo({k: v for k, v in SLOW.items() if k != "tests/test_slow.py"})
    res = _cli("fix", str(root), "--python", PYTHON, "--jobs", "1", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["status"] == "fixed"
    assert "baseline:" in res.stderr and "iteration 1:" in res.stderr  # progress without a terminal
    quiet = _cli("fix", str(root), "--python", PYTHON, "--jobs", "1", "-q")
    assert quiet.returncode == 0 and quiet.stderr.strip() == ""
    (hint,) = [ln for ln in quiet.stdout.splitlines() if ln.startswith("apply it: ")]
    assert hint.startswith(f"apply it: git -C {root} apply /")
    cmd = hint.removeprefix("apply it: ").split() + ["--check"]
    assert subprocess.run(cmd, cwd=tmp_path, capture_output=True).returncode == 0

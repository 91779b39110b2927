"""Crash safety: resume after SIGKILL, status, gc, concurrent runs, doctor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import PYTHON, git, lessons_file, run_dir, snapshot
from tests.test_fix import CLAMP

CLI = [sys.executable, "-m", "loopwright"]


def cli(*args: str, cwd: Path | None = None, check_json: bool = True, columns: int | None = None):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    if columns:
        env["COLUMNS"] = str(columns)
    res = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=600, env=env)
    return res.returncode, (json.loads(res.stdout) if check_json else res.stdout + res.stderr)


def evaluated(root: Path, run_id: str) -> list[str]:
    path = run_dir(root, run_id) / "trajectory.jsonl"
    return [json.loads(ln)["patch"]["digest"] for ln in path.read_text().splitlines()
            if '"action": "evaluate"' in ln]


def test_run_killed_with_sigkill_resumes_to_the_same_patch(make_repo):
    files = {**CLAMP, "mathx/__init__.py": CLAMP["mathx/__init__.py"].replace("return x\n            return x", "return lo\n            return x")}
    reference = make_repo(files)
    code, ref = cli("fix", str(reference), "--python", PYTHON, "--json", "--jobs", "1")
    assert code == 0 and ref["candidates_tried"] >= 4  # enough steps to kill in between

    root = make_repo(files)
    before = snapshot(root)
    proc = subprocess.Popen([*CLI, "fix", str(root), "--python", PYTHON, "--json", "--jobs", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    runs = run_dir(root)
    deadline = time.monotonic() + 120
    run_id = None
    while time.monotonic() < deadline:
        ids = [p.name for p in runs.iterdir()] if runs.exists() else []
        if ids and len(evaluated(root, ids[0]) if (runs / ids[0] / "trajectory.jsonl").exists() else []) >= 2:
            run_id = ids[0]
            break
        time.sleep(0.05)
    assert run_id, "the run never got going"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before_kill = evaluated(root, run_id)
    assert len(before_kill) < ref["candidates_tried"]

    code, runs_listed = cli("status", str(root), "--json")
    assert [r["status"] for r in runs_listed] == ["dead (resume it)"]

    code, text = cli("gc", str(root), check_json=False)
    assert code == 0 and f"{run_id}" in text
    assert run_id not in git(root, "worktree", "list")

    code, out = cli("resume", run_id, str(root), "--python", PYTHON, "--json", "--jobs", "1")
    assert code == 0 and out["status"] == "fixed" and out["run_id"] == run_id
    assert out["patch"] == ref["patch"]
    after = evaluated(root, run_id)
    assert after[: len(before_kill)] == before_kill
    assert len(after) == len(set(after)), "a candidate was evaluated twice"
    assert out["candidates_tried"] == len(after)  # counted across the kill, not from the last save
    assert snapshot(root) == before
    code, runs_listed = cli("status", str(root), "--json")
    assert runs_listed[0]["status"] == "fixed"


def test_two_concurrent_runs_on_one_repo(make_repo):
    root = make_repo(CLAMP)
    procs = [subprocess.Popen([*CLI, "fix", str(root), "--python", PYTHON, "--json", "--jobs", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
             for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=600)[0]) for p in procs]
    assert [o["status"] for o in outs] == ["fixed", "fixed"]
    assert outs[0]["run_id"] != outs[1]["run_id"] and outs[0]["patch"] == outs[1]["patch"]
    for o in outs:
        assert git(root, "branch", "--list", o["branch"]).strip()
    lessons = lessons_file(root).read_text()
    assert lessons.count("<!-- lesson:") == 2 and lessons.count("# loopwright lessons") == 1


def test_resume_of_unknown_or_finished_run_is_bad_input(make_repo):
    root = make_repo(CLAMP)
    code, text = cli("resume", "nope", str(root), "--json", check_json=False)
    assert code == 2 and "no run nope" in text
    code, out = cli("fix", str(root), "--python", PYTHON, "--json")
    code, out2 = cli("resume", out["run_id"], str(root), "--python", PYTHON, "--json")
    assert code == 2 and "already finished" in out2["error"]


def test_doctor_reports_a_missing_tool(tmp_path, make_repo):
    root = make_repo(CLAMP)
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    code, text = cli("doctor", str(root), "--python", str(fake), check_json=False, columns=400)
    assert code == 1, text
    # the pytest row itself (not any row) says missing, and why; the table is wide enough not to wrap
    (row,) = [ln for ln in text.splitlines() if ln.strip("│ ").startswith("pytest ")]
    assert "missing" in row and f"pytest is not installed in {fake}" in row, row
    assert "network" in text

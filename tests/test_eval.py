"""``loopwright eval``: real suites of tiny repositories, real runs, metrics, traces, resume, Ray."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from evals.model_server import FakeLLMServer
from evals.traces import SCHEMA_PATH
from tests.conftest import git, write_tree

BUGS = [("a - b", "a + b"), ("a * b + 1", "a * b"), ("max(a, b)", "min(a, b)"), ("a // b", "a / b")]
GOLD = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"


def calc_repo(root: Path, i: int) -> Path:
    """A tiny repository whose ``f`` has bug number ``i % 4`` (the templates repairer fixes each)."""
    bug, good = BUGS[i % len(BUGS)]
    expect = {0: "5", 1: "6", 2: "2", 3: "1.5"}[i % len(BUGS)]
    args = "3, 2" if i % 4 == 3 else "2, 3"
    write_tree(root, {
        "calc.py": f"def add(a, b):\n    return a - b\n\n\ndef f(a, b):\n    return {bug}\n\n\n"
                   "def mul(a, b):\n    return a * b\n",
        "tests/test_calc.py": f"from calc import add, f, mul\n\n\ndef test_f():\n    assert f({args}) == {expect}\n\n\n"
                              "def test_mul():\n    assert mul(2, 3) == 6\n\n\ndef test_add_zero():\n"
                              "    assert add(0, 0) == 0\n",
    })
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    return root


def write_suite(tmp_path: Path, n: int, name: str = "tiny") -> Path:
    tasks = []
    for i in range(n):
        calc_repo(tmp_path / f"repo{i}", i)
        tasks.append(f"  - id: t{i}\n    repo: {{path: repo{i}}}\n    tests: [tests/test_calc.py::test_f]\n"
                     "    timeout: 120\n")
    suite = tmp_path / f"{name}.yaml"
    suite.write_text(f"suite: {name}\ndescription: tiny repos, one injected bug each\ntasks:\n" + "".join(tasks))
    return suite


def eval_cmd(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loopwright", "eval", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600, **kw)


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


@pytest.fixture
def worktrees(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOPWRIGHT_WORKTREES", str(tmp_path / "worktrees"))


def edit(search: str, replace: str, path: str = "calc.py") -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


def test_model_run_metrics_traces_and_generators_side_by_side(tmp_path, worktrees):
    """A scripted model first edits a test (safety violation), then breaks mul (caught by the
    full-suite stage), then fixes add; the recorded cassette is then replayed next to templates."""
    repo = tmp_path / "repo"
    write_tree(repo, {"calc.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
                      "tests/test_calc.py": "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5"
                                            "\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"})
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "initial")
    suite = tmp_path / "s.yaml"
    suite.write_text("suite: model\ntasks:\n  - id: add\n    repo: {path: repo}\n    tests: [tests/test_calc.py::test_add]"
                     "\n    timeout: 120\n    gold_patch: |\n" + "".join(f"      {ln}\n" for ln in GOLD.splitlines()))
    cheat = edit("    assert add(2, 3) == 5", "    assert True", path="tests/test_calc.py")
    breaks = edit("    return a - b", "    return a + b") + "\n" + edit("    return a * b", "    return a + b")
    good = edit("    return a - b", "    return a + b")
    out = tmp_path / "out"
    with FakeLLMServer([cheat, breaks, good]) as srv:
        res = eval_cmd(str(suite), "--generator", "openai:gpt-4.1-mini", "--out", str(out), "--export-traces",
                       str(tmp_path / "traces.jsonl"), env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": srv.openai_url})
    assert res.returncode == 0, res.stderr + res.stdout
    (row,) = rows(out)
    assert row["status"] == "fixed" and row["fixed"] and row["same_as_gold"] is True
    assert row["safety_violations"] == 1 and row["regressions_caught"] == 1
    assert row["tests_broken"] == ["tests/test_calc.py::test_mul"]
    assert row["model_calls"] == 3 and row["prompt_tokens"] > 0 and row["completion_tokens"] > 0
    assert row["cost_usd"] > 0 and row["iterations"] == 3 and row["candidates"] == 2
    assert row["context_recall"]["recalled"] is True and row["termination_reason"] == "goal_met"
    (trace,) = [json.loads(x) for x in (tmp_path / "traces.jsonl").read_text().splitlines()]
    jsonschema.validate(trace, json.loads(SCHEMA_PATH.read_text()))
    assert trace["version"] == 1 and len(trace["exchanges"]) == 3 and len(trace["candidates"]) == 2
    assert "test_add" in trace["exchanges"][0]["request"]["messages"][0]["content"]
    assert trace["exchanges"][2]["response"]["text"] == good and "+    return a + b" in trace["patch"]
    assert [c["verdict"]["stage"] for c in trace["candidates"]] == ["full", "full"]
    # the same task, templates next to a replay of the recorded model run (no server now)
    cassettes = tmp_path / "cassettes"
    cassettes.mkdir()
    shutil.copy(out / row["run_dir"] / "cassette.jsonl", cassettes / "add.jsonl")
    out2 = tmp_path / "out2"
    res = eval_cmd(str(suite), "--generator", "templates", "--generator", f"replay:{cassettes}", "--out", str(out2),
                   "--html", "--json", env={"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""})
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert set(summary["generators"]) == {"templates", f"replay:{cassettes}"}
    replayed = summary["generators"][f"replay:{cassettes}"]
    assert replayed["fixed_rate"] == 1.0 and replayed["model_calls"] == 3 and replayed["safety_violations"] == 1
    assert summary["generators"]["templates"]["model_calls"] == 0
    assert summary["generators"]["templates"]["fixed_rate"] == 1.0
    html = (out2 / "report.html").read_text()
    assert f"replay:{cassettes}" in html and html.count('class="run-link"') == 2


def test_an_interrupted_eval_resumes_with_only_the_rest(tmp_path, worktrees):
    suite = write_suite(tmp_path, 3)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "loopwright", "eval", str(suite), "--jobs", "1", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not (results.is_file() and results.read_text().count("\n") >= 1):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the eval and its workers, mid-way
    proc.wait()
    first = rows(out)
    assert 1 <= len(first) < 3, "the eval finished before it could be interrupted"
    res = eval_cmd(str(suite), "--jobs", "2", "--out", str(out), "--json")
    assert res.returncode == 0, res.stderr
    after = rows(out)
    assert sorted(r["key"] for r in after) == [f"t{i}@templates" for i in range(3)]  # each task exactly once
    assert after[:len(first)] == first  # the finished rows were kept, not rerun
    summary = json.loads(res.stdout)
    assert summary["eval"]["resumed_from"] == len(first) and summary["eval"]["ran"] == 3 - len(first)
    assert summary["generators"]["templates"]["fixed"] == 3
    again = eval_cmd(str(suite), "--out", str(out), "--json")  # nothing left: runs nothing
    assert json.loads(again.stdout)["eval"]["ran"] == 0 and rows(out) == after


# skipif, not importorskip in the body: the skip comes before the shared tiny_eval run is set up
@pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                    reason="ray is not installed: pip install 'loopwright[ray]' to run the Ray test (.ci/run does)")
def test_ray_runs_the_same_tasks_with_the_same_outcomes(tmp_path, tiny_eval):
    suite, local, summary = tiny_eval  # the same suite run locally with a process pool (--jobs 2)
    assert summary["eval"]["backend"] == "local" and summary["generators"]["templates"]["fixed"] == 3
    ray = eval_cmd(str(suite), "--ray", "--task", "t0", "--task", "t1", "--out", str(tmp_path / "ray"), "--json",
                   env={"RAY_ADDRESS": "", "RAY_USAGE_STATS_ENABLED": "0",
                        "LOOPWRIGHT_WORKTREES": str(tmp_path / "worktrees")})
    assert ray.returncode == 0, ray.stderr[-3000:]
    outcome = {r["task_id"]: (r["status"], r["fixed"], r["tests_fixed"]) for r in rows(local)}
    assert {r["task_id"]: (r["status"], r["fixed"], r["tests_fixed"]) for r in rows(tmp_path / "ray")} == \
        {t: outcome[t] for t in ("t0", "t1")}
    assert json.loads(ray.stdout)["eval"]["backend"] == "ray"
    assert {r["repo_source"] for r in rows(tmp_path / "ray")} == {"bundle"}  # no driver path on a worker
    assert {r["repo_source"] for r in rows(local)} == {"path"}


def test_bad_suite_and_missing_cassette_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("suite: x\ntasks: []\n")
    res = eval_cmd(str(bad), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "tasks" in res.stderr
    suite = write_suite(tmp_path, 1)
    res = eval_cmd(str(suite), "--generator", f"replay:{tmp_path / 'none'}", "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "no cassette" in res.stderr


def test_the_status_comment_links_the_html_report_when_uploaded(tmp_path):
    from harness.cli import ci as cli_ci
    from harness.work.github import GitHub
    from tests.github_server import GitHubServer

    url = "https://github.invalid/o/r/actions/runs/7#artifacts"
    with GitHubServer() as srv:
        srv.add_pull("o/r", 5, "feature", "f" * 40)
        gh = GitHub("t0ken", api_url=srv.url)
        out = {"notes": [], "exit_code": 0}
        cli_ci._sticky(gh, "o/r", 5, "status\n", out, {"LOOPWRIGHT_REPORT_URL": url})
        plain = {"notes": [], "exit_code": 0}
        cli_ci._sticky(gh, "o/r", 5, "status\n", plain, {})
    assert out["markdown"].endswith(f"[HTML report]({url}) (workflow artifact)\n")
    assert "HTML report" not in plain["markdown"]


def test_run_and_do_commands_run_as_tasks(tmp_path, worktrees):
    """``run LOOP.yaml`` and ``do INSTRUCTION`` tasks, with a model from the local wire-format server."""
    calc_repo(tmp_path / "a", 0)
    calc_repo(tmp_path / "b", 0)
    loop = Path(__file__).resolve().parents[1] / "loops" / "fix-failing-tests.yaml"
    shutil.copy(loop, tmp_path / "loop.yaml")
    suite = tmp_path / "cmds.yaml"
    suite.write_text("suite: cmds\ntasks:\n"
                     "  - {id: run, repo: {path: a}, command: run loop.yaml, timeout: 120}\n"
                     "  - {id: do, repo: {path: b}, command: 'do \"make add return the sum\"', timeout: 120}\n")
    fix_f = edit("def f(a, b):\n    return a - b", "def f(a, b):\n    return a + b")
    fix_add = edit("def add(a, b):\n    return a - b", "def add(a, b):\n    return a + b")
    with FakeLLMServer([fix_f, fix_add, "DONE: add returns the sum."]) as srv:
        res = eval_cmd(str(suite), "--generator", "openai:gpt-4.1-mini", "--out", str(tmp_path / "out"), "--json",
                       env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": srv.openai_url})
        sent = [json.dumps(r.body) for r in srv.requests]
    by_id = {r["task_id"]: r for r in rows(tmp_path / "out")}
    assert by_id["run"]["command"] == f"run {tmp_path / 'loop.yaml'}"
    assert by_id["run"]["status"] == "fixed" and by_id["run"]["model_calls"] >= 1, res.stderr
    assert by_id["do"]["status"] == "done" and by_id["do"]["fixed"], by_id["do"]
    assert any("make add return the sum" in s for s in sent)

"""The benchmark's replay mode: oracle cassettes recorded against the local model
server, replayed offline, prompt tokens measured (a real repo, real pytest, real SDK)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.bench import main as evals_bench_main
from evals import bench_replay
from harness.generators.tokens import TokenCounter
from tests.conftest import git, write_tree
from tests.test_fix import CLAMP

def task_info(root) -> dict:
    lines = (root / "mathx/__init__.py").read_text().splitlines()
    line = next(i for i, t in enumerate(lines, 1) if "if x >= hi" in t) + 1
    return {"library": "mathx", "version": "0", "seed": 1, "repo": str(root), "file": "mathx/__init__.py",
            "line": line, "new_line": lines[line - 1], "old_line": lines[line - 1].replace("x", "hi"),
            "description": "seeded: `hi` -> `x`"}


def bench_main(argv):
    return evals_bench_main(argv, replay_mode=bench_replay.replay_mode)


def test_oracle_reply_is_a_unique_search_replace(tmp_path):
    src = "def f(a):\n    return a\n\n\ndef g(a):\n    return a\n"  # the bug: g should negate
    (tmp_path / "m.py").write_text(src)
    info = {"repo": str(tmp_path), "file": "m.py", "line": 6, "new_line": "    return a",
            "old_line": "    return -a"}
    reply = bench_replay.oracle_reply(info)
    search = reply.split("<<<<<<< SEARCH\n")[1].split("\n=======")[0]
    replace = reply.split("=======\n")[1].split("\n>>>>>>>")[0]
    # `    return a` occurs twice: the block widens until it is unique, then only that line changes
    assert src.count(search) == 1 and "def g(a):" in search
    assert src.replace(search, replace) == src[: src.index("def g")] + "def g(a):\n    return -a\n"
    info["line"] = 5
    with pytest.raises(ValueError, match="not the injected line"):
        bench_replay.oracle_reply(info)


def prepared_task(workdir, monkeypatch) -> dict:
    """A task laid out as :func:`evals.bench.ensure_prepared` caches one:
    ``WORKDIR/tasks/mathx-0-s1/{repo,task.json}``, the bug committed in the repo."""
    monkeypatch.setenv("LOOPWRIGHT_WORKTREES", str(workdir / "worktrees"))
    repo = workdir / "tasks" / "mathx-0-s1" / "repo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    write_tree(repo, {**CLAMP, "mathx/unused.py": "PI = 3.14159\n", "README.md": "mathx\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "buggy")
    info = task_info(repo) | {"failing_tests": ["tests/test_clamp.py::test_above"]}
    (repo.parent / "task.json").write_text(json.dumps(info, indent=2))
    return info


def test_bench_record_oracle_then_replay(tmp_path, monkeypatch, capsys):
    workdir, cassettes = tmp_path / "bench", tmp_path / "cassettes"
    info = prepared_task(workdir, monkeypatch)
    suite = tmp_path / "suite.json"
    suite.write_text(json.dumps([{"library": "mathx==0", "seed": 1}]))
    common = ["--suite", str(suite), "--workdir", str(workdir), "--timeout", "240"]

    assert bench_main([*common, "--record-oracle", str(cassettes)]) == 0
    cassette = cassettes / "mathx-0-s1.jsonl"
    recorded = (cassettes / "mathx-0-s1.patch").read_text()
    assert len(cassette.read_text().splitlines()) == 1 and "+        return hi" in recorded
    assert "127.0.0.1" not in cassette.read_text()  # the prompts, not the server, are recorded

    out = tmp_path / "replay.json"
    assert bench_main([*common, "--replay", str(cassettes), "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "mathx-0-s1" in table and "fixed" in table and "whole-file tokens" in table
    data = json.loads(out.read_text())
    (row,) = data["rows"]
    assert row["status"] == "fixed" and row["same_patch"] is True
    assert row["requests"] >= 1 and row["prompt_tokens"] > 100 and row["request_tokens"] == [row["prompt_tokens"]]
    # only the source file the prompt names counts: not the tests, README.md or unused.py
    assert row["files"] == [info["file"]]
    counter = TokenCounter("openai", bench_replay.ORACLE_MODEL)
    assert row["whole_file_tokens"] == counter.count((Path(info["repo"]) / info["file"]).read_text()) > 0
    assert row["ratio"] == row["prompt_tokens"] / row["whole_file_tokens"]
    s = data["summary"]
    assert s["fixed"] == 1 and s["median_prompt_tokens_per_request"] == row["prompt_tokens"]
    assert s["mean_prompt_tokens_per_fixed_task"] == row["prompt_tokens"]
    assert s["mean_whole_file_tokens_per_task"] == row["whole_file_tokens"]


def test_whole_files_are_the_files_whose_code_is_shown(make_repo):
    root = make_repo({"util.py": "A = 1\n", "pkg/util.py": "B = 2\n", "pkg/core.py": "C = 3\n",
                      "tests/test_core.py": "def test_c(): pass\n"})
    prompt = ("`pkg/util.py`, lines 1-1 (`B`):\n...\n`tests/test_core.py`, lines 1-1:\n...\n"
              "AGENTS.md says: see pkg/core.py and util.py.")
    # an excerpt of pkg/util.py is shown; util.py and pkg/core.py are only mentioned; tests never count
    assert bench_replay.whole_files(root, [prompt]) == ["pkg/util.py"]


def test_replay_without_cassettes_is_bad_input(tmp_path, capsys):
    suite = tmp_path / "suite.json"
    suite.write_text("[]")
    assert bench_main(["--suite", str(suite), "--workdir", str(tmp_path), "--replay", str(tmp_path / "none")]) == 2

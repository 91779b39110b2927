"""The benchmark's replay mode: oracle cassettes recorded against the local model
server, replayed offline, prompt tokens measured (a real repo, real pytest, real SDK)."""

from __future__ import annotations

import json

from evals import bench_replay
from evals.bench import main as bench_main
from evals.bench import run_task
from tests.test_fix import CLAMP

BUGGY = CLAMP["mathx/__init__.py"]  # `return x` where `return hi` belongs (line 6 after dedent)


def task_info(root) -> dict:
    lines = (root / "mathx/__init__.py").read_text().splitlines()
    line = next(i for i, t in enumerate(lines, 1) if "if x >= hi" in t) + 1
    return {"library": "mathx", "version": "0", "seed": 1, "repo": str(root), "file": "mathx/__init__.py",
            "line": line, "new_line": lines[line - 1], "old_line": lines[line - 1].replace("x", "hi"),
            "description": "seeded: `hi` -> `x`"}


def test_oracle_reply_is_a_unique_search_replace(make_repo):
    root = make_repo(CLAMP)
    info = task_info(root)
    reply = bench_replay.oracle_reply(info)
    search = reply.split("<<<<<<< SEARCH\n")[1].split("\n=======")[0]
    # `return x` occurs twice in the file: the block widens until it is unique
    assert (root / info["file"]).read_text().count(search) == 1 and "return x" in search
    assert "return hi" in reply.split("=======\n")[1]


def test_record_then_replay_reports_prompt_tokens(make_repo, tmp_path):
    root = make_repo(CLAMP)
    info = task_info(root)
    cassette = tmp_path / "cassettes" / "mathx.jsonl"
    recorded = bench_replay.record_oracle(info, tmp_path / "rec", cassette, run_task, timeout=240)
    assert recorded.status == "fixed" and "return hi" in recorded.patch
    assert cassette.is_file() and len(cassette.read_text().splitlines()) == 1

    row = bench_replay.replay_task(info, tmp_path / "rep", cassette, run_task, "mathx", timeout=240)
    assert row.status == "fixed" and row.same_patch
    assert row.requests == 1 and row.prompt_tokens > 100
    # the prompt names mathx/__init__.py, whose whole text is counted
    whole = bench_replay.TokenCounter("openai", bench_replay.ORACLE_MODEL).count(BUGGY)
    assert 0 < row.whole_file_tokens <= whole + 5
    summary = bench_replay.summarize([row])
    assert summary["fixed"] == 1 and summary["median_prompt_tokens_per_request"] == row.prompt_tokens
    data = json.loads(bench_replay.to_json([row], summary))
    assert data["rows"][0]["requests"] == 1 and data["rows"][0]["ratio"] > 0


def test_replay_without_cassettes_is_bad_input(tmp_path, capsys):
    suite = tmp_path / "suite.json"
    suite.write_text("[]")
    assert bench_main(["--suite", str(suite), "--workdir", str(tmp_path), "--replay", str(tmp_path / "none")]) == 2

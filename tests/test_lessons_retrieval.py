"""Lessons as data (harness.core.lesson_records): a real run writes a record beside
lessons.md; for a new task the lessons about the failing test's file come first, with their
diffs, bounded; nothing secret or beyond the failure line is kept. Also ``status --kept``
and ``gc`` over the state a run leaves."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from harness.core.config import RunConfig
from harness.core.lesson_records import failure_line, lesson_texts, read_records, retrieve
from harness.core.outcome import Baseline
from loops.spec import Limits
from harness.evaluators.verdict import Frame, TestResult
from harness.generators.templates import TemplateGenerator
from harness.work.fix import fix
from loopwright.cli import app
from tests.conftest import PYTHON, snapshot

CLAMP = {
    "mathx/__init__.py": """
        API_TOKEN = "not-a-secret-but-looks-like-one"

        def clamp(x, lo, hi):
            if x < lo:
                return lo
            if x > hi:
                return lo
            return x
    """,
    "tests/test_clamp.py": """
        from mathx import clamp

        def test_inside():
            assert clamp(2, 0, 5) == 2

        def test_above():
            assert clamp(9, 0, 5) == 5
    """,
}


def _other(file: str, test: str, diff: str = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n") -> dict:
    return {"kind": "failing_tests", "file": file, "function": "f", "tests": [test], "failure": "KeyError",
            "failure_line": "KeyError: 'k'", "operator": "swap", "summary": "other", "diff": diff,
            "outcome": "fixed", "rejected": [], "run": "old", "date": "2026-01-01"}


def test_a_run_records_its_lesson_and_a_new_task_retrieves_the_ones_about_its_test_file(make_repo):
    root = make_repo(CLAMP)
    before = snapshot(root)
    res = fix(root, TemplateGenerator(), RunConfig(python=PYTHON, limits=Limits(30, 240, 8)))
    assert res.state.status == "fixed"
    assert snapshot(root) == before  # the records go to .git/loopwright, not the tree
    recs = read_records(root)
    assert len(recs) == 1
    rec = recs[0]
    assert rec["file"] == "mathx/__init__.py" and rec["function"] == "clamp"
    assert rec["tests"] == ["tests/test_clamp.py::test_above"] and rec["outcome"] == "fixed"
    assert rec["failure"] == "AssertionError" and "\n" not in rec["failure_line"]
    assert "return x" in rec["diff"] or "hi" in rec["diff"]
    assert rec["operator"]

    # lessons about other files were written later: retrieval still puts this one first
    path = root / ".git" / "loopwright" / "lessons.jsonl"
    with path.open("a") as fh:
        for i in range(3):
            fh.write(json.dumps(_other(f"pkg/m{i}.py", f"tests/test_m{i}.py::test_x")) + "\n")
    failing = "tests/test_clamp.py::test_below"  # a new task in the same test file
    result = TestResult(failing, "failed", "AssertionError: assert 5 == 0",
                        (Frame("tests/test_clamp.py", 9, "test_below"),))
    base = Baseline(root, {failing: result}, [failing], {}, 0.0)
    texts = lesson_texts(root, base, [])
    assert len(texts) == 1 and "tests/test_clamp.py::test_above" in texts[0] and "```diff" in texts[0]
    ranked = retrieve(read_records(root), [failing], {"pkg/m1.py"}, set(), set())
    assert ranked[0]["file"] == "mathx/__init__.py" and ranked[1]["file"] == "pkg/m1.py"


def test_retrieved_lessons_are_bounded_and_carry_no_secret(make_repo):
    root = make_repo(CLAMP)
    path = root / ".git" / "loopwright"
    path.mkdir(parents=True, exist_ok=True)
    big = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n" + "+line\n" * 900
    with (path / "lessons.jsonl").open("w") as fh:
        for i in range(5):
            fh.write(json.dumps(_other("pkg/m.py", f"tests/test_m.py::test_{i}", big[:3000])) + "\n")
    failing = "tests/test_m.py::test_new"
    base = Baseline(root, {failing: TestResult(failing, "failed", "KeyError: 'k'", ())}, [failing], {}, 0.0)
    texts = lesson_texts(root, base, [], limit_chars=7000)
    assert 1 <= len(texts) < 5 and sum(map(len, texts)) <= 7000
    assert failure_line("E   password=hunter2 rejected\nlots of output\nmore") == "E   [redacted] rejected"


def test_status_shows_the_kept_state_and_gc_drops_it(make_repo):
    root = make_repo(CLAMP)
    fix(root, TemplateGenerator(), RunConfig(python=PYTHON, limits=Limits(30, 240, 8)))
    runner = CliRunner()
    out = runner.invoke(app, ["status", str(root), "--kept", "--json"])
    assert out.exit_code == 0, out.output
    kept = json.loads(out.output)
    assert kept["runs"]["count"] == 1 and kept["memory"]["count"] > 0 and kept["baseline"]["count"] == 2
    assert kept["lessons"]["count"] == 1 and all(v["bytes"] > 0 for v in kept.values())
    table = runner.invoke(app, ["status", str(root), "--kept"]).output
    assert "candidates" in table and "test results" in table

    assert runner.invoke(app, ["gc", str(root), "--memory"]).exit_code == 0
    kept = json.loads(runner.invoke(app, ["status", str(root), "--kept", "--json"]).output)
    assert kept["memory"] == {"count": 0, "bytes": 0} and kept["baseline"]["count"] == 2
    assert runner.invoke(app, ["gc", str(root), "--all"]).exit_code == 0
    kept = json.loads(runner.invoke(app, ["status", str(root), "--kept", "--json"]).output)
    assert all(v == {"count": 0, "bytes": 0} for v in kept.values()), kept

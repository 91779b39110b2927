"""Candidate memory across runs (harness.core.memory): a second run skips what the first
rejected, on real repositories with real pytest runs; ``--fresh`` does not."""

from __future__ import annotations

from harness.core.config import RunConfig
from harness.core.memory import CandidateMemory, normalized
from loops.spec import Limits
from harness.generators.templates import TemplateGenerator
from harness.work.fix import fix
from tests.conftest import PYTHON, git, run_dir, snapshot

# a bug no one-token edit fixes: the offline repairer rejects candidate after candidate
SHAPES = {
    "shapes/__init__.py": """
        def area(w, h):
            total = w + h
            return total + 1
    """,
    "tests/test_shapes.py": """
        from shapes import area

        def test_square():
            assert area(3, 3) == 9

        def test_rect():
            assert area(2, 5) == 10
    """,
}


def _run(root, **kw):
    opts = dict(python=PYTHON, limits=Limits(max_iterations=1, max_wall_seconds=240, no_progress=8))
    return fix(root, TemplateGenerator(), RunConfig(**{**opts, **kw}))


def _evaluated(root, run_id) -> list[str]:
    import json

    steps = (run_dir(root, run_id) / "trajectory.jsonl").read_text().splitlines()
    return [json.loads(s)["patch"]["digest"] for s in steps if json.loads(s).get("action") == "evaluate"]


def test_a_second_run_skips_what_the_first_rejected_and_fresh_does_not(make_repo):
    root = make_repo(SHAPES)
    before = snapshot(root)
    first = _run(root)
    assert first.state.status == "not_fixed" and first.state.candidates_tried > 0
    tried = _evaluated(root, first.state.run_id)
    assert first.skipped_remembered == 0

    second = _run(root)
    again = _evaluated(root, second.state.run_id)
    assert second.skipped_remembered == len(tried)  # every candidate of the first run was rejected
    assert not set(again) & set(tried)  # nothing evaluated twice: the search went on
    assert second.to_json()["skipped_remembered"] == len(tried)
    assert any(f"skipped {len(tried)} candidates a previous run rejected" in m for m in second.messages)

    fresh = _run(root, fresh=True)
    assert fresh.skipped_remembered == 0
    assert _evaluated(root, fresh.state.run_id)[:len(tried)] == tried  # from the top again
    assert snapshot(root) == before  # the memory lives in .git/loopwright, not the tree
    assert (root / ".git" / "loopwright" / "memory.sqlite").is_file()


def test_a_commit_to_a_touched_file_makes_the_memory_not_match(make_repo):
    root = make_repo(SHAPES)
    first = _run(root)
    assert first.state.candidates_tried > 0
    (root / "shapes" / "__init__.py").write_text("def area(w, h):\n    total = w + h\n    return total + 2\n")
    git(root, "commit", "-qam", "another bug")
    second = _run(root)
    assert second.skipped_remembered == 0


def test_the_model_is_told_what_earlier_runs_rejected(make_repo):
    from harness.core.context import Context
    from harness.core.task import Task
    from harness.generators.prompt import build_first
    from harness.generators.tokens import TokenCounter

    root = make_repo(SHAPES)
    first = _run(root)
    memory = CandidateMemory(root, "later")
    failing = first.state.baseline_failing
    told = memory.remembered(failing, root)
    memory.close()
    assert told and len(told) <= 50
    assert {normalized(r.diff) for r in told} <= {normalized(d) for d in _diffs(root, first.state.run_id)}
    ctx = Context(root, Task("failing_tests", failing={}), remembered=told)
    text, _ = build_first(ctx, TokenCounter("other", "m"), 4000)
    assert "earlier runs already tried" in text and told[0].diff.strip().splitlines()[-1] in text
    small, _ = build_first(ctx, TokenCounter("other", "m"), 800)
    assert small.count("```diff") < text.count("```diff")  # bounded by the token budget


def _diffs(root, run_id):
    import json

    steps = (run_dir(root, run_id) / "trajectory.jsonl").read_text().splitlines()
    return [json.loads(s)["patch"]["diff"] for s in steps if json.loads(s).get("action") == "evaluate"]


def test_partial_fixes_come_back_as_leads_without_being_evaluated_again(tmp_path, monkeypatch):
    from evals.classic import make_repo as classic_repo
    from evals.classic_programs import PROGRAMS

    monkeypatch.setenv("LOOPWRIGHT_WORKTREES", str(tmp_path / "worktrees"))
    root = classic_repo(tmp_path, "lcs_length", PROGRAMS["lcs_length"])  # partial fixes at first
    first = _run(root)
    tried = _evaluated(root, first.state.run_id)
    partial = [s for s in _steps(root, first.state.run_id) if s["verdict"].get("viable")]
    assert first.state.status != "fixed" and partial
    second = _run(root, limits=Limits(max_iterations=2, max_wall_seconds=240, no_progress=8))
    assert second.skipped_remembered == len(tried)
    assert not set(_evaluated(root, second.state.run_id)) & set(tried)  # goal: nothing evaluated twice
    assert second.state.status == "fixed"  # the search went on from the remembered leads


def _steps(root, run_id):
    import json

    lines = (run_dir(root, run_id) / "trajectory.jsonl").read_text().splitlines()
    return [s for s in map(json.loads, lines) if s.get("action") == "evaluate"]


TWICE = {
    "calc/__init__.py": """
        def double(x):
            return x + 1
    """,
    "tests/test_calc.py": """
        from calc import double

        def test_two():
            assert double(2) == 4

        def test_zero():
            assert double(0) == 0

        def test_one():
            assert double(1) == 2
    """,
}


class Scripted:
    """An offline generator (no model call): the same patches in its first proposal of a run,
    nothing after; keeps the attempts each proposal was shown."""

    name = "scripted"
    builds_on_leads = False

    def __init__(self, patches):
        self.patches, self.shown = patches, []

    def generate(self, context):
        from harness.core.protocols import Proposal

        self.shown.append(list(context.attempts))
        return Proposal(candidates=self.patches if len(self.shown) == 1 else [])

    def estimate(self, context=None):
        from harness.core.protocols import Usage

        return Usage()

    def reset(self):
        pass

    @property
    def current(self):
        return self


def test_a_skipped_rejection_that_fixed_some_tests_is_shown_to_the_next_proposal_as_before(make_repo):
    """The offline search builds on rejected edits that made some failing tests pass (hot
    names): a continued run must show them to the search as the first run's next iteration
    saw them, in the same iteration in which they were skipped."""
    from sandbox.patch import Patch

    root = make_repo(TWICE)
    src = (root / "calc" / "__init__.py").read_text()
    plus_two = Patch.from_texts({"calc/__init__.py": (src, src.replace("x + 1", "x + 2"))}, "`1` -> `2`",
                                {"generator": "scripted"})  # fixes test_two, breaks test_one
    first = fix(root, Scripted([plus_two]), RunConfig(
        python=PYTHON, limits=Limits(max_iterations=1, max_wall_seconds=240, no_progress=8)))
    (step,) = _steps(root, first.state.run_id)
    assert step["verdict"]["fixed"] == ["tests/test_calc.py::test_two"] and not step["verdict"].get("viable")

    again = Scripted([plus_two])
    second = fix(root, again, RunConfig(python=PYTHON, limits=Limits(max_iterations=1, max_wall_seconds=240,
                                                                     no_progress=8)))
    assert second.skipped_remembered == 1 and not _evaluated(root, second.state.run_id)
    assert len(again.shown) == 2  # the skipped proposal was followed by the next, in one iteration
    (seen,) = [a for a in again.shown[1] if a.digest == plus_two.digest]
    assert seen.fixed == ("tests/test_calc.py::test_two",) and not seen.accepted and not seen.viable

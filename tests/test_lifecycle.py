"""A run's lifecycle: its lock from before anything exists, gc that leaves live runs alone,
state saved after every candidate, and nothing left behind but its state files."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from loopwright.cli import app
from harness.core.config import RunConfig
from harness.work.fix import fix
from harness.generators.templates import TemplateGenerator
from harness.core.loop import LoopEvent
from harness.core.state import RunFiles, state_dir
from sandbox.worktree import Worktree, open_repo, worktree_root
from tests.conftest import git, run_dir, snapshot
from loops.spec import Limits
from tests.conftest import PYTHON
from tests.test_fix import CLAMP

BUGGY = CLAMP  # templates fix it in a few candidates

def test_state_lives_in_the_git_directory_shared_by_worktrees(make_repo):
    root = make_repo(CLAMP)
    assert state_dir(root) == (root / ".git" / "loopwright").resolve()
    other = Worktree.create(open_repo(root), "lifecycle-wt", None)
    try:
        assert state_dir(other.path) == state_dir(root)  # --git-common-dir, not the worktree's
    finally:
        other.remove()


def test_gc_during_worktree_creation_leaves_the_live_run_alone(make_repo):
    root = make_repo(CLAMP)
    run_id = "20250101-120000-beef"
    files = RunFiles(root, run_id)
    files.lock()  # what fix() does before it creates anything: no state.json yet
    wt = Worktree.create(open_repo(root), run_id, "loopwright/" + run_id)
    scratch = worktree_root() / f"{run_id}.scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        result = CliRunner().invoke(app, ["gc", str(root)])
        assert result.exit_code == 0, result.output
        assert wt.path.is_dir() and run_id in git(root, "worktree", "list") and scratch.is_dir()
    finally:
        files.unlock()
    result = CliRunner().invoke(app, ["gc", str(root)])  # now it is dead: all of it goes
    assert result.exit_code == 0, result.output
    assert not wt.path.exists() and run_id not in git(root, "worktree", "list")
    assert not scratch.exists() and f"removed {scratch}\n" in result.output


def test_state_is_saved_after_every_candidate_and_nothing_remains_but_state_files(make_repo):
    root = make_repo(BUGGY)
    before = snapshot(root)
    on_disk: list[tuple[int, int]] = []

    def watch(event: LoopEvent) -> None:
        if event.kind == "candidate":  # what a SIGKILL right now would leave for resume
            saved = json.loads((run_dir(root, event.state.run_id) / "state.json").read_text())
            on_disk.append((saved["candidates_tried"], event.state.candidates_tried))

    res = fix(root, TemplateGenerator(), RunConfig(**OPTIONS, jobs=1), on_event=watch)
    assert res.state.status == "fixed" and len(on_disk) == res.state.candidates_tried >= 2
    assert all(saved == now for saved, now in on_disk), on_disk
    assert snapshot(root) == before  # the working tree has no .loopwright/ now
    run_id = res.state.run_id
    assert sorted(p.name for p in run_dir(root, run_id).iterdir()) == \
        ["baseline.json", "lock", "patch.diff", "state.json", "trajectory.jsonl"]
    assert not list(worktree_root().glob(f"{run_id}*"))  # no worktree, slot or scratch directory
    assert git(root, "worktree", "list").count("\n") == 1


def test_a_tracked_lessons_file_gets_the_lesson(make_repo):
    root = make_repo({**BUGGY, ".loopwright/lessons.md": "# loopwright lessons\n"})
    res = fix(root, TemplateGenerator(), RunConfig(**OPTIONS))
    assert res.state.status == "fixed"
    assert f"run {res.state.run_id}" in (root / ".loopwright" / "lessons.md").read_text()
    assert not (state_dir(root) / "lessons.md").exists()
    assert git(root, "status", "--porcelain").strip() == "M .loopwright/lessons.md"


OPTIONS = dict(python=PYTHON, limits=Limits(max_iterations=30, max_wall_seconds=900, no_progress=8))

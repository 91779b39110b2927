"""loopwright's own git commands (sandbox/gitcmd.py) and the .git check (sandbox/integrity.py)."""

from __future__ import annotations

import os

from sandbox import integrity
from sandbox.gitcmd import list_worktrees
from sandbox.patch import Patch
from sandbox.worktree import Worktree, open_repo
from tests.conftest import git


def _hook(path, marker):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\ntouch {marker}\n")
    os.chmod(path, 0o755)


def test_commits_run_no_hook_even_one_the_repository_has(make_repo, tmp_path):
    root = make_repo({"m.py": "a = 1\n"})
    marker = tmp_path / "hook-ran"
    for name in ("pre-commit", "post-commit", "commit-msg", "post-checkout", "reference-transaction"):
        _hook(root / ".git" / "hooks" / name, marker)
    repo = open_repo(root)
    wt = Worktree.create(repo, f"h-{os.getpid()}", "loopwright/h")
    wt.accept(Patch.from_texts({"m.py": ("a = 1\n", "a = 2\n")}))
    sha = wt.commit("change", ["m.py"])
    wt.remove()
    assert git(root, "rev-parse", "loopwright/h").strip() == sha
    assert not marker.exists()


def test_a_rewritten_worktree_git_file_is_not_followed(make_repo, tmp_path):
    """Code under test can rewrite its worktree's ``.git`` file to point at a repository
    of its own (with hooks and an fsmonitor command); loopwright's commit still goes to
    the user's repository through the admin directory recorded at creation."""
    root = make_repo({"m.py": "a = 1\n"})
    marker = tmp_path / "evil-ran"
    evil = tmp_path / "evil"
    git(tmp_path, "init", "-q", str(evil))
    git(evil, "config", "core.fsmonitor", f"touch {marker}; false")
    _hook(evil / ".git" / "hooks" / "pre-commit", marker)
    repo = open_repo(root)
    wt = Worktree.create(repo, f"r-{os.getpid()}", "loopwright/r")
    wt.accept(Patch.from_texts({"m.py": ("a = 1\n", "a = 3\n")}))
    (wt.path / ".git").write_text(f"gitdir: {evil / '.git'}\n")
    sha = wt.commit("change", ["m.py"])
    assert git(root, "show", f"{sha}:m.py") == "a = 3\n"
    assert not marker.exists()
    assert git(evil, "rev-list", "--all").strip() == ""  # nothing went to the planted repository
    (wt.path / ".git").write_text(f"gitdir: {wt.admin}\n")
    wt.remove()


def test_worktree_list_is_parsed_once_into_records(make_repo):
    root = make_repo({"m.py": "a = 1\n"})
    repo = open_repo(root)
    a = Worktree.create(repo, f"l-{os.getpid()}", "loopwright/l")
    b = Worktree.create(repo, f"l-{os.getpid()}.slot0", None)
    entries = list_worktrees(repo)
    assert entries[0].path == root and entries[0].branch == "refs/heads/main"
    by_path = {e.path: e for e in entries}
    assert by_path[a.path].branch == "refs/heads/loopwright/l"
    assert by_path[b.path].branch == "" and len(by_path[b.path].head) == 40
    a.remove()
    b.remove()


def test_integrity_names_what_changed_and_ignores_run_branches(make_repo):
    root = make_repo({"m.py": "a = 1\n"})
    gd = root / ".git"
    before = integrity.take(gd)
    git(root, "branch", "loopwright/run-1")  # a run's own branch: allowed
    assert integrity.changes(before) == ""
    (gd / "config").write_text((gd / "config").read_text() + "[core]\n\tfsmonitor = evil\n")
    _hook(gd / "hooks" / "post-commit", "/nonexistent")
    git(root, "branch", "other")
    text = integrity.changes(before)
    assert "changed: .git/config" in text and "+\tfsmonitor = evil" in text
    assert "added: .git/hooks/post-commit" in text and "added: refs/heads/other" in text

"""The git loopwright runs outside a held repository goes through ``sandbox/gitcmd.py``: in a
run's worktree the ``.git`` file is the code under test's to rewrite, and a repository it
points at may configure programs git would run (``core.fsmonitor``)."""

from __future__ import annotations

import stat
import subprocess

from harness.core.lessons import lessons_path
from harness.core.state import state_dir
from harness.generators.repomap import list_files
from tests.conftest import git


def _hostile_repo(tmp_path, marker):
    """A repository whose config runs a program on ``ls-files`` (``core.fsmonitor``)."""
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    git(hostile, "init", "-q")
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    git(hostile, "config", "core.fsmonitor", str(hook))
    git(hostile, "config", "core.hooksPath", str(tmp_path))
    return hostile


def test_listing_a_worktree_whose_git_file_was_redirected_runs_no_configured_program(make_repo, tmp_path):
    marker = tmp_path / "PWNED"
    hostile = _hostile_repo(tmp_path, marker)
    root = make_repo({"pkg/mod.py": "x = 1\n"})
    subprocess.run(["rm", "-rf", str(root / ".git")], check=True)
    (root / ".git").write_text(f"gitdir: {hostile / '.git'}\n")  # what code under test could write
    listed = list_files(root)
    assert "pkg/mod.py" in listed
    assert not marker.exists(), "git ran the redirected repository's core.fsmonitor"


def test_state_and_lessons_lookups_run_no_configured_program(make_repo, tmp_path):
    marker = tmp_path / "PWNED"
    root = make_repo({"pkg/mod.py": "x = 1\n"})
    hook = _hostile_repo(tmp_path, marker) and tmp_path / "hook.sh"
    git(root, "config", "core.fsmonitor", str(hook))
    assert state_dir(root).is_dir()
    assert lessons_path(root).name == "lessons.md"
    assert not marker.exists(), "git ran the repository's core.fsmonitor"

"""Checkpoints of ``loopwright do`` runs: drop the last one, apply the result.

Every patch the developer approves is a commit (a checkpoint) on the run's
branch ``loopwright/<run-id>``, on top of the commit the run started from (the
base). :func:`undo_last` drops the newest checkpoint (``loopwright undo``);
:func:`apply_result` applies ``base..branch`` to the developer's working tree,
only when that tree is clean (``loopwright do --apply``). Neither touches the
developer's branch, index or stash; only :func:`apply_result` writes to their
working tree, and only when asked. A ``do`` run's settings are kept in its
``do.json`` (:class:`DoSettings`) so a resumed run goes on as it started.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import git

from harness.core.errors import UsageError
from harness.core.state import RunFiles, RunState, list_runs, write_json_atomic
from sandbox.gitcmd import admin_dir, list_worktrees, worktree_git
from sandbox.worktree import RepoError, open_repo

DO_LOOP = "do-instruction"
SETTINGS_FILE = "do.json"


@dataclass
class DoSettings:
    """How a ``do`` run was started (``runs/<run-id>/do.json``), reused by a resume.

    Attributes:
        instruction: the developer's instruction (the whole text).
        check: the ``--check`` command as argv, or None.
        model: the generator spec (``openai:MODEL``...). base_url: API root or None.
        yes: approve every verified patch unattended.
    """

    instruction: str
    check: list[str] | None = None
    model: str = ""
    base_url: str | None = None
    yes: bool = False

    def save(self, files: RunFiles) -> None:
        """Write ``do.json`` into the run directory."""
        write_json_atomic(files.dir / SETTINGS_FILE, asdict(self))

    @classmethod
    def load(cls, files: RunFiles) -> DoSettings:
        """Read ``do.json`` back.

        Raises:
            UsageError: the run has no ``do.json`` (it is not a ``do`` run).
        """
        path = files.dir / SETTINGS_FILE
        if not path.exists():
            raise UsageError(f"run {files.dir.name} has no {SETTINGS_FILE}: it was not started by "
                             "`loopwright do`")
        data = json.loads(path.read_text())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class UndoResult:
    """What :func:`undo_last` did.

    Attributes:
        run_id, branch: the run and its branch.
        dropped: sha of the checkpoint commit removed. subject: its first line.
        head: the branch's new tip (a checkpoint, or the base commit).
        left: checkpoints still on the branch (0: only the base commit).
        patch_path: the run's ``patch.diff``, rewritten for what is left ("" if nothing is).
    """

    run_id: str
    branch: str
    dropped: str
    subject: str
    head: str
    left: int
    patch_path: str


def repo_root(path: Path) -> tuple[git.Repo, Path]:
    """The repository containing ``path`` and its root.

    Raises:
        UsageError: not a git repository (or one without commits).
    """
    try:
        repo = open_repo(path)
    except RepoError as exc:
        raise UsageError(str(exc)) from None
    return repo, Path(repo.working_tree_dir)


def latest_do_run(root: Path) -> str:
    """The id of the most recent ``loopwright do`` run of the repository at ``root``.

    Raises:
        UsageError: the repository has no ``do`` run.
    """
    runs = [s.run_id for s, _ in list_runs(root) if s.loop == DO_LOOP]
    if not runs:
        raise UsageError(f"no `loopwright do` run in {root}; list runs with `loopwright status`")
    return max(runs)


def load_run(root: Path, run_id: str) -> tuple[RunFiles, RunState]:
    """The files and state of run ``run_id``.

    Raises:
        UsageError: no such run.
    """
    try:
        files = RunFiles(root, run_id, create=False)
    except FileNotFoundError as exc:
        raise UsageError(f"{exc}; list runs with `loopwright status`") from None
    return files, files.load()


def checkpoints(repo: git.Repo, state: RunState) -> list[str]:
    """Checkpoint commit shas on the run's branch, oldest first ([] if the branch is gone)."""
    if not branch_exists(repo, state.branch):
        return []
    out = repo.git.rev_list("--reverse", f"{state.base_commit}..{state.branch}")
    return out.split()


def branch_exists(repo: git.Repo, branch: str) -> bool:
    """Whether ``refs/heads/<branch>`` exists."""
    try:
        repo.git.rev_parse("--verify", "-q", f"refs/heads/{branch}")
    except git.GitCommandError:
        return False
    return True


def undo_last(path: Path, run_id: str | None = None) -> UndoResult:
    """Drop the newest checkpoint commit of a ``do`` run (``loopwright undo``).

    Args:
        path: the repository (or a path inside it).
        run_id: the run; None: the most recent ``do`` run.

    Raises:
        UsageError: no such run, the run is running now, its branch is gone or is
            checked out in the developer's own working tree, or only the base commit
            is left (nothing to undo).
    """
    repo, root = repo_root(path)
    run_id = run_id or latest_do_run(root)
    files, state = load_run(root, run_id)
    if not files.try_lock():
        raise UsageError(f"run {run_id} is running; stop it (Ctrl-C) before undoing a checkpoint")
    try:
        if not branch_exists(repo, state.branch):
            raise UsageError(f"branch {state.branch} of run {run_id} no longer exists: nothing to undo")
        commits = checkpoints(repo, state)
        if not commits:
            raise UsageError(f"only the base commit {state.base_commit[:8]} is left on {state.branch}: "
                             "nothing to undo")
        head = commits[-1]
        try:
            repo.git.merge_base("--is-ancestor", state.base_commit, head)
        except git.GitCommandError:
            raise UsageError(f"{state.branch} no longer starts at the run's base commit "
                             f"{state.base_commit[:8]}; undo it with git instead") from None
        parent = repo.git.rev_parse(f"{head}^")
        subject = repo.git.log("-1", "--format=%s", head)
        _move_branch(repo, root, state.branch, head, parent)
        if state.accepted:
            state.accepted.pop()
        diff = repo.git.diff(state.base_commit, parent, "--no-color", "--no-ext-diff")
        if diff:
            files.patch.write_text(diff + "\n")
        elif files.patch.exists():
            files.patch.unlink()
        files.step("undo", dropped=head, subject=subject, head=parent)
        files.save(state)
        return UndoResult(run_id, state.branch, head, subject, parent, len(commits) - 1,
                          str(files.patch) if diff else "")
    finally:
        files.unlock()


def _move_branch(repo: git.Repo, root: Path, branch: str, old: str, new: str) -> None:
    """Point ``branch`` at ``new``; a kept worktree on it is reset too (never the user's tree)."""
    checked_out = next((w.path for w in list_worktrees(repo) if w.branch == f"refs/heads/{branch}"), None)
    if checked_out is None:
        repo.git.update_ref(f"refs/heads/{branch}", new, old)
        return
    if checked_out.resolve() == root.resolve():
        raise UsageError(f"{branch} is checked out in your working tree {root}; switch to another "
                         "branch first (loopwright never resets your own checkout)")
    worktree_git(checked_out, admin_dir(checked_out)).reset("--hard", "-q", new)


def apply_result(repo: git.Repo, state: RunState, files: RunFiles) -> tuple[bool, str]:
    """Apply the run's result (``base..branch``) to the developer's working tree.

    Only a clean tree (no uncommitted changes to tracked files) is written to, and
    nothing is committed or staged. The branch is kept either way.

    Returns:
        ``(applied, message)``: whether the tree changed, and what happened in words
        (with the command to apply it by hand when it could not be applied).
    """
    if not checkpoints(repo, state):
        return False, "nothing to apply: no approved checkpoint on the branch"
    diff = repo.git.diff(state.base_commit, state.branch, "--no-color", "--no-ext-diff") + "\n"
    files.patch.write_text(diff)
    by_hand = f"git apply {files.patch}"
    if repo.is_dirty(untracked_files=False):
        return False, (f"not applied: your working tree has uncommitted changes; the result stays on "
                       f"{state.branch} (apply it later with `{by_hand}`)")
    try:
        repo.git.apply("--check", str(files.patch))
        repo.git.apply(str(files.patch))
    except git.GitCommandError as exc:
        return False, (f"not applied: git apply failed ({exc.stderr.strip()[:300]}); the result stays "
                       f"on {state.branch}")
    return True, (f"applied to your working tree (not committed); the checkpoints stay on "
                  f"{state.branch} (delete it with `git branch -D {state.branch}`)")

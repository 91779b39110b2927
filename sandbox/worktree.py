"""Git worktrees: where every edit and test run happens, never in the user's tree.

A run gets one worktree on branch ``loopwright/<run-id>`` (the result) and,
for parallel candidate evaluation, detached scratch worktrees at the same commit.
Worktrees live outside the user's working tree (under the system temp directory,
or ``$LOOPWRIGHT_WORKTREES``), so the user's files, index, branch and stash are
never touched. Every git command runs through :mod:`sandbox.gitcmd` (hooks off; a
worktree is reached through its admin directory, never its own ``.git`` file).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import git

from sandbox.carry import carry_ignored
from sandbox.gitcmd import admin_dir, harden, worktree_git
from sandbox.patch import Patch, apply_patch, revert

BRANCH_PREFIX = "loopwright/"
_IDENTITY = {
    "GIT_AUTHOR_NAME": "loopwright",
    "GIT_AUTHOR_EMAIL": "loopwright@localhost",
    "GIT_COMMITTER_NAME": "loopwright",
    "GIT_COMMITTER_EMAIL": "loopwright@localhost",
}


class RepoError(RuntimeError):
    """The target is not usable as a git repository; the message says what to do."""


def open_repo(path: Path) -> git.Repo:
    """Open the git repository containing ``path``.

    Raises:
        RepoError: not inside a git work tree, bare, or without any commit.
    """
    if not path.exists():
        raise RepoError(f"{path} does not exist")
    try:
        repo = harden(git.Repo(path, search_parent_directories=True))
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise RepoError(
            f"{path} is not inside a git repository; run `git init && git add -A && "
            "git commit -m init` there first, or point loopwright at a repository"
        ) from None
    if repo.bare:
        raise RepoError(f"{path} is a bare repository; point loopwright at a clone with a work tree")
    try:
        _ = repo.head.commit
    except ValueError:
        raise RepoError(
            f"{repo.working_tree_dir} has no commits yet; commit your code first "
            "(loopwright works from HEAD)"
        ) from None
    return repo


def worktree_root() -> Path:
    """Directory that holds loopwright's worktrees."""
    return Path(os.environ.get("LOOPWRIGHT_WORKTREES") or Path(tempfile.gettempdir()) / "loopwright")


@dataclass
class Worktree:
    """A git worktree checked out from the user's HEAD.

    Attributes:
        repo: the user's repository.
        path: the worktree directory.
        branch: the branch it is on (``None`` for detached scratch worktrees).
        admin: its admin directory in the repository's ``.git`` (``.git/worktrees/<name>``),
            read at creation; None: read from the worktree's ``.git`` file when needed.
        carried: ignored files copied from the user's checkout when it was made
            (:func:`sandbox.carry.carry_ignored`: generated version files, in-place builds).
    """

    repo: git.Repo
    path: Path
    branch: str | None
    admin: Path | None = None
    carried: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, repo: git.Repo, name: str, branch: str | None, commit: str = "HEAD") -> Worktree:
        """``git worktree add`` a new worktree named ``name`` at ``commit``.

        With ``branch`` the worktree gets that new branch; otherwise it is detached. The
        ignored files the packages need are copied in from the user's checkout (:attr:`carried`).

        Raises:
            RepoError: git refused (e.g. the branch already exists).
        """
        path = worktree_root() / name
        if path.exists():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        args = ["add", "--quiet"]
        args += ["-b", branch, str(path), commit] if branch else ["--detach", str(path), commit]
        try:
            repo.git.worktree(*args)
        except git.GitCommandError as exc:
            raise RepoError(f"could not create worktree {path}: {exc.stderr.strip()}") from exc
        return cls(repo, path, branch, admin_dir(path), carry_ignored(repo, path))

    def apply(self, patch: Patch) -> dict[str, str | None]:
        """Apply ``patch`` to the files; returns what :meth:`revert` needs. Raises PatchError."""
        return apply_patch(self.path, patch)

    def revert(self, previous: dict[str, str | None]) -> None:
        """Undo an :meth:`apply`."""
        revert(self.path, previous)

    def commit(self, message: str, paths: list[str]) -> str:
        """Commit ``paths`` (the files patches touched) on the worktree's branch; returns the sha.

        Only those paths are staged: whatever else the test runs left behind stays out.
        Git reaches the worktree through :attr:`admin` with hooks off (:mod:`sandbox.gitcmd`).
        """
        wt = worktree_git(self.path, self.admin or admin_dir(self.path))
        wt.add("-A", "--", *paths)
        env = {k: v for k, v in _IDENTITY.items() if not _configured(wt, k)}
        with wt.custom_environment(**env):
            wt.commit("-q", "--no-verify", "-m", message)
        return wt.rev_parse("HEAD").strip()

    def remove(self, delete_branch: bool = False) -> None:
        """Remove the worktree directory (and its branch if asked); never raises."""
        try:
            self.repo.git.worktree("remove", "--force", str(self.path))
        except git.GitCommandError:
            shutil.rmtree(self.path, ignore_errors=True)
            try:
                self.repo.git.worktree("prune")
            except git.GitCommandError:
                pass
        if delete_branch and self.branch:
            try:
                self.repo.git.branch("-D", self.branch)
            except git.GitCommandError:
                pass


def _configured(cmd: git.Git, env_name: str) -> bool:
    key = "user.email" if env_name.endswith("EMAIL") else "user.name"
    if os.environ.get(env_name):
        return True
    try:
        return bool(cmd.config("--get", key))
    except git.GitCommandError:
        return False

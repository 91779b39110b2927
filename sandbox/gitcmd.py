"""loopwright's own git commands: hooks off, and no config a sandboxed process could write.

Every git command loopwright runs goes through a :class:`git.Git` made here:

- ``-c core.hooksPath=/dev/null``: no hook runs, whatever ``.git/hooks`` or a config
  says (a hook is code loopwright would run outside the sandbox);
- ``-c core.fsmonitor=false``: no file-system-monitor command either;
- in a worktree, ``--git-dir`` names the worktree's admin directory in the main
  repository's ``.git`` (read when the worktree was created) instead of trusting the
  worktree's ``.git`` file, which code under test can rewrite to point at a
  repository (and a config) of its own.

Source of the threat: git runs ``core.hooksPath``/``.git/hooks`` programs and
``core.fsmonitor`` commands from config (git-config(1), githooks(5)).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git

#: ``-c`` settings on every command loopwright runs.
SAFE_CONFIG: tuple[str, ...] = ("core.hooksPath=/dev/null", "core.fsmonitor=false")


def harden(repo: git.Repo) -> git.Repo:
    """``repo`` with :data:`SAFE_CONFIG` on every command its ``repo.git`` runs; returns it."""
    repo.git.set_persistent_git_options(c=list(SAFE_CONFIG))
    return repo


def admin_dir(worktree: Path) -> Path:
    """The admin directory (``.git/worktrees/<name>``) a linked worktree's ``.git`` file
    names. Call it right after ``git worktree add``, before any sandboxed process ran.

    Raises:
        ValueError: ``worktree/.git`` is not a gitdir file.
    """
    text = (worktree / ".git").read_text(encoding="utf-8").strip()
    if not text.startswith("gitdir:"):
        raise ValueError(f"{worktree}/.git is not a worktree gitdir file")
    path = Path(text[len("gitdir:"):].strip())
    return path if path.is_absolute() else (worktree / path).resolve()


def worktree_git(worktree: Path, admin: Path) -> git.Git:
    """A hardened :class:`git.Git` for ``worktree`` that reads the repository through
    ``admin`` (``--git-dir``/``--work-tree``), never through the worktree's ``.git`` file."""
    cmd = git.Git(str(worktree))
    cmd.set_persistent_git_options(git_dir=str(admin), work_tree=str(worktree), c=list(SAFE_CONFIG))
    return cmd


@dataclass(frozen=True)
class WorktreeEntry:
    """One record of ``git worktree list --porcelain``.

    Attributes:
        path: the worktree directory. head: its HEAD sha ('' if none).
        branch: ``refs/heads/...`` or '' (detached/bare). prunable: git says it is gone.
    """

    path: Path
    head: str = ""
    branch: str = ""
    prunable: bool = False


def list_worktrees(repo: git.Repo) -> list[WorktreeEntry]:
    """The repository's worktrees, the main one first (parsed from ``--porcelain``,
    records separated by blank lines: git-worktree(1), "Porcelain Format")."""
    out: list[WorktreeEntry] = []
    rec: dict = {}
    for line in [*repo.git.worktree("list", "--porcelain").splitlines(), ""]:
        if not line:
            if "path" in rec:
                out.append(WorktreeEntry(**rec))
            rec = {}
        elif line.startswith("worktree "):
            rec["path"] = Path(line[len("worktree "):])
        elif line.startswith("HEAD "):
            rec["head"] = line[len("HEAD "):]
        elif line.startswith("branch "):
            rec["branch"] = line[len("branch "):]
        elif line.startswith("prunable"):
            rec["prunable"] = True
    return out


def config_entries(path: Path) -> list[tuple[str, str | None]]:
    """``(key, value)`` of every entry of the config file ``path``, as git itself parses it
    (``git config --file PATH --no-includes --list --null``: continued lines joined, quoting
    undone; a key without ``=`` has value None). Keys are lower-case except subsections.

    Raises:
        git.GitCommandError: git cannot parse the file.
    """
    out = git.Git().execute(["git", "-c", SAFE_CONFIG[0], "-c", SAFE_CONFIG[1], "config", "--file",
                             str(path), "--no-includes", "--list", "--null"],
                            stdout_as_string=False, strip_newline_in_stdout=False)
    entries: list[tuple[str, str | None]] = []
    for item in out.decode("utf-8", "surrogateescape").split("\0"):
        if not item:
            continue
        key, sep, value = item.partition("\n")
        entries.append((key, value if sep else None))
    return entries


def hardened(cwd: Path) -> git.Git:
    """A :class:`git.Git` running in ``cwd`` with :data:`SAFE_CONFIG` (no hook, no
    file-system monitor): for the one-off commands loopwright runs outside a
    :class:`git.Repo` it holds (lookups in the user's repository, a file listing)."""
    cmd = git.Git(str(cwd))
    cmd.set_persistent_git_options(c=list(SAFE_CONFIG))
    return cmd


def git_common_dir(root: Path) -> Path:
    """The repository's common git directory (``git rev-parse --git-common-dir``: shared by
    every worktree), absolute.

    Raises:
        git.GitCommandError: ``root`` is not in a git repository.
    """
    out = hardened(root).rev_parse("--git-common-dir").strip()
    return (Path(root) / out).resolve()


def is_tracked(root: Path, rel: str) -> bool:
    """Whether repo-relative ``rel`` is tracked in the index of the repository at ``root``."""
    try:
        hardened(root).ls_files("--error-unmatch", "--", rel)
    except git.GitCommandError:
        return False
    return True


def listed_files(root: Path, timeout: float = 30.0) -> list[str] | None:
    """Repo-relative paths git lists in ``root``: tracked plus untracked ones not ignored
    (``ls-files --cached --others --exclude-standard``), as git prints them; None when git
    cannot list them (not a checkout, git missing, over ``timeout`` seconds).

    In a run's worktree ``root/.git`` may have been rewritten by the code under test; with
    :data:`SAFE_CONFIG` no configured program runs, so the worst it can do is change the list.
    """
    safe = [x for c in SAFE_CONFIG for x in ("-c", c)]
    try:
        out = git.Git(str(root)).execute(["git", *safe, "ls-files", "-z", "--cached", "--others",
                                          "--exclude-standard"],
                                         kill_after_timeout=timeout, stdout_as_string=False)
    except (OSError, git.GitError):
        return None
    return [p for p in out.decode("utf-8", "replace").split("\0") if p]

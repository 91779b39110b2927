"""Git worktrees: where every edit and test run happens, never in the user's tree.

A run gets one worktree on branch ``loopwright/<run-id>`` (the result) and,
for parallel candidate evaluation, detached scratch worktrees at the same commit.
Worktrees live outside the user's working tree (under the system temp directory,
or ``$LOOPWRIGHT_WORKTREES``), so the user's files, index, branch and stash are
never touched. Every git command runs through :mod:`sandbox.gitcmd` (hooks off; a
worktree is reached through its admin directory, never its own ``.git`` file).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import git

from sandbox.carry import carry_ignored
from sandbox.gitcmd import admin_dir, harden, worktree_git
from sandbox.patch import Patch, PatchError, apply_patch, patched_texts

BRANCH_PREFIX = "loopwright/"

#: Most bytes a candidate's runs may add to a worktree slot (files, ``.git`` aside): past it
#: the candidate is rejected, naming the limit (:meth:`Worktree.growth`). One file is bounded
#: sooner by RLIMIT_FSIZE (:data:`sandbox.process.FILE_BYTES`).
GROWTH_BYTES = 512 * 2**20
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
        tree: sha of the tree of validated texts its files must hold (:meth:`accept`);
            None: HEAD's. validated: ``{path: text}`` accepted since HEAD (None: deleted).
        carried: ignored files copied from the user's checkout when it was made
            (:func:`sandbox.carry.carry_ignored`: generated version files, in-place builds).
    """

    repo: git.Repo
    path: Path
    branch: str | None
    admin: Path | None = None
    tree: str | None = None
    validated: dict[str, str | None] = field(default_factory=dict)
    base_bytes: int = -1  # bytes of its files in the validated state (-1: not measured yet)
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
        return cls(repo, path, branch, admin_dir(path), carried=carry_ignored(repo, path),
                   base_bytes=disk_bytes(path))  # carried first: they are part of its base

    def apply(self, patch: Patch) -> dict[str, str | None]:
        """Apply ``patch`` to the files (no link followed, :mod:`sandbox.safefs`); returns the
        previous contents. Raises PatchError."""
        return apply_patch(self.path, patch)

    def revert(self, previous: dict[str, str | None] | None = None) -> None:
        """Undo an :meth:`apply` and whatever code under test did since: :meth:`reset`
        (``previous`` is not written back: the worktree's files are not trusted)."""
        self.reset()

    def git(self) -> git.Git:
        """The worktree's hardened git (through its admin directory, hooks off)."""
        return worktree_git(self.path, self.admin or admin_dir(self.path))

    def reset(self) -> None:
        """Bring the files back to the validated tree (:attr:`tree`, or HEAD) by git, never by
        writing files back: ``read-tree --reset -u`` (what ``reset --hard`` does: links,
        replaced directories and changed files are rewritten by git, which does not follow
        a link in the worktree) and ``clean -ffdx`` (every untracked or ignored file). When
        git cannot (a directory made unreadable), the worktree is rebuilt. The ignored files
        carried in at creation are then copied again from the user's checkout.

        Raises:
            PatchError: the worktree can neither be reset nor rebuilt.
        """
        wt = self.git()
        try:
            wt.read_tree("--reset", "-u", self.tree or "HEAD")
            wt.clean("-ffdxq")
        except git.GitCommandError:
            self._rebuild()
        if self.carried:  # clean removed them with every other ignored file: from the checkout again
            self.carried = carry_ignored(self.repo, self.path)

    def _rebuild(self) -> None:
        head = self.git().rev_parse("HEAD").strip()
        _make_removable(self.path)
        shutil.rmtree(self.path, ignore_errors=True)
        try:
            self.repo.git.worktree("prune")
            self.repo.git.worktree("add", "--quiet", "--force", "--detach", str(self.path), head)
            self.admin = admin_dir(self.path)
            wt = self.git()
            if self.branch:
                wt.symbolic_ref("HEAD", f"refs/heads/{self.branch}")
            wt.read_tree("--reset", "-u", self.tree or "HEAD")
        except (git.GitCommandError, OSError, ValueError) as exc:
            raise PatchError(f"the worktree {self.path} could not be reset or rebuilt: {exc}") from None

    def accept(self, patch: Patch) -> dict[str, str]:
        """Make ``patch`` part of this worktree's validated state: its new texts are computed
        from git's blobs (never from the files code under test may have changed), written as
        a tree (:attr:`tree`) with :func:`validated_tree`, and the files are reset to it.

        Returns:
            ``{path: blob sha}`` of the files now in :attr:`tree` (deleted files left out).

        Raises:
            PatchError: the patch does not apply to the validated state, or git refused.
        """
        wt = self.git()
        base = self.tree or wt.rev_parse("HEAD^{tree}").strip()
        _, new = patched_texts(patch, lambda path: _blob_text(wt, base, path))
        self.tree, blobs = validated_tree(wt, base, new)
        self.validated.update(new)
        self.reset()
        self.base_bytes = disk_bytes(self.path)
        return blobs

    def growth(self, limit: int = GROWTH_BYTES) -> int:
        """Bytes the files grew by since the validated state (measured at creation), counted
        up to a little past ``limit`` (the walk stops there). Links are not followed."""
        if self.base_bytes < 0:
            self.base_bytes = disk_bytes(self.path)
        return disk_bytes(self.path, self.base_bytes + limit + 1) - self.base_bytes

    def commit(self, message: str, paths: list[str] = ()) -> str:
        """Commit the validated tree (:meth:`accept`) on the worktree's branch; returns the sha.

        The commit is built from the tree of validated patch texts (``commit-tree``), never
        from the worktree's files: what tests left behind (an appended line, a link) stays
        out. Every path that differs from the parent must be one a patch changed (``paths``
        and the accepted patches), a regular file whose blob is the validated text
        (:func:`check_tree`). Git reaches the worktree through :attr:`admin`, hooks off.

        Raises:
            PatchError: nothing was accepted, or the tree fails the check.
        """
        wt = self.git()
        if not self.tree:
            raise PatchError("nothing validated to commit")
        parent = wt.rev_parse("HEAD").strip()
        check_tree(wt, parent, self.tree, self.validated)
        env = {k: v for k, v in _IDENTITY.items() if not _configured(wt, k)}
        with wt.custom_environment(**env):
            sha = wt.commit_tree(self.tree, "-p", parent, "-m", message).strip()
        wt.update_ref("-m", "loopwright: commit", "HEAD", sha, parent)
        self.validated = {}
        return sha

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


def _blob_text(wt: git.Git, tree: str, path: str) -> str | None:
    """The text of ``path`` in ``tree`` (universal newlines), or None when it is not there."""
    try:
        mode = wt.ls_tree(tree, "--", path).split(" ", 2)
    except git.GitCommandError:
        return None
    if len(mode) < 3:
        return None
    if mode[1] != "blob" or not stat.S_ISREG(int(mode[0], 8)):
        raise PatchError(f"{path}: not a regular file in git (mode {mode[0]})")
    data = wt.cat_file("blob", f"{tree}:{path}", stdout_as_string=False, strip_newline_in_stdout=False)
    try:
        return data.decode("utf-8")  # its own line ends: a CRLF file stays CRLF once patched
    except UnicodeDecodeError:
        raise PatchError(f"{path}: not UTF-8 text") from None


def blob_sha(data: bytes, length: int = 40) -> str:
    """Git's object id of a blob holding ``data``: SHA-1 (40 hex) or SHA-256 (64) of
    ``b"blob <size>\\0" + data`` (gitformat-object(5), "object ids")."""
    algo = hashlib.sha1 if length == 40 else hashlib.sha256
    return algo(b"blob %d\0" % len(data) + data).hexdigest()


def validated_tree(wt: git.Git, base: str, texts: dict[str, str | None]) -> tuple[str, dict[str, str]]:
    """A tree: ``base`` with ``texts`` written as blobs (``hash-object --no-filters``: the exact
    bytes), through a private index file (the worktree's own is left alone). A file keeps
    its mode in ``base`` (a new one is ``100644``); None removes the path.

    Returns:
        ``(tree sha, {path: blob sha})``.

    Raises:
        PatchError: git refused, or a blob's id is not the hash of its text.
    """
    blobs: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="loopwright-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        try:
            wt.read_tree(base, env=env)
            for path, text in sorted(texts.items()):
                if text is None:
                    wt.update_index("--force-remove", "--", path, env=env)
                    continue
                data = text.encode("utf-8")
                with tempfile.TemporaryFile() as fh:
                    fh.write(data)
                    fh.seek(0)
                    sha = wt.hash_object("-w", "--no-filters", "--stdin", istream=fh).strip()
                if sha != blob_sha(data, len(sha)):
                    raise PatchError(f"{path}: git stored a blob that is not the validated text")
                old = wt.ls_files("-s", "--", path, env=env).split(" ", 1)[0]
                mode = old if old in ("100644", "100755") else "100644"
                wt.update_index("--add", "--cacheinfo", f"{mode},{sha},{path}", env=env)
                blobs[path] = sha
            return wt.write_tree(env=env).strip(), blobs
        except git.GitCommandError as exc:
            raise PatchError(f"could not build the validated tree: {exc.stderr.strip()}") from None


def check_tree(wt: git.Git, parent: str, tree: str, texts: dict[str, str | None]) -> None:
    """Every path that differs between ``parent`` and ``tree`` is in ``texts``: a regular file
    (``100644``/``100755``) whose blob is exactly that text, or absent when it is None.

    Raises:
        PatchError: naming the first path that is not what was validated.
    """
    out = wt.diff_tree("-r", "-z", "--no-renames", parent, tree, stdout_as_string=False)
    fields = out.split(b"\0")
    for meta, name in zip(fields[0::2], fields[1::2]):
        if not meta:
            continue
        path = name.decode("utf-8", "surrogateescape")
        _, new_mode, _, new_sha, status = meta.decode().lstrip(":").split(" ")[:5]
        if path not in texts:
            raise PatchError(f"{path}: changed in the commit but not by a validated patch")
        want = texts[path]
        if want is None:
            if status != "D":
                raise PatchError(f"{path}: should be deleted")
            continue
        if new_mode not in ("100644", "100755"):
            raise PatchError(f"{path}: mode {new_mode} is not a regular file")
        if new_sha != blob_sha(want.encode("utf-8"), len(new_sha)):
            raise PatchError(f"{path}: the committed blob is not the validated text")


def _make_removable(root: Path) -> None:
    """Give every directory under ``root`` (not following links) owner rwx, so it can be removed."""
    for dirpath, dirnames, _ in os.walk(root, followlinks=False):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                try:
                    os.chmod(p, 0o700, follow_symlinks=False)
                except (OSError, NotImplementedError):
                    pass


def disk_bytes(root: Path, stop_at: int | None = None) -> int:
    """Sum of ``st_size`` of the files under ``root`` (``lstat``: links count as themselves,
    never followed; ``.git`` left out), stopping once it passes ``stop_at``."""
    total = 0
    stack = [str(root)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    if e.name != ".git":
                        stack.append(e.path)
                else:
                    total += e.stat(follow_symlinks=False).st_size
            except OSError:
                continue
        if stop_at is not None and total > stop_at:
            break
    return total

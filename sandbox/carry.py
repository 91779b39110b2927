"""Ignored files a package needs, carried from the user's checkout into a new worktree.

A worktree is checked out from a commit, so files that git ignores are not in it: a
version file that hatch-vcs or setuptools-scm generates (``src/pkg/_version.py``), an
extension module built in place (``pkg/_speedups.*.so``). Without them every import of the
package fails in the worktree while it works in the user's checkout. So the ignored files
under the importable package directories (a directory with ``__init__.py`` at the top of the
repository or of ``src/``) are copied into each worktree when it is made.

Never copied: caches and build trees (``__pycache__``, ``*.pyc``, ``build/``, ``dist/``,
``*.egg-info``, virtual environments), files that look like secrets (``.env``, keys), anything
that is not a regular file (no link is followed: ``O_NOFOLLOW`` on both ends), more than
:data:`MAX_FILES` files, a file over :data:`MAX_FILE_BYTES`, or past :data:`MAX_TOTAL_BYTES`.
The user's checkout is only read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import git

MAX_FILES = 500
MAX_FILE_BYTES = 50 * 2**20  # bytes
MAX_TOTAL_BYTES = 200 * 2**20  # bytes
_SKIP_PARTS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".tox", ".nox",
               ".venv", "venv", "build", "dist", "node_modules", ".eggs", ".git"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".pem", ".key", ".p12", ".orig", ".rej", ".swp")
_SECRET_NAMES = (".env", ".netrc", ".pypirc", "id_rsa", "id_ed25519", "credentials", "secrets")


def package_dirs(root: Path) -> list[str]:
    """Repository-relative importable package directories: ``NAME/`` or ``src/NAME/`` holding
    an ``__init__.py`` (NAME an identifier)."""
    out = []
    for base in (Path(root), Path(root) / "src"):
        if not base.is_dir() or base.is_symlink():
            continue
        for d in sorted(base.iterdir()):
            if d.name.isidentifier() and not d.is_symlink() and (d / "__init__.py").is_file():
                out.append(d.relative_to(root).as_posix())
    return out


def ignored_package_files(repo: git.Repo) -> list[str]:
    """Ignored files under the package directories of ``repo``'s work tree that a worktree
    should have (repository-relative, sorted; the filters of this module applied)."""
    root = Path(repo.working_tree_dir)
    dirs = package_dirs(root)
    if not dirs:
        return []
    out = repo.git.ls_files("--others", "--ignored", "--exclude-standard", "-z", "--", *dirs)
    return sorted(p for p in out.split("\0") if p and _wanted(p))


def _wanted(rel: str) -> bool:
    parts = rel.split("/")
    if any(p in _SKIP_PARTS or p.endswith(".egg-info") for p in parts):
        return False
    name = parts[-1].lower()
    return not name.endswith(_SKIP_SUFFIXES) and not any(s in name for s in _SECRET_NAMES)


def carry_ignored(repo: git.Repo, dest: Path) -> list[str]:
    """Copy :func:`ignored_package_files` of ``repo`` into the new worktree ``dest``.

    Returns the repository-relative paths copied. A file that is a link, not regular, too
    large, past the count or total bound, or whose place in ``dest`` already exists or lies
    outside ``dest`` is skipped. Never raises for one file: an unreadable file is skipped.
    """
    root, dest = Path(repo.working_tree_dir), Path(dest)
    real_dest = dest.resolve()
    dest = real_dest
    copied, total = [], 0
    for rel in ignored_package_files(repo)[:MAX_FILES]:
        target = dest / rel
        try:
            if not _make_parents(real_dest, rel):
                continue  # a link in the worktree's path: never written through
            size = _copy(root / rel, target, MAX_TOTAL_BYTES - total)
        except OSError:
            continue
        if size is not None:
            copied.append(rel)
            total += size
    return copied


def _make_parents(dest: Path, rel: str) -> bool:
    """Make the directories of ``rel`` under ``dest`` one by one; False when one is a link
    or not a directory (nothing is made through it)."""
    here = dest
    for part in rel.split("/")[:-1]:
        here = here / part
        if here.is_symlink() or (here.exists() and not here.is_dir()):
            return False
        if not here.exists():
            here.mkdir()
    return True


def _copy(src: Path, dst: Path, budget: int) -> int | None:
    """Copy one regular file, links never followed; its size, or None when skipped."""
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > min(MAX_FILE_BYTES, budget):
            return None
        out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      stat.S_IMODE(st.st_mode) & 0o755 | 0o600)
        try:
            left = st.st_size
            while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view):]
                left -= len(chunk)
        finally:
            os.close(out)
        return st.st_size
    finally:
        os.close(fd)

"""File operations loopwright itself does in a worktree, where code under test may have run.

After code under test ran, a worktree is untrusted data: any component of a path may
have become a symbolic link to a file outside (``$HOME/.bashrc``), a directory may be
a link to another directory, a file may be a FIFO that blocks a reader. Every read,
write and unlink here therefore

1. refuses unsafe relative paths (:func:`sandbox.patch.check_relative_path`: absolute,
   ``..``, ``.git``), and resolves the path to check it stays inside the root (the same
   check :func:`sandbox.patch.apply_patch` makes);
2. walks the path one component at a time from a descriptor of the root with
   ``O_NOFOLLOW | O_DIRECTORY`` (``openat(2)``), so a link anywhere on the way is an
   error instead of a detour, and opens the last component with ``O_NOFOLLOW``
   (``open(2)``: "If the trailing component of pathname is a symbolic link, the open
   fails with ELOOP") and checks with ``fstat`` that it is a regular file.

A refused operation raises :class:`sandbox.patch.PatchError` naming the path.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePath(OSError):
    """A path in a worktree that loopwright refuses to follow (a link, not a regular file)."""


def check_inside(root: Path, rel: str) -> None:
    """Raise :class:`UnsafePath` when ``root/rel`` resolves outside ``root`` (through a link)."""
    root = Path(root).resolve()
    target = (root / rel).resolve()
    if root != target and root not in target.parents:
        raise UnsafePath(errno.ELOOP, f"{rel}: resolves outside the worktree")


@contextmanager
def _parent(root: Path, rel: str, create: bool) -> Iterator[tuple[int, str]]:
    """A descriptor of ``rel``'s parent directory (walked without following links) and the
    last component's name. ``create``: make missing directories (mode 0o755)."""
    parts = PurePosixPath(rel).parts
    fd = os.open(str(root), _DIR)
    try:
        for name in parts[:-1]:
            try:
                nxt = os.open(name, _DIR, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(name, 0o755, dir_fd=fd)
                nxt = os.open(name, _DIR, dir_fd=fd)
            except OSError as exc:  # ELOOP / ENOTDIR: a link or a file where a directory should be
                raise UnsafePath(exc.errno, f"{rel}: {name} is not a plain directory") from None
            os.close(fd)
            fd = nxt
        yield fd, parts[-1]
    finally:
        os.close(fd)


def read_bytes(root: Path, rel: str, limit: int | None = None) -> bytes | None:
    """The bytes of regular file ``root/rel`` (at most ``limit``), or None when it does not exist.

    Raises:
        UnsafePath: a component is a link or not a directory, or the file is not regular.
    """
    check_inside(root, rel)
    try:
        with _parent(root, rel, create=False) as (dfd, name):
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd)
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise UnsafePath(exc.errno, f"{rel}: is a link or cannot be opened") from None
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise UnsafePath(errno.EINVAL, f"{rel}: not a regular file")
        return fh.read() if limit is None else fh.read(limit)


def read_text(root: Path, rel: str) -> str | None:
    """:func:`read_bytes` decoded as UTF-8 with universal newlines (what ``Path.read_text``
    gives), or None when the file does not exist. Raises UnsafePath, UnicodeDecodeError."""
    data = read_bytes(root, rel)
    return None if data is None else decode(data)


def decode(data: bytes) -> str:
    """UTF-8 text with ``\\r\\n`` and ``\\r`` read as ``\\n`` (Python's universal newlines)."""
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def write_text(root: Path, rel: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``root/rel``, creating directories; a link on the way or in
    place of the file is refused, never followed.

    Raises:
        UnsafePath: see :func:`read_bytes`.
    """
    check_inside(root, rel)
    with _parent(root, rel, create=True) as (dfd, name):
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         0o644, dir_fd=dfd)
        except OSError as exc:
            raise UnsafePath(exc.errno, f"{rel}: is a link or cannot be written") from None
    with os.fdopen(fd, "wb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise UnsafePath(errno.EINVAL, f"{rel}: not a regular file")
        fh.truncate(0)
        fh.write(text.encode("utf-8"))


def unlink(root: Path, rel: str) -> None:
    """Remove ``root/rel`` (a link is removed itself, never its target); missing: fine.

    Raises:
        UnsafePath: a directory on the way is a link.
    """
    check_inside(root, rel)
    try:
        with _parent(root, rel, create=False) as (dfd, name):
            os.unlink(name, dir_fd=dfd)
    except FileNotFoundError:
        pass

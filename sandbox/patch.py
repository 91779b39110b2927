"""Patches: unified diffs parsed and validated with ``unidiff``, and applied to a tree.

A :class:`Patch` is the only thing a generator returns. It is plain data (the diff
text plus counts) so it can be stored in ``trajectory.jsonl`` and compared between
iterations (``repeated_patch``).
"""

from __future__ import annotations

import difflib
import re
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import unidiff

from sandbox import safefs


class PatchError(ValueError):
    """A diff that cannot be parsed, is unsafe, or does not apply.

    The message says which file and hunk failed and why; it is meant to be shown
    to a user or fed back to a model as an observation.
    """


@dataclass(frozen=True)
class Patch:
    """A validated unified diff.

    Attributes:
        diff: the unified diff text (``--- a/path`` / ``+++ b/path`` headers).
        files: repo-relative POSIX paths the diff touches, in diff order.
        hunks: number of hunks.
        added: lines added. removed: lines removed.
        description: what the change is, in words (e.g. the mutation operator).
        meta: free-form provenance (operator name, line, generator), JSON-serialisable.
    """

    diff: str
    files: tuple[str, ...]
    hunks: int
    added: int
    removed: int
    description: str = ""
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_diff(cls, diff: str, description: str = "", meta: dict | None = None) -> Patch:
        """Parse and validate ``diff``.

        Raises:
            PatchError: the text is not a unified diff, has no hunks, touches a
                binary file, or names an unsafe path (absolute, ``..``, ``.git``).
        """
        try:
            patch_set = unidiff.PatchSet(diff)
        except unidiff.UnidiffParseError as exc:
            raise PatchError(f"not a valid unified diff: {exc}") from exc
        if not len(patch_set):
            raise PatchError("the diff contains no file changes")
        bad = _MODE_LINE.search(diff)
        if bad:
            raise PatchError(f"{bad.group(0).strip()!r}: symlinks and file mode changes are not "
                             "accepted in a patch (only text changes of regular files)")
        files, hunks, added, removed = [], 0, 0, 0
        for pf in patch_set:
            if pf.is_binary_file:
                raise PatchError(f"{pf.path}: binary changes are not accepted")
            path = _target_path(pf)
            check_relative_path(path)
            files.append(path)
            hunks += len(pf)
            added += pf.added
            removed += pf.removed
        if hunks == 0:
            raise PatchError("the diff has file headers but no hunks")
        return cls(diff, tuple(files), hunks, added, removed, description, dict(meta or {}))

    @classmethod
    def from_texts(
        cls, changes: dict[str, tuple[str, str]], description: str = "", meta: dict | None = None
    ) -> Patch:
        """Build a patch from ``{path: (old_text, new_text)}`` with 3 lines of context.

        Raises:
            PatchError: nothing changed, or a path is unsafe.
        """
        parts = []
        for path in sorted(changes):
            old, new = changes[path]
            if old == new:
                continue
            parts.append(unified_diff(path, old, new))
        if not parts:
            raise PatchError("the change is empty")
        return cls.from_diff("".join(parts), description, meta)

    @property
    def digest(self) -> str:
        """SHA-256 (hex, first 16 chars) of the diff, for spotting repeats.

        Paths, hunk positions, context and change lines all count: the same inserted line
        at two places is two patches. Trailing whitespace and line endings do not. A diff
        holding lone surrogates (a model's ``\\ud800``) hashes too (``surrogatepass``)."""
        body = "\n".join(ln.rstrip() for ln in self.diff.splitlines())
        return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    @property
    def size(self) -> int:
        """Changed lines (added + removed)."""
        return self.added + self.removed


def unified_diff(path: str, old: str, new: str, context: int = 3) -> str:
    """Unified diff text of one file, ``a/`` and ``b/`` prefixed, ending in a newline.

    Lines shared at the start and at the end of both texts are set aside before
    :func:`difflib.unified_diff` runs (keeping ``context`` of them) and the hunk
    positions are shifted back: a one-line change in a 3000-line module costs a diff
    of a few lines, not of the whole file. The output is the same diff.
    """
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    limit = min(len(a), len(b))
    head = 0
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    start = max(0, head - context)
    keep = max(0, tail - context)
    lines = difflib.unified_diff(a[start:len(a) - keep], b[start:len(b) - keep],
                                 f"a/{path}", f"b/{path}", n=context)
    out = []
    for ln in lines:
        if start and ln.startswith("@@"):
            ln = _HUNK.sub(lambda m: f"{m[1]}{int(m[2]) + start}", ln)
        if not ln.endswith("\n"):
            ln += "\n\\ No newline at end of file\n"
        out.append(ln)
    return "".join(out)


_HUNK = re.compile(r"([-+])(\d+)")
#: git's extended header lines of a symlink or a mode change (git-diff(1), "generating patches")
_MODE_LINE = re.compile(r"^(?:(?:new file|deleted file|new|old) mode (?!100644\b)\d+|"
                        r"(?:new|old) mode \d+)$", re.MULTILINE)


def check_relative_path(path: str) -> None:
    """Refuse paths that could leave a worktree.

    Raises:
        PatchError: absolute, contains ``..``, or points into ``.git``.
    """
    p = PurePosixPath(path)
    if not path or p.is_absolute() or path.startswith("\\") or (len(path) > 1 and path[1] == ":"):
        raise PatchError(f"{path!r}: absolute paths are not allowed in a patch")
    if ".." in p.parts:
        raise PatchError(f"{path!r}: '..' is not allowed in a patch path")
    if p.parts and p.parts[0] == ".git":
        raise PatchError(f"{path!r}: patches may not touch .git")


def _target_path(pf: unidiff.PatchedFile) -> str:
    path = pf.target_file if pf.target_file != "/dev/null" else pf.source_file
    for prefix in ("a/", "b/"):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def patched_texts(patch: Patch, read: Callable[[str], str | None]
                  ) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """The old and new text of every file ``patch`` touches, computed in memory.

    ``read(path)`` gives a file's current text (None: it does not exist). Hunks are
    matched at their stated line first, then anywhere in the file (nearest match wins),
    so a diff made against a slightly shifted file still applies.

    Returns:
        ``({path: old_text}, {path: new_text})``; ``None`` for a file that does not exist
        before / after.

    Raises:
        PatchError: an unsafe path, a file missing, or a hunk that does not match (the
            message names the file and hunk).
    """
    new_texts: dict[str, str | None] = {}
    old_texts: dict[str, str | None] = {}
    for pf in unidiff.PatchSet(patch.diff):
        path = _target_path(pf)
        check_relative_path(path)
        old = read(path)
        if pf.is_added_file:
            old_lines: list[str] = []
        else:
            if old is None:
                raise PatchError(f"{path}: file does not exist")
            old_lines = old.splitlines(keepends=True)
        if pf.is_removed_file:
            new_texts[path] = None
        else:
            new_texts[path] = "".join(_apply_hunks(path, old_lines, pf))
        old_texts[path] = old
    return old_texts, new_texts


def apply_patch(root: Path, patch: Patch) -> dict[str, str | None]:
    """Apply ``patch`` to the files under ``root``; return the previous contents.

    Files are read and written through :mod:`sandbox.safefs` (no link followed, the
    resolve-inside check on every path); nothing is written unless every hunk of every
    file matches (:func:`patched_texts`).

    Returns:
        ``{path: old_text}`` (``None`` for files the patch created), for :func:`revert`.

    Raises:
        PatchError: a path escapes ``root`` (including through a symlink), is not a
            regular file, or a hunk does not match; the message names the file and hunk.
    """
    root = root.resolve()
    old_texts, new_texts = patched_texts(patch, lambda path: _read(root, path))
    _write(root, new_texts)
    return old_texts


def revert(root: Path, previous: dict[str, str | None]) -> None:
    """Restore the contents returned by :func:`apply_patch` (through :mod:`sandbox.safefs`).
    A worktree where code under test ran is reset by git instead (:meth:`Worktree.reset`).

    Raises:
        PatchError: a path is a link or resolves outside ``root``.
    """
    _write(root.resolve(), previous)


def _read(root: Path, path: str) -> str | None:
    """The file's text with its own line ends (no universal newlines: a CRLF file patched
    must stay CRLF, not be rewritten whole)."""
    try:
        data = safefs.read_bytes(root, path)
        return None if data is None else data.decode("utf-8")
    except safefs.UnsafePath as exc:
        raise PatchError(f"{exc.strerror}") from None
    except UnicodeDecodeError:
        raise PatchError(f"{path}: not UTF-8 text") from None


def _write(root: Path, texts: dict[str, str | None]) -> None:
    try:
        for path, text in texts.items():
            if text is None:
                safefs.unlink(root, path)
            else:
                safefs.write_text(root, path, text)
    except safefs.UnsafePath as exc:
        raise PatchError(f"{exc.strerror}") from None


def _apply_hunks(path: str, lines: list[str], pf: unidiff.PatchedFile) -> list[str]:
    """``lines`` (with their ends) with ``pf``'s hunks applied. A context line keeps the file's
    own text; an added line takes the file's line end (``\r\n`` when most lines have it), so
    a patch written with ``\n`` keeps a CRLF file CRLF."""
    out = list(lines)
    shift = 0
    crlf = sum(ln.endswith("\r\n") for ln in lines) * 2 > len(lines)
    for n, hunk in enumerate(pf, 1):
        source = [ln.value for ln in hunk if ln.is_context or ln.is_removed]
        want = max(hunk.source_start - 1, 0) + shift
        at = _find(out, source, want)
        if at is None:
            first = source[0].rstrip("\n") if source else ""
            raise PatchError(
                f"{path}: hunk {n} (@@ -{hunk.source_start},{hunk.source_length} @@) does not "
                f"match the file; expected to find {first!r} near line {hunk.source_start}"
            )
        target, i = [], at
        for ln in hunk:
            if ln.is_context:
                target.append(out[i])
            elif ln.is_added:
                value = ln.value
                if crlf and value.endswith("\n") and not value.endswith("\r\n"):
                    value = value[:-1] + "\r\n"
                target.append(value)
            i += ln.is_context or ln.is_removed
        out[at : at + len(source)] = target
        shift += at - want + len(target) - len(source)
    return out


def _find(lines: list[str], block: list[str], want: int) -> int | None:
    """Index where ``block`` occurs in ``lines``, nearest to ``want``; None if nowhere."""
    if not block:
        return min(max(want, 0), len(lines))
    norm = [b.rstrip("\r\n") for b in block]
    limit = len(lines) - len(block)
    for delta in range(max(limit, 0) + len(lines) + 1):
        for at in (want - delta, want + delta) if delta else (want,):
            if 0 <= at <= limit and [x.rstrip("\r\n") for x in lines[at : at + len(block)]] == norm:
                return at
        if want - delta < 0 and want + delta > limit:
            break
    return None

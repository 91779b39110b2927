"""Is the user's repository's ``.git`` as it was? A snapshot before a run, a comparison after.

Under bubblewrap ``.git`` is read-only to every sandboxed process, so a change means
the sandbox failed (or ran weak): the run treats it as an evaluator fault, shows the
difference and commits nothing. Compared: ``config`` (and ``config.worktree``),
``HEAD``, every file under ``hooks/`` and ``info/`` (content and executable bit),
and every ref (loose files and ``packed-refs``) except the run branches
(``refs/heads/loopwright/...``), which the run itself writes.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

#: Ref name prefixes a run may write (its own branches).
RUN_REFS = ("refs/heads/loopwright/",)
_TEXT = ("config", "config.worktree", "HEAD", "packed-refs")


@dataclass
class GitSnapshot:
    """What :func:`take` saw.

    Attributes:
        git_dir: the repository's ``.git``.
        entries: name (``config``, ``hooks/pre-commit``, ``ref refs/heads/main``) -> digest.
        texts: the text of ``config`` and ``HEAD`` (to show a diff).
    """

    git_dir: Path
    entries: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


def _digest(path: Path) -> str:
    data = path.read_bytes()
    mode = "x" if os.access(path, os.X_OK) else "-"
    return mode + hashlib.sha256(data).hexdigest()


def take(git_dir: Path, ignore: tuple[str, ...] = RUN_REFS) -> GitSnapshot:
    """Snapshot the parts of ``git_dir`` a hostile process could use (see module doc)."""
    snap = GitSnapshot(Path(git_dir))
    for name in ("config", "config.worktree", "HEAD"):
        p = git_dir / name
        if p.is_file():
            snap.entries[name] = _digest(p)
            snap.texts[name] = p.read_text(encoding="utf-8", errors="replace")
    for sub in ("hooks", "info"):
        base = git_dir / sub
        for p in sorted(base.rglob("*")) if base.is_dir() else []:
            if p.is_file() or p.is_symlink():
                rel = p.relative_to(git_dir).as_posix()
                snap.entries[rel] = f"link:{os.readlink(p)}" if p.is_symlink() else _digest(p)
    refs = git_dir / "refs"
    for p in sorted(refs.rglob("*")) if refs.is_dir() else []:
        rel = p.relative_to(git_dir).as_posix()
        if p.is_file() and not rel.startswith(ignore):
            snap.entries[f"ref {rel}"] = p.read_text(errors="replace").strip()
    packed = git_dir / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 2 and not line.startswith(("#", "^")) and not parts[1].startswith(ignore):
                snap.entries.setdefault(f"ref {parts[1]}", parts[0])
    return snap


def changes(before: GitSnapshot, after: GitSnapshot | None = None) -> str:
    """What changed between ``before`` and ``after`` (default: now), in words with a
    unified diff of ``config``/``HEAD``; '' when nothing did."""
    after = after or take(before.git_dir)
    lines = []
    for name in sorted(set(before.entries) | set(after.entries)):
        a, b = before.entries.get(name), after.entries.get(name)
        if a == b:
            continue
        what = "added" if a is None else "removed" if b is None else "changed"
        lines.append(f"{what}: .git/{name}" if not name.startswith("ref ") else f"{what}: {name[4:]}")
        if name in before.texts or name in after.texts:
            lines += [ln.rstrip("\n") for ln in difflib.unified_diff(
                before.texts.get(name, "").splitlines(True), after.texts.get(name, "").splitlines(True),
                f"a/.git/{name}", f"b/.git/{name}")]
    return "\n".join(lines)

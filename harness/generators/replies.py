"""The protocol replies besides edits, for instruction and review tasks: DONE, ANSWER, READ.

A model answering an instruction or a review comment may, instead of SEARCH/REPLACE
blocks, answer with one of (keyword at the start of a line, upper case)::

    DONE: <one-paragraph summary>        the work is complete
    ANSWER: <reply text>                 a question answered, no change needed
    READ: path/to/file.py                show me files first (one per line, or
    READ: big.py:200-320                 comma-separated; an optional line range)

:func:`parse_reply` recognises them (an answer with edit markup is never a reply:
edits win); :func:`read_files` serves a READ safely and within byte budgets.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness.generators.edits import clean_path

KINDS = ("done", "answer", "read")
_KEYWORD = re.compile(r"^\s*[*_`]*(DONE|ANSWER|READ)[*_`]*\s*:[*_`]*\s*(.*)$")
_EDIT_MARKUP = re.compile(r"^\s*(<{5,9}\s*SEARCH\s*$|```\s*(diff|patch|udiff)\s*$|\+\+\+ \S)")
_RANGE = re.compile(r"^(.*?)(?::|#L)(\d+)(?:-L?(\d+))?$")
#: File names never sent to a model (they may hold credentials).
SECRET_PATTERNS = (".env", ".env.*", "*.pem", "*.key", "id_rsa*", "id_ed25519*", ".netrc", ".pypirc")


@dataclass(frozen=True)
class Reply:
    """A recognised non-edit answer.

    Attributes:
        kind: ``done``, ``answer`` or ``read``.
        text: the summary (done) or the reply (answer), stripped; may be empty.
        paths: for ``read``: the requested paths as written (``a.py`` or ``a.py:10-40``), deduplicated.
    """

    kind: str
    text: str = ""
    paths: tuple[str, ...] = ()


def has_edit_markup(answer: str) -> bool:
    """True when ``answer`` contains a SEARCH marker or a unified diff (fenced or bare)."""
    return any(_EDIT_MARKUP.match(ln) for ln in answer.splitlines())


def keyword_lines(answer: str) -> list[str]:
    """The protocol keywords at line starts in ``answer``, in order (``["DONE", ...]``)."""
    return [m.group(1) for ln in answer.splitlines() if (m := _KEYWORD.match(ln))]


def parse_reply(answer: str, offered: Collection[str] = KINDS) -> Reply | None:
    """The reply in ``answer``, or None when it has edit markup or no offered keyword.

    The first keyword line decides the kind. DONE and ANSWER take the rest of that
    line and every line after it as their text (a paragraph). READ collects the paths
    of every READ line (several per line when separated by commas; words after a path
    on its line are ignored).

    Args:
        offered: the kinds the prompt offered (lower case); others are not recognised.
    """
    if has_edit_markup(answer):
        return None
    lines = answer.splitlines()
    for i, ln in enumerate(lines):
        m = _KEYWORD.match(ln)
        if not m or m.group(1).lower() not in offered:
            continue
        kind = m.group(1).lower()
        if kind != "read":
            text = "\n".join([m.group(2)] + lines[i + 1 :]).strip()
            return Reply(kind, text)
        paths: list[str] = []
        for other in lines[i:]:
            r = _KEYWORD.match(other)
            if r and r.group(1) == "READ":
                for piece in r.group(2).split(","):
                    item = clean_path((piece.split() or [""])[0])  # "a.py (to see X)" -> "a.py"
                    if item and item not in paths:
                        paths.append(item)
        return Reply("read", "", tuple(paths))
    return None


@dataclass(frozen=True)
class ReadFile:
    """A file served to the model.

    Attributes:
        path: repo-relative path. start, end: 1-based inclusive lines shown.
        lines: the file's line count. code: the text shown (whole lines).
        truncated: True when the byte budget cut the text (``end < lines`` or inside the range asked).
    """

    path: str
    start: int
    end: int
    lines: int
    code: str
    truncated: bool = False

    def as_dict(self) -> dict:
        """Template values, with a code fence that cannot clash with the text."""
        fence = "````" if "```" in self.code else "```"
        lang = "python" if self.path.endswith(".py") else ""
        return {"path": self.path, "start": self.start, "end": self.end, "lines": self.lines,
                "code": self.code, "truncated": self.truncated, "fence": fence, "lang": lang}


def read_files(
    root: Path, requested: Collection[str], *, max_files: int = 5, max_bytes: int = 20_000, max_total: int = 60_000
) -> tuple[list[ReadFile], list[str]]:
    """Serve a READ: the files under ``root`` and a note per refusal or limit.

    Args:
        root: the worktree (files are read, never written).
        requested: paths as the model wrote them, optionally ``path:START-END``.
        max_files: files served per READ; more are refused with a note.
        max_bytes: bytes shown per file; a longer file (or range) is cut at a line
            end and marked truncated.
        max_total: bytes shown for the whole READ; files past it are not read.

    Returns:
        ``(files, notes)``. Refused: absolute paths, ``..``, ``.git``, paths resolving
        outside ``root`` (symlinks), :data:`SECRET_PATTERNS`, missing files,
        directories, binary or non-UTF-8 files. Reading protected paths (tests) is allowed.
    """
    base = Path(root).resolve()
    files: list[ReadFile] = []
    notes: list[str] = []
    asked = list(requested)
    if len(asked) > max_files:
        notes.append(f"only {max_files} files are read per answer; not read: {', '.join(asked[max_files:])} "
                     "(ask again in your next answer)")
        asked = asked[:max_files]
    used = 0
    for item in asked:
        path, lo, hi = _split_range(item)
        refusal = _refuse(base, path)
        if refusal:
            notes.append(f"{item}: {refusal}")
            continue
        data = (base / path).read_bytes()
        if b"\0" in data[:8192]:
            notes.append(f"{path}: not read: a binary file")
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            notes.append(f"{path}: not read: not a UTF-8 text file")
            continue
        room = min(max_bytes, max_total - used)
        if room < 200:
            notes.append(f"{item}: not read: the read budget of {max_total} bytes for this answer is used up "
                         "(ask again in your next answer)")
            continue
        served = _slice(path, text, lo, hi, room)
        used += len(served.code.encode("utf-8"))
        files.append(served)
    return files, notes


def _split_range(item: str) -> tuple[str, int, int | None]:
    m = _RANGE.match(item)
    if not m:
        return item, 1, None
    lo = max(int(m.group(2)), 1)
    hi = int(m.group(3)) if m.group(3) else None
    return m.group(1), lo, (max(hi, lo) if hi is not None else None)


def _refuse(base: Path, path: str) -> str:
    """Why ``path`` may not be read (empty: it may)."""
    p = PurePosixPath(path)
    if not path or p.is_absolute() or path.startswith("\\") or (len(path) > 1 and path[1] == ":"):
        return "not read: absolute paths are not allowed; use a path relative to the repository root"
    if ".." in p.parts:
        return "not read: '..' is not allowed; use a path relative to the repository root"
    if ".git" in p.parts:
        return "not read: .git is not part of the code"
    if any(fnmatch.fnmatchcase(p.name, pat) for pat in SECRET_PATTERNS):
        return "not read: the file may hold credentials"
    target = (base / path).resolve()
    if base not in target.parents:
        return "not read: resolves outside the repository"
    if target.is_dir():
        return "not read: a directory; name the files (see the repository map)"
    if not target.is_file():
        return "not read: no such file (check the path against the repository map)"
    return ""


def _slice(path: str, text: str, lo: int, hi: int | None, room: int) -> ReadFile:
    """Lines ``lo..hi`` of ``text`` (whole lines) cut to ``room`` bytes."""
    lines = text.splitlines(keepends=True)
    n = len(lines)
    lo = min(lo, max(n, 1))
    hi = n if hi is None else min(hi, n)
    out: list[str] = []
    size = 0
    for ln in lines[lo - 1 : hi]:
        b = len(ln.encode("utf-8"))
        if size + b > room:
            break
        out.append(ln)
        size += b
    if not out and lo <= hi:  # one enormous line: cut inside it
        out = [lines[lo - 1].encode("utf-8")[: room - 1].decode("utf-8", "ignore")]
    end = lo + len(out) - 1
    truncated = end < hi or (bool(out) and len(out[-1]) < len(lines[end - 1]))
    code = "".join(out)
    if code and not code.endswith("\n"):
        code += "\n"
    return ReadFile(path, lo, end, n, code, truncated)

"""SEARCH/REPLACE edits (:mod:`harness.generators.edits`) applied to file texts, tolerantly.

:func:`apply_edits` applies a model's edits to the current file texts and returns
``{path: (old_text, new_text)}`` for ``Patch.from_texts``.

A SEARCH block is located in this order, stopping at the first level that finds
anything: exact lines; lines equal up to trailing whitespace; lines equal up to a
uniform change of leading indentation (the replacement is re-indented by the same
offset); a fuzzy match (``difflib`` ratio >= 0.9, SEARCH blocks of 3+ non-blank lines
only) that must be unique. Several
matches at one level is an error, never a guess. Every failure raises
:class:`~harness.generators.edits.EditError` whose message names the file and the
first SEARCH line, so it can be fed back to the model as is.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from harness.generators.edits import Edit, EditError

FUZZY_THRESHOLD = 0.9
FUZZY_MIN_LINES = 3  # non-blank SEARCH lines needed before fuzzy matching is tried


def apply_edits(edits: list[Edit], read: Callable[[str], str | None]) -> dict[str, tuple[str, str]]:
    """Apply ``edits`` in order to the texts ``read(path)`` returns (None: no such file).

    Returns:
        ``{path: (old_text, new_text)}`` for every file touched (old is ``""`` for a
        created file), suitable for ``Patch.from_texts``.

    Raises:
        EditError: a file does not exist, a SEARCH block is not found or is
            ambiguous, or a file to create already exists.
    """
    texts: dict[str, tuple[str, str]] = {}
    for edit in edits:
        if edit.path not in texts:
            current = read(edit.path)
            if current is None:
                if edit.search.strip():
                    raise EditError(f"{edit.path}: no such file in the repository ({edit.label})")
                current = ""
            texts[edit.path] = (current, current)
        old, cur = texts[edit.path]
        texts[edit.path] = (old, apply_edit(cur, edit))
    return texts


def apply_edit(text: str, edit: Edit) -> str:
    """Return ``text`` with ``edit`` applied (see the module doc for the matching order).

    Raises:
        EditError: not found, ambiguous, or an empty SEARCH on a non-empty file.
    """
    if not edit.search.strip():
        if text.strip():
            raise EditError(
                f"{edit.path}: the SEARCH part of {edit.label} is empty but the file exists; "
                "quote the exact lines to replace"
            )
        return edit.replace
    lines = text.splitlines(keepends=True)
    search = edit.search.splitlines()
    replace = edit.replace.splitlines()
    found = _locate(lines, search, edit)
    if found is None:
        trimmed = _trim_blank(search)
        if trimmed != search:
            search, replace = trimmed, _trim_blank(replace)
            found = _locate(lines, search, edit)
    if found is None:
        raise EditError(_not_found(edit, lines, search))
    start, indent = found
    eol = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    new = [_reindent(ln, indent) + eol for ln in replace]
    end = start + len(search)
    if new and end == len(lines) and not lines[-1].endswith("\n"):
        new[-1] = new[-1].rstrip("\r\n")
    return "".join(lines[:start] + new + lines[end:])


def _trim_blank(lines: list[str]) -> list[str]:
    lo, hi = 0, len(lines)
    while lo < hi and not lines[lo].strip():
        lo += 1
    while hi > lo and not lines[hi - 1].strip():
        hi -= 1
    return lines[lo:hi]


# An indentation offset: ("+", prefix) adds prefix, ("-", prefix) removes it, None: none.
Indent = tuple[str, str] | None


def _locate(lines: list[str], search: list[str], edit: Edit) -> tuple[int, Indent] | None:
    """Start index and indentation offset of the unique match, None if none at any level."""
    if not search:
        return None
    file_lines = [ln.rstrip("\r\n") for ln in lines]
    width = len(search)
    starts = range(len(file_lines) - width + 1)
    exact = [s for s in starts if file_lines[s : s + width] == search]
    if exact:
        return _unique(exact, edit, "exactly"), None
    stripped = [ln.rstrip() for ln in search]
    loose = [s for s in starts if [x.rstrip() for x in file_lines[s : s + width]] == stripped]
    if loose:
        return _unique(loose, edit, "up to trailing whitespace"), None
    shifted = []
    for s in starts:
        indent = _indent_offset(file_lines[s : s + width], search)
        if indent is not None:
            shifted.append((s, indent))
    if shifted:
        s = _unique([x[0] for x in shifted], edit, "up to indentation")
        return s, dict(shifted)[s]
    return _fuzzy(file_lines, search, edit)


def _unique(matches: list[int], edit: Edit, how: str) -> int:
    if len(matches) == 1:
        return matches[0]
    if edit.hint is not None:  # a diff hunk's stated line breaks the tie
        return min(matches, key=lambda s: abs(s + 1 - edit.hint))
    where = ", ".join(str(s + 1) for s in matches[:5])
    raise EditError(
        f"{edit.path}: the SEARCH part of {edit.label} (first line {_first(edit)!r}) matches "
        f"{len(matches)} places {how} (lines {where}); include more surrounding lines so it "
        "matches exactly one"
    )


def _lead(s: str) -> str:
    return s[: len(s) - len(s.lstrip())]


def _indent_offset(window: list[str], search: list[str]) -> Indent:
    """The uniform indentation change turning ``search`` into ``window``, if any."""
    pairs = [(w.rstrip(), s.rstrip()) for w, s in zip(window, search)]
    if any(bool(w.strip()) != bool(s.strip()) for w, s in pairs):
        return None
    first = next(((w, s) for w, s in pairs if s.strip()), None)
    if first is None:
        return None
    fw, fs = _lead(first[0]), _lead(first[1])
    if len(fw) >= len(fs) and fw.endswith(fs):
        offset: Indent = ("+", fw[: len(fw) - len(fs)])
    elif fs.endswith(fw):
        offset = ("-", fs[: len(fs) - len(fw)])
    else:
        return None
    for w, s in pairs:
        if s.strip() and w != _reindent(s, offset):
            return None
    return offset


def _reindent(line: str, offset: Indent) -> str:
    if offset is None or not line.strip():
        return line
    sign, prefix = offset
    if sign == "+":
        return prefix + line
    if line.startswith(prefix):
        return line[len(prefix) :]
    lead = _lead(line)
    return line[min(len(lead), len(prefix)) :]


def _similarity(window: list[str], search_norm: str) -> float:
    matcher = difflib.SequenceMatcher(None, "\n".join(x.strip() for x in window), search_norm)
    if matcher.real_quick_ratio() < FUZZY_THRESHOLD or matcher.quick_ratio() < FUZZY_THRESHOLD:
        return 0.0
    return matcher.ratio()


def _fuzzy(file_lines: list[str], search: list[str], edit: Edit) -> tuple[int, Indent] | None:
    if sum(1 for ln in search if ln.strip()) < FUZZY_MIN_LINES:
        return None  # in a line or two, one changed character is another statement
    width = len(search)
    norm = "\n".join(x.strip() for x in search)
    scored = [
        (s, r)
        for s in range(len(file_lines) - width + 1)
        if (r := _similarity(file_lines[s : s + width], norm)) >= FUZZY_THRESHOLD
    ]
    if not scored:
        return None
    clusters: list[list[tuple[int, float]]] = []  # overlapping windows are one place
    for s, r in scored:
        if clusters and s < clusters[-1][-1][0] + width:
            clusters[-1].append((s, r))
        else:
            clusters.append([(s, r)])
    best = [max(c, key=lambda x: x[1]) for c in clusters]
    start = _unique([s for s, _ in best], edit, f"fuzzily (>= {FUZZY_THRESHOLD:.0%} similar)")
    window = file_lines[start : start + width]
    first = next(((w, s) for w, s in zip(window, search) if s.strip() and w.strip()), None)
    offset: Indent = None
    if first:
        fw, fs = _lead(first[0]), _lead(first[1])
        if fw != fs and fw.endswith(fs):
            offset = ("+", fw[: len(fw) - len(fs)])
        elif fw != fs and fs.endswith(fw):
            offset = ("-", fs[: len(fs) - len(fw)])
    return start, offset


def _first(edit: Edit) -> str:
    return next((ln.strip() for ln in edit.search.splitlines() if ln.strip()), "")


def _not_found(edit: Edit, lines: list[str], search: list[str]) -> str:
    msg = (
        f"{edit.path}: the SEARCH part of {edit.label} (first line {_first(edit)!r}) was not "
        "found in the file"
    )
    file_lines = [ln.rstrip("\r\n") for ln in lines]
    width = max(len(search), 1)
    norm = "\n".join(x.strip() for x in search)
    best, best_at = 0.0, -1
    for s in range(max(len(file_lines) - width + 1, 0)):
        window = "\n".join(x.strip() for x in file_lines[s : s + width])
        matcher = difflib.SequenceMatcher(None, window, norm)
        if matcher.quick_ratio() <= best:
            continue
        r = matcher.ratio()
        if r > best:
            best, best_at = r, s
    if best_at >= 0 and best >= 0.5:
        near = file_lines[best_at]
        msg += (
            f"; the closest text starts at line {best_at + 1} ({best:.0%} similar): "
            f"{near.strip()!r}. Copy the current lines exactly"
        )
    return msg

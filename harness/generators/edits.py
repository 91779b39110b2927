"""The edit format models are asked to write, parsed and applied with tolerant matching.

A model answers with SEARCH/REPLACE blocks (aider style)::

    path/to/file.py
    <<<<<<< SEARCH
    exact old lines
    =======
    new lines
    >>>>>>> REPLACE

or, as a fallback, a fenced ```diff unified diff whose line numbers are not trusted
(hunks are applied by content). :func:`parse_edits` turns the answer into
:class:`Edit` objects; :func:`harness.generators.edits_apply.apply_edits` applies them
to the current file texts with tolerant matching. Every failure raises
:class:`EditError` whose message says what is wrong, so it can be fed back to the
model as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_DIFF_FENCE = re.compile(r"^\s*```\s*(diff|patch|udiff)\s*$")
_HUNK = re.compile(r"^@@(?:\s*-(\d+)(?:,\d+)?)?[^@]*@@")

FORMAT_HINT = (
    "expected SEARCH/REPLACE blocks: the file path on its own line, then "
    "'<<<<<<< SEARCH', the exact current lines, '=======', the new lines, '>>>>>>> REPLACE'"
)


class EditError(ValueError):
    """An answer whose edits cannot be parsed or do not apply; the message says why."""


@dataclass(frozen=True)
class Edit:
    """One replacement in one file.

    Attributes:
        path: repo-relative path as the model wrote it (cleaned of quotes and markup).
        search: the text to find (empty: create the file).
        replace: the text to put in its place.
        hint: 1-based line the edit claims to start at (unified-diff hunks), or None.
        label: where it came from in the answer, for messages (``block 2``, ``hunk 1``).
    """

    path: str
    search: str
    replace: str
    hint: int | None = None
    label: str = ""


def parse_edits(answer: str) -> list[Edit]:
    """Parse a model answer into edits, SEARCH/REPLACE blocks first, then a unified diff.

    Raises:
        EditError: no edit found, or a block is malformed (missing path, divider or
            end marker); the message says which block and what is missing.
    """
    lines = answer.splitlines()
    if any(_SEARCH.match(ln) for ln in lines):
        return _parse_blocks(lines)
    diff_lines = _diff_text(lines)
    if diff_lines:
        return _parse_diff(diff_lines)
    raise EditError(f"no edits found in the answer; {FORMAT_HINT}")


def _parse_blocks(lines: list[str]) -> list[Edit]:
    edits: list[Edit] = []
    i, n, boundary, last_path = 0, len(lines), 0, ""
    while i < n:
        if not _SEARCH.match(lines[i]):
            if _DIVIDER.match(lines[i]) or _REPLACE.match(lines[i]):
                raise EditError(
                    f"edit block {len(edits) + 1}: '{lines[i].strip()}' at answer line {i + 1} "
                    f"without a preceding '<<<<<<< SEARCH'; {FORMAT_HINT}"
                )
            i += 1
            continue
        label = f"edit block {len(edits) + 1}"
        path = _path_before(lines, i, boundary) or last_path
        if not path:
            raise EditError(f"{label}: no file path on the line before '<<<<<<< SEARCH'")
        j = i + 1
        while j < n and not _DIVIDER.match(lines[j]):
            if _SEARCH.match(lines[j]) or _REPLACE.match(lines[j]):
                raise EditError(f"{label} ({path}): missing the '=======' line")
            j += 1
        if j >= n:
            raise EditError(f"{label} ({path}): missing the '=======' line")
        k = j + 1
        while k < n and not _REPLACE.match(lines[k]):
            if _SEARCH.match(lines[k]) or _DIVIDER.match(lines[k]):
                raise EditError(
                    f"{label} ({path}): missing '>>>>>>> REPLACE' before the next block"
                )
            k += 1
        if k >= n:
            raise EditError(
                f"{label} ({path}): missing '>>>>>>> REPLACE' (the answer may have been cut off)"
            )
        search, replace = lines[i + 1 : j], lines[j + 1 : k]
        edits.append(Edit(path, _join(search), _join(replace), label=label))
        last_path, boundary, i = path, k + 1, k + 1
    return edits


def _path_before(lines: list[str], at: int, boundary: int) -> str:
    """The nearest non-blank, non-fence line above ``at`` (not crossing ``boundary``)."""
    for ln in reversed(lines[boundary:at]):
        if not ln.strip() or _FENCE.match(ln):
            continue
        return clean_path(ln)
    return ""


def clean_path(text: str) -> str:
    """Strip markup models put around a path: backticks, bold, ``#``, ``File:``, a colon."""
    p = text.strip().strip("*`'\"").strip()
    p = re.sub(r"^(#+\s*)?((?i:file(?:name)?|path)\s*:\s*)?", "", p).strip().strip("*`'\"")
    p = p.rstrip(":").strip()
    return p.removeprefix("./")


def _join(lines: list[str]) -> str:
    return "".join(ln + "\n" for ln in lines)


def _diff_text(lines: list[str]) -> list[str]:
    """Lines of fenced ```diff blocks; or the whole answer if it is a bare diff."""
    out: list[str] = []
    inside = False
    for ln in lines:
        if not inside and _DIFF_FENCE.match(ln):
            inside = True
        elif inside and _FENCE.match(ln):
            inside = False
        elif inside:
            out.append(ln)
    if out:
        return out
    if any(ln.startswith("+++ ") for ln in lines) and any(_HUNK.match(ln) for ln in lines):
        return lines
    return []


def _parse_diff(lines: list[str]) -> list[Edit]:
    edits: list[Edit] = []
    path, hunk_no, i, n = "", 0, 0, len(lines)
    while i < n:
        ln = lines[i]
        if ln.startswith("--- ") and i + 1 < n and lines[i + 1].startswith("+++ "):
            new = _diff_path(lines[i + 1][4:])
            if new == "/dev/null":
                raise EditError(f"{_diff_path(ln[4:])}: deleting files is not supported")
            path, hunk_no, i = new, 0, i + 2
            continue
        m = _HUNK.match(ln)
        if not m:
            i += 1
            continue
        hunk_no += 1
        if not path:
            raise EditError(f"hunk {hunk_no}: no '--- a/PATH' / '+++ b/PATH' header before it")
        old, new_lines, i = [], [], i + 1
        while (
            i < n
            and not _HUNK.match(lines[i])
            and not (lines[i].startswith("--- ") and i + 1 < n and lines[i + 1].startswith("+++ "))
        ):
            body = lines[i]
            if body.startswith("-"):
                old.append(body[1:])
            elif body.startswith("+"):
                new_lines.append(body[1:])
            elif body.startswith("\\"):
                pass
            else:  # context; models often drop the leading space of blank lines
                text = body.removeprefix(" ")
                old.append(text)
                new_lines.append(text)
            i += 1
        while old and new_lines and not old[-1].strip() and not new_lines[-1].strip():
            old.pop()
            new_lines.pop()
        hint = int(m.group(1)) if m.group(1) else None
        edits.append(Edit(path, _join(old), _join(new_lines), hint, f"hunk {hunk_no}"))
    if not edits:
        raise EditError(f"the diff has no '@@' hunks; {FORMAT_HINT}")
    return edits


def _diff_path(text: str) -> str:
    p = text.split("\t")[0].strip()
    if p == "/dev/null":
        return p
    return p[2:] if p.startswith(("a/", "b/")) else clean_path(p)

"""Systematic edits: the same change at a statement written like the one a lead changed.

Multi-site fixes often make one change at several statements of the same shape (three
``assert x.val == resolved`` checks that must all become ``is``): Hercules (Saha et al.,
"Harnessing Evolution for Multi-Hunk Program Repair", ICSE 2019) repairs such *evolutionary
siblings* together, and LASE (Meng et al., ICSE 2013) applies one example edit to every
similar place. Here a lead's search (:class:`harness.generators.templates._Search`) asks
:func:`same_edit` of each mutant: one that repeats the lead's own edit at another line whose
statement has the lead line's :func:`~harness.core.progress.shape` (the same tokens, names aside) is tried first, so the
second site of a two-site fix comes right after the first site moved the failure there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from harness.core.progress import shape

#: a candidate description's leading ``line N: `` (the rest is the edit itself).
_LINE = re.compile(r"^line (\d+): ")


def edit_of(description: str) -> tuple[int, str] | None:
    """``(line, edit)`` of a single edit's description (``"line 117: `==` -> `is`"`` ->
    ``(117, "`==` -> `is`")``); None for a description without its line (a two-site one
    names two lines: its first is taken, the edit is then the whole rest)."""
    m = _LINE.match(description)
    return (int(m.group(1)), description[m.end():]) if m else None


def same_edit(lead: tuple[int, str], lead_line: str, line: int, description: str, text: Callable[[], str]) -> bool:
    """Whether a mutant (``description`` at ``line``; ``text()`` gives its source line, read only
    when the descriptions agree: this runs for every candidate a lead's search pushes) repeats the
    lead's edit (``lead`` from :func:`edit_of`, made at the line whose text was ``lead_line``)
    at another statement of the same :func:`~harness.core.progress.shape`."""
    got = edit_of(description)
    return (got is not None and got[0] == line and line != lead[0] and got[1] == lead[1]
            and bool(shape(lead_line)) and shape(lead_line) == shape(text()))


#: sibling statements searched first in a lead's search, at most.
MAX_SIBLINGS = 8


def sibling_lines(source: str, lead_line: str, line: int) -> list[int]:
    """The lines of ``source`` (the lead's text) other than ``line`` whose text has the
    :func:`~harness.core.progress.shape` of ``lead_line`` (the lead's line before its edit),
    nearest ``line`` first, at most :data:`MAX_SIBLINGS`."""
    want = shape(lead_line)
    if not want:
        return []
    found = [n for n, text in enumerate(source.splitlines(), 1) if n != line and shape(text) == want]
    return sorted(found, key=lambda n: (abs(n - line), n))[:MAX_SIBLINGS]


@dataclass(frozen=True)
class LeadEdit:
    """A single-edit lead's edit: ``path``, ``line`` and ``edit`` (:func:`edit_of`) and the
    line's text before the edit (``before``)."""

    path: str
    line: int
    edit: str
    before: str

    def repeated_by(self, mutant, text: Callable[[], str]) -> bool:
        """Whether ``mutant`` (a :class:`~harness.generators.mutant.Mutant` of the lead's text;
        ``text()`` its line) makes the lead's edit at a statement of the lead line's shape."""
        return mutant.path == self.path and same_edit((self.line, self.edit), self.before, mutant.line,
                                                      mutant.description, text)


def lead_edit(lead: tuple | None) -> LeadEdit | None:
    """The :class:`LeadEdit` of a lead ``(digest, {path: (old, new)}, description)``; None for no
    lead, a lead of several files or one whose description names no line."""
    if lead is None or len(lead[1]) != 1:
        return None
    got = edit_of(lead[2])
    (path, (old, _new)), = lead[1].items()
    lines = (old or "").splitlines()
    if not got or not 0 < got[0] <= len(lines):
        return None
    return LeadEdit(path, got[0], got[1], lines[got[0] - 1])


def sibling_first(lines: list, lead: LeadEdit, source: str, score: float) -> list:
    """A search's ranked ``((path, line), score)`` with the :func:`sibling_lines` of ``lead`` in
    ``source`` (the lead's text) moved to the front at ``score``."""
    twins = [((lead.path, n), score) for n in sibling_lines(source, lead.before, lead.line)]
    taken = {key for key, _ in twins}
    return twins + [kv for kv in lines if kv[0] not in taken]

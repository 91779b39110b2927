"""What the offline repairer's search learns from the candidates it has tried (issue 21):
names a partial fix's edit touched (*hot*: :func:`near_names`), and lines whose edits never
change what a failing test sees (*inert*: :func:`inert_sites`); and from the failing
assertions themselves, the punctuation their two values differ by (*marks*:
:func:`differing_marks`), so the lines splitting or stripping on it are searched first.

An inert line is the negative signal of mutation-based fault localization: Metallaxis-FL
(Papadakis and Le Traon, "Metallaxis-FL: mutation-based fault localization", STVR 2015) and
MUSE (Moon, Kim, Kim and Yoo, ICST 2014) rank a line by how its mutants change the failing
tests' outcomes; a line whose mutants leave every failing test's failure as it was is
unlikely to hold the fault. Here the mutants are the search's own candidates, judged anyway:
no test is run for the signal.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Mapping

#: a line is inert once this many of its single-edit candidates ran a failing test and none
#: changed that test's result (:func:`harness.core.progress.changed`).
INERT_AFTER = 3
#: score factor of the candidates left at an inert line.
INERT = 0.4


def inert_sites(attempts: Iterable, sites: dict[str, tuple[str, int]]) -> set[tuple[str, int]]:
    """The ``(path, line)`` sites of ``sites`` (candidate digest -> the site its single edit
    is at) where :data:`INERT_AFTER` or more attempts ran a failing test (``attempt.changed``
    not None) and none changed its result."""
    ran: dict[tuple[str, int], int] = {}
    moved: set[tuple[str, int]] = set()
    for attempt in attempts:
        site = sites.get(attempt.digest)
        if site is None or attempt.changed is None:
            continue
        ran[site] = ran.get(site, 0) + 1
        if attempt.changed:
            moved.add(site)
    return {site for site, n in ran.items() if n >= INERT_AFTER and site not in moved}


def name_parts(text: str) -> set[str]:
    """Lower-case parts (snake_case and camelCase split) of the names in ``text``, 4+ letters
    (``self`` left out: it names the object, not a value the failure flows through)."""
    return {part.lower() for name in re.findall(r"[A-Za-z_]\w*", text) if not keyword.iskeyword(name)
            for part in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name) if len(part) >= 4} - {"self"}


def near_names(mutant, changed: bool = False) -> set[str]:
    """Name parts a mutant's edit touches: in the replaced text and its replacement, and the
    nearest name on each side of it on the same line (the operands of a swapped operator).
    With ``changed``, the edit is first narrowed to what differs (common prefix and suffix
    dropped: ``a and b`` -> ``a or b`` is ``and`` -> ``or`` between ``a`` and ``b``) and only
    names in one side of it count: the names whose value the edit changes."""
    src, old, new = mutant.source, mutant.source[mutant.start:mutant.end], mutant.replacement
    pre = suf = 0
    if changed:
        while pre < min(len(old), len(new)) and old[pre] == new[pre]:
            pre += 1
        while suf < min(len(old), len(new)) - pre and old[-1 - suf] == new[-1 - suf]:
            suf += 1
        word_char = re.compile(r"\w")  # never cut inside a name: `numparse` -> `not (numparse` adds `not (`
        while 0 < pre < len(old) and word_char.match(old[pre - 1]) and word_char.match(old[pre]):
            pre -= 1
        while 0 < suf < len(old) and word_char.match(old[-suf]) and word_char.match(old[-1 - suf]):
            suf -= 1
    left = src[src.rfind("\n", 0, mutant.start) + 1:mutant.start] + old[:pre]
    end = src.find("\n", mutant.end)
    right = old[len(old) - suf:] + src[mutant.end:len(src) if end < 0 else end]
    name = r"[A-Za-z_]\w*"
    side = name_parts(" ".join(re.findall(name, left.rsplit("\n", 1)[-1])[-1:]
                           + re.findall(name, right.split("\n", 1)[0])[:1]))
    old_parts, new_parts = name_parts(old[pre:len(old) - suf]), name_parts(new[pre:len(new) - suf])
    return side | ((old_parts ^ new_parts) if changed else (old_parts | new_parts))


#: pytest's ``assert A == B`` and unittest's ``A != B`` first message line.
_COMPARED = re.compile(r"^(?:AssertionError: )?(?:assert (.+?) == (.+)|(.+?) != (.+))$")
#: characters of a value's repr that are its syntax, not its data: never evidence.
_SYNTAX = set("'\"()[]{},: \\.")
#: a short string literal of punctuation on a line: ``';'``, ``"&"``, ``'=='``.
_MARK = re.compile(r"""(['"])([^'"\w\s\\]{1,3})\1""")
#: score factor of the candidates at a line whose punctuation literal the assertion's values differ by.
MARKED = 2.5


def differing_marks(failing: Mapping) -> frozenset[str]:
    """The punctuation characters by which the two sides of the failing tests' equality
    assertions differ (one side has them, the other not; ``[('', ''), ('', '')] == [('', ';=')]``
    gives ``;`` and ``=``): a separator or marker the code mishandles. ``failing``: test id ->
    result with a ``message``. Letters, digits and the syntax of a repr are left out."""
    out: set[str] = set()
    for result in failing.values():
        first = (getattr(result, "message", "") or "").split("\n", 1)[0].strip()
        m = _COMPARED.match(first)
        if m is not None:
            left, right = (m.group(1), m.group(2)) if m.group(1) is not None else (m.group(3), m.group(4))
            out |= {c for c in set(left) ^ set(right) if not c.isalnum() and c not in _SYNTAX and c != "_"}
    return frozenset(out)


def marked(line: str, marks: frozenset[str]) -> bool:
    """Does ``line`` hold a short punctuation literal made only of ``marks``
    (:func:`differing_marks`): the line that splits, joins or strips on that character?"""
    return bool(marks) and any(set(m.group(2)) <= marks for m in _MARK.finditer(line))

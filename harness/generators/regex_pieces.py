"""A regular expression's source cut into pieces, and the edits of :mod:`.regex_more` built
from them (issue 21, data-driven edits). Pure string work: no AST, no I/O.

A *piece* is one atom of the pattern's source (a literal character, an escape, a character
class, ``.``, an anchor, or a whole group) with its quantifier, and the *sequence* it
belongs to (the top level, or one alternative of a group). The edits here are the shapes
real developers write when a pattern rejects a valid input:

- a required piece made optional where the input lacks it: a run of literal characters
  inside the pattern (``--- a/(?P<path>\\S+)`` -> ``--- (?:a/)?(?P<path>\\S+)``), a group
  (``(\\d+)-`` -> ``(\\d+)?-``), a class or escape (``\\s`` -> ``\\s?``), a ``+`` that also
  takes none (``\\d+\\.\\d+`` -> ``\\d*\\.\\d+``);
- an alternative added to a group of non-word alternatives (``(?:\\+|-)`` -> ``(?:\\+|-|~)``);
- a class range's end moved by the character the input needs (``[a-y]`` -> ``[a-z]``).

Each edit only widens what the pattern accepts by an existing piece or by the input's own
character: none adds a wildcard (``.``, ``.*``, a negated class).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: characters a literal piece may be (anything that is not regex syntax outside a class).
_SYNTAX = set(".^$*+?{}[]\\|()")
#: escapes that stand for a class of characters.
_CLASS_ESCAPES = set("dDwWsS")
#: escapes that match a position, not a character.
_ANCHOR_ESCAPES = set("bBAZz")
#: the control-character escapes and what they stand for.
_CONTROL = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_QUANTIFIER = re.compile(r"(?:[?*+]|\{\d*(?:,\d*)?\})[?+]?")
#: the runs of letters, digits and their ends a range may be widened to (``[a-y]`` -> ``[a-z]``).
_KINDS = ("az", "AZ", "09")


@dataclass(frozen=True)
class Piece:
    """One atom of a pattern with its quantifier.

    Attributes:
        start, atom_end, end: character offsets in the pattern: the atom is
            ``[start, atom_end)``, its quantifier ``[atom_end, end)`` (empty when none).
        kind: ``lit`` (one literal character), ``class`` (``[...]``), ``escape`` (``\\d``, ``\\s``,
            ...), ``dot``, ``anchor`` (``^``, ``$``, ``\\b``, ...), ``group`` (capturing or
            ``(?:``), ``special`` (a lookaround, an inline flag, a back reference, ...).
        seq: the sequence holding it: 0 for the top level, then one per group alternative.
        value: a ``lit`` piece's character; empty for the others.
        inner: a group's sequences (one per alternative), in order; empty for the others.
        quant_text: the quantifier's text, empty when the piece is required exactly once.
    """

    start: int
    atom_end: int
    end: int
    kind: str
    seq: int
    value: str = ""
    inner: tuple[int, ...] = ()
    quant_text: str = ""


def pieces(pattern: str) -> list[Piece]:
    """Every piece of ``pattern``, nested ones included (a group after its contents), in the
    order their atoms end; [] when the pattern is not balanced (a ``)`` without its ``(``)."""
    out: list[Piece] = []
    stack: list[tuple[int, int, str, list[int]]] = []  # (open at, outer seq, kind, alternatives)
    seq, seqs, at = 0, 1, 0
    special: set[int] = set()
    while at < len(pattern):
        char = pattern[at]
        kind, value, nxt = "lit", "", at + 1
        if char == "\\":
            kind, value = _escape(pattern[at + 1:at + 2])
            nxt = at + 2
        elif char == "[":
            close = _class_end(pattern, at)
            if close < 0:
                return []
            kind, nxt = "class", close + 1
        elif char == "(":
            head = re.match(r"\(\?(?::|P<\w+>|<\w+>)|\((?!\?)", pattern[at:])
            other = re.match(r"\(\?(?:<[=!]|[=!>#]|P=\w+|\(\w+\)|[aiLmsux-]+:?)?", pattern[at:])
            stack.append((at, seq, "group" if head else "special", []))
            seq, seqs = seqs, seqs + 1
            stack[-1][3].append(seq)
            if head is None:
                special.add(seq)  # a lookaround, inline flags, a comment: its inside is no run
            at += head.end() if head else other.end() if other else 1
            continue
        elif char == "|":
            if stack:
                seq, seqs = seqs, seqs + 1
                stack[-1][3].append(seq)
                if stack[-1][2] == "special":
                    special.add(seq)
            else:
                seq, seqs = seqs, seqs + 1  # a top-level alternative: a sequence of its own
            at += 1
            continue
        elif char == ")":
            if not stack:
                return []
            opened, seq, kind, alternatives = stack.pop()
            quant = _QUANTIFIER.match(pattern, at + 1)
            end = quant.end() if quant else at + 1
            out.append(Piece(opened, at + 1, end, kind, seq, "", tuple(alternatives), pattern[at + 1:end]))
            at = end
            continue
        elif char in "^$":
            kind = "anchor"
        elif char == ".":
            kind = "dot"
        elif char in _SYNTAX:
            kind, value = "special", ""  # a stray quantifier or brace
        else:
            value = char
        if seq in special and kind == "lit":
            kind = "special"
        quant = _QUANTIFIER.match(pattern, nxt) if kind != "anchor" else None
        end = quant.end() if quant else nxt
        out.append(Piece(at, nxt, end, kind, seq, value, (), pattern[nxt:end]))
        at = end
    return out if not stack else []


def _escape(esc: str) -> tuple[str, str]:
    """(kind, literal value) of the escape ``\\`` + ``esc``."""
    if esc in _CLASS_ESCAPES:
        return "escape", ""
    if esc in _ANCHOR_ESCAPES:
        return "anchor", ""
    if esc in _CONTROL:
        return "lit", _CONTROL[esc]
    if esc and not esc.isalnum():
        return "lit", esc
    return "special", ""  # \1, \x41, \u00e9, \N{...}: left alone


def _class_end(pattern: str, at: int) -> int:
    """The offset of the ``]`` closing the class opened at ``at``, -1 when none."""
    pos = at + 1
    pos += pattern[pos:pos + 1] == "^"
    pos += pattern[pos:pos + 1] == "]"  # a leading ] is a member
    while pos < len(pattern):
        if pattern[pos] == "\\":
            pos += 2
            continue
        if pattern[pos] == "]":
            return pos
        pos += 1
    return -1


def literal_runs(found: list[Piece]) -> list[list[Piece]]:
    """Runs of two or more adjacent ``lit`` pieces without a quantifier in one sequence."""
    runs: list[list[Piece]] = []
    current: list[Piece] = []
    for piece in sorted(found, key=lambda p: p.start):
        plain = piece.kind == "lit" and not piece.quant_text
        if plain and current and current[-1].end == piece.start and current[-1].seq == piece.seq:
            current.append(piece)
            continue
        if len(current) >= 2:
            runs.append(current)
        current = [piece] if plain else []
    if len(current) >= 2:
        runs.append(current)
    return runs


def optional_pieces(pattern: str, misses: list[str], per_run: int = 3) -> list[tuple[str, str, str]]:
    """Edits making one required piece of ``pattern`` optional, as ``(operator, new pattern,
    description)``, unchecked (the caller keeps those that match more of an input).

    A group, class, escape or ``.`` without a quantifier gets ``?``; one with ``+`` gets
    ``*`` (operator ``regex_quantifier``). In a run of literal characters (``--- a/``), the
    part the input lacks is aligned by the input itself: a part is tried when the run
    without it occurs in one of the ``misses`` and the whole run does not (``--- `` of
    ``--- path``, so ``a/``), or when it is the whole literal head of a group (``a/`` of
    ``(?P<source>a/[^\t]+)``), at most ``per_run`` per run, the most context kept first; the
    first characters of the pattern are kept (an input that lacks the pattern's head is no
    input of the pattern: ``/x`` for ``^\\+\\+\\+ b/``)."""
    found = pieces(pattern)
    out: list[tuple[str, str, str]] = []
    for piece in found:
        atom = pattern[piece.start:piece.atom_end]
        if piece.kind not in ("group", "class", "escape", "dot"):
            continue
        if not piece.quant_text:
            out.append(("regex_optional_piece", pattern[:piece.atom_end] + "?" + pattern[piece.end:],
                        f"`{_short(atom)}` made optional"))
        elif piece.quant_text in ("+", "+?"):
            star = "*" + piece.quant_text[1:]
            out.append(("regex_quantifier", pattern[:piece.atom_end] + star + pattern[piece.end:],
                        f"`{_short(atom)}+` -> `{_short(atom)}*`"))
    first = min((p.start for p in found if p.kind != "anchor"), default=0)
    heads: dict[int, int] = {}  # a group alternative's sequence -> the offset of its first piece
    for piece in found:
        heads[piece.seq] = min(heads.get(piece.seq, piece.start), piece.start)
    for run in literal_runs(found):
        chars = "".join(p.value for p in run)
        if not any(chars not in text for text in misses):
            continue
        parts = []
        for lo in range(1 if run[0].start == first else 0, len(run)):  # a pattern's head is regex_optional's
            for hi in range(lo + 2, len(run) + 1):
                if _inside_word(chars, lo) or _inside_word(chars, hi):
                    continue  # a piece is whole words: `, optional`, never `, o`
                kept = chars[:lo] + chars[hi:]
                if kept and any(kept in text and chars not in text for text in misses):
                    parts.append((-len(kept), hi - lo, lo, hi))
                elif not kept and run[0].seq and run[0].start == heads.get(run[0].seq):
                    parts.append((0, hi - lo, lo, hi))  # a group's whole head (`(?P<source>a/...`)
        for _, _, lo, hi in sorted(parts)[:per_run]:
            start, end = run[lo].start, run[hi - 1].end
            out.append(("regex_optional_piece", pattern[:start] + "(?:" + pattern[start:end] + ")?" + pattern[end:],
                        f"`{pattern[start:end]}` made optional"))
    return out


def inserted_pieces(pattern: str, flags: int, misses: list[str], longest: int = 4) -> list[tuple[str, str, str]]:
    """Edits inserting the piece an input has and the pattern lacks, optional, between two
    top-level pieces (``^(\\d+)-(\\d+)$`` and ``12 -34`` -> ``^(\\d+)(?:\\ )?-(\\d+)$``), as
    ``(operator, new pattern, description)``: where the longest prefix of the pattern that
    matches (ending at a top-level piece) stops, the input's next 1 to ``longest``
    characters (or its whole run of spaces and tabs) after which the rest of the pattern
    matches, or else its next piece (spaces and tabs as ``[ \\t]*``). Not at the pattern's ends (those
    are :mod:`.regex_ops`' prefix and suffix), nor in a pattern with top-level alternatives."""
    found = pieces(pattern)
    inner = {seq for p in found for seq in p.inner}
    top = [p for p in found if p.seq == 0]
    if not top or any(p.seq not in inner and p.seq != 0 for p in found):
        return []
    first = next((i for i, p in enumerate(top) if p.kind != "anchor"), len(top))
    last = max((i for i, p in enumerate(top) if p.kind != "anchor"), default=-1)
    out = []
    for text in misses:
        for index in range(last - 1, first - 1, -1):  # the furthest boundary a prefix match reaches
            piece, after = top[index], top[index + 1]
            try:
                prefix, suffix = re.compile(pattern[:piece.end], flags), re.compile(pattern[piece.end:], flags)
                following = re.compile(pattern[after.start:after.end], flags)  # or at least the next piece
            except (re.error, OverflowError, RecursionError):
                continue
            ends = {at + m.end() for at in range(len(text)) if (m := prefix.match(text[at:])) is not None}
            tried = [(suffix.match(text[end + k:]) is None, k, text[end:end + k]) for end in ends
                     for k in _gap_lengths(text, end, longest) if following.match(text[end + k:]) is not None]
            gaps: list[str] = []
            for _, _, gap in sorted(tried):  # a gap that extends a kept one is that one plus the next piece's text
                if not any(gap.startswith(kept) for kept in gaps):
                    gaps.append(gap)
            for gap in gaps[:2]:
                piece_text = ("[ \\t]*" if not gap.strip(" \t") else _escaped(gap) + "?" if len(gap) == 1
                              else "(?:" + "".join(map(_escaped, gap)) + ")?")  # blanks: any run of them
                out.append(("regex_optional_piece", pattern[:piece.end] + piece_text + pattern[piece.end:],
                            f"optional `{gap}` inserted"))
            if ends:
                break
    return out


def _gap_lengths(text: str, end: int, longest: int) -> list[int]:
    """Lengths of the gaps tried at ``text[end:]``: 1 to ``longest`` characters, and the
    whole run of spaces and tabs there however long (``5   \t \r\n``: written ``[ \t]*``)."""
    blanks = len(text) - end - len(text[end:].lstrip(" \t"))
    return sorted(set(range(1, min(longest, len(text) - end) + 1)) | ({blanks} if blanks > longest else set()))


def _inside_word(chars: str, at: int) -> bool:
    """Is offset ``at`` of ``chars`` between two word characters?"""
    return 0 < at < len(chars) and (chars[at - 1].isalnum() or chars[at - 1] == "_") and (chars[at].isalnum() or chars[at] == "_")


def _escaped(char: str) -> str:
    """``char`` as a pattern matching it (a backslash before regex syntax only)."""
    return "\\" + char if char in _SYNTAX else char


def added_alternatives(pattern: str, stops: set[str]) -> list[tuple[str, str, str]]:
    """A ``stops`` symbol (where the longest match of an input stops; not a letter, digit or
    ``_``) added to a group whose alternatives are all symbols of one to three characters
    (``(?:\\+|-)`` + ``~``), as ``(operator, new pattern, description)``; the plain-word
    groups are :mod:`.regex_ops`'."""
    found = pieces(pattern)
    by_seq: dict[int, list[Piece]] = {}
    for piece in found:
        by_seq.setdefault(piece.seq, []).append(piece)
    out = []
    for group in found:
        if group.kind != "group" or len(group.inner) < 2:
            continue
        members = [by_seq.get(seq, []) for seq in group.inner]
        if not all(m and all(p.kind == "lit" and not p.quant_text for p in m) for m in members):
            continue
        words = ["".join(p.value for p in m) for m in members]
        if any(len(w) > 3 or any(c.isalnum() or c == "_" for c in w) for w in words):
            continue  # plain words are regex_ops'; phrases are no set of symbols
        close = group.atom_end - 1
        for char in sorted(stops):
            if char not in words and char.isprintable() and not char.isspace() and not (char.isalnum() or char == "_"):
                out.append(("regex_alternative", pattern[:close] + "|" + _escaped(char) + pattern[close:],
                            f"add `{char}` to the alternation"))
    return out


def widened_ranges(pattern: str, stops: set[str]) -> list[tuple[str, str, str]]:
    """A class range moved by one ``stops`` character just past one of its ends, or to the
    end of its run of letters or digits (``[a-y]`` -> ``[a-z]``, ``[1-9]`` -> ``[0-9]``), as
    ``(operator, new pattern, description)``."""
    out = []
    for piece in pieces(pattern):
        if piece.kind != "class":
            continue
        body_at = piece.start + 1 + (pattern[piece.start + 1:piece.start + 2] == "^")
        if body_at > piece.start + 1:
            continue  # a negated class: widening its range narrows the pattern
        for found in re.finditer(r"(?<!\\)(\w)-(\w)", pattern[body_at:piece.atom_end - 1]):
            low, high = found.group(1), found.group(2)
            kind = next((k for k in _KINDS if k[0] <= low <= high <= k[1]), None)
            if kind is None:
                continue
            for char in sorted(stops):
                if char > high and (ord(char) == ord(high) + 1 or char == kind[1]) and char <= kind[1]:
                    at = body_at + found.start(2)
                    out.append(("regex_range", pattern[:at] + char + pattern[at + 1:], f"`{low}-{high}` -> `{low}-{char}`"))
                elif char < low and (ord(char) == ord(low) - 1 or char == kind[0]) and char >= kind[0]:
                    at = body_at + found.start(1)
                    out.append(("regex_range", pattern[:at] + char + pattern[at + 1:], f"`{low}-{high}` -> `{char}-{high}`"))
    return out


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."

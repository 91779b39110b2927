"""Regular-expression edits that make a pattern match LESS (issue 21): the bugs where a pattern
finds a match inside a longer word, or takes one character too many, and the failing test
says so (a value it should not have found, a captured group with trailing punctuation).

:mod:`.regex_ops` and :mod:`.regex_more` only widen a pattern. Adding anchors and word
boundaries, making a quantifier lazy and restricting a character class are the most frequent
regex fixes that narrow (Wang, Brown and Stolee, "An Exploratory Study of Regular Expression
Bugs", MSR 2020 / "Demystifying regular expression bugs", EMSE 2022: "incorrect boundaries"
and "overly permissive" patterns). The edits, ``regex_narrow``:

- ``\\b`` or ``(?<!\\S)`` before the pattern (a match may no longer start inside a word:
  ``_default`` of ``parameter_without_default``), ``\\b`` after it;
- ``^`` before, ``$`` after, when the pattern has none;
- a greedy ``*``/``+`` after ``.`` or a class made lazy (``.*`` -> ``.*?``);
- a run of a class that holds ``\\w`` and punctuation made to end in a word character
  (``[\\w\\-\\.]+`` -> ``[\\w\\-\\.]*\\w``: ``1.0`` of ``Default is 1.0.`` without its period);
- a run of a class without an upper bound given one just below the failing input's run
  (``[0-9]+`` -> ``[0-9]{1,20}`` for ``"1" * 21``: "overly permissive", a missing length limit);
- a run of a negated class given a punctuation character of the failing input to stop at
  (``[^/?#]*`` -> ``[^\\\\/?#]*``: an authority that must end at a backslash).

A candidate must change the first match (its span or groups) on one of the failing tests'
strings and :func:`.regex_more.keeps` the passing tests' strings. Only one-piece literals
whose source text is the pattern are edited (:func:`.regex_ops.literal_body`). Pure: no I/O.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

from harness.generators.data_text import Near, Text, holders, make
from harness.generators.literal_hints import Hints
from harness.generators.mutant import Mutant
from harness.generators.regex_guard import RegexTimeout, time_limit
from harness.generators.regex_more import inputs_and_tree, EDIT_SECONDS, MAX_PASSING, keeps
from harness.generators.regex_ops import FRAGMENT, MAX_INPUT, PER_PATTERN, literal_body, patterns

_ANCHORED_START = ("^", "\\A", "\\b", "(?<", "(?m)^")
_ANCHORED_END = ("$", "\\Z", "\\z", "\\b")
#: a greedy ``*``/``+`` right after ``.`` or a class's closing ``]`` (not already lazy or possessive).
_GREEDY = re.compile(r"(?<!\\)(?:\.|\])[*+](?![?+*])")
#: a class or an escape class repeated with ``+`` or ``*`` (no bound, not lazy or possessive).
_UNBOUNDED = re.compile(r"(\[(?:[^\]\\]|\\.)+\]|\\[dwsDWS])([+*])(?![?+*])")
#: the shortest run in a failing input that :func:`bounded` puts a limit under.
MIN_RUN = 8
#: a negated class repeated with ``+`` or ``*`` (its body: group 1).
_NEGATED_RUN = re.compile(r"\[\^((?:[^\]\\]|\\.)+)\][+*]")
#: a class holding ``\w`` and more, repeated with ``+``.
_WORD_CLASS_RUN = re.compile(r"\[((?:[^\]\\]|\\.)*\\w(?:[^\]\\]|\\.)*)\]\+(?![?+*])")


def edits(pattern: str) -> list[tuple[str, str]]:
    """The narrowing edits of ``pattern`` as ``(new pattern, description)``, unchecked, the
    most often right first: a boundary before it, a class run ending in a word character, a
    lazy quantifier, a boundary after it, then the anchors (they cut the most)."""
    start = not pattern.startswith(_ANCHORED_START)
    end = not pattern.endswith(_ANCHORED_END) or pattern.endswith("\\$")
    out: list[tuple[str, str]] = []
    if start:
        out += [("\\b" + pattern, "`\\b` before it"), ("(?<!\\S)" + pattern, "`(?<!\\S)` before it")]
    for found in _WORD_CLASS_RUN.finditer(pattern):
        new = f"[{found.group(1)}]*\\w"
        out.append((pattern[:found.start()] + new + pattern[found.end():], f"`{found.group()}` -> `{new}`"))
    for found in _GREEDY.finditer(pattern):
        at = found.end()
        if not pattern[at:].strip(")"):
            continue  # lazy at the pattern's end takes the fewest characters: no narrowing anyone writes
        out.append((pattern[:at] + "?" + pattern[at:], f"`{found.group()}` made lazy"))
    out += [(pattern + "\\b", "`\\b` after it")] if end else []
    out += [("^" + pattern, "`^` before it")] if start else []
    out += [(pattern + "$", "`$` after it")] if end else []
    return out


def bounded(pattern: str, inputs: Sequence[str]) -> list[tuple[str, str]]:
    """A greedy run of a class that has no upper bound given one just below the longest run
    of it in a failing test's input (``[0-9]+`` and ``"1" * 21`` -> ``[0-9]{1,20}``): the
    length limit an over-long input tests (a header's digits, a name's characters). Only for
    runs of at least :data:`MIN_RUN` characters, as ``(new pattern, description)``, unchecked."""
    out: dict[str, str] = {}
    for found in _UNBOUNDED.finditer(pattern):
        try:
            with warnings.catch_warnings():  # the user's pattern may be warned about ("nested set"): not ours to say
                warnings.simplefilter("ignore")
                atom = re.compile(found.group(1) + "+")
        except (re.error, OverflowError, RecursionError):
            continue
        for text in inputs:
            longest = max((len(m.group()) for m in atom.finditer(text)), default=0)
            if longest >= MIN_RUN:
                low = "1" if found.group(2) == "+" else "0"
                new = pattern[:found.start(2)] + f"{{{low},{longest - 1}}}" + pattern[found.end(2):]
                out.setdefault(new, f"`{found.group()}` bounded to {longest - 1}")
    return list(out.items())


def stopped(pattern: str, inputs: Sequence[str]) -> list[tuple[str, str]]:
    """A repeated negated class given one more character to stop at: each punctuation
    character of a failing test's input that the class lets through (``[^/?#]*`` and
    ``user@host\\evil.com`` -> ``[^\\\\/?#]*``: the authority ends at the backslash
    browsers treat as ``/``). "Overly permissive" classes are the most frequent regex fix
    in Wang, Brown and Stolee's study (see the module docstring). As ``(new pattern,
    description)``, unchecked, in the inputs' order."""
    out: dict[str, str] = {}
    for found in _NEGATED_RUN.finditer(pattern):
        body = found.group(1)
        try:
            inside = re.compile(f"[{body}]")
        except (re.error, OverflowError, RecursionError):
            continue
        for char in dict.fromkeys(c for text in inputs for c in text):
            if char.isalnum() or char.isspace() or char == "_" or inside.match(char) is not None:
                continue
            new = pattern[:found.start(1)] + re.escape(char) + body + pattern[found.end(1):]
            out.setdefault(new, f"`[^{body}]` stops at `{char}` too")
    return list(out.items())


def _first(compiled: re.Pattern[str], text: str) -> tuple[tuple[int, int], tuple[str | None, ...]] | None:
    found = compiled.search(text)
    return (found.span(), found.groups()) if found is not None else None


def pattern_edits(pattern: str, flags: int, inputs: Sequence[str], passing: Sequence[str] = ()) -> list[tuple[str, str]]:
    """The checked narrowing edits of one pattern, ``(new pattern, description)`` in
    :func:`edits`' order, at most :data:`.regex_ops.PER_PATTERN`; [] when the pattern does not
    compile or matches none of ``inputs``."""
    try:
        old = re.compile(pattern, flags)
    except (re.error, OverflowError, RecursionError):
        return []
    kept: list[tuple[str, str]] = []
    try:
        with time_limit(EDIT_SECONDS * 4):
            before = {text: _first(old, text) for text in inputs}
    except RegexTimeout:
        return []
    if not any(before.values()):
        return []  # nothing of the failing tests' matched: nothing to narrow
    matched = [text for text, was in before.items() if was is not None]
    for new_pattern, desc in edits(pattern) + stopped(pattern, matched) + bounded(pattern, matched):
        try:
            new = re.compile(new_pattern, flags)
        except (re.error, OverflowError, RecursionError):
            continue
        try:
            with time_limit(EDIT_SECONDS):
                changed = sum(1 for text, was in before.items() if was is not None and _first(new, text) != was)
                if changed and keeps(old, new, passing, inputs):
                    kept.append((new_pattern, desc))
        except RegexTimeout:
            continue
    return kept[:PER_PATTERN]


def narrow_regex_mutants(path: str, source: str, hints: Hints, passing: Sequence[str] = (), lines: Sequence[str] = (),
                         near: Near | None = None) -> list[Mutant]:
    """The ``regex_narrow`` candidates of one module for the failing tests' strings.

    Args:
        path: repo-relative POSIX path, copied into each mutant.
        source: the module's text.
        hints: :func:`harness.generators.literal_hints.gather`'s; its strings are inputs.
        passing: strings of the passing tests (:func:`.regex_more.keeps`).
        lines: more inputs: the lines of the failing tests' multi-line strings.
        near: when given, only patterns the failing code reaches.

    Returns:
        Per literal pattern, up to :data:`.regex_ops.PER_PATTERN` edits; empty when the module
        does not parse or no input is given.
    """
    parsed = inputs_and_tree(source, hints, lines)
    if parsed is None:
        return []
    inputs, tree = parsed
    text = Text(source)
    held = holders(tree) if near is not None else {}
    checked = [s for s in passing if len(s) <= MAX_INPUT][:MAX_PASSING]
    out: list[Mutant] = []
    for node, pattern, flags in patterns(tree):
        body = literal_body(text, node)
        if flags == FRAGMENT or body is None or (near is not None and node in held and not near.reaches(*held[node])):
            continue
        for new, desc in pattern_edits(pattern, flags, inputs, checked):
            if not body[2] and "\\" in new:
                continue  # a plain literal would need its backslashes escaped
            mutant = make("regex_narrow", path, text, node.lineno, f"regex {desc}", body[0], body[1], new)
            out += [mutant] if mutant is not None else []
    return out

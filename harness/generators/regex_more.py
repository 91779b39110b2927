"""More regular-expression edits guided by the failing tests' strings (issue 21): the shapes
:mod:`.regex_ops` does not reach, built from :mod:`.regex_pieces`.

- ``regex_optional_piece``: a required piece inside the pattern made optional where the
  failing input lacks it (``^--- a/(?P<path>\\S+)`` -> ``^--- (?:a/)?(?P<path>\\S+)``; two
  pieces of one pattern when one is not enough, and the same kind of edit in two patterns
  of the module at once), ``regex_quantifier`` for a ``+`` that also takes none;
- ``regex_ignorecase``: ``re.IGNORECASE`` added to the call's flags when the input matches
  only without regard to case (``(?i)`` at the pattern's start when the flags are not ours
  to edit), also for a pattern the module builds from a table of strings
  (``re.compile("|".join(DAYS))``);
- ``regex_alternative`` for a group of non-word alternatives, ``regex_range`` for a class
  range one character short.

Every candidate must make the pattern match more of a failing test's input (:func:`cover`,
all of it first) and keep what it did on the other tests' strings (:func:`keeps`): a string
of the passing tests the old pattern matched is still matched with the same groups and the
same first match, and one it rejected is still rejected (unless a failing test has it too),
nor does the pattern come to match the empty string. That is what keeps a widening from
turning into ``.*``: none of these edits writes a wildcard, and one that accepts what the
passing tests' strings show the pattern rejects is dropped before it runs. Pure: no I/O.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence

from harness.generators.data_text import Near, Text, holders, make, parsed
from harness.generators.literal_hints import Hints
from harness.generators.mutant import Mutant
from harness.generators.regex_ops import (FRAGMENT, MAX_INPUT, MAX_INPUTS, PER_PATTERN, call_flags, cover,
                                          is_re_call, literal_body, patterns, stop_chars)
from harness.generators.regex_built import bound_names, built
from harness.generators.regex_guard import RegexTimeout, time_limit
from harness.generators.regex_pieces import added_alternatives, inserted_pieces, optional_pieces, pieces, widened_ranges
from harness.core.tree_memo import nodes

#: strings of the passing tests a candidate is checked against (the first ones).
MAX_PASSING = 80
#: edits of one pattern scored (in :func:`_edits`' order).
MAX_EDITS = 40
#: wall seconds one edit's matching may take (against the failing and passing tests' strings),
#: and the second-piece stage as a whole (:mod:`.regex_guard`).
EDIT_SECONDS = 0.5
PIECES_SECONDS = 5.0
#: inputs a second piece is sought for: those a prefix of the pattern gets furthest into.
ALIGNED = 3
#: characters an evaluated table pattern may have (a larger one is not evaluated).
MAX_BUILT = 5000
_Compiled = re.Pattern[str]


def keeps(old: _Compiled, new: _Compiled, passing: Sequence[str], failing: Sequence[str] = ()) -> bool:
    """Does ``new`` (an edit of ``old``) keep ``old``'s behaviour on the passing tests' strings?

    For each string of ``passing``: one ``old`` matches in full is matched in full by
    ``new`` with the same groups; the first match ``old.search`` finds is the one ``new``
    finds; one ``old`` does not match in full is not matched in full by ``new`` unless it is
    also a string of ``failing``. And ``new`` matches the empty string only when ``old`` did.
    """
    if new.fullmatch("") is not None and old.fullmatch("") is None:
        return False
    same_groups = old.groups == new.groups
    for text in passing:
        was, now = old.fullmatch(text), new.fullmatch(text)
        if was is not None and (now is None or (same_groups and was.groups() != now.groups())):
            return False
        if was is None and now is not None and text not in failing:
            return False
        first = old.search(text)
        if first is not None:
            again = new.search(text)
            if again is None or again.span() != first.span():
                return False
    return True


def _loose(compiled: _Compiled) -> _Compiled:
    """``compiled`` without its end anchor (``$``, ``\\Z``): how far a match gets before the end
    must be reached (an anchored pattern's longest match is all or nothing)."""
    pattern = compiled.pattern
    cut = 2 if pattern.endswith(("\\Z", "\\z")) else 1 if pattern.endswith("$") and not pattern.endswith("\\$") else 0
    return (_compile(pattern[:len(pattern) - cut], compiled.flags) or compiled) if cut else compiled


def reach(compiled: _Compiled, text: str) -> int:
    """The longest match of ``compiled`` in ``text`` (characters, -1 when none): at any start
    (:func:`cover`), or at the start only when the pattern starts with ``^``/``\\A`` (an
    anchored pattern that matches a tail of the input only is not aligned with it)."""
    if compiled.pattern.startswith(("^", "\\A")):
        found = compiled.match(text)
        return found.end() if found is not None else -1
    return cover(compiled, text)[1]


def _gain(before: dict[str, int], new: _Compiled) -> tuple[int, int]:
    """(matches one of the misses in full, the largest longer :func:`reach` in characters,
    end anchors aside); ``before``: each miss -> the old pattern's reach."""
    gain = (0, 0)
    loose_new = _loose(new)
    for text, was in before.items():
        full = new.fullmatch(text) is not None
        gain = max(gain, (int(full), reach(loose_new, text) - was))
    return gain


def _compile(pattern: str, flags: int) -> _Compiled | None:
    try:
        return re.compile(pattern, flags)
    except (re.error, OverflowError, RecursionError):
        return None


def _fullmatch(pattern: str, flags: int, text: str) -> bool:
    compiled = _compile(pattern, flags)
    return compiled is not None and compiled.fullmatch(text) is not None


def progress(pattern: str, flags: int, text: str) -> int:
    """How far ``pattern`` gets into ``text``: the longest match, at any start (at the start
    only when the pattern starts with ``^``), of a prefix of it ending at a top-level piece
    (characters; -1 when none matches). An edit that lets a
    two-site pattern get further (``a/`` of ``diff --git a/(\\S+) b/(\\S+)``) makes no
    whole match yet, but more progress."""
    best = -1
    anchored = pattern.startswith(("^", "\\A"))  # from the input's start only
    for piece in pieces(pattern):
        prefix = _compile(pattern[:piece.end], flags) if piece.seq == 0 else None
        if prefix is not None:
            found = prefix.match(text) if anchored else None
            best = max(best, (found.end() if found else -1) if anchored else cover(prefix, text)[1])
    return best


def _edits(pattern: str, compiled: _Compiled, misses: list[str], whole: bool = True) -> list[tuple[str, str, str]]:
    """The edits of :mod:`.regex_pieces` for ``pattern`` and its ``misses``, unchecked; with
    ``whole`` False (a separator: ``re.split``/``re.sub``'s), no piece made optional or
    inserted (the tests' strings are no input it should match in full)."""
    stops = set().union(*(stop_chars(pattern, compiled, text) for text in misses))
    for text in misses:  # and the character just before a longest match, where it could start earlier
        best = cover(compiled, text)[1]
        stops |= {text[at - 1] for at in range(1, len(text)) if best > 0
                  and (found := compiled.match(text[at:])) is not None and found.end() == best}
    pieces_edits = [*optional_pieces(pattern, misses), *inserted_pieces(pattern, compiled.flags, misses)] if whole else []
    return [*pieces_edits, *added_alternatives(pattern, stops), *widened_ranges(pattern, stops)]


def pattern_edits(pattern: str, flags: int, inputs: list[str], passing: Sequence[str] = (),
                  whole: bool = True) -> list[tuple[str, str, str]]:
    """The checked edits of one pattern as ``(operator, new pattern, description)``, the
    largest gain first (one matching an input in full first), at most :data:`PER_PATTERN`.

    An optional piece that leaves the input unmatched in full gets a second one on top
    (two pieces of one pattern). Each edit compiles with ``flags``, matches more of one of
    ``inputs`` the pattern does not match in full, and :func:`keeps` ``passing``; [] when
    the pattern does not compile or matches every input. ``whole``: see :func:`_edits`."""
    compiled = _compile(pattern, flags)
    if compiled is None:
        return []
    try:
        with time_limit(EDIT_SECONDS):
            misses = [text for text in inputs if compiled.fullmatch(text) is None]
            loose = _loose(compiled)
            before = {text: reach(loose, text) for text in misses}
    except RegexTimeout:  # the pattern itself backtracks without end on a test's string
        return []
    if not misses:
        return []
    ranked: dict[str, tuple[tuple[int, int], str, str]] = {}

    def score(edits: list[tuple[str, str, str]]) -> None:
        for operator, new, desc in edits[:MAX_EDITS]:
            edited = _compile(new, flags) if new not in ranked and new != pattern else None
            if edited is None:
                continue
            try:
                with time_limit(EDIT_SECONDS):
                    gain = _gain(before, edited)
                    kept = (gain[0] or gain[1] > 0) and keeps(compiled, edited, passing, inputs)
            except RegexTimeout:  # an edit that backtracks without end is no fix
                continue
            if kept:
                ranked[new] = (gain, operator, desc)

    edits = _edits(pattern, compiled, misses, whole)
    score(edits)
    if whole and not any(gain[0] for gain, _, _ in ranked.values()):  # a second piece on top of the first: `a/` and `b/`
        try:
            with time_limit(PIECES_SECONDS):
                aligned = sorted(((progress(pattern, flags, text), text) for text in misses), reverse=True)[:ALIGNED]
                seeds = {new: (max(progress(new, flags, text) - was for was, text in aligned), desc)
                         for op, new, desc in edits[:MAX_EDITS] if op == "regex_optional_piece"}
                for first, (_, desc) in sorted((kv for kv in seeds.items() if kv[1][0] > 0), key=lambda kv: -kv[1][0])[:2]:
                    more_edits = [*optional_pieces(first, misses), *inserted_pieces(first, flags, misses)]
                    score([("regex_optional_piece", new, f"{desc}, {more}") for op, new, more in more_edits
                           if op == "regex_optional_piece" and any(_fullmatch(new, flags, text) for text in misses)])
        except RegexTimeout:
            pass  # the second pieces that were scored in time are kept
    if any(gain[0] for gain, _, _ in ranked.values()):  # a partial edit is no lead beside a full one
        ranked = {new: item for new, item in ranked.items() if item[0][0]}
    best_first = sorted(ranked.items(), key=lambda kv: (-kv[1][0][0], -kv[1][0][1]))
    return [(operator, new, desc) for new, (_, operator, desc) in best_first[:PER_PATTERN]]


def _flag_edit(text: Text, call: ast.Call, spelled: str) -> tuple[int, int, str] | None:
    """The splice adding ``spelled`` (``re.IGNORECASE``) to the flags of ``call``: `` | `` after
    the flags it passes, else as the positional argument right after the last one when the
    flags come next in the function's signature, else as ``flags=``."""
    name = call.func.attr if isinstance(call.func, ast.Attribute) else ""
    position = {"compile": 1, "match": 2, "search": 2, "fullmatch": 2, "findall": 2, "finditer": 2,
                "split": 3, "sub": 4, "subn": 4}.get(name, 99)
    given = [kw.value for kw in call.keywords if kw.arg == "flags"]
    if not given and len(call.args) > position:
        given = [call.args[position]]
    if given:
        end = text.span(given[0])[1]
        return end, end, " | " + spelled
    if call.keywords and any(kw.arg is None for kw in call.keywords) or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    last = [*call.args, *(kw.value for kw in call.keywords)]
    end = max(text.span(node)[1] for node in last)
    positional = position == len(call.args) and not call.keywords and name not in ("split", "sub", "subn")
    return end, end, (", " if positional else ", flags=") + spelled


def _ignorecase(path: str, calls: list[ast.Call], bound: dict[str, ast.expr], text: Text, inputs: list[str],
                passing: Sequence[str], reached: Callable[[ast.AST], bool]) -> list[Mutant]:
    """``re.IGNORECASE`` for the ``re`` calls whose pattern (a literal, a name bound to one,
    or a table of strings joined: :func:`built`) matches more of an input without regard to
    case, and :func:`keeps` ``passing``; ``(?i)`` at a literal pattern's start when the
    call's flags are not plain ``re`` flags."""
    spelled = "re.I" if re.search(r"\bre\.I\b", text.source) else "re.IGNORECASE"
    out = []
    for call in calls:
        first = call.args[0]
        literal = bound.get(first.id) if isinstance(first, ast.Name) else first
        literal = literal if isinstance(literal, ast.Constant) and isinstance(literal.value, str) else None
        pattern = literal.value if literal is not None else built(first, bound)
        flags = call_flags(call)
        if not isinstance(pattern, str) or len(pattern) > MAX_BUILT or not (reached(call) or (literal and reached(literal))):
            continue
        old, new = _compile(pattern, max(0, flags or 0)), _compile(pattern, (flags or 0) | re.IGNORECASE)
        if old is None or new is None or (flags or 0) & re.IGNORECASE:
            continue
        loose = _loose(old)
        gain = _gain({s: reach(loose, s) for s in inputs if old.fullmatch(s) is None}, new)
        if not (gain[0] or gain[1] > 0) or not keeps(old, new, passing, inputs):
            continue
        body = literal_body(text, literal) if literal is not None else None
        splice = _flag_edit(text, call, spelled) if flags is not None else \
            (body[0], body[0], "(?i)") if body is not None and not pattern.startswith("(?") else None
        if splice is not None:
            desc = f"regex {spelled} added" if flags is not None else "regex `(?i)` at the start"
            mutant = make("regex_ignorecase", path, text, call.lineno, desc, *splice)
            out += [mutant] if mutant is not None else []
    return out


def inputs_and_tree(source: str, hints: Hints, lines: Sequence[str]) -> tuple[list[str], ast.Module] | None:
    """The strings a module's patterns are matched against (the failing tests' ``hints``
    strings, then their multi-line strings' ``lines``; each once, 1 to :data:`MAX_INPUT`
    characters, at most twice :data:`MAX_INPUTS`) and the module's tree; None when there is no
    such string or the module does not parse."""
    inputs = list(dict.fromkeys(s for s in [*hints.strings, *lines] if 0 < len(s) <= MAX_INPUT))[:2 * MAX_INPUTS]
    if not inputs:
        return None
    tree = parsed(source)
    return None if tree is None else (inputs, tree)


def more_regex_mutants(path: str, source: str, hints: Hints, passing: Sequence[str] = (), lines: Sequence[str] = (),
                       near: Near | None = None) -> list[Mutant]:
    """The candidates of this module's edits for one module and the failing tests' ``hints``.

    Args:
        path: repo-relative POSIX path, copied into each mutant.
        source: the module's text.
        hints: :func:`harness.generators.literal_hints.gather`'s; its strings are the inputs.
        passing: strings of the passing tests (:func:`keeps`).
        lines: more inputs: the lines of the failing tests' multi-line strings.
        near: when given, only patterns (and calls) the failing code reaches.

    Returns:
        Per literal pattern, up to :data:`PER_PATTERN` edits (:func:`pattern_edits`); a
        candidate editing two patterns at once when each has an optional piece that makes an
        input match in full; the ``re.IGNORECASE`` candidates. Empty when the module does
        not parse or no input is given.
    """
    parsed = inputs_and_tree(source, hints, lines)
    if parsed is None:
        return []
    inputs, tree = parsed
    calls = [node for node in nodes(tree) if is_re_call(node) and isinstance(node, ast.Call)]
    if not calls:  # no pattern of ours: a regex table's pieces are regex_ops' alone
        return []
    text = Text(source)
    held = holders(tree) if near is not None else {}

    def reached(node: ast.AST) -> bool:
        return near is None or node not in held or near.reaches(*held[node])

    passing = [s for s in passing if len(s) <= MAX_INPUT][:MAX_PASSING]
    out: list[Mutant] = []
    optional: list[tuple[ast.Constant, tuple[int, int, bool], str, str]] = []  # full-match optional pieces
    bound = bound_names(tree)
    separators = _separators(calls, bound)
    for node, pattern, flags in patterns(tree):
        body = literal_body(text, node)
        if flags == FRAGMENT or body is None or not reached(node):
            continue
        for operator, new, desc in pattern_edits(pattern, flags, inputs, passing, node not in separators):
            if not body[2] and "\\" in new:
                continue
            mutant = make(operator, path, text, node.lineno, f"regex {desc}", body[0], body[1], new)
            out += [mutant] if mutant is not None else []
            compiled = _compile(new, flags)
            if operator == "regex_optional_piece" and compiled is not None and any(compiled.fullmatch(s) for s in inputs):
                optional.append((node, body, new, desc))
    out += _twins(path, text, optional)
    return out + _ignorecase(path, calls, bound, text, inputs, passing, reached)


def _separators(calls: list[ast.Call], bound: dict[str, ast.expr]) -> set[ast.AST]:
    """The string literals given (directly or by a module-level name in ``bound``) to
    ``re.split``, ``re.sub`` or ``re.subn`` among the ``re`` ``calls`` and to no other one:
    patterns that match inside a text."""
    uses: dict[ast.AST, set[str]] = {}
    for call in calls:
        assert isinstance(call.func, ast.Attribute)
        first = call.args[0]
        node = bound.get(first.id) if isinstance(first, ast.Name) else first
        if node is not None:
            uses.setdefault(node, set()).add(call.func.attr)
    return {node for node, funcs in uses.items() if funcs <= {"split", "sub", "subn"}}


def _twins(path: str, text: Text, pieces: list[tuple[ast.Constant, tuple[int, int, bool], str, str]]) -> list[Mutant]:
    """One candidate per pair of patterns (the first of each, up to three patterns) whose
    optional pieces each make an input match in full: both edits in one splice, for an input
    that goes through both (``--- a/`` and ``+++ b/`` of one diff)."""
    first: dict[int, tuple[ast.Constant, tuple[int, int, bool], str, str]] = {}
    for item in pieces:
        first.setdefault(item[1][0], item)
    chosen = sorted(first.values(), key=lambda item: item[1][0])[:3]
    out = []
    for i, (node, body, new, desc) in enumerate(chosen):
        for later, body2, new2, desc2 in chosen[i + 1:]:
            middle = text.source[body[1]:body2[0]]
            mutant = make("regex_optional_piece", path, text, node.lineno, f"regex {desc}; line {later.lineno}: {desc2}",
                          body[0], body2[1], new + middle + new2)
            out += [mutant] if mutant is not None else []
    return out

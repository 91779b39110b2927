"""Regular-expression edits guided by the failing tests' strings (issue 21, data-driven edits).

A regex literal of the module (a string passed to ``re.compile``/``re.match``/..., or a
string assigned to a name such a call is given) is edited so that it matches more of a
string literal of the failing tests than it did - the test's input the pattern rejects:

- ``regex_alternative``: a word of the tests added to an alternation of plain words
  (``(?:st|nd|rd)`` -> ``(?:st|nd|rd|th)``);
- ``regex_optional``: the part of a test input before or after the pattern's longest
  match made an optional group (``(?:a/)?``), at the pattern's start or end;
- ``regex_class``: a character class widened by the character where the longest match
  stops (``[0-9;]`` -> ``[0-9;:]``);
- ``regex_optional_char``: a literal character the input lacks made optional (``x`` ->
  ``x?``) or repeatable (``x*``);
- ``regex_quantifier``: a counted repeat that also takes fewer (``[0-9]{6}`` -> ``[0-9]{1,6}``).

The patterns are the literals given to ``re`` calls (or assigned to a name one is given), and
the values of a table of regex pieces (a dict or list literal of strings most of which look
like regex: the code joins or substitutes them into a pattern).

"Matches more" is measured by the longest match of the pattern at any position of the
string (:func:`cover`), with the call's flags; every candidate compiles. Only one-piece
literals whose source text is the pattern itself are edited (a raw string, or a plain one
without escapes). Pure: no I/O.
"""

from __future__ import annotations

import ast
import re

from harness.core.tree_memo import nodes
from harness.generators.literal_hints import Hints
from harness.generators.mutant import Mutant
from harness.generators.data_text import Near, Text, holders, make, parsed, tree_memo

#: ``re`` functions whose first argument is a pattern.
_RE_FUNCS = frozenset({"compile", "match", "search", "fullmatch", "findall", "finditer", "sub", "subn", "split"})
#: test strings longer than this are not matched against (characters).
MAX_INPUT = 200
#: candidates per regex literal, the largest gain first.
PER_PATTERN = 4
#: regex literals of a module looked at (in source order).
MAX_PATTERNS = 80
#: test strings matched per module (the first ones, in test order).
MAX_INPUTS = 16
#: edits of one pattern tried (in :func:`_edits`' order: alternatives, groups, classes, chars).
MAX_EDITS = 48
_PLAIN_WORD = re.compile(r"[\w\- ]+\Z")


def cover(pattern: re.Pattern[str], text: str) -> tuple[bool, int]:
    """(does ``pattern`` match all of ``text``, the longest match of it starting anywhere in
    ``text`` in characters, -1 when none)."""
    best = -1
    for at in range(len(text) + 1):
        found = pattern.match(text[at:])
        if found is not None:
            best = max(best, found.end())
    return pattern.fullmatch(text) is not None, best


def call_flags(call: ast.Call) -> int | None:
    """The ``re`` flags a call passes (``re.I | re.M``), 0 for none, None when unknown (a
    name or other expression, or ``re.VERBOSE``, whose pattern text is not the pattern)."""
    args = [kw.value for kw in call.keywords if kw.arg == "flags"]
    name = call.func.attr if isinstance(call.func, ast.Attribute) else ""
    position = {"compile": 1, "match": 2, "search": 2, "fullmatch": 2, "findall": 2, "finditer": 2,
                "split": 3, "sub": 4, "subn": 4}.get(name, 99)
    args += call.args[position:position + 1]
    flags = 0
    for arg in args:
        modules = {id(n.value) for n in ast.walk(arg) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
        for node in ast.walk(arg):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "re":
                value = getattr(re, node.attr, None)
                if not isinstance(value, re.RegexFlag):
                    return None
                flags |= value
            elif (isinstance(node, ast.Name) and id(node) not in modules) or isinstance(node, ast.Attribute) \
                    or (isinstance(node, ast.Constant) and not isinstance(node.value, int)):
                return None  # a name, another module's attribute: flags not known here
    return None if flags & re.VERBOSE else flags


def is_re_call(node: ast.AST) -> bool:
    """Is ``node`` a call of a ``re`` (or ``regex``) function taking a pattern first (:data:`_RE_FUNCS`)?"""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _RE_FUNCS
            and isinstance(node.func.value, ast.Name) and node.func.value.id in ("re", "regex") and bool(node.args))


def patterns(tree: ast.Module) -> list[tuple[ast.Constant, str, int]]:
    """The module's regex literals and their flags: a string constant that is the first
    argument of a ``re`` call, or the value assigned to a name one is given; a piece of a
    regex table (:func:`_fragment_table`) with :data:`FRAGMENT` for its flags. Once per tree."""
    return tree_memo(tree, _patterns)


def _patterns(tree: ast.Module) -> list[tuple[ast.Constant, str, int]]:
    calls = [n for n in nodes(tree) if is_re_call(n)]
    by_name: dict[str, int] = {}
    out: dict[ast.Constant, int] = {}
    for call in calls:
        assert isinstance(call, ast.Call)
        flags = call_flags(call)
        if flags is None:
            continue
        first = call.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, (str, bytes)):
            out[first] = flags
        elif isinstance(first, ast.Name):
            by_name[first.id] = flags
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, (str, bytes)):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in by_name:
                    out.setdefault(node.value, by_name[target.id])
        for fragment in _fragment_table(node):  # a table of regex pieces joined into patterns
            out.setdefault(fragment, FRAGMENT)
    ordered = sorted(out.items(), key=lambda kv: (kv[0].lineno, kv[0].col_offset))[:MAX_PATTERNS]
    return [(node, pattern_text(node.value), flags) for node, flags in ordered if isinstance(node.value, (str, bytes))]


def pattern_text(value: str | bytes) -> str:
    """A pattern literal's value as text: a bytes pattern (``rb"[0-9]+"``) byte for byte
    (Latin-1), so the edits of ``str`` patterns apply to it and the tests' bytes read alike."""
    return value.decode("latin-1") if isinstance(value, bytes) else value


#: the flags value :func:`patterns` gives a piece of a regex table (compiled without flags;
#: only a counted repeat is edited there: a prefix or suffix made optional means nothing in a
#: piece that other pieces surround).
FRAGMENT = -1
#: what marks a string as a piece of a regular expression (a class, an escape class, a counted
#: repeat, a group extension, an alternation).
_REGEX_PIECE = re.compile(r"\[[^\]]+\]|\\[dwsDWSb]|\{\d+(?:,\d*)?\}|\(\?|\|")


def _fragment_table(node: ast.AST) -> list[ast.Constant]:
    """The values of a dict literal (the elements of a list/tuple literal) of three or more
    strings, most of which are regex pieces (``{"%f": "[0-9]{6}", "%H": "[0-9]{2}"}``, joined
    or substituted into a pattern by the code: the table is the pattern)."""
    values = node.values if isinstance(node, ast.Dict) else node.elts if isinstance(node, (ast.List, ast.Tuple)) else []
    strings = [v for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    if len(strings) < 3 or len(strings) < len(values):
        return []
    pieces = [v for v in strings if _REGEX_PIECE.search(str(v.value))]
    return pieces if 3 * len(pieces) >= 2 * len(strings) else []


#: a string or bytes literal's prefix and opening quote.
STRING_START = re.compile(r"([rRuUbB]{0,2})('''|\"\"\"|'|\")")


def literal_body(text: Text, node: ast.Constant) -> tuple[int, int, bool] | None:
    """(start, end, raw) of the pattern inside the literal's quotes (character offsets; raw:
    an ``r`` prefix) when the source text between them is the pattern itself (a one-piece raw
    string or bytes literal, or one without escapes); None otherwise. An edit written into a
    bytes literal must stay ASCII (:func:`.data_text.make` drops one that does not parse)."""
    start, end = text.span(node)
    src = text.source[start:end]
    m = STRING_START.match(src)
    if m is None or not src.endswith(m.group(2)) or len(src) < 2 * len(m.group(2)) + len(m.group(1)):
        return None
    lo, hi = start + m.end(), end - len(m.group(2))
    raw = "r" in m.group(1).lower()
    value = pattern_text(node.value) if isinstance(node.value, (str, bytes)) else None
    if value is None or text.source[lo:hi] != value or (not raw and "\\" in value):
        return None
    return lo, hi, raw


def _top_level(pattern: str) -> list[tuple[int, str]]:
    """``(position, char)`` of the characters outside escapes and character classes."""
    out, at, in_class = [], 0, False
    while at < len(pattern):
        char = pattern[at]
        if char == "\\":
            if not in_class:
                out.append((at, char))
            at += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
        elif char == "[":
            out.append((at, char))
            in_class = True
            at += 2 if pattern[at + 1:at + 2] == "]" else 1
            at += 1 if pattern[at:at + 1] == "]" else 0
            continue
        else:
            out.append((at, char))
        at += 1
    return out


def _groups(pattern: str) -> list[tuple[int, int]]:
    """(after the opening, at the closing) parenthesis of every group, and (0, len) for the
    whole pattern."""
    stack, out = [], [(0, len(pattern))]
    for at, char in _top_level(pattern):
        if char == "(":
            stack.append(at)
        elif char == ")" and stack:
            opening = stack.pop()
            inner = opening + 1
            if pattern[inner:inner + 1] == "?":
                named = re.match(r"\?(?::|P<\w+>|<\w+>)", pattern[inner:])
                if named is None:
                    continue
                inner += named.end()
            out.append((inner, at))
    return out


def _alternatives(pattern: str, lo: int, hi: int) -> list[str] | None:
    """The alternatives of the group ``pattern[lo:hi]`` when it has two or more, all plain words."""
    depth, cuts = 0, [lo]
    for at, char in _top_level(pattern):
        if not lo <= at < hi:
            continue
        depth += (char == "(") - (char == ")")
        if char == "|" and depth == 0:
            cuts.append(at + 1)
    if len(cuts) < 2:
        return None
    words = [pattern[a:b - 1] for a, b in zip(cuts, [*cuts[1:], hi + 1])]
    return words if all(_PLAIN_WORD.match(w) for w in words) else None


def stop_chars(pattern: str, compiled: re.Pattern[str], text: str) -> set[str]:
    """The characters of ``text`` where the longest match of ``compiled`` (``pattern``
    compiled) stops, at any start (its first character when nothing matches), and where the
    match from the start stops when the pattern's end anchor need not be reached."""
    _, best = cover(compiled, text)
    stops = {text[at + best] for at in range(len(text)) if at + best < len(text)
             and (found := compiled.match(text[at:])) is not None and found.end() == best} if best >= 0 else set(text[:1])
    tail = len(pattern) - (2 if pattern.endswith(("\\Z", "\\z")) else 1 if pattern.endswith("$") and not pattern.endswith("\\$") else 0)
    try:  # where the match from the start stops when the end need not be reached
        loose = re.compile(pattern[:tail], compiled.flags).match(text)
    except re.error:
        loose = None
    if loose is not None and loose.end() < len(text):
        stops.add(text[loose.end()])
    return stops


def _edits(pattern: str, compiled: re.Pattern[str], inputs: list[str], words: list[str]) -> list[tuple[str, str, str]]:
    """Every edit of ``pattern`` as ``(operator, new pattern, description)``, unchecked."""
    out = []
    for lo, hi in _groups(pattern):
        alts = _alternatives(pattern, lo, hi)
        if alts is not None:
            for word in words:
                if word not in alts and _PLAIN_WORD.match(word):
                    out.append(("regex_alternative", pattern[:hi] + "|" + re.escape(word) + pattern[hi:], f"add `{word}` to the alternation"))
    anchor = 1 if pattern.startswith("^") else 0
    tail = len(pattern) - (2 if pattern.endswith(("\\Z", "\\z")) else 1 if pattern.endswith("$") and not pattern.endswith("\\$") else 0)
    for text in inputs:
        for k in range(1, min(len(text), 20) + 1):
            if compiled.match(text[k:]):
                group = "(?:" + re.escape(text[:k]) + ")?"
                out.append(("regex_optional", pattern[:anchor] + group + pattern[anchor:], f"optional prefix `{text[:k]}`"))
                break
        found = compiled.match(text)
        if found is not None and found.end() < len(text) and len(text) - found.end() <= 20:
            group = "(?:" + re.escape(text[found.end():]) + ")?"
            out.append(("regex_optional", pattern[:tail] + group + pattern[tail:], f"optional suffix `{text[found.end():]}`"))
        for char in sorted(stop_chars(pattern, compiled, text))[:3]:
            escaped = "\\" + char if char in "\\]^-[" else char
            for at, symbol in _top_level(pattern):
                if symbol == "[":
                    close = pattern.find("]", at + 2)
                    if close > at:
                        out.append(("regex_class", pattern[:close] + escaped + pattern[close:], f"`{char}` added to the class at {at}"))
    for at, char in _top_level(pattern):  # a counted repeat that also takes fewer: {6} -> {1,6}
        count = re.match(r"\{(\d+)(,\d*)?\}", pattern[at:]) if char == "{" else None
        if count is not None and int(count.group(1)) > 1:
            new = "{1," + (count.group(2)[1:] if count.group(2) else count.group(1)) + "}"
            out.append(("regex_quantifier", pattern[:at] + new + pattern[at + count.end():], f"`{count.group(0)}` -> `{new}`"))
    for at, char in _top_level(pattern):
        nxt = pattern[at + 1:at + 2]
        if (char.isalnum() or char in " -_:/,;=@#%&'\"<>!~`") and nxt not in ("?", "*", "+", "{"):
            for q in ("?", "*"):
                out.append(("regex_optional_char", pattern[:at + 1] + q + pattern[at + 1:], f"`{char}` -> `{char}{q}`"))
    return out


def regex_mutants(path: str, source: str, hints: Hints, near: Near | None = None) -> list[Mutant]:
    """The regex candidates of one module for the failing tests' ``hints``.

    Args:
        path: repo-relative POSIX path, copied into each mutant.
        source: the module's text.
        hints: :func:`harness.generators.literal_hints.gather`'s.
        near: when given, only patterns the failing code reaches (:meth:`Near.reaches`:
            the statement holding the literal, or the name it is assigned to).

    Returns:
        Per regex literal, up to :data:`PER_PATTERN` edits that compile and make the pattern
        match all of a test string it did not, or a longer part of one (the largest gain
        first); empty when the module does not parse or no test string is given.
    """
    inputs = [s for s in hints.strings if len(s) <= MAX_INPUT][:MAX_INPUTS]
    if not inputs:
        return []
    tree = parsed(source)
    if tree is None:
        return []
    text = Text(source)
    words = list(dict.fromkeys([*(s for s in inputs if _PLAIN_WORD.match(s) and len(s) <= 30),
                                *(w for s in inputs for w in re.findall(r"[A-Za-z]{2,}", s))]))[:40]
    out: list[Mutant] = []
    held = holders(tree) if near is not None else {}
    for node, pattern, given_flags in patterns(tree):
        flags = max(0, given_flags)
        if near is not None and node in held and not near.reaches(*held[node]):
            continue
        body = literal_body(text, node)
        try:
            compiled = re.compile(pattern, flags)
        except (re.error, OverflowError, RecursionError):
            continue
        if body is None:
            continue
        before = {s: cover(compiled, s) for s in inputs}
        misses = [s for s in inputs if not before[s][0]]
        ranked: dict[str, tuple[tuple[int, int], str, str]] = {}
        for operator, new, desc in _edits(pattern, compiled, misses, words)[:MAX_EDITS]:
            if new in ranked or (not body[2] and "\\" in new) or (given_flags == FRAGMENT and operator != "regex_quantifier"):
                continue
            try:
                edited = re.compile(new, flags)
            except (re.error, OverflowError, RecursionError):
                continue
            gain = (0, 0)
            for s in misses:
                full, best = cover(edited, s)
                gain = max(gain, (int(full), best - before[s][1]))
            if gain[0] or gain[1] > 0:
                ranked[new] = (gain, operator, desc)
        best_first = sorted(ranked.items(), key=lambda kv: (-kv[1][0][0], -kv[1][0][1]))
        for new, (_, operator, desc) in best_first[:PER_PATTERN]:
            mutant = make(operator, path, text, node.lineno, f"regex {desc}", body[0], body[1], new)
            if mutant is not None:
                out.append(mutant)
    return out

"""Regular-expression edits of a pattern the module composes from pieces (issue 21).

Parsers write their grammar as named pieces and compose them (``LABEL = r"[^\\]]+"``, then
``re.compile(r"^\\[(" + LABEL + r")\\]:")``, ``"(?P<host>%s)" % HOST``, ``"{scheme}://".format(**globals())``,
f-strings). :mod:`.regex_more` and :mod:`.regex_narrow` edit one literal that is the whole
pattern. Here the composed pattern is evaluated with each character's provenance (the literal
and the offset inside it it comes from, :func:`segments`), those modules' checked edits are
computed on the WHOLE pattern (so a widening is measured against the tests' strings as the
code matches them), and an edit whose change falls inside one literal is written back into
that literal. A change spanning two pieces, or inside text no literal spells (an f-string's
constant part, a ``%%``), is dropped.

The candidates keep the operator ids of the edits they come from (``regex_optional_piece``,
``regex_narrow``, ...) and are scored like them by :mod:`.data_edits`. Pure: no I/O.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from harness.generators.data_text import Near, Text, holders, make
from harness.generators.literal_hints import Hints
from harness.generators.mutant import Mutant
from harness.generators.regex_built import bound_names
from harness.generators.regex_more import MAX_BUILT, MAX_PASSING, inputs_and_tree
from harness.generators.regex_more import pattern_edits as widening_edits
from harness.generators.regex_narrow import pattern_edits as narrowing_edits
from harness.generators.regex_ops import MAX_INPUT, STRING_START, call_flags, is_re_call, literal_body
from harness.core.tree_memo import nodes

#: how deep names and operations are followed.
MAX_DEPTH = 8
#: a ``str.format`` field this module resolves: ``{name}`` or ``{}``/``{0}``, no spec or
#: conversion; or a brace written twice (``{{``, ``}}``).
_FIELD = re.compile(r"\{\{|\}\}|\{(\w*)\}")


@dataclass(frozen=True)
class Segment:
    """A run of the composed pattern: its ``text``, from literal ``node`` at offset ``at`` of the
    literal's value (``node`` None: text no literal spells, not editable)."""

    node: ast.Constant | None
    at: int
    text: str


def _keywords(call: ast.Call, bound: dict[str, ast.expr]) -> dict[str, ast.expr] | None:
    """The names a ``.format`` call gives its fields: keywords, ``**globals()``/``**locals()``
    resolved to the module's names, and ``**TABLE`` of a module-level dict display with string
    keys (rfc3986's ``.format(**COMPONENT_PATTERN_DICT)``); None for any other ``**`` argument."""
    names: dict[str, ast.expr] = {}
    for kw in call.keywords:
        if kw.arg is not None:
            names[kw.arg] = kw.value
        elif isinstance(kw.value, ast.Call) and isinstance(kw.value.func, ast.Name) and kw.value.func.id in ("globals", "locals"):
            names = {**bound, **names}
        elif isinstance(kw.value, ast.Name) and isinstance(table := bound.get(kw.value.id), ast.Dict) \
                and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in table.keys):
            names = {**{k.value: v for k, v in zip(table.keys, table.values)  # type: ignore[union-attr]
                        }, **names}
        else:
            return None
    return names


def _formatted(node: ast.Call, bound: dict[str, ast.expr], depth: int) -> list[Segment] | None:
    """Segments of ``"...{name}...".format(...)`` (a literal format string; ``{{`` and ``}}``
    give a brace no literal spells as written: not editable)."""
    fmt = node.func.value if isinstance(node.func, ast.Attribute) else None
    names = _keywords(node, bound)
    if not (isinstance(fmt, ast.Constant) and isinstance(fmt.value, str)) or names is None:
        return None
    out: list[Segment] = []
    at, auto = 0, 0
    for found in _FIELD.finditer(fmt.value):
        out.append(Segment(fmt, at, fmt.value[at:found.start()]))
        at = found.end()
        if found.group(0) in ("{{", "}}"):
            out.append(Segment(None, 0, found.group(0)[0]))
            continue
        key = found.group(1)
        if key.isdigit() or not key:
            index = int(key) if key else auto
            auto += 1
            value = node.args[index] if index < len(node.args) else None
        else:
            value = names.get(key)
        inner = segments(value, bound, depth + 1) if value is not None else None
        if inner is None:
            return None
        out += inner
    if "{" in fmt.value[at:] or "}" in fmt.value[at:] or any("{" in s.text or "}" in s.text for s in out if s.node is fmt):
        return None  # a field this module does not resolve
    return out + [Segment(fmt, at, fmt.value[at:])]


def _percent(node: ast.BinOp, bound: dict[str, ast.expr], depth: int) -> list[Segment] | None:
    """Segments of ``"...%s..." % value`` / ``% (a, b)`` / ``"%(name)s" % {...}`` (``s`` only)."""
    fmt = node.left
    if not (isinstance(fmt, ast.Constant) and isinstance(fmt.value, str)):
        return None
    right = node.right
    items = list(right.elts) if isinstance(right, ast.Tuple) else [right]
    table = {k.value: v for k, v in zip(right.keys, right.values) if isinstance(k, ast.Constant)} \
        if isinstance(right, ast.Dict) else None
    out: list[Segment] = []
    at, used = 0, 0
    for found in re.finditer(r"%(?:\((\w+)\))?(.)", fmt.value):
        out.append(Segment(fmt, at, fmt.value[at:found.start()]))
        at = found.end()
        if found.group(2) == "%" and found.group(1) is None:
            out.append(Segment(None, 0, "%"))
            continue
        if found.group(2) != "s":
            return None
        value = table.get(found.group(1)) if table is not None and found.group(1) else \
            items[used] if table is None and used < len(items) else None
        used += table is None
        inner = segments(value, bound, depth + 1) if value is not None else None
        if inner is None:
            return None
        out += inner
    return out + [Segment(fmt, at, fmt.value[at:])]


def segments(node: ast.expr | None, bound: dict[str, ast.expr], depth: int = 0) -> list[Segment] | None:
    """The composed value of ``node`` as segments (:class:`Segment`), or None when anything but
    string literals, module-level names bound once (``bound``), ``+``, ``%``, ``str.format``,
    f-strings and ``sep.join([...])`` takes part."""
    if node is None or depth > MAX_DEPTH:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [Segment(node, 0, node.value)]
    if isinstance(node, ast.Name):
        return segments(bound.get(node.id), bound, depth + 1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = segments(node.left, bound, depth + 1), segments(node.right, bound, depth + 1)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _percent(node, bound, depth)
    if isinstance(node, ast.JoinedStr):
        out: list[Segment] = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                out.append(Segment(None, 0, value.value))  # its position is the whole f-string's
            elif isinstance(value, ast.FormattedValue) and value.conversion == -1 and value.format_spec is None:
                inner = segments(value.value, bound, depth + 1)
                if inner is None:
                    return None
                out += inner
            else:
                return None
        return out
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "format":
            return _formatted(node, bound, depth)
        if node.func.attr == "join" and len(node.args) == 1 and isinstance(node.args[0], (ast.List, ast.Tuple)):
            sep = segments(node.func.value, bound, depth + 1)
            parts = [segments(e, bound, depth + 1) for e in node.args[0].elts]
            if sep is None or any(p is None for p in parts):
                return None
            joined: list[Segment] = []
            for n, part in enumerate(parts):
                joined += (sep if n else []) + (part or [])
            return joined
    return None


def _located(pieces: list[Segment], lo: int, hi: int) -> tuple[Segment, int] | None:
    """The segment holding the change ``[lo, hi)`` of the composed text and its start there
    (an insertion at a boundary goes to the literal that ends there, else the one that starts
    there); None when it spans two segments or falls where no literal is."""
    start = 0
    best: tuple[Segment, int] | None = None
    for piece in pieces:
        end = start + len(piece.text)
        if piece.node is not None and start <= lo and hi <= end:
            if lo < end or lo == hi:
                return piece, start
            best = best or (piece, start)
        start = end
    return best


def _part_body(text: Text, node: ast.Constant, a: int, b: int) -> tuple[int, int, bool, int] | None:
    """Where the change ``[a, b)`` of ``node``'s value is written: ``(start, end, raw, offset)``
    of the body of the one literal that spells it (start and end: character offsets in the
    source; offset: where that literal's value starts in ``node``'s value). A literal written
    as implicitly joined parts (``r"(?P<size>{size})" r"\\r\\n"`` over lines) gives the part the
    change falls in; None when it spans two parts or a part's text is not its value
    (:func:`.regex_ops.literal_body`)."""
    whole = literal_body(text, node)
    if whole is not None:
        return (*whole, 0)
    start, end = text.span(node)
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text.source[start:end]).readline)
                  if t.type == tokenize.STRING]
    except (tokenize.TokenError, SyntaxError):
        return None
    starts = [0]
    for line in text.source[start:end].split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    offset = 0
    for token in tokens:
        m = STRING_START.match(token.string)
        if m is None:
            return None
        lo = start + starts[token.start[0] - 1] + token.start[1] + m.end()
        hi = start + starts[token.end[0] - 1] + token.end[1] - len(m.group(2))
        raw, body = "r" in m.group(1).lower(), text.source[lo:hi]
        if not raw and "\\" in body:
            return None
        if offset <= a and b <= offset + len(body) and (a < offset + len(body) or a == b):
            return lo, hi, raw, offset
        offset += len(body)
    return None


def _changed(old: str, new: str) -> tuple[int, int, str]:
    """(start, end) of the part of ``old`` that ``new`` replaces, and its replacement."""
    lo = 0
    while lo < min(len(old), len(new)) and old[lo] == new[lo]:
        lo += 1
    hi = 0
    while hi < min(len(old), len(new)) - lo and old[-1 - hi] == new[-1 - hi]:
        hi += 1
    return lo, len(old) - hi, new[lo:len(new) - hi]


def compiled_names(tree: ast.Module) -> set[str]:
    """The names a module's ``re`` calls are given as their pattern, as themselves or encoded
    (``re.compile(chunk_header.encode("ascii"))``): in a module that imports them, the names
    of patterns another module composes; ``"mod.NAME"`` for ``re.compile(mod.NAME)``, a pattern
    of the module imported as ``mod``."""
    out: set[str] = set()
    for call in nodes(tree):
        if is_re_call(call) and isinstance(call, ast.Call):
            first = call.args[0]
            if (isinstance(first, ast.Call) and isinstance(first.func, ast.Attribute) and first.func.attr == "encode"
                    and not first.args[1:]):
                first = first.func.value
            if isinstance(first, ast.Name):
                out.add(first.id)
            elif isinstance(first, ast.Attribute) and isinstance(first.value, ast.Name):
                out.add(f"{first.value.id}.{first.attr}")
    return out


def _sources(tree: ast.Module, bound: dict[str, ast.expr], compiled: Collection[str] = ()) -> list[tuple[ast.expr, int]]:
    """The composed patterns the module's ``re`` calls are given, and those bound to the names
    another module compiles (``compiled``, no flags): (the expression, its flags), each
    expression once, literal patterns left to the other modules."""
    out: dict[int, tuple[ast.expr, int]] = {}
    for name in compiled:
        if (value := bound.get(name)) is not None and not isinstance(value, ast.Constant):
            out.setdefault(id(value), (value, 0))
    for call in nodes(tree):
        if not (is_re_call(call) and isinstance(call, ast.Call)):
            continue
        flags = call_flags(call)
        first = call.args[0]
        value = bound.get(first.id) if isinstance(first, ast.Name) else first
        if flags is not None and value is not None and not isinstance(value, ast.Constant):
            out.setdefault(id(value), (value, flags))
    return list(out.values())


def composed_regex_mutants(path: str, source: str, hints: Hints, passing: Sequence[str] = (),
                           lines: Sequence[str] = (), near: Near | None = None,
                           compiled: Collection[str] = ()) -> list[Mutant]:
    """The widening and narrowing candidates of the module's composed patterns, written back
    into the literal each change falls in.

    Args:
        path: repo-relative POSIX path, copied into each mutant.
        source: the module's text.
        hints: :func:`harness.generators.literal_hints.gather`'s; its strings are the inputs.
        passing: strings of the passing tests (:func:`.regex_more.keeps`).
        lines: more inputs: the lines of the failing tests' multi-line strings.
        near: when given, only patterns whose literals the failing code reaches.
        compiled: names bound in this module that another module gives a ``re`` call
            (:func:`compiled_names` of a module importing them): a grammar module's patterns.

    Returns:
        Per composed pattern, the edits of :func:`.regex_more.pattern_edits` and
        :func:`.regex_narrow.pattern_edits` that fall inside one literal; empty when the module
        does not parse, composes no pattern or no input is given.
    """
    parsed = inputs_and_tree(source, hints, lines)
    if parsed is None:
        return []
    inputs, tree = parsed
    bound = bound_names(tree)
    found = _sources(tree, bound, compiled)
    if not found:
        return []
    text = Text(source)
    held = holders(tree) if near is not None else {}
    elsewhere = {id(bound[name]) for name in compiled if name in bound}  # reached through the module compiling it
    checked = [s for s in passing if len(s) <= MAX_INPUT][:MAX_PASSING]
    out: list[Mutant] = []
    for expr, flags in found:
        pieces = segments(expr, bound)
        if pieces is None or sum(1 for p in pieces if p.text) < 2:
            continue
        pattern = "".join(p.text for p in pieces)
        if len(pattern) > MAX_BUILT or (near is not None and id(expr) not in elsewhere and not any(
                p.node is not None and (p.node not in held or near.reaches(*held[p.node])) for p in pieces)):
            continue
        edits = widening_edits(pattern, flags, inputs, checked)
        edits += [("regex_narrow", new, desc) for new, desc in narrowing_edits(pattern, flags, inputs, checked)]
        for operator, new, desc in edits:
            lo, hi, replacement = _changed(pattern, new)
            spot = _located(pieces, lo, hi)
            if spot is None:
                continue
            piece, start = spot
            node = piece.node
            assert node is not None
            a, b = piece.at + lo - start, piece.at + hi - start
            body = _part_body(text, node, a, b)
            if body is None:
                continue
            first, last, raw, offset = body
            old_part = str(node.value)[offset:offset + last - first]
            value = old_part[:a - offset] + replacement + old_part[b - offset:]
            if not raw and "\\" in value:  # a plain literal spells a backslash twice
                if "\\" in old_part or text.source[first:last] != old_part:
                    continue
                value = value.replace("\\", "\\\\")
            line = text.source.count("\n", 0, first) + 1  # a joined part's own line
            mutant = make(operator, path, text, line, f"regex {desc} (in the composed pattern)", first, last, value)
            out += [mutant] if mutant is not None else []
    return out

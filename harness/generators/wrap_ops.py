"""Statements synthesized from the failure and the code around it: operators behind
:func:`harness.generators.mutations.mutants_at` that add a guard, a conversion or a
``try``/``except`` (issue 21).

Real developers' fixes of a crash often add a statement the failure itself asks for. Each
operator here reads the failing tests' evidence (:class:`Failure`: the exception's name, its
message, the lines of this file the traceback passes through) and builds its new statement
only from what the module already has:

- ``wrap_try``: a statement on a traceback line that raised ``E`` wrapped in ``try:`` /
  ``except E:`` with a fallback taken from the function: another assignment to the same
  target, ``None`` or an empty literal of the target's kind, ``pass`` for a bare call,
  ``return`` of a constant the function returns elsewhere, ``continue`` in a loop;
- ``convert_param``: at the entry of a traceback function, ``if isinstance(p, T): p = C(p)``
  for a parameter ``p`` the failing line reads, ``T`` a type the message names
  (``'str' object has no attribute ...``), ``C`` a constructor the module applies to or
  checks ``p`` against elsewhere (``exceptions must derive from BaseException``:
  ``Exception``); and ``if p is None: p = <empty value>`` for ``'NoneType' object ...``;
- ``early_return``: ``if not x: return V`` / ``if x is None: return V`` before the statement
  that raised, ``x`` a name it reads, ``V`` a constant the function returns elsewhere;
- ``normalize_param``: ``p = p.strip()`` (any ``p = <p transformed>`` at a sibling
  function's entry for its parameter of the same name) inserted at this function's entry.

The first three fire only on the lines the failing frames point to (they are few there and
read the failure); ``normalize_param`` anywhere in a function reading that parameter.
Conventions as in :mod:`.edit_text`. Pure: no I/O.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness.generators.edit_text import Cand, add_cand, short
from harness.generators.index import FUNCTION_TYPES, FunctionNode, Index, last_line
from harness.generators.facts import shared
from harness.generators.wrap_facts import empty_of, is_literal, module_names, returned_constants, takes_one
from harness.core.tree_memo import nodes

#: builtin type names a failure message may name (``'str' object has no attribute 'x'``).
_TYPES = ("str", "bytes", "int", "float", "list", "tuple", "dict", "set", "bool", "NoneType")
_T = "(" + "|".join(_TYPES) + ")"
_TYPE_WORD = re.compile(rf"""['"]{_T}['"] object|(?:not|must be|expected|got) (?:an? )?['"]?{_T}\b|\b{_T} found""")
#: a method of the failure message's ``has no attribute 'm'`` -> the empty value that has it.
_EMPTY_BY_METHOD = {**dict.fromkeys(("append", "extend", "insert", "pop", "sort", "remove"), "[]"),
                    **dict.fromkeys(("items", "keys", "values", "get", "update", "setdefault"), "{}"),
                    **dict.fromkeys(("strip", "split", "lower", "upper", "replace", "startswith",
                                     "endswith", "encode", "format", "join"), "''"),
                    "add": "set()", "decode": "b''"}
_CONVERTERS = ("str", "int", "float", "bytes", "list", "tuple", "set", "frozenset", "dict", "bool")
#: an exception that says a check failed, not a crash a guard or a handler should absorb.
_NOT_CAUGHT = ("AssertionError", "Failed", "Timeout", "KeyboardInterrupt", "SystemExit")


@dataclass(frozen=True)
class Failure:
    """One failure as this file sees it.

    Attributes:
        exc: the exception's name as the message spells it (``TypeError``,
            ``json.decoder.JSONDecodeError``); ``""`` when the message has none.
        message: the message (``TypeError: 'str' object is not callable``; pytest's
            ``Regex pattern did not match`` quotes the exception it caught on a later line).
        lines: 1-based lines of this file the traceback passes through, outermost first
            (none when it does not pass this file).
    """

    exc: str
    message: str
    lines: tuple[int, ...]


def failures_for(path: str, failing: Mapping[str, object] | None) -> tuple[Failure, ...]:
    """The failures as ``path`` (repo-relative POSIX path) sees them.

    Args:
        failing: test id -> result with ``.message`` (str) and ``.frames`` (each with ``.path``
            and ``.line``), as :attr:`harness.core.task.Task.failing` holds; None for none.

    Returns:
        At most 4 distinct :class:`Failure` values, those whose traceback passes ``path``
        first, then in the order of ``failing``.
    """
    out: dict[tuple, Failure] = {}
    for result in (failing or {}).values():
        lines = tuple(frame.line for frame in getattr(result, "frames", ()) if frame.path == path)
        message = (getattr(result, "message", "") or "").strip()
        head = message.split(":", 1)[0].strip()
        failure = Failure(head if re.fullmatch(r"[A-Za-z_][\w.]*", head) else "", message, lines)
        out.setdefault((failure.exc, failure.message, lines), failure)
    return tuple(sorted(out.values(), key=lambda failure: not failure.lines))[:4]


def line_mutants(cx: Index, line: int, failures: Iterable[Failure]) -> list[Cand]:
    """This module's candidates for the statements at ``line`` (any order): ``wrap_try`` and
    ``early_return`` where a traceback of ``failures`` passes through ``line``; ``convert_param``
    (when a message names a type) and ``normalize_param`` at any line of a function."""
    out: list[Cand] = []
    stmts = [st for st in cx.stmts_by_line.get(line, ()) if cx.function(st) is not None]
    if not stmts:
        return out
    st = stmts[-1]  # the innermost statement covering the line
    normalize_param(cx, st, out)
    for failure in failures:
        convert_param(cx, st, failure, out)
        if line in failure.lines:
            wrap_try(cx, st, failure, out)
            early_return(cx, st, failure, out)
    return out


# -- shared helpers --------------------------------------------------------------
def _indent(cx: Index, line: int) -> str:
    text = cx.line_text(line)
    return text[: len(text) - len(text.lstrip())]


def _step(cx: Index, st: ast.stmt) -> str:
    """One indentation level as the file writes it (the statement's indent past its parent's)."""
    parent = cx.parent(st)
    if parent is not None and hasattr(parent, "lineno"):
        mine, theirs = _indent(cx, st.lineno), _indent(cx, parent.lineno)
        if len(mine) > len(theirs) and mine.startswith(theirs):
            return mine[len(theirs):]
    return "    "


def _exception(cx: Index, failure: Failure) -> str | None:
    """The name to catch ``failure.exc`` by in this module: a builtin exception, a name the
    module binds (the last part of a dotted name), or the dotted name itself when the module
    binds its first part (``json.decoder.JSONDecodeError`` after ``import json``); None else."""
    name = failure.exc.rsplit(".", 1)[-1]
    got, bound = getattr(builtins, name, None), cx.memo(module_names)
    if not name or name in _NOT_CAUGHT:
        return None
    if (isinstance(got, type) and issubclass(got, BaseException)) or name in bound:
        return name
    return failure.exc if failure.exc.split(".", 1)[0] in bound else None


def _entry(fn: FunctionNode) -> ast.stmt | None:
    """The first statement of ``fn`` after its docstring (None when it has no other)."""
    body = fn.body[1:] if Index.docstring(fn.body[0]) else fn.body
    return body[0] if body else None


def _insert_before(cx: Index, anchor: ast.stmt, at: ast.stmt, lines: list[str], op: str, desc: str, out: list[Cand]) -> None:
    """Insert ``lines`` (the first at ``at``'s indentation, the rest one level deeper) before
    statement ``at``; the candidate is anchored at ``anchor`` (its line is the mutant's)."""
    ind, nl, step = _indent(cx, cx.first_line(at)), cx.newline(at.lineno), _step(cx, at)
    text = "".join(ind + (step if i else "") + body + nl for i, body in enumerate(lines))
    pos = cx.line_starts[cx.first_line(at) - 1]
    add_cand(out, op, anchor, [(pos, pos, text)], desc)


def _reads(cx: Index, st: ast.stmt) -> list[str]:
    """Names ``st`` (its header, for a compound statement) reads as values, in order, once."""
    got = []
    for node in cx.header_nodes(st):
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                parent = cx.parent(sub) if cx.walked(sub) else None
                if not (isinstance(parent, ast.Call) and parent.func is sub):
                    got.append(sub.id)
    return list(dict.fromkeys(got))


# -- operators --------------------------------------------------------------------
def wrap_try(cx: Index, st: ast.stmt, failure: Failure, out: list[Cand]) -> None:
    """``try: <st>`` / ``except E: <fallback>`` for a simple statement ``st`` that raised ``E``
    (see the module docstring for the fallbacks; at most 4, nearest to the code first)."""
    exc, fn = _exception(cx, failure), cx.function(st)
    if exc is None or fn is None or cx.compound(st) or not cx.standalone(st) or cx.docstring(st):
        return
    first, last = cx.first_line(st), last_line(st)
    body = cx.text[cx.line_starts[first - 1]:cx.line_end(last)]
    if first != last and ('"""' in body or "'''" in body):
        return  # re-indenting a multi-line string literal would change its value
    nl, ind, step = cx.newline(st.lineno), _indent(cx, first), _step(cx, st)
    if not body.endswith(("\n", "\r")):
        body += nl
    fallbacks: list[str] = []
    target = st.targets[0] if isinstance(st, ast.Assign) and len(st.targets) == 1 else \
        st.target if isinstance(st, ast.AnnAssign) and st.value is not None else None
    if target is not None:
        fallbacks += _assign_fallbacks(cx, fn, st, target)
    elif isinstance(st, ast.Expr) and isinstance(st.value, (ast.Call, ast.Await)):
        fallbacks.append("pass")
    fallbacks += [f"return {text}" for text in returned_constants(cx, fn, st)
                  if not (isinstance(st, ast.Return) and st.value is not None and cx.seg(st.value) == text)]
    if cx.in_loop(st):
        fallbacks.append("continue")
    for fallback in list(dict.fromkeys(fallbacks))[:4]:
        lines = body.splitlines(keepends=True)
        text = f"{ind}try:{nl}" + "".join(step + ln if ln.strip() else ln for ln in lines) \
            + f"{ind}except {exc}:{nl}{ind}{step}{fallback}{nl}"
        start = cx.line_starts[first - 1]
        add_cand(out, "wrap_try", st, [(start, cx.line_end(last), text)],
                 f"`{short(cx.seg(st))}` in try, `except {exc}: {short(fallback)}`")


def _assign_fallbacks(cx: Index, fn: FunctionNode, st: ast.stmt, target: ast.expr) -> list[str]:
    """Fallback assignments to ``target``: the function's other values for it (nearest
    first), the empty literal of its kind, ``None`` (one per name of a tuple target)."""
    name = cx.seg(target)
    others = [node for node in ast.walk(fn) if isinstance(node, ast.Assign) and node is not st
              and len(node.targets) == 1 and cx.seg(node.targets[0]) == name]
    others.sort(key=lambda node: abs(node.lineno - st.lineno))
    got = [f"{name} = {cx.seg(node.value)}" for node in others
           if node.lineno == last_line(node) and len(cx.seg(node.value)) <= 60]
    kinds = [empty_of(node.value) for node in [st, *others] if isinstance(node, (ast.Assign, ast.AnnAssign))]
    got += [f"{name} = {kind}" for kind in dict.fromkeys(kinds) if kind]
    size = len(target.elts) if isinstance(target, ast.Tuple) else 1
    got.append(f"{name} = {', '.join(['None'] * size)}")
    own = f"{name} = {cx.seg(st.value)}" if isinstance(st, (ast.Assign, ast.AnnAssign)) and st.value else ""
    return [text for text in dict.fromkeys(got) if text != own]


def convert_param(cx: Index, st: ast.stmt, failure: Failure, out: list[Cand]) -> None:
    """At the entry of the function owning a parameter ``st`` reads (``st``'s function or one
    around it: a closure reads its maker's parameter), ``if isinstance(p, T): p = C(p)`` or
    ``if p is None: p = <empty>`` when the failure's message names the type ``T`` (see the
    module docstring); at most 4."""
    types = list(dict.fromkeys(t for group in _TYPE_WORD.findall(failure.message) for t in group if t))
    types += ["str"] if "derive from BaseException" in failure.message else []
    if not types:
        return
    owners = []
    for name in _reads(cx, st):
        fn = cx.function(st)
        while fn is not None and name not in cx.params(fn):
            fn = cx.function(fn) if cx.walked(fn) else None
        if fn is not None and (entry := _entry(fn)) is not None:
            owners.append((name, fn, entry))
    made = 0
    for p, fn, entry in owners[:2]:
        for t in types:
            if t == "NoneType":
                lines = [[f"if {p} is None:", f"{p} = {empty}"] for empty in _empties(cx, failure, p)]
            else:
                lines = [[f"if isinstance({p}, {t}):", f"{p} = {c}({p})"] for c in _constructors(cx, failure, p) if c != t]
            for pair in lines[:2]:
                if made < 4:
                    made += 1
                    _insert_before(cx, st, entry, pair, "convert_param", f"insert `{' '.join(pair)}` at the entry of `{fn.name}`", out)


def _constructors(cx: Index, failure: Failure, p: str) -> list[str]:
    """Constructors to convert ``p`` with: the module's ``isinstance(p, C)`` checks and ``C(p)``
    calls (C a class-like name or a builtin type), ``Exception`` when the message asks for one."""
    got = ["Exception"] if "derive from BaseException" in failure.message else []
    got += shared(cx, _conversions).get(p, [])
    return [name for name in dict.fromkeys(got) if takes_one(cx, name)][:3]


def _conversions(cx: Index) -> dict[str, list[str]]:
    """Per name, the classes the module's ``isinstance(name, C)`` checks name and the
    converters and classes its ``C(name)`` calls apply, in the file's order (the tree only)."""
    out: dict[str, list[str]] = {}
    for node in nodes(cx.tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args
                and isinstance(node.args[0], ast.Name)):
            continue
        got = out.setdefault(node.args[0].id, [])
        if node.func.id in ("isinstance", "issubclass") and len(node.args) == 2:
            kinds = node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
            got += [kind.id for kind in kinds if isinstance(kind, ast.Name)]
        elif node.func.id in _CONVERTERS or node.func.id[:1].isupper():
            got.append(node.func.id)
    return out


def _empties(cx: Index, failure: Failure, p: str) -> list[str]:
    """Empty values for a ``None`` parameter ``p``: the one the failing method needs, then the
    non-None defaults the module gives parameters named ``p``."""
    got = []
    if (method := re.search(r"has no attribute '(\w+)'", failure.message)) and method.group(1) in _EMPTY_BY_METHOD:
        got.append(_EMPTY_BY_METHOD[method.group(1)])
    if "not iterable" in failure.message or "not subscriptable" in failure.message:
        got.append("()")
    for fn in nodes(cx.tree):
        if isinstance(fn, FUNCTION_TYPES):
            positional = fn.args.posonlyargs + fn.args.args
            pairs = list(zip(positional[len(positional) - len(fn.args.defaults):], fn.args.defaults))
            pairs += [(arg, d) for arg, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults) if d is not None]
            got += [cx.seg(d) for arg, d in pairs if arg.arg == p and is_literal(d)
                    and not (isinstance(d, ast.Constant) and d.value is None) and d.lineno == last_line(d)]
    return list(dict.fromkeys(got))


def early_return(cx: Index, st: ast.stmt, failure: Failure, out: list[Cand]) -> None:
    """``if not x:`` / ``if x is None:`` then ``return V`` before ``st``, ``x`` one of the first
    two names ``st`` reads (parameters first: the caller's input), ``V`` a constant the function
    returns elsewhere (a bare ``return`` in a function that returns no value); at most 4."""
    fn = cx.function(st)
    if fn is None or _exception(cx, failure) is None or not cx.standalone(st) or cx.docstring(st):
        return
    values = returned_constants(cx, fn)
    info = cx.scope(fn)
    if not values:
        if any(ret.value is not None for ret in info.returns) and not info.generator:
            return  # it returns computed values only: no constant to fall back on
        values = [""]
    local, params = set(cx.names_near(fn, st.lineno)), cx.params(fn)
    names = sorted((name for name in _reads(cx, st) if name in local), key=lambda name: name not in params)[:2]
    tests = ["{} is None", "not {}"] if "NoneType" in failure.message else ["not {}", "{} is None"]
    got = [(test.format(name), value) for name in names for test in tests for value in values[:2]]
    for test, value in got[:4]:
        ret = f"return {value}".rstrip()
        _insert_before(cx, st, st, [f"if {test}:", ret], "early_return", f"insert `if {test}: {ret}` before", out)


def _normalizations(cx: Index) -> dict[str, list[tuple[FunctionNode, str]]]:
    """Parameter name -> (function, statement text) of every ``p = <p transformed>`` among the
    first four statements of a module-level function or method (``p.strip()``, ``str(p)``,
    ``p.replace(...).lower()``)."""
    got: dict[str, list[tuple[FunctionNode, str]]] = {}
    tops = [*cx.tree.body, *(node for cls in cx.tree.body if isinstance(cls, ast.ClassDef) for node in cls.body)]
    for fn in tops:
        if not isinstance(fn, FUNCTION_TYPES):
            continue
        params = set(Index.params(fn))
        for st in fn.body[:4]:
            if not (isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)
                    and st.targets[0].id in params and st.lineno == last_line(st)):
                continue
            p, value = st.targets[0].id, st.value
            root = value
            while isinstance(root, (ast.Call, ast.Attribute)):
                root = root.func if isinstance(root, ast.Call) else root.value
            chained = isinstance(value, ast.Call) and isinstance(root, ast.Name) and root.id == p and root is not value.func
            converted = (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and len(value.args) == 1
                         and isinstance(value.args[0], ast.Name) and value.args[0].id == p)
            if chained or converted:
                got.setdefault(p, []).append((fn, " ".join(cx.seg(st).split())))
    return got


def normalize_param(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """At the entry of ``st``'s function, the normalization a sibling function applies to its
    parameter of the same name (nearest sibling first; at most 3), when this function reads that
    parameter and does not normalize it so already."""
    fn = cx.function(st)
    table = cx.memo(_normalizations)
    if fn is None or not table or not any(p in table for p in cx.params(fn)) or (entry := _entry(fn)) is None:
        return
    texts = cx.memo(_new_texts)
    if fn not in texts:
        own = {" ".join(cx.seg(node).split()) for node in fn.body[:6]}
        read = {node.id for node in cx.scope(fn).names if isinstance(node.ctx, ast.Load)}
        got = [text for p in cx.params(fn) if p in read and p in table for _, text in
               sorted((item for item in table[p] if item[0] is not fn), key=lambda item: abs(item[0].lineno - fn.lineno))]
        texts[fn] = [text for text in dict.fromkeys(got) if text not in own][:3]
    for text in texts[fn]:
        _insert_before(cx, st, entry, [text], "normalize_param", f"insert `{short(text)}` at the entry of `{fn.name}` (as a sibling does)", out)


def _new_texts(cx: Index) -> dict[FunctionNode, list[str]]:
    return {}

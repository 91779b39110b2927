"""Expressions synthesized from the names in scope, and the shapes of accumulators and results:
operators behind :func:`harness.generators.mutations.mutants_at` (issue 21).

The older operators change one token or copy what is already written; the fixes these
make are built from two things the code already has:

- ``name_arith``: a name replaced by ``a - b`` / ``a + b`` with another in-scope name of the
  same kind (both used in arithmetic or as an index): ``f(k)`` -> ``f(k - m)``;
- ``slice_by_name``: a sequence replaced by its slice from an in-scope index
  (``xs`` -> ``xs[k:]`` / ``xs[:k]``);
- ``sibling_arg``: an operand given the transformation its sibling already has
  (``f(a.strip(), b)`` -> ``f(a.strip(), b.strip())``, ``x - 1 < y`` -> ``x - 1 < y - 1``);
- ``swap_index``: the indices of a multi-index subscript swapped (``m[i][j]`` -> ``m[j][i]``);
- ``raise_power``: a value squared (``x`` -> ``x ** 2``) where arithmetic uses it;
- ``default_arg_value``: the default of the parameter a suspicious line reads changed
  (``def f(x, strict=True)`` -> ``strict=False``; ``n=1`` -> ``n=0``/``n=2``);
- ``restore_method``: a method call of a chain restored from a sibling use in the same file
  (``b64encode(x)`` -> ``b64encode(x).rstrip(b"=")`` when another call does that);
- ``dict_key``: a string key replaced by another key the same mapping is read or built with;
- ``assign_max_min``: ``x = e`` -> ``x = max(x, e)`` / ``min`` (an accumulator that must keep
  its best value);
- ``return_compare``: a constant truth value returned replaced by a test of an in-scope
  counter (``return True`` -> ``return n == 0``);
- ``return_nested_empty``: ``return []`` -> ``return [[]]`` (the neutral element of a
  recursion building lists of lists).

Conventions as in :mod:`.edit_text` (``cx`` is the file's :class:`harness.generators.index.Index`;
edits are character offsets into the original text).
"""

from __future__ import annotations

import ast
import re

from harness.generators.index import Index
from harness.generators.edit_text import Cand, add_cand, add_replacement, short, fit, prec, run_ops, slot

#: operators whose edits always parse: ``mutants_at`` skips their parse check.
SAFE = frozenset({"name_arith", "slice_by_name", "raise_power", "dict_key", "return_nested_empty",
                  "swap_index"})
#: uses that show a name holds a number (an operand of arithmetic, an index, a slice bound).
_NUMERIC = {(ast.BinOp, "left"), (ast.BinOp, "right"), (ast.Subscript, "slice"), (ast.AugAssign, "target"),
            (ast.Slice, "lower"), (ast.Slice, "upper"), (ast.UnaryOp, "operand")}
_ITERABLE = {(ast.Subscript, "value"), (ast.For, "iter"), (ast.comprehension, "iter")}
_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)
_LOOKUPS = ("get", "pop", "setdefault")


def _value(cx: Index, node: ast.AST) -> bool:
    """Is ``node`` read as a value (not a call's function, not a target, not a keyword name)?"""
    parent = cx.parent(node) if cx.walked(node) else None  # None: a node the index did not walk (inside an f-string)
    return parent is not None and isinstance(getattr(node, "ctx", ast.Load()), ast.Load) and not (
        isinstance(parent, ast.Call) and cx.field(node) == "func") and not isinstance(parent, ast.Starred)


def _numeric(cx: Index, node: ast.expr) -> list[str]:
    """In-scope names at ``node`` used as numbers in its function, nearest first."""
    roles = cx.roles(cx.function(node))
    return [name for name in cx.names_near(cx.function(node), node.lineno) if roles.get(name, set()) & _NUMERIC]


# -- expressions from two in-scope names ----------------------------------------------
def name_arith(cx: Index, node: ast.Name, out: list[Cand]) -> None:
    """``k`` -> ``k - m`` / ``k + m`` with ``m`` another numeric name in scope (three nearest)."""
    if not _value(cx, node) or isinstance(cx.parent(node), ast.AugAssign):
        return
    nums = _numeric(cx, node)
    if node.id not in nums:
        return
    start, end = cx.span(node)
    for other in [name for name in nums if name != node.id][:3]:
        for sym in ("-", "+"):
            add_replacement(out, cx, "name_arith", node, start, end, fit(f"{node.id} {sym} {other}", 11, slot(cx, node)))


def slice_by_name(cx: Index, node: ast.Name, out: list[Cand]) -> None:
    """``xs`` -> ``xs[k:]`` / ``xs[:k]`` for a name used as a sequence and a numeric name ``k``."""
    if not _value(cx, node) or not cx.roles(cx.function(node)).get(node.id, set()) & _ITERABLE:
        return
    if isinstance(cx.parent(node), ast.Subscript) and cx.field(node) == "value":
        return
    start, end = cx.span(node)
    for index_name in [name for name in _numeric(cx, node) if name != node.id][:2]:
        for bounds in (f"[{index_name}:]", f"[:{index_name}]"):
            add_replacement(out, cx, "slice_by_name", node, start, end, node.id + bounds)


def sibling_arg(cx: Index, node: ast.AST, out: list[Cand]) -> None:
    """An operand that is a bare name gets the transformation its sibling operand has:
    ``f(g(a), b)`` -> ``f(g(a), g(b))`` (call arguments, comparison and arithmetic operands)."""
    if isinstance(node, ast.Call):
        kids = [operand for operand in node.args if not isinstance(operand, ast.Starred)]
    elif isinstance(node, ast.Compare) and len(node.comparators) == 1:
        kids = [node.left, node.comparators[0]]
    elif isinstance(node, ast.BinOp):
        kids = [node.left, node.right]
    else:
        return
    for operand in kids:
        names = [name_node for name_node in ast.walk(operand) if isinstance(name_node, ast.Name) and _value(cx, name_node)]
        if isinstance(operand, ast.Name) or len({name_node.id for name_node in names}) != 1 or isinstance(operand, ast.Constant):
            continue
        old = names[0].id
        for sibling in kids:
            if sibling is operand or not isinstance(sibling, ast.Name) or sibling.id == old:
                continue
            operand_start = cx.span(operand)[0]
            text, pos = [], operand_start
            for name_node in sorted(names, key=lambda name_node: cx.span(name_node)[0]):
                name_start, name_end = cx.span(name_node)
                text += [cx.text[pos:name_start], sibling.id]
                pos = name_end
            new = "".join(text) + cx.text[pos:cx.span(operand)[1]]
            add_replacement(out, cx, "sibling_arg", node, *cx.span(sibling), fit(new, prec(operand), slot(cx, sibling)))


def swap_index(cx: Index, node: ast.Subscript, out: list[Cand]) -> None:
    """``m[i][j]`` -> ``m[j][i]``; ``m[i, j]`` -> ``m[j, i]``."""
    inner = node.slice
    if isinstance(inner, ast.Tuple) and len(inner.elts) == 2 and not any(
            isinstance(index, (ast.Slice, ast.Starred)) for index in inner.elts):
        first, second = inner.elts
    elif isinstance(node.value, ast.Subscript) and not any(
            isinstance(index, (ast.Slice, ast.Tuple)) for index in (inner, node.value.slice)):
        first, second = node.value.slice, inner
    else:
        return
    (first_start, first_end), (second_start, second_end) = cx.span(first), cx.span(second)
    if cx.text[first_start:first_end] == cx.text[second_start:second_end]:
        return
    add_cand(out, "swap_index", node, [(first_start, first_end, cx.text[second_start:second_end]), (second_start, second_end, cx.text[first_start:first_end])],
          f"swap indices `{short(cx.text[first_start:first_end])}` and `{short(cx.text[second_start:second_end])}`")


def raise_power(cx: Index, node: ast.expr, out: list[Cand]) -> None:
    """``x`` -> ``x ** 2`` for an operand of arithmetic or an accumulated value."""
    parent, field = cx.parent(node), cx.field(node)
    if not _value(cx, node) or not (isinstance(parent, ast.BinOp) and isinstance(parent.op, _ARITH)
                                or isinstance(parent, ast.AugAssign) and field == "value"):
        return
    if isinstance(node, ast.Constant):
        return
    start, end = cx.span(node)
    add_replacement(out, cx, "raise_power", node, start, end, fit(f"{fit(cx.seg(node), prec(node), 15)} ** 2", 14, slot(cx, node)))


def default_arg_value(cx: Index, node: ast.Name, out: list[Cand]) -> None:
    """The constant default of the parameter ``node`` reads, changed: a bool negated, a number
    ±1, 0 or -1 (the usual "no limit"), ``None`` <-> a number, a string emptied (the edit is
    in the ``def`` line)."""
    fn = cx.function(node)
    if fn is None or not isinstance(node.ctx, ast.Load):
        return
    args = fn.args
    pos = args.posonlyargs + args.args
    given = dict(zip([param.arg for param in pos[len(pos) - len(args.defaults):]], args.defaults))
    given.update({param.arg: default for param, default in zip(args.kwonlyargs, args.kw_defaults) if default is not None})
    default = given.get(node.id)
    if not isinstance(default, ast.Constant):
        return
    value = default.value
    if isinstance(value, bool):
        news = [repr(not value), "None"]
    elif isinstance(value, (int, float)):
        news = [text for text in dict.fromkeys([repr(value + 1), repr(value - 1), "None", "0", "-1"]) if text != repr(value)]
    elif value is None:
        news = ["0", "False", "True", "''"]
    elif isinstance(value, str):
        news = ["''", "None"] if value else ["None"]
    else:
        return
    start, end = cx.span(default)
    for new in news:
        add_cand(out, "default_arg_value", node, [(start, end, new)],
              f"default of `{node.id}` `{short(cx.text[start:end])}` -> `{new}`")


# -- facts of the module, read from its text (one scan per asked name, cached on the index) --
_TAIL = re.compile(r"\.[A-Za-z_]\w*\([^()\n]{0,30}\)")


def _new_tails(cx: Index) -> dict[str, list[str]]:
    return {}


def _new_keys(cx: Index) -> dict[str, list[str]]:
    return {}


def method_tails(cx: Index, callee: str) -> list[str]:
    """The method calls that directly follow calls of ``callee`` in the file
    (``.rstrip(b"=")``), in order of appearance, each once, at most 4 (memoized per index)."""
    cache = cx.memo(_new_tails)
    if callee not in cache:
        out: list[str] = []
        text, at = cx.text, 0
        while len(out) < 4 and (at := text.find(callee + "(", at)) >= 0:
            at += len(callee)
            if at - len(callee) > 0 and (text[at - len(callee) - 1].isalnum() or text[at - len(callee) - 1] in "_."):
                continue  # part of a longer name
            end = _close(text, at)
            match = _TAIL.match(text, end) if end > 0 else None
            if match and match.group() not in out:
                out.append(match.group())
        cache[callee] = out
    return cache[callee]


def _close(text: str, opening: int) -> int:
    """Offset just past the parenthesis matching the one at ``opening`` (-1 if none on the line's
    next 400 characters); string literals are not parsed, so a parenthesis in one may end early."""
    depth = 0
    for at in range(opening, min(len(text), opening + 400)):
        char = text[at]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return at + 1
    return -1


def _keys(cx: Index, base: str) -> list[str]:
    """The string keys mapping ``base`` is read with (``base["k"]``, ``base.get("k"``,
    ``"k" in base``) or built with (``base = {"k": ...}``) in the file, in order, each once."""
    cache = cx.memo(_new_keys)
    if base not in cache:
        base_re, quoted_re = re.escape(base), r"([\"'])([^\"'\\\n]{1,40})\1"
        found = [match.group(2) for match in re.finditer(rf"(?<![\w.]){base_re}(?:\s*\[\s*|\.(?:get|pop|setdefault)\(){quoted_re}", cx.text)]
        found += [match.group(2) for match in re.finditer(rf"{quoted_re}\s+(?:not\s+)?in\s+{base_re}(?![\w.])", cx.text)]
        for match in re.finditer(rf"(?<![\w.]){base_re}\s*(?::[^=\n]*)?=\s*\{{", cx.text):
            body = cx.text[match.end():cx.text.find("}", match.end())]
            found += [key_match.group(2) for key_match in re.finditer(rf"{quoted_re}\s*:", body)]
        cache[base] = list(dict.fromkeys(found))
    return cache[base]


def restore_method(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    """``f(x)`` -> ``f(x).m(args)`` when another call of ``f`` in this file is followed by
    ``.m(args)`` and this one is not (up to two)."""
    if not isinstance(node.func, (ast.Name, ast.Attribute)):
        return
    callee = cx.seg(node.func)
    tails = [] if "\n" in callee else method_tails(cx, callee)
    parent = cx.parent(node)
    if isinstance(parent, ast.Attribute) and cx.field(parent) == "func":
        return  # already followed by a method call
    end = cx.span(node)[1]
    for tail in tails[:2]:
        add_cand(out, "restore_method", node, [(end, end, tail)], f"restore `{short(tail)}` after `{short(cx.seg(node))}`")


def dict_key(cx: Index, node: ast.Constant, out: list[Cand]) -> None:
    """A string key -> another key of the same mapping (read, looked up or built in this
    file), in the literal's own quotes (up to three)."""
    value = node.value
    if not isinstance(value, str):
        return
    parent = cx.parent(node)
    if isinstance(parent, ast.Subscript) and cx.field(node) == "slice":
        base = cx.seg(parent.value)
    elif isinstance(parent, ast.Call) and cx.field(node) == "args" and parent.args[0] is node and isinstance(
            parent.func, ast.Attribute) and parent.func.attr in _LOOKUPS:
        base = cx.seg(parent.func.value)
    else:
        return
    start, end = cx.span(node)
    quote = cx.text[end - 1:end]
    if quote not in "'\"" or cx.text[start:end] != quote + value + quote or any(char in value for char in "\\'\"\n"):
        return
    for key in [key for key in _keys(cx, base) if key != value and not any(char in key for char in "\\'\"\n")][:3]:
        add_replacement(out, cx, "dict_key", node, start, end, quote + key + quote)


# -- accumulator and result shapes ------------------------------------------------------
def assign_max_min(cx: Index, st: ast.Assign, out: list[Cand]) -> None:
    """``x = e`` -> ``x = max(x, e)`` / ``min(x, e)`` for a target already holding a value
    (assigned before, a parameter, or an attribute/item) inside a loop."""
    if not isinstance(st, ast.Assign) or len(st.targets) != 1 or not cx.in_loop(st):
        return
    target = st.targets[0]
    if isinstance(target, ast.Name):
        if target.id not in cx.names_near(cx.function(st), st.lineno):
            return
    elif not isinstance(target, (ast.Attribute, ast.Subscript)):
        return
    target_text, (start, end) = cx.seg(target), cx.span(st.value)
    value_text = cx.seg(st.value)
    if target_text == value_text:
        return
    for func_name in ("max", "min"):
        add_replacement(out, cx, "assign_max_min", st, start, end, f"{func_name}({target_text}, {value_text})")


def return_shapes(cx: Index, st: ast.Return, out: list[Cand]) -> None:
    """``return True`` -> ``return n == 0`` / ``n > 0`` for in-scope counters ``n`` (names
    incremented or set from ``len``); ``return []`` -> ``return [[]]``."""
    value = st.value if isinstance(st, ast.Return) else None
    if value is None or cx.function(st) is None:
        return
    start, end = cx.span(value)
    if isinstance(value, ast.List) and not value.elts:
        add_replacement(out, cx, "return_nested_empty", st, start, end, "[[]]")
    if isinstance(value, ast.Constant) and isinstance(value.value, bool):
        for name in _counters(cx, st)[:2]:
            for form in ("{} == 0", "{} > 0"):
                add_replacement(out, cx, "return_compare", st, start, end, form.format(name))


def _counters(cx: Index, st: ast.stmt) -> list[str]:
    """In-scope names of ``st``'s function that count: augmented-assignment targets, names
    set from ``len(...)`` or an integer, nearest first."""
    fn, found = cx.function(st), set()
    if fn is None:
        return []
    for node in ast.walk(fn):
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            found.add(node.target.id)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and (
                isinstance(node.value, ast.Constant) and type(node.value.value) is int
                or isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "len"):
            found.add(node.targets[0].id)
    return [node for node in cx.names_near(fn, st.lineno) if node in found]


_EXPR: dict[type, tuple] = {
    ast.Name: (name_arith, slice_by_name, default_arg_value, raise_power),
    ast.Call: (sibling_arg, restore_method, raise_power),
    ast.Compare: (sibling_arg,),
    ast.BinOp: (sibling_arg,),
    ast.Subscript: (swap_index, raise_power),
    ast.Attribute: (raise_power,),
    ast.Constant: (dict_key,),
}


def expr_mutants(cx: Index, node: ast.expr) -> list[Cand]:
    """Candidates of this module's operators for one expression node (any order)."""
    return run_ops(_EXPR.get(type(node), ()), cx, node)


def stmt_mutants(cx: Index, st: ast.stmt) -> list[Cand]:
    """Candidates of this module's operators for one statement (any order)."""
    return run_ops((assign_max_min, return_shapes), cx, st)

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
    p = cx.parent(node) if cx.walked(node) else None  # None: a node the index did not walk (inside an f-string)
    return p is not None and isinstance(getattr(node, "ctx", ast.Load()), ast.Load) and not (
        isinstance(p, ast.Call) and cx.field(node) == "func") and not isinstance(p, ast.Starred)


def _numeric(cx: Index, node: ast.expr) -> list[str]:
    """In-scope names at ``node`` used as numbers in its function, nearest first."""
    roles = cx.roles(cx.function(node))
    return [n for n in cx.names_near(cx.function(node), node.lineno) if roles.get(n, set()) & _NUMERIC]


# -- expressions from two in-scope names ----------------------------------------------
def name_arith(cx: Index, node: ast.Name, out: list[Cand]) -> None:
    """``k`` -> ``k - m`` / ``k + m`` with ``m`` another numeric name in scope (three nearest)."""
    if not _value(cx, node) or isinstance(cx.parent(node), ast.AugAssign):
        return
    nums = _numeric(cx, node)
    if node.id not in nums:
        return
    start, end = cx.span(node)
    for m in [n for n in nums if n != node.id][:3]:
        for sym in ("-", "+"):
            add_replacement(out, cx, "name_arith", node, start, end, fit(f"{node.id} {sym} {m}", 11, slot(cx, node)))


def slice_by_name(cx: Index, node: ast.Name, out: list[Cand]) -> None:
    """``xs`` -> ``xs[k:]`` / ``xs[:k]`` for a name used as a sequence and a numeric name ``k``."""
    if not _value(cx, node) or not cx.roles(cx.function(node)).get(node.id, set()) & _ITERABLE:
        return
    if isinstance(cx.parent(node), ast.Subscript) and cx.field(node) == "value":
        return
    start, end = cx.span(node)
    for k in [n for n in _numeric(cx, node) if n != node.id][:2]:
        for sl in (f"[{k}:]", f"[:{k}]"):
            add_replacement(out, cx, "slice_by_name", node, start, end, node.id + sl)


def sibling_arg(cx: Index, node: ast.AST, out: list[Cand]) -> None:
    """An operand that is a bare name gets the transformation its sibling operand has:
    ``f(g(a), b)`` -> ``f(g(a), g(b))`` (call arguments, comparison and arithmetic operands)."""
    if isinstance(node, ast.Call):
        kids = [a for a in node.args if not isinstance(a, ast.Starred)]
    elif isinstance(node, ast.Compare) and len(node.comparators) == 1:
        kids = [node.left, node.comparators[0]]
    elif isinstance(node, ast.BinOp):
        kids = [node.left, node.right]
    else:
        return
    for a in kids:
        names = [n for n in ast.walk(a) if isinstance(n, ast.Name) and _value(cx, n)]
        if isinstance(a, ast.Name) or len({n.id for n in names}) != 1 or isinstance(a, ast.Constant):
            continue
        old = names[0].id
        for b in kids:
            if b is a or not isinstance(b, ast.Name) or b.id == old:
                continue
            a0 = cx.span(a)[0]
            text, pos = [], a0
            for n in sorted(names, key=lambda n: cx.span(n)[0]):
                ns, ne = cx.span(n)
                text += [cx.text[pos:ns], b.id]
                pos = ne
            new = "".join(text) + cx.text[pos:cx.span(a)[1]]
            add_replacement(out, cx, "sibling_arg", node, *cx.span(b), fit(new, prec(a), slot(cx, b)))


def swap_index(cx: Index, node: ast.Subscript, out: list[Cand]) -> None:
    """``m[i][j]`` -> ``m[j][i]``; ``m[i, j]`` -> ``m[j, i]``."""
    sl = node.slice
    if isinstance(sl, ast.Tuple) and len(sl.elts) == 2 and not any(
            isinstance(x, (ast.Slice, ast.Starred)) for x in sl.elts):
        a, b = sl.elts
    elif isinstance(node.value, ast.Subscript) and not any(
            isinstance(x, (ast.Slice, ast.Tuple)) for x in (sl, node.value.slice)):
        a, b = node.value.slice, sl
    else:
        return
    (a0, a1), (b0, b1) = cx.span(a), cx.span(b)
    if cx.text[a0:a1] == cx.text[b0:b1]:
        return
    add_cand(out, "swap_index", node, [(a0, a1, cx.text[b0:b1]), (b0, b1, cx.text[a0:a1])],
          f"swap indices `{short(cx.text[a0:a1])}` and `{short(cx.text[b0:b1])}`")


def raise_power(cx: Index, node: ast.expr, out: list[Cand]) -> None:
    """``x`` -> ``x ** 2`` for an operand of arithmetic or an accumulated value."""
    p, f = cx.parent(node), cx.field(node)
    if not _value(cx, node) or not (isinstance(p, ast.BinOp) and isinstance(p.op, _ARITH)
                                or isinstance(p, ast.AugAssign) and f == "value"):
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
    a = fn.args
    pos = a.posonlyargs + a.args
    given = dict(zip([p.arg for p in pos[len(pos) - len(a.defaults):]], a.defaults))
    given.update({p.arg: d for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None})
    d = given.get(node.id)
    if not isinstance(d, ast.Constant):
        return
    v = d.value
    if isinstance(v, bool):
        news = [repr(not v), "None"]
    elif isinstance(v, (int, float)):
        news = [x for x in dict.fromkeys([repr(v + 1), repr(v - 1), "None", "0", "-1"]) if x != repr(v)]
    elif v is None:
        news = ["0", "False", "True", "''"]
    elif isinstance(v, str):
        news = ["''", "None"] if v else ["None"]
    else:
        return
    start, end = cx.span(d)
    for new in news:
        add_cand(out, "default_arg_value", node, [(start, end, new)],
              f"default of `{node.id}` `{short(cx.text[start:end])}` -> `{new}`")


# -- facts of the module, read from its text (one scan per asked name, cached on the index) --
_TAIL = re.compile(r"\.[A-Za-z_]\w*\([^()\n]{0,30}\)")


def _new_tails(cx: Index) -> dict[str, list[str]]:
    return {}


def _new_keys(cx: Index) -> dict[str, list[str]]:
    return {}


def _tails(cx: Index, callee: str) -> list[str]:
    """The method calls that follow calls of ``callee`` in the file (``.rstrip(b"=")``),
    in order of appearance, each once."""
    cache = cx.memo(_new_tails)
    if callee not in cache:
        out: list[str] = []
        text, at = cx.text, 0
        while len(out) < 4 and (at := text.find(callee + "(", at)) >= 0:
            at += len(callee)
            if at - len(callee) > 0 and (text[at - len(callee) - 1].isalnum() or text[at - len(callee) - 1] in "_."):
                continue  # part of a longer name
            end = _close(text, at)
            m = _TAIL.match(text, end) if end > 0 else None
            if m and m.group() not in out:
                out.append(m.group())
        cache[callee] = out
    return cache[callee]


def _close(text: str, i: int) -> int:
    """Offset just past the parenthesis matching the one at ``i`` (-1 if none on the line's
    next 400 characters); string literals are not parsed, so a parenthesis in one may end early."""
    depth = 0
    for k in range(i, min(len(text), i + 400)):
        c = text[k]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return k + 1
    return -1


def _keys(cx: Index, base: str) -> list[str]:
    """The string keys mapping ``base`` is read with (``base["k"]``, ``base.get("k"``,
    ``"k" in base``) or built with (``base = {"k": ...}``) in the file, in order, each once."""
    cache = cx.memo(_new_keys)
    if base not in cache:
        b, q = re.escape(base), r"([\"'])([^\"'\\\n]{1,40})\1"
        found = [m.group(2) for m in re.finditer(rf"(?<![\w.]){b}(?:\s*\[\s*|\.(?:get|pop|setdefault)\(){q}", cx.text)]
        found += [m.group(2) for m in re.finditer(rf"{q}\s+(?:not\s+)?in\s+{b}(?![\w.])", cx.text)]
        for m in re.finditer(rf"(?<![\w.]){b}\s*(?::[^=\n]*)?=\s*\{{", cx.text):
            body = cx.text[m.end():cx.text.find("}", m.end())]
            found += [k.group(2) for k in re.finditer(rf"{q}\s*:", body)]
        cache[base] = list(dict.fromkeys(found))
    return cache[base]


def restore_method(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    """``f(x)`` -> ``f(x).m(args)`` when another call of ``f`` in this file is followed by
    ``.m(args)`` and this one is not (up to two)."""
    if not isinstance(node.func, (ast.Name, ast.Attribute)):
        return
    callee = cx.seg(node.func)
    tails = [] if "\n" in callee else _tails(cx, callee)
    p = cx.parent(node)
    if isinstance(p, ast.Attribute) and cx.field(p) == "func":
        return  # already followed by a method call
    end = cx.span(node)[1]
    for t in tails[:2]:
        add_cand(out, "restore_method", node, [(end, end, t)], f"restore `{short(t)}` after `{short(cx.seg(node))}`")


def dict_key(cx: Index, node: ast.Constant, out: list[Cand]) -> None:
    """A string key -> another key of the same mapping (read, looked up or built in this
    file), in the literal's own quotes (up to three)."""
    value = node.value
    if not isinstance(value, str):
        return
    p = cx.parent(node)
    if isinstance(p, ast.Subscript) and cx.field(node) == "slice":
        base = cx.seg(p.value)
    elif isinstance(p, ast.Call) and cx.field(node) == "args" and p.args[0] is node and isinstance(
            p.func, ast.Attribute) and p.func.attr in _LOOKUPS:
        base = cx.seg(p.func.value)
    else:
        return
    start, end = cx.span(node)
    q = cx.text[end - 1:end]
    if q not in "'\"" or cx.text[start:end] != q + value + q or any(c in value for c in "\\'\"\n"):
        return
    for k in [k for k in _keys(cx, base) if k != value and not any(c in k for c in "\\'\"\n")][:3]:
        add_replacement(out, cx, "dict_key", node, start, end, q + k + q)


# -- accumulator and result shapes ------------------------------------------------------
def assign_max_min(cx: Index, st: ast.Assign, out: list[Cand]) -> None:
    """``x = e`` -> ``x = max(x, e)`` / ``min(x, e)`` for a target already holding a value
    (assigned before, a parameter, or an attribute/item) inside a loop."""
    if not isinstance(st, ast.Assign) or len(st.targets) != 1 or not cx.in_loop(st):
        return
    t = st.targets[0]
    if isinstance(t, ast.Name):
        if t.id not in cx.names_near(cx.function(st), st.lineno):
            return
    elif not isinstance(t, (ast.Attribute, ast.Subscript)):
        return
    x, (start, end) = cx.seg(t), cx.span(st.value)
    v = cx.seg(st.value)
    if x == v:
        return
    for f in ("max", "min"):
        add_replacement(out, cx, "assign_max_min", st, start, end, f"{f}({x}, {v})")


def return_shapes(cx: Index, st: ast.Return, out: list[Cand]) -> None:
    """``return True`` -> ``return n == 0`` / ``n > 0`` for in-scope counters ``n`` (names
    incremented or set from ``len``); ``return []`` -> ``return [[]]``."""
    v = st.value if isinstance(st, ast.Return) else None
    if v is None or cx.function(st) is None:
        return
    start, end = cx.span(v)
    if isinstance(v, ast.List) and not v.elts:
        add_replacement(out, cx, "return_nested_empty", st, start, end, "[[]]")
    if isinstance(v, ast.Constant) and isinstance(v.value, bool):
        for n in _counters(cx, st)[:2]:
            for form in ("{} == 0", "{} > 0"):
                add_replacement(out, cx, "return_compare", st, start, end, form.format(n))


def _counters(cx: Index, st: ast.stmt) -> list[str]:
    """In-scope names of ``st``'s function that count: augmented-assignment targets, names
    set from ``len(...)`` or an integer, nearest first."""
    fn, found = cx.function(st), set()
    if fn is None:
        return []
    for n in ast.walk(fn):
        if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
            found.add(n.target.id)
        elif isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) and (
                isinstance(n.value, ast.Constant) and type(n.value.value) is int
                or isinstance(n.value, ast.Call) and getattr(n.value.func, "id", "") == "len"):
            found.add(n.targets[0].id)
    return [n for n in cx.names_near(fn, st.lineno) if n in found]


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

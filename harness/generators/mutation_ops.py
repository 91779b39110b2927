"""The operators behind :func:`harness.generators.mutations.mutants_at`.

Each ``_op`` function appends :class:`Cand` candidates - text edits at AST
node positions - for one node; ``expr_mutants`` dispatches (statement operators
are in :mod:`harness.generators.stmt_ops`).
``cx`` is the :class:`harness.generators.index.Index` of the file (offsets, parents,
scopes); the candidates and their edit text are built with :mod:`.edit_text`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from harness.generators.index import Index
from harness.generators.edit_text import (
    ATOM, BINOP_SYMBOLS, COMPARE_SYMBOLS, OP_PRECEDENCE, SYMBOL_PRECEDENCE, Anchor, Cand, add_cand, add_replacement,
    binop_operand_req, fit, infix, int_value, plus_minus, prec, rebuild, short, slot, swap_table,
)

# replacement tables, most plausible neighbour first
_ARITH = swap_table("+: -, *; -: +; *: /, //, +, **; /: //, *; //: /, %, *; %: //, /; **: *, //; @: *")
_BITS = swap_table("&: |, ^; |: &, ^; ^: |, &; <<: >>; >>: <<")
_CMP_SWAP = swap_table("<: <=, >, !=; <=: <, >=, ==; >: >=, <, !=; >=: >, <=, ==; ==: !=, <=, >=; "
                   "!=: ==, <, >; is: is not; is not: is; in: not in; not in: in")
_IS_EQ = swap_table("is: ==; is not: !=; ==: is; !=: is not")
_INVERSE = {k: v[0] for k, v in swap_table("<: >=; <=: >; >: <=; >=: <; ==: !=; !=: ==; "
                                       "is: is not; is not: is; in: not in; not in: in").items()}
#: method name -> the methods it is most often confused with.
METHOD_SWAPS = swap_table(
    "append: extend; extend: append; lower: upper; upper: lower; startswith: endswith; "
    "endswith: startswith; keys: values, items; values: keys, items; items: values, keys; "
    "lstrip: rstrip, strip; rstrip: lstrip, strip; strip: rstrip, lstrip; find: rfind; "
    "rfind: find; index: rindex; rindex: index; split: rsplit; rsplit: split; remove: discard; "
    "discard: remove; appendleft: append; popleft: pop; search: match, fullmatch; "
    "match: search, fullmatch; argmin: argmax; argmax: argmin")
_JUNCTS = ("{x} is not None and {t}", "{x} is None or {t}", "{x} and {t}", "not {x} or {t}",
           "{t} and not {x}", "{t} or {x}", "{t} and {x} is None", "{t} or {x} is not None")
#: binary operator symbols whose operands may not be swapped.
NON_COMMUTATIVE = {"-", "/", "//", "%", "**", "<<", ">>", "@"}
_BUILTIN_SWAP = {"any": ("all", "any_all"), "all": ("any", "any_all"),
                 "min": ("max", "min_max"), "max": ("min", "min_max")}
_DROPPABLE = {"sorted", "reversed", "list", "set", "tuple", "abs", "int", "float", "str", "round"}
#: names that read as flags (``disable_x``, ``is_y``, ``verbose``): candidates for ``not name``.
_FLAG_NAME = re.compile(r"^_*(is|has|can|should|needs?|allow|enable|disable|no|use|skip|show|hide|keep|force|"
                        r"strict|verbose|quiet|ignore|include|exclude|only|with|without|want|was|did|flag)"
                        r"(_|[A-Z0-9]|$)")
#: uses that show a name holds a truth value (operand of ``not``/``and``/``or``, a test).
_TESTS = {(ast.If, "test"), (ast.While, "test"), (ast.IfExp, "test"), (ast.Assert, "test")}
_BOOL_USES = _TESTS | {(ast.UnaryOp, "operand"), (ast.BoolOp, "values")}

# -- expression operators --------------------------------------------------------
def expr_mutants(cx: Index, node: ast.expr) -> list[Cand]:
    """Candidates for one expression node (any order; the caller sorts)."""
    out: list[Cand] = []
    _EXPR_OPS.get(type(node), lambda *_: None)(cx, node, out)
    return out


def _binop(cx: Index, node: ast.BinOp, out: list[Cand]) -> None:
    sym, q = BINOP_SYMBOLS[type(node.op)]
    kids, (start, end), r = [node.left, node.right], cx.span(node), slot(cx, node)
    table, opid = (_ARITH, "binop_swap") if sym in _ARITH else (_BITS, "bitop_swap")
    for new in table[sym]:
        p = SYMBOL_PRECEDENCE[new]
        text = fit(rebuild(cx, node, kids, [new], binop_operand_req(p)), p, r)
        add_cand(out, opid, node, [(start, end, text)], f"`{sym}` -> `{new}`")
    stringy = any(isinstance(k, ast.JoinedStr) or (isinstance(k, ast.Constant)
                  and isinstance(k.value, str)) for k in kids)
    if sym in NON_COMMUTATIVE or (sym == "+" and stringy):
        text = rebuild(cx, node, kids, [None], binop_operand_req(q), order=[1, 0])
        add_cand(out, "swap_operands", node, [(start, end, text)], f"swap operands of `{sym}`")


def _compare(cx: Index, node: ast.Compare, out: list[Cand]) -> None:
    kids, (start, end) = [node.left, *node.comparators], cx.span(node)
    syms = [COMPARE_SYMBOLS[type(o)] for o in node.ops]
    for i, sym in enumerate(syms):
        for table, opid in ((_CMP_SWAP, "compare_swap"), (_IS_EQ, "is_eq_swap")):
            for new in table.get(sym, ()):
                new_ops: list[str | None] = [None] * len(syms)
                new_ops[i] = new
                text = rebuild(cx, node, kids, new_ops, lambda i: 7)
                add_cand(out, opid, node, [(start, end, text)], f"`{sym}` -> `{new}`")
    if len(syms) == 1 and syms[0] in ("in", "not in"):
        text = rebuild(cx, node, kids, [None], lambda i: 7, order=[1, 0])
        add_cand(out, "swap_operands", node, [(start, end, text)], f"swap operands of `{syms[0]}`")


def _boolop(cx: Index, node: ast.BoolOp, out: list[Cand]) -> None:
    kids, (start, end) = node.values, cx.span(node)
    old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
    q = 3 if new == "or" else 4
    text = rebuild(cx, node, kids, [new] * (len(kids) - 1), lambda i: q + 1)
    add_cand(out, "boolop_swap", node, [(start, end, fit(text, q, slot(cx, node)))], f"`{old}` -> `{new}`")
    ext, _ = infix(cx, node, kids)
    for i, k in enumerate(kids):
        a, b = (ext[0][0], ext[1][0]) if i == 0 else (ext[i - 1][1], ext[i][1])
        add_cand(out, "drop_operand", node, [(a, b, "")], f"drop `{short(cx.seg(k))}` from `{old}`")


def _unary(cx: Index, node: ast.UnaryOp, out: list[Cand]) -> None:
    start, end = cx.span(node)
    operand_start = cx.span(node.operand)[0]
    j = cx.text.find("(", start + (3 if isinstance(node.op, ast.Not) else 1), operand_start)
    cut = j if j >= 0 else operand_start
    text = fit(cx.text[cut:end], ATOM if cut < operand_start else prec(node.operand), slot(cx, node))
    add_replacement(out, cx, "unaryop_drop", node, start, end, text)
    if int_value(node) is not None:  # -1 is a constant too
        for d in (1, -1):
            add_replacement(out, cx, "const_off_by_one", node, start, end, fit(*plus_minus(cx, node, d), slot(cx, node)))


def _const(cx: Index, node: ast.Constant, out: list[Cand]) -> None:
    start, end = cx.span(node)
    if isinstance(node.value, bool):
        if cx.text[start:end] == repr(node.value):
            add_replacement(out, cx, "bool_const_swap", node, start, end, repr(not node.value))
    elif type(node.value) is int and not (isinstance(up := cx.parent(node), ast.UnaryOp)
                                          and isinstance(up.op, ast.USub)):
        for d in (1, -1):
            p = cx.parent(node)  # `x + 1` -> `x`, not `x + 0`: a developer does not write identity arithmetic
            if node.value + d == 0 and isinstance(p, ast.BinOp) and (
                    isinstance(p.op, ast.Add) or isinstance(p.op, ast.Sub) and cx.field(node) == "right"):
                o = p.right if cx.field(node) == "left" else p.left
                add_replacement(out, cx, "const_off_by_one", node, *cx.span(p), fit(cx.seg(o), prec(o), slot(cx, p)))
                continue
            add_replacement(out, cx, "const_off_by_one", node, start, end, fit(*plus_minus(cx, node, d), slot(cx, node)))


def _subscript(cx: Index, node: ast.Subscript, out: list[Cand]) -> None:
    sl = node.slice
    if isinstance(sl, (ast.Slice, ast.Tuple, ast.Starred)):
        return
    if isinstance(sl, ast.Constant) and type(sl.value) is not int:
        return
    if isinstance(sl, ast.Name) and sl.id not in cx.names_near(cx.function(node), node.lineno):
        return
    start, end = cx.span(sl)
    for d in (1, -1):
        add_replacement(out, cx, "index_off_by_one", node, start, end, plus_minus(cx, sl, d)[0])


def _slice(cx: Index, node: ast.Slice, out: list[Cand]) -> None:
    op, text = "slice_bound_off_by_one", cx.text
    start, end = cx.span(node)
    for upper, bound, added in ((False, node.lower, "1"), (True, node.upper, "-1")):
        if bound is not None:
            bs, be = cx.span(bound)
            for d in (1, -1):
                add_replacement(out, cx, op, node, bs, be, plus_minus(cx, bound, d)[0])
            add_cand(out, op, node, [(bs, be, "")], f"drop slice bound `{short(text[bs:be])}`")
        elif not upper:
            add_cand(out, op, node, [(start, start, added)], f"add slice lower bound `{added}`")
        else:
            colon = text.find(":", cx.span(node.lower)[1] if node.lower else start, end + 1)
            if colon >= 0:
                add_cand(out, op, node, [(colon + 1, colon + 1, added)], f"add slice upper bound `{added}`")


def _call(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    f, args, text = node.func, node.args, cx.text
    fs, fe = cx.span(f)
    plain = [a for a in args if not isinstance(a, ast.Starred)]
    if isinstance(f, ast.Name) and text[fs:fe] == f.id:
        if f.id == "range" and 1 <= len(args) <= 3 and len(plain) == len(args):
            for a in args:
                for d in (1, -1):
                    add_replacement(out, cx, "range_arg_off_by_one", node, *cx.span(a), plus_minus(cx, a, d)[0])
            if len(args) == 1:
                paren = text.find("(", fe) + 1
                a0, a1 = cx.span(args[0])
                add_cand(out, "range_arg_off_by_one", node, [(paren, paren, "1, ")], "range from 1")
                add_cand(out, "range_arg_off_by_one", node,
                      [(paren, paren, "1, "), (a0, a1, plus_minus(cx, args[0], 1)[0])],
                      "range from 1 to n + 1")
        if f.id in _BUILTIN_SWAP:
            new, opid = _BUILTIN_SWAP[f.id]
            add_replacement(out, cx, opid, node, fs, fe, new)
        if (f.id in _DROPPABLE and len(args) == 1 and plain
                and (not node.keywords or f.id == "sorted")):
            start, end = cx.span(node)
            add_replacement(out, cx, "call_drop", node, start, end, fit(cx.seg(args[0]), prec(args[0]), slot(cx, node)))
    elif isinstance(f, ast.Attribute) and text[fe - len(f.attr) : fe] == f.attr:
        for new in METHOD_SWAPS.get(f.attr, ()):
            add_replacement(out, cx, "method_swap", node, fe - len(f.attr), fe, new)
    for i in range(min(len(args) - 1, 3)):
        a, b = args[i], args[i + 1]
        if isinstance(a, ast.Starred) or isinstance(b, ast.Starred):
            continue
        (a0, a1), (b0, b1) = cx.span(a), cx.span(b)
        add_cand(out, "swap_call_args", node, [(a0, a1, text[b0:b1]), (b0, b1, text[a0:a1])],
              f"swap arguments `{short(text[a0:a1])}` and `{short(text[b0:b1])}`")


def _name(cx: Index, node: ast.Name, out: list[Cand]) -> None:
    if not isinstance(node.ctx, ast.Load) or (isinstance(cx.parent(node), ast.Call) and cx.field(node) == "func"):
        return
    names = cx.names_near(cx.function(node), node.lineno)
    start, end = cx.span(node)
    if node.id not in names or cx.text[start:end] != node.id:
        return
    roles = cx.roles(cx.function(node))
    role = (type(cx.parent(node)), cx.field(node))
    cands = sorted((n for n in names if n != node.id), key=lambda n: role not in roles.get(n, ()))
    for n in cands[:4]:
        add_replacement(out, cx, "replace_name", node, start, end, n)
    if _FLAG_NAME.match(node.id) or roles.get(node.id, set()) & _BOOL_USES:
        p = cx.parent(node)
        if not (isinstance(p, ast.UnaryOp) and isinstance(p.op, ast.Not)) and (type(p), cx.field(node)) not in _TESTS:
            add_replacement(out, cx, "negate_value", node, start, end, fit("not " + node.id, OP_PRECEDENCE[ast.Not], slot(cx, node)))


def _attribute(cx: Index, node: ast.Attribute, out: list[Cand]) -> None:
    if not (isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")):
        return
    start, end = cx.span(node)
    if cx.text[end - len(node.attr) : end] != node.attr:
        return
    seen = [node.attr]
    for a in sorted(cx.scope(cx.function(node)).attrs, key=lambda a: abs(a.lineno - node.lineno)):
        if isinstance(a.value, ast.Name) and a.value.id == node.value.id and a.attr not in seen and len(seen) <= 3:
            seen.append(a.attr)
            add_replacement(out, cx, "replace_name", node, end - len(node.attr), end, a.attr)


_EXPR_OPS: dict[type, Callable] = {
    ast.BinOp: _binop, ast.Compare: _compare, ast.BoolOp: _boolop, ast.UnaryOp: _unary,
    ast.Constant: _const, ast.Subscript: _subscript, ast.Slice: _slice, ast.Call: _call,
    ast.Name: _name, ast.Attribute: _attribute,
    ast.IfExp: lambda cx, node, out: condition_mutants(cx, node.test, node, out),
}


# -- conditions --------------------------------------------------------------------
def condition_mutants(cx: Index, test: ast.expr, anchor: Anchor, out: list[Cand]) -> None:
    """negate_condition, add_conjunct, add_disjunct on a test expression."""
    start, end = cx.span(test)
    r, t, p = slot(cx, test), cx.seg(test), prec(test)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        _unary(cx, test, out)
        out[-1] = Cand("negate_condition", anchor, out[-1].desc, out[-1].edits)
    elif isinstance(test, ast.Compare) and len(test.ops) == 1:
        new = _INVERSE[COMPARE_SYMBOLS[type(test.ops[0])]]
        text = rebuild(cx, test, [test.left, *test.comparators], [new], lambda i: 7)
        add_cand(out, "negate_condition", anchor, [(start, end, text)], f"negate `{short(t)}`")
    else:
        add_cand(out, "negate_condition", anchor, [(start, end, fit("not " + fit(t, p, 5), 5, r))],
              f"negate `{short(t)}`")
    is_and = isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And)
    ta = t if is_and else fit(t, p, 5)
    to = t if isinstance(test, ast.BoolOp) and not is_and else fit(t, p, 4)
    names = cx.names_near(cx.function(anchor), anchor.lineno, attrs=True)[:6]
    for i, form in enumerate(_JUNCTS):  # guards (None checks) first, nearest names first
        for x in names:
            new = form.format(x=x, t=to if i % 2 else ta)
            add_replacement(out, cx, "add_disjunct" if i % 2 else "add_conjunct", anchor, start, end,
                 fit(new, 3 if i % 2 else 4, r))

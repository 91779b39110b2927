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
    "match: fullmatch, search; argmin: argmax; argmax: argmin")
_JUNCTS = ("{x} is not None and {t}", "{x} is None or {t}", "{x} and {t}", "not {x} or {t}",
           "{t} and not {x}", "{t} or {x}", "{t} and {x} is None", "{t} or {x} is not None")
#: binary operator symbols whose operands may not be swapped.
NON_COMMUTATIVE = {"-", "/", "//", "%", "**", "<<", ">>", "@"}
_BUILTIN_SWAP = {"any": ("all", "any_all"), "all": ("any", "any_all"),
                 "min": ("max", "min_max"), "max": ("min", "min_max"),
                 "len": ("bool", "len_bool")}  # a count where a flag is meant (radon 4.5.1: an `else` counts once)
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
    sym, precedence = BINOP_SYMBOLS[type(node.op)]
    kids, (start, end), need = [node.left, node.right], cx.span(node), slot(cx, node)
    table, opid = (_ARITH, "binop_swap") if sym in _ARITH else (_BITS, "bitop_swap")
    for new in table[sym]:
        new_precedence = SYMBOL_PRECEDENCE[new]
        text = fit(rebuild(cx, node, kids, [new], binop_operand_req(new_precedence)), new_precedence, need)
        add_cand(out, opid, node, [(start, end, text)], f"`{sym}` -> `{new}`")
    stringy = any(isinstance(kid, ast.JoinedStr) or (isinstance(kid, ast.Constant)
                  and isinstance(kid.value, str)) for kid in kids)
    if sym in NON_COMMUTATIVE or (sym == "+" and stringy):
        text = rebuild(cx, node, kids, [None], binop_operand_req(precedence), order=[1, 0])
        add_cand(out, "swap_operands", node, [(start, end, text)], f"swap operands of `{sym}`")


def _compare(cx: Index, node: ast.Compare, out: list[Cand]) -> None:
    kids, (start, end) = [node.left, *node.comparators], cx.span(node)
    syms = [COMPARE_SYMBOLS[type(cmp_op)] for cmp_op in node.ops]
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
    precedence = 3 if new == "or" else 4
    text = rebuild(cx, node, kids, [new] * (len(kids) - 1), lambda i: precedence + 1)
    add_cand(out, "boolop_swap", node, [(start, end, fit(text, precedence, slot(cx, node)))], f"`{old}` -> `{new}`")
    ext, _ = infix(cx, node, kids)
    for i, kid in enumerate(kids):
        cut_start, cut_end = (ext[0][0], ext[1][0]) if i == 0 else (ext[i - 1][1], ext[i][1])
        add_cand(out, "drop_operand", node, [(cut_start, cut_end, "")], f"drop `{short(cx.seg(kid))}` from `{old}`")


def _unary(cx: Index, node: ast.UnaryOp, out: list[Cand]) -> None:
    start, end = cx.span(node)
    operand_start = cx.span(node.operand)[0]
    paren = cx.text.find("(", start + (3 if isinstance(node.op, ast.Not) else 1), operand_start)
    cut = paren if paren >= 0 else operand_start
    text = fit(cx.text[cut:end], ATOM if cut < operand_start else prec(node.operand), slot(cx, node))
    add_replacement(out, cx, "unaryop_drop", node, start, end, text)
    if int_value(node) is not None:  # -1 is a constant too
        for delta in (1, -1):
            add_replacement(out, cx, "const_off_by_one", node, start, end, fit(*plus_minus(cx, node, delta), slot(cx, node)))


def _const(cx: Index, node: ast.Constant, out: list[Cand]) -> None:
    start, end = cx.span(node)
    if isinstance(node.value, bool):
        if cx.text[start:end] == repr(node.value):
            add_replacement(out, cx, "bool_const_swap", node, start, end, repr(not node.value))
    elif type(node.value) is int and not (isinstance(up := cx.parent(node), ast.UnaryOp)
                                          and isinstance(up.op, ast.USub)):
        for delta in (1, -1):
            parent = cx.parent(node)  # `x + 1` -> `x`, not `x + 0`: a developer does not write identity arithmetic
            if node.value + delta == 0 and isinstance(parent, ast.BinOp) and (
                    isinstance(parent.op, ast.Add) or isinstance(parent.op, ast.Sub) and cx.field(node) == "right"):
                other = parent.right if cx.field(node) == "left" else parent.left
                add_replacement(out, cx, "const_off_by_one", node, *cx.span(parent), fit(cx.seg(other), prec(other), slot(cx, parent)))
                continue
            add_replacement(out, cx, "const_off_by_one", node, start, end, fit(*plus_minus(cx, node, delta), slot(cx, node)))


def _subscript(cx: Index, node: ast.Subscript, out: list[Cand]) -> None:
    index = node.slice
    if isinstance(index, (ast.Slice, ast.Tuple, ast.Starred)):
        return
    if isinstance(index, ast.Constant) and type(index.value) is not int:
        return
    if isinstance(index, ast.Name) and index.id not in cx.names_near(cx.function(node), node.lineno):
        return
    start, end = cx.span(index)
    for delta in (1, -1):
        add_replacement(out, cx, "index_off_by_one", node, start, end, plus_minus(cx, index, delta)[0])


def _slice(cx: Index, node: ast.Slice, out: list[Cand]) -> None:
    op, text = "slice_bound_off_by_one", cx.text
    start, end = cx.span(node)
    for upper, bound, added in ((False, node.lower, "1"), (True, node.upper, "-1")):
        if bound is not None:
            bound_start, bound_end = cx.span(bound)
            for delta in (1, -1):
                add_replacement(out, cx, op, node, bound_start, bound_end, plus_minus(cx, bound, delta)[0])
            add_cand(out, op, node, [(bound_start, bound_end, "")], f"drop slice bound `{short(text[bound_start:bound_end])}`")
        elif not upper:
            add_cand(out, op, node, [(start, start, added)], f"add slice lower bound `{added}`")
        else:
            colon = text.find(":", cx.span(node.lower)[1] if node.lower else start, end + 1)
            if colon >= 0:
                add_cand(out, op, node, [(colon + 1, colon + 1, added)], f"add slice upper bound `{added}`")


def _call(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    func, args, text = node.func, node.args, cx.text
    func_start, func_end = cx.span(func)
    plain = [arg for arg in args if not isinstance(arg, ast.Starred)]
    if isinstance(func, ast.Name) and text[func_start:func_end] == func.id:
        if func.id == "range" and 1 <= len(args) <= 3 and len(plain) == len(args):
            for arg in args:
                for delta in (1, -1):
                    add_replacement(out, cx, "range_arg_off_by_one", node, *cx.span(arg), plus_minus(cx, arg, delta)[0])
            if len(args) == 1:
                paren = text.find("(", func_end) + 1
                arg_start, arg_end = cx.span(args[0])
                add_cand(out, "range_arg_off_by_one", node, [(paren, paren, "1, ")], "range from 1")
                add_cand(out, "range_arg_off_by_one", node,
                      [(paren, paren, "1, "), (arg_start, arg_end, plus_minus(cx, args[0], 1)[0])],
                      "range from 1 to n + 1")
        if func.id in _BUILTIN_SWAP:
            new, opid = _BUILTIN_SWAP[func.id]
            add_replacement(out, cx, opid, node, func_start, func_end, new)
        if (func.id in _DROPPABLE and len(args) == 1 and plain
                and (not node.keywords or func.id == "sorted")):
            start, end = cx.span(node)
            add_replacement(out, cx, "call_drop", node, start, end, fit(cx.seg(args[0]), prec(args[0]), slot(cx, node)))
    elif isinstance(func, ast.Attribute) and text[func_end - len(func.attr) : func_end] == func.attr:
        for new in METHOD_SWAPS.get(func.attr, ()):
            add_replacement(out, cx, "method_swap", node, func_end - len(func.attr), func_end, new)
    for i in range(min(len(args) - 1, 3)):
        arg, next_arg = args[i], args[i + 1]
        if isinstance(arg, ast.Starred) or isinstance(next_arg, ast.Starred):
            continue
        (arg_start, arg_end), (next_start, next_end) = cx.span(arg), cx.span(next_arg)
        add_cand(out, "swap_call_args", node, [(arg_start, arg_end, text[next_start:next_end]), (next_start, next_end, text[arg_start:arg_end])],
              f"swap arguments `{short(text[arg_start:arg_end])}` and `{short(text[next_start:next_end])}`")


def _name(cx: Index, node: ast.Name, out: list[Cand]) -> None:
    if not isinstance(node.ctx, ast.Load) or (isinstance(cx.parent(node), ast.Call) and cx.field(node) == "func"):
        return
    names = cx.names_near(cx.function(node), node.lineno)
    start, end = cx.span(node)
    if node.id not in names or cx.text[start:end] != node.id:
        return
    roles = cx.roles(cx.function(node))
    role = (type(cx.parent(node)), cx.field(node))
    cands = sorted((name for name in names if name != node.id), key=lambda name: role not in roles.get(name, ()))
    for name in cands[:4]:
        add_replacement(out, cx, "replace_name", node, start, end, name)
    if _FLAG_NAME.match(node.id) or roles.get(node.id, set()) & _BOOL_USES:
        parent = cx.parent(node)
        if not (isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not)) and (type(parent), cx.field(node)) not in _TESTS:
            add_replacement(out, cx, "negate_value", node, start, end, fit("not " + node.id, OP_PRECEDENCE[ast.Not], slot(cx, node)))


def _attribute(cx: Index, node: ast.Attribute, out: list[Cand]) -> None:
    if not (isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")):
        return
    start, end = cx.span(node)
    if cx.text[end - len(node.attr) : end] != node.attr:
        return
    seen = [node.attr]
    for attr in sorted(cx.scope(cx.function(node)).attrs, key=lambda attr: abs(attr.lineno - node.lineno)):
        if isinstance(attr.value, ast.Name) and attr.value.id == node.value.id and attr.attr not in seen and len(seen) <= 3:
            seen.append(attr.attr)
            add_replacement(out, cx, "replace_name", node, end - len(node.attr), end, attr.attr)


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
    need, test_text, precedence = slot(cx, test), cx.seg(test), prec(test)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        _unary(cx, test, out)
        out[-1] = Cand("negate_condition", anchor, out[-1].desc, out[-1].edits)
    elif isinstance(test, ast.Compare) and len(test.ops) == 1:
        new = _INVERSE[COMPARE_SYMBOLS[type(test.ops[0])]]
        text = rebuild(cx, test, [test.left, *test.comparators], [new], lambda i: 7)
        add_cand(out, "negate_condition", anchor, [(start, end, text)], f"negate `{short(test_text)}`")
    else:
        add_cand(out, "negate_condition", anchor, [(start, end, fit("not " + fit(test_text, precedence, 5), 5, need))],
              f"negate `{short(test_text)}`")
    is_and = isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And)
    text_and = test_text if is_and else fit(test_text, precedence, 5)
    text_or = test_text if isinstance(test, ast.BoolOp) and not is_and else fit(test_text, precedence, 4)
    for mirror in _mirrors(cx, test):  # the other end of a delimiter checked at one end
        add_replacement(out, cx, "add_conjunct", anchor, start, end, fit(f"{text_and} and {mirror}", 4, need))
    names = cx.names_near(cx.function(anchor), anchor.lineno, attrs=True)[:6]
    for i, form in enumerate(_JUNCTS):  # guards (None checks) first, nearest names first
        for name in names:
            new = form.format(x=name, t=text_or if i % 2 else text_and)
            add_replacement(out, cx, "add_disjunct" if i % 2 else "add_conjunct", anchor, start, end,
                 fit(new, 3 if i % 2 else 4, need))


#: a delimiter's other end (a character not listed closes itself: quotes, ``|``, ``/``, ``*``).
_CLOSING = {"{": "}", "(": ")", "[": "]", "<": ">", "}": "{", ")": "(", "]": "[", ">": "<"}
_ENDS = {"0": "-1", "-1": "0", "startswith": "endswith", "endswith": "startswith"}


def _mirrors(cx: Index, test: ast.expr) -> list[str]:
    """The same check at the sequence's other end, for each ``s[0] == D``/``s[-1] == D``/
    ``s.startswith(D)``/``s.endswith(D)`` of ``test`` (itself, or a term of an ``and``) with
    ``D`` a delimiter string (1-3 punctuation characters), mirrored: ``part[0] == '{'`` ->
    ``part[-1] == '}'``. A check of one end of a bracketed token without the other accepts an
    unterminated one (parse 1.12: ``"{who.txt"`` taken for a field)."""
    terms = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) else [test]
    have = {cx.seg(term) for term in terms}
    out: list[str] = []
    for term in terms:
        found = _delimiter_check(cx, term)
        if found is None:
            continue
        seq, end, delim = found
        other = "".join(_CLOSING.get(ch, ch) for ch in reversed(delim))
        mirror = (f"{seq}.{_ENDS[end]}({other!r})" if end in ("startswith", "endswith")
                  else f"{seq}[{_ENDS[end]}] == {other!r}")
        if mirror not in have and mirror not in out:
            out.append(mirror)
    return out


def _delimiter_check(cx: Index, term: ast.expr) -> tuple[str, str, str] | None:
    """``(sequence text, end, delimiter)`` of a one-end delimiter check (see :func:`_mirrors`)."""
    def delimiter(node: ast.expr) -> str | None:
        value = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""
        return value if 1 <= len(value) <= 3 and not any(ch.isalnum() or ch.isspace() for ch in value) else None
    if isinstance(term, ast.Compare) and len(term.ops) == 1 and isinstance(term.ops[0], ast.Eq):
        sub, const = term.left, term.comparators[0]
        if isinstance(sub, ast.Constant):
            sub, const = const, sub
        if isinstance(sub, ast.Subscript) and (delim := delimiter(const)) is not None:
            index = cx.seg(sub.slice).replace(" ", "")
            if index in ("0", "-1"):
                return cx.seg(sub.value), index, delim
    if (isinstance(term, ast.Call) and isinstance(term.func, ast.Attribute) and len(term.args) == 1
            and term.func.attr in ("startswith", "endswith") and (delim := delimiter(term.args[0])) is not None):
        return cx.seg(term.func.value), term.func.attr, delim
    return None

"""More of the edits real one-line fixes are: operators behind
:func:`harness.generators.mutations.mutants_at`, beyond :mod:`.mutation_ops`.

Each operator is one small function named after the edit, appending :class:`Cand`
candidates for one node or statement; ``expr_mutants`` and ``stmt_mutants`` dispatch.
They come from the edits that fix the one-line bugs of QuixBugs (Lin et al., SPLASH
2017 companion) and the single-statement fixes of ManySStuBs4J / PySStuBs that the
older operators miss: operands of any binary operator swapped, a call wrapped
(``max(0, x)``) or unwrapped, a term added to or dropped from an arithmetic chain, an
index in a tuple subscript shifted, a name sliced (``xs`` -> ``xs[1:]``), an attribute
swapped for another used in the file, a constant loop condition replaced by a name, a
call given the arity its other calls (or its definition) have, and a nearby statement
copied with one operand renamed. Conventions as in :mod:`.mutation_ops` (``cx`` is the
file's ``index.Index``; edits are character offsets into the original text).
"""

from __future__ import annotations

import ast

from harness.core.tree_memo import nodes
from harness.generators.edit_text import (
    BINOP_SYMBOLS, Cand, add_cand, add_replacement, bare_break, binop_operand_req, fit, plus_minus, prec, rebuild, run_ops,
    short, slot,
)
from harness.generators.index import Index, last_line
from harness.generators.mutation_ops import NON_COMMUTATIVE

#: builtins tried as wrappers, most plausible first (``{}`` is the wrapped text).
WRAPPERS = ("max(0, {})", "abs({})", "len({})", "int({})", "list({})")
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
#: where a value is wrapped: a statement's value (assignment, return), a call's argument,
#: an index, a comparison's operand. Not inside arithmetic: too many candidates per line.
_WRAP_SLOTS = (ast.Assign, ast.AugAssign, ast.Return, ast.Call, ast.Subscript, ast.Compare, ast.Expr)
_ITERABLE_USES = {(ast.Subscript, "value"), (ast.For, "iter"), (ast.comprehension, "iter")}


#: operators whose edits always parse (an expression replaced by a call, an atom or one
#: of its own operands, fitted with parentheses): ``mutants_at`` skips their parse check.
SAFE = frozenset({"wrap_call", "unwrap_call", "name_to_slice", "attr_swap", "drop_term",
                  "swap_commutative", "const_cond_to_name"})


# -- facts about the whole module (one walk per source text, cached) --------------------
class _Module:
    """Positional-argument counts of calls by callee name, parameters of function
    definitions by name, attribute names read (not called), by base name and in all."""

    def __init__(self, tree: ast.AST) -> None:
        self.calls: dict[str, list[int]] = {}
        self.defs: dict[str, tuple[list[str], int, bool]] = {}  # name -> (params, defaults, *args)
        self.attrs: dict[str, list[str]] = {}
        self.all_attrs: list[str] = []
        methods: set[str] = set()
        for node in nodes(tree):
            if isinstance(node, _FUNCS):
                args = node.args
                self.defs.setdefault(node.name, ([item.arg for item in args.posonlyargs + args.args],
                                              len(args.defaults), args.vararg is not None))
            elif isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
                if not any(isinstance(item, ast.Starred) for item in node.args):
                    self.calls.setdefault(_callee(node.func), []).append(len(node.args))
                if isinstance(node.func, ast.Attribute):
                    methods.add(node.func.attr)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                base = node.value.id if isinstance(node.value, ast.Name) else ""
                names = self.attrs.setdefault(base, [])
                if node.attr not in names:
                    names.append(node.attr)
                if node.attr not in self.all_attrs:
                    self.all_attrs.append(node.attr)
        for names in (*self.attrs.values(), self.all_attrs):  # called attributes are methods
            names[:] = [item for item in names if item not in methods]

    def wrappers(self) -> list[str]:
        """Functions of this module that take one argument."""
        return [name for name, (params, _, star) in self.defs.items()
                if len(params) == 1 and params[0] not in ("self", "cls") and not star][:3]


_CACHE: dict[str, _Module] = {}


def _module_of(cx: Index) -> _Module:
    """The module's facts: from the last 8 texts' cache, else one walk."""
    got = _CACHE.get(cx.text)
    if got is None:
        if len(_CACHE) >= 8:
            _CACHE.pop(next(iter(_CACHE)))
        got = _CACHE[cx.text] = _Module(cx.tree)
    return got


def _module(cx: Index) -> _Module:
    return cx.memo(_module_of)


def _callee(func: ast.Name | ast.Attribute) -> str:
    """``f`` / ``obj.f`` / ``self.f`` -> the name calls are matched by (``f``)."""
    return func.id if isinstance(func, ast.Name) else func.attr


def _value(cx: Index, node: ast.AST) -> bool:
    """Is ``node`` an expression read as a value (not a call's function, not a target)?"""
    ctx = getattr(node, "ctx", ast.Load())
    return isinstance(ctx, ast.Load) and not (isinstance(cx.parent(node), ast.Call) and cx.field(node) == "func") \
        and not isinstance(cx.parent(node), (ast.keyword, ast.Starred)) and cx.field(node) not in ("decorator_list",)


# -- expression operators --------------------------------------------------------------
def swap_commutative(cx: Index, node: ast.BinOp, out: list[Cand]) -> None:
    """``a + b`` -> ``b + a`` for the operators the older table leaves out (``+`` on
    names: string building, list concatenation; ``*``, ``&``, ``|``, ``^``)."""
    sym, precedence = BINOP_SYMBOLS[type(node.op)]
    stringy = any(isinstance(operand, (ast.JoinedStr, ast.Constant)) and not isinstance(
        getattr(operand, "value", 0), (int, float)) for operand in (node.left, node.right))
    if sym in NON_COMMUTATIVE or (sym == "+" and stringy):
        return  # already offered as swap_operands
    start, end = cx.span(node)
    text = rebuild(cx, node, [node.left, node.right], [None], binop_operand_req(precedence), order=[1, 0])
    add_cand(out, "swap_commutative", node, [(start, end, text)], f"swap operands of `{sym}`")


def drop_term(cx: Index, node: ast.BinOp, out: list[Cand]) -> None:
    """Drop one term of an arithmetic chain: ``a + b + c`` -> ``a + c`` / ``a + b`` ..."""
    if not isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
        return
    start, end = cx.span(node)
    need = slot(cx, node)
    sym = BINOP_SYMBOLS[type(node.op)][0]
    left, right = cx.seg(node.left), cx.seg(node.right)
    add_replacement(out, cx, "drop_term", node, start, end, fit(left, prec(node.left), need))
    if sym == "-":
        add_replacement(out, cx, "drop_term", node, start, end, fit("-" + fit(right, prec(node.right), 13), 13, need))
    else:
        add_replacement(out, cx, "drop_term", node, start, end, fit(right, prec(node.right), need))


def add_term(cx: Index, node: ast.BinOp, out: list[Cand]) -> None:
    """Add a term to the top of a ``+``/``-`` chain: ``a + b`` -> ``a + b + c`` (a name in scope)."""
    if not isinstance(node.op, (ast.Add, ast.Sub)) or (
            isinstance(up := cx.parent(node), ast.BinOp) and isinstance(up.op, (ast.Add, ast.Sub))):
        return
    start, end = cx.span(node)
    used = {term.id for term in ast.walk(node) if isinstance(term, ast.Name)}
    names = [term for term in cx.names_near(cx.function(node), node.lineno) if term not in used][:2]
    for term in names:
        for sym in ("+", "-"):
            add_replacement(out, cx, "add_term", node, start, end, fit(f"{cx.seg(node)} {sym} {term}", 11, slot(cx, node)))


def wrap_call(cx: Index, node: ast.expr, out: list[Cand]) -> None:
    """``x`` -> ``max(0, x)`` / ``abs(x)`` / ``len(x)`` / ``int(x)`` / ``list(x)`` / ``f(x)``
    for a one-argument function ``f`` of this module."""
    up = cx.parent(node)
    if not _value(cx, node) or not isinstance(up, _WRAP_SLOTS) or isinstance(up, ast.Call) and (
            cx.field(node) != "args" or _callee_text(cx, up) in ("max", "abs", "len", "int", "list")):
        return
    if isinstance(node, ast.Name) and node.id in ("True", "False", "None"):
        return
    start, end = cx.span(node)
    text = cx.seg(node)
    fn = cx.function(node)
    own = fn.name if fn is not None else ""
    for form in (*WRAPPERS, *(wrapper + "({})" for wrapper in _module(cx).wrappers() if wrapper != own)):
        add_replacement(out, cx, "wrap_call", node, start, end, form.format(text))


def _callee_text(cx: Index, call: ast.Call) -> str:
    return cx.seg(call.func)


def unwrap_call(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    """``f(x)`` -> ``x``; ``x.method()`` -> ``x`` (a call that should not be there)."""
    if node.keywords:
        return
    start, end = cx.span(node)
    func = node.func
    if len(node.args) == 1 and not isinstance(node.args[0], ast.Starred):
        if isinstance(func, ast.Name) and func.id in ("sorted", "reversed", "list", "set", "tuple", "abs",
                                                "int", "float", "str", "round"):
            return  # call_drop
        arg = node.args[0]
        add_replacement(out, cx, "unwrap_call", node, start, end, _unwrapped(cx, arg, node))
    elif not node.args and isinstance(func, ast.Attribute):
        add_replacement(out, cx, "unwrap_call", node, start, end, _unwrapped(cx, func.value, node))


def _unwrapped(cx: Index, inner: ast.expr, call: ast.Call) -> str:
    """``inner``'s text fitted where ``call`` was; in parentheses when a line break in it was
    free only inside the call's (``raise E("a "\n "b")`` -> ``raise ("a "\n "b")``): this
    operator's edits skip the parse check."""
    text = cx.seg(inner)
    return f"({text})" if bare_break(text) else fit(text, prec(inner), slot(cx, call))


def call_arity(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    """Give a call the number of positional arguments its other calls or its definition
    have: add the missing one (the definition's parameter name when it is in scope, as
    in a recursive call that forgot an argument) or drop one."""
    if not isinstance(node.func, (ast.Name, ast.Attribute)) or any(
            isinstance(arg, ast.Starred) for arg in node.args):
        return
    facts, name, count = _module(cx), _callee(node.func), len(node.args)
    arities = set(facts.calls.get(name, ()))  # this call's own count is in it too: harmless
    params: list[str] = []
    if name in facts.defs and not facts.defs[name][2]:
        params, defaults, _ = facts.defs[name]
        if params and params[0] in ("self", "cls") and isinstance(node.func, ast.Attribute):
            params = params[1:]
        arities |= set(range(len(params) - defaults, len(params) + 1))
    start, end = cx.span(node)
    paren = cx.text.find("(", cx.span(node.func)[1], end)
    if count and count - 1 in arities:
        for position, arg in enumerate(node.args):
            arg_start, arg_end = cx.span(arg)
            lo = cx.span(node.args[position - 1])[1] if position else paren + 1
            hi = arg_end if position else (cx.span(node.args[1])[0] if count > 1 else arg_end)
            add_cand(out, "call_arity", node, [(lo, hi, "")], f"drop argument `{short(cx.seg(arg))}`")
    if count + 1 in arities:
        near = cx.names_near(cx.function(node), node.lineno)
        fill = ([params[count]] if len(params) > count and params[count] in near else []) + near[:3]
        used = {cx.seg(arg) for arg in node.args}
        for extra in [extra for extra in dict.fromkeys(fill) if extra not in used][:3]:
            at = cx.span(node.args[-1])[1] if count else paren + 1
            text = f", {extra}" if count else f"{extra}, " if node.keywords else extra  # before any keyword
            add_cand(out, "call_arity", node, [(at, at, text)], f"add argument `{extra}`")
            if count:  # or as the first argument
                add_cand(out, "call_arity", node, [(paren + 1, paren + 1, f"{extra}, ")], f"add argument `{extra}` first")


def index_in_tuple(cx: Index, node: ast.Subscript, out: list[Cand]) -> None:
    """Shift one index of a tuple subscript by ±1: ``grid[i, j]`` -> ``grid[i, j - 1]``."""
    if not isinstance(node.slice, ast.Tuple):
        return
    for element in node.slice.elts:
        if isinstance(element, (ast.Slice, ast.Starred)):
            continue
        el_start, el_end = cx.span(element)
        for delta in (1, -1):
            add_replacement(out, cx, "index_off_by_one", node, el_start, el_end, plus_minus(cx, element, delta)[0])


def name_to_slice(cx: Index, node: ast.Name, out: list[Cand]) -> None:
    """``xs`` -> ``xs[1:]`` / ``xs[:-1]`` / ``xs[::-1]`` for a name used as a sequence."""
    if not _value(cx, node) or not (cx.roles(cx.function(node)).get(node.id, set()) & _ITERABLE_USES):
        return
    if isinstance(cx.parent(node), ast.Subscript) and cx.field(node) == "value":
        return
    start, end = cx.span(node)
    for sl in ("[1:]", "[:-1]", "[::-1]"):
        add_replacement(out, cx, "name_to_slice", node, start, end, node.id + sl)


def attr_swap(cx: Index, node: ast.Attribute, out: list[Cand]) -> None:
    """``node.left`` -> ``node.right``: another attribute read in this file (the same
    base name's first), for an attribute that is read, not called."""
    if not _value(cx, node) or isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
        return  # self.x is replace_name's
    start, end = cx.span(node)
    if cx.text[end - len(node.attr): end] != node.attr:
        return
    facts = _module(cx)
    base = node.value.id if isinstance(node.value, ast.Name) else ""
    pool = [attr for attr in facts.attrs.get(base, []) if attr != node.attr] if base else []
    # from other objects only an attribute of the same case (not `outcome` -> `TYPE_CHECKING`)
    pool += [attr for attr in facts.all_attrs if attr != node.attr and attr not in pool and attr.isupper() == node.attr.isupper()]
    for attr in pool[:3]:
        add_replacement(out, cx, "attr_swap", node, end - len(node.attr), end, attr)


# -- statement operators ---------------------------------------------------------------
def const_condition_to_name(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """``while True:`` -> ``while queue:`` (a name in scope; also ``not name``)."""
    test = getattr(st, "test", None)
    if not isinstance(st, (ast.If, ast.While)) or not isinstance(test, ast.Constant):
        return
    start, end = cx.span(test)
    for name in cx.names_near(cx.function(st), st.lineno)[:4]:
        add_replacement(out, cx, "const_cond_to_name", st, start, end, name)
    for name in cx.names_near(cx.function(st), st.lineno)[:2]:
        add_replacement(out, cx, "const_cond_to_name", st, start, end, f"not {name}")


def copy_renamed(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """Insert a copy of a neighbouring simple statement with one name renamed to
    another in scope, after this statement: ``lo = mid + 1`` next to a missing
    ``hi = mid - 1`` style line."""
    if cx.function(st) is None or isinstance(st, _FUNCS) or not cx.standalone(st) or isinstance(
            st, (ast.Return, ast.Raise, ast.Continue, ast.Break)) or cx.compound(st):
        return
    block, position = cx.block(st)
    after = cx.line_end(last_line(st))
    if after == len(cx.text) and not cx.text.endswith(("\n", "\r")):
        return
    scope = cx.names_near(cx.function(st), st.lineno)[:4]
    line = cx.line_text(st.lineno)
    indent = line[: len(line) - len(line.lstrip())]
    for near in (position - 1, position, position + 1):
        if not 0 <= near < len(block):
            continue
        neighbour = block[near]
        if cx.compound(neighbour) or neighbour.lineno != last_line(neighbour) or not cx.standalone(neighbour) or cx.docstring(neighbour):
            continue
        body = cx.line_text(neighbour.lineno).strip()
        names = list(dict.fromkeys(name_node.id for name_node in ast.walk(neighbour) if isinstance(name_node, ast.Name)))[:3]
        for old in names:
            for new in [name for name in scope if name not in names][:2]:
                renamed = _rename(body, old, new)
                if renamed != body:
                    add_cand(out, "copy_renamed", st, [(after, after, indent + renamed + cx.newline(st.lineno))],
                          f"insert `{short(renamed)}` (line {neighbour.lineno} with `{old}` -> `{new}`)")


def _rename(text: str, old: str, new: str) -> str:
    """``text`` with every name token ``old`` replaced by ``new`` (not inside strings)."""
    import io
    import tokenize

    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return text
    out, last = [], 0
    for tok in toks:
        if tok.type == tokenize.NAME and tok.string == old and tok.start[0] == 1:
            out.append(text[last:tok.start[1]] + new)
            last = tok.end[1]
    return "".join(out) + text[last:]


_EXPR: dict[type, tuple] = {
    ast.BinOp: (swap_commutative, drop_term, add_term, wrap_call),
    ast.Call: (unwrap_call, call_arity, wrap_call),
    ast.Subscript: (index_in_tuple, wrap_call),
    ast.Name: (name_to_slice, wrap_call),
    ast.Attribute: (attr_swap, wrap_call),
}


def expr_mutants(cx: Index, node: ast.expr) -> list[Cand]:
    """Candidates of this module's operators for one expression node (any order)."""
    return run_ops(_EXPR.get(type(node), ()), cx, node)


def stmt_mutants(cx: Index, st: ast.stmt) -> list[Cand]:
    """Candidates of this module's operators for one statement (any order)."""
    return run_ops((const_condition_to_name, copy_renamed), cx, st)

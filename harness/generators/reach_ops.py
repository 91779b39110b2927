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

from harness.generators.edit_text import (
    BINOP_SYMBOLS, Cand, add_cand, add_replacement, binop_operand_req, fit, plus_minus, prec, rebuild, run_ops, short,
    slot,
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
        for n in ast.walk(tree):
            if isinstance(n, _FUNCS):
                a = n.args
                self.defs.setdefault(n.name, ([x.arg for x in a.posonlyargs + a.args],
                                              len(a.defaults), a.vararg is not None))
            elif isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute)):
                if not any(isinstance(x, ast.Starred) for x in n.args):
                    self.calls.setdefault(_callee(n.func), []).append(len(n.args))
                if isinstance(n.func, ast.Attribute):
                    methods.add(n.func.attr)
            elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load):
                base = n.value.id if isinstance(n.value, ast.Name) else ""
                names = self.attrs.setdefault(base, [])
                if n.attr not in names:
                    names.append(n.attr)
                if n.attr not in self.all_attrs:
                    self.all_attrs.append(n.attr)
        for names in (*self.attrs.values(), self.all_attrs):  # called attributes are methods
            names[:] = [x for x in names if x not in methods]

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


def _callee(f: ast.Name | ast.Attribute) -> str:
    """``f`` / ``obj.f`` / ``self.f`` -> the name calls are matched by (``f``)."""
    return f.id if isinstance(f, ast.Name) else f.attr


def _value(cx: Index, node: ast.AST) -> bool:
    """Is ``node`` an expression read as a value (not a call's function, not a target)?"""
    ctx = getattr(node, "ctx", ast.Load())
    return isinstance(ctx, ast.Load) and not (isinstance(cx.parent(node), ast.Call) and cx.field(node) == "func") \
        and not isinstance(cx.parent(node), (ast.keyword, ast.Starred)) and cx.field(node) not in ("decorator_list",)


# -- expression operators --------------------------------------------------------------
def swap_commutative(cx: Index, node: ast.BinOp, out: list[Cand]) -> None:
    """``a + b`` -> ``b + a`` for the operators the older table leaves out (``+`` on
    names: string building, list concatenation; ``*``, ``&``, ``|``, ``^``)."""
    sym, q = BINOP_SYMBOLS[type(node.op)]
    stringy = any(isinstance(k, (ast.JoinedStr, ast.Constant)) and not isinstance(
        getattr(k, "value", 0), (int, float)) for k in (node.left, node.right))
    if sym in NON_COMMUTATIVE or (sym == "+" and stringy):
        return  # already offered as swap_operands
    s, e = cx.span(node)
    text = rebuild(cx, node, [node.left, node.right], [None], binop_operand_req(q), order=[1, 0])
    add_cand(out, "swap_commutative", node, [(s, e, text)], f"swap operands of `{sym}`")


def drop_term(cx: Index, node: ast.BinOp, out: list[Cand]) -> None:
    """Drop one term of an arithmetic chain: ``a + b + c`` -> ``a + c`` / ``a + b`` ..."""
    if not isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
        return
    s, e = cx.span(node)
    r = slot(cx, node)
    sym = BINOP_SYMBOLS[type(node.op)][0]
    left, right = cx.seg(node.left), cx.seg(node.right)
    add_replacement(out, cx, "drop_term", node, s, e, fit(left, prec(node.left), r))
    if sym == "-":
        add_replacement(out, cx, "drop_term", node, s, e, fit("-" + fit(right, prec(node.right), 13), 13, r))
    else:
        add_replacement(out, cx, "drop_term", node, s, e, fit(right, prec(node.right), r))


def add_term(cx: Index, node: ast.BinOp, out: list[Cand]) -> None:
    """Add a term to the top of a ``+``/``-`` chain: ``a + b`` -> ``a + b + c`` (a name in scope)."""
    if not isinstance(node.op, (ast.Add, ast.Sub)) or (
            isinstance(up := cx.parent(node), ast.BinOp) and isinstance(up.op, (ast.Add, ast.Sub))):
        return
    s, e = cx.span(node)
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    names = [n for n in cx.names_near(cx.function(node), node.lineno) if n not in used][:2]
    for n in names:
        for sym in ("+", "-"):
            add_replacement(out, cx, "add_term", node, s, e, fit(f"{cx.seg(node)} {sym} {n}", 11, slot(cx, node)))


def wrap_call(cx: Index, node: ast.expr, out: list[Cand]) -> None:
    """``x`` -> ``max(0, x)`` / ``abs(x)`` / ``len(x)`` / ``int(x)`` / ``list(x)`` / ``f(x)``
    for a one-argument function ``f`` of this module."""
    up = cx.parent(node)
    if not _value(cx, node) or not isinstance(up, _WRAP_SLOTS) or isinstance(up, ast.Call) and (
            cx.field(node) != "args" or _callee_text(cx, up) in ("max", "abs", "len", "int", "list")):
        return
    if isinstance(node, ast.Name) and node.id in ("True", "False", "None"):
        return
    s, e = cx.span(node)
    text = cx.seg(node)
    fn = cx.function(node)
    own = fn.name if fn is not None else ""
    for form in (*WRAPPERS, *(f + "({})" for f in _module(cx).wrappers() if f != own)):
        add_replacement(out, cx, "wrap_call", node, s, e, form.format(text))


def _callee_text(cx: Index, call: ast.Call) -> str:
    return cx.seg(call.func)


def unwrap_call(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    """``f(x)`` -> ``x``; ``x.method()`` -> ``x`` (a call that should not be there)."""
    if node.keywords:
        return
    s, e = cx.span(node)
    f = node.func
    if len(node.args) == 1 and not isinstance(node.args[0], ast.Starred):
        if isinstance(f, ast.Name) and f.id in ("sorted", "reversed", "list", "set", "tuple", "abs",
                                                "int", "float", "str", "round"):
            return  # call_drop
        a = node.args[0]
        add_replacement(out, cx, "unwrap_call", node, s, e, fit(cx.seg(a), prec(a), slot(cx, node)))
    elif not node.args and isinstance(f, ast.Attribute):
        add_replacement(out, cx, "unwrap_call", node, s, e, fit(cx.seg(f.value), prec(f.value), slot(cx, node)))


def call_arity(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    """Give a call the number of positional arguments its other calls or its definition
    have: add the missing one (the definition's parameter name when it is in scope, as
    in a recursive call that forgot an argument) or drop one."""
    if not isinstance(node.func, (ast.Name, ast.Attribute)) or any(
            isinstance(a, ast.Starred) for a in node.args):
        return
    mod, name, n = _module(cx), _callee(node.func), len(node.args)
    arities = set(mod.calls.get(name, ()))  # this call's own count is in it too: harmless
    params: list[str] = []
    if name in mod.defs and not mod.defs[name][2]:
        params, defaults, _ = mod.defs[name]
        if params and params[0] in ("self", "cls") and isinstance(node.func, ast.Attribute):
            params = params[1:]
        arities |= set(range(len(params) - defaults, len(params) + 1))
    s, e = cx.span(node)
    paren = cx.text.find("(", cx.span(node.func)[1], e)
    if n and n - 1 in arities:
        for i, a in enumerate(node.args):
            a0, a1 = cx.span(a)
            lo = cx.span(node.args[i - 1])[1] if i else paren + 1
            hi = a1 if i else (cx.span(node.args[1])[0] if n > 1 else a1)
            add_cand(out, "call_arity", node, [(lo, hi, "")], f"drop argument `{short(cx.seg(a))}`")
    if n + 1 in arities:
        near = cx.names_near(cx.function(node), node.lineno)
        fill = ([params[n]] if len(params) > n and params[n] in near else []) + near[:3]
        used = {cx.seg(a) for a in node.args}
        for x in [x for x in dict.fromkeys(fill) if x not in used][:3]:
            at = cx.span(node.args[-1])[1] if n else paren + 1
            text = f", {x}" if n else f"{x}, " if node.keywords else x  # before any keyword
            add_cand(out, "call_arity", node, [(at, at, text)], f"add argument `{x}`")
            if n:  # or as the first argument
                add_cand(out, "call_arity", node, [(paren + 1, paren + 1, f"{x}, ")], f"add argument `{x}` first")


def index_in_tuple(cx: Index, node: ast.Subscript, out: list[Cand]) -> None:
    """Shift one index of a tuple subscript by ±1: ``grid[i, j]`` -> ``grid[i, j - 1]``."""
    if not isinstance(node.slice, ast.Tuple):
        return
    for el in node.slice.elts:
        if isinstance(el, (ast.Slice, ast.Starred)):
            continue
        a, b = cx.span(el)
        for d in (1, -1):
            add_replacement(out, cx, "index_off_by_one", node, a, b, plus_minus(cx, el, d)[0])


def name_to_slice(cx: Index, node: ast.Name, out: list[Cand]) -> None:
    """``xs`` -> ``xs[1:]`` / ``xs[:-1]`` / ``xs[::-1]`` for a name used as a sequence."""
    if not _value(cx, node) or not (cx.roles(cx.function(node)).get(node.id, set()) & _ITERABLE_USES):
        return
    if isinstance(cx.parent(node), ast.Subscript) and cx.field(node) == "value":
        return
    s, e = cx.span(node)
    for sl in ("[1:]", "[:-1]", "[::-1]"):
        add_replacement(out, cx, "name_to_slice", node, s, e, node.id + sl)


def attr_swap(cx: Index, node: ast.Attribute, out: list[Cand]) -> None:
    """``node.left`` -> ``node.right``: another attribute read in this file (the same
    base name's first), for an attribute that is read, not called."""
    if not _value(cx, node) or isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
        return  # self.x is replace_name's
    s, e = cx.span(node)
    if cx.text[e - len(node.attr): e] != node.attr:
        return
    mod = _module(cx)
    base = node.value.id if isinstance(node.value, ast.Name) else ""
    pool = [a for a in mod.attrs.get(base, []) if a != node.attr] if base else []
    # from other objects only an attribute of the same case (not `outcome` -> `TYPE_CHECKING`)
    pool += [a for a in mod.all_attrs if a != node.attr and a not in pool and a.isupper() == node.attr.isupper()]
    for a in pool[:3]:
        add_replacement(out, cx, "attr_swap", node, e - len(node.attr), e, a)


# -- statement operators ---------------------------------------------------------------
def const_condition_to_name(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """``while True:`` -> ``while queue:`` (a name in scope; also ``not name``)."""
    test = getattr(st, "test", None)
    if not isinstance(st, (ast.If, ast.While)) or not isinstance(test, ast.Constant):
        return
    s, e = cx.span(test)
    for n in cx.names_near(cx.function(st), st.lineno)[:4]:
        add_replacement(out, cx, "const_cond_to_name", st, s, e, n)
    for n in cx.names_near(cx.function(st), st.lineno)[:2]:
        add_replacement(out, cx, "const_cond_to_name", st, s, e, f"not {n}")


def copy_renamed(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """Insert a copy of a neighbouring simple statement with one name renamed to
    another in scope, after this statement: ``lo = mid + 1`` next to a missing
    ``hi = mid - 1`` style line."""
    if cx.function(st) is None or isinstance(st, _FUNCS) or not cx.standalone(st) or isinstance(
            st, (ast.Return, ast.Raise, ast.Continue, ast.Break)) or cx.compound(st):
        return
    block, i = cx.block(st)
    after = cx.line_end(last_line(st))
    if after == len(cx.text) and not cx.text.endswith(("\n", "\r")):
        return
    scope = cx.names_near(cx.function(st), st.lineno)[:4]
    lt = cx.line_text(st.lineno)
    indent = lt[: len(lt) - len(lt.lstrip())]
    for j in (i - 1, i, i + 1):
        if not 0 <= j < len(block):
            continue
        nb = block[j]
        if cx.compound(nb) or nb.lineno != last_line(nb) or not cx.standalone(nb) or cx.docstring(nb):
            continue
        body = cx.line_text(nb.lineno).strip()
        names = list(dict.fromkeys(n.id for n in ast.walk(nb) if isinstance(n, ast.Name)))[:3]
        for old in names:
            for new in [x for x in scope if x not in names][:2]:
                renamed = _rename(body, old, new)
                if renamed != body:
                    add_cand(out, "copy_renamed", st, [(after, after, indent + renamed + cx.newline(st.lineno))],
                          f"insert `{short(renamed)}` (line {nb.lineno} with `{old}` -> `{new}`)")


def _rename(text: str, old: str, new: str) -> str:
    """``text`` with every name token ``old`` replaced by ``new`` (not inside strings)."""
    import io
    import tokenize

    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return text
    out, last = [], 0
    for t in toks:
        if t.type == tokenize.NAME and t.string == old and t.start[0] == 1:
            out.append(text[last:t.start[1]] + new)
            last = t.end[1]
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

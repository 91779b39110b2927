"""Statement operators behind :func:`harness.generators.mutations.mutants_at`.

``stmt_mutants`` dispatches on one statement: conditions of ``if``/``while``/
``assert``, return values, augmented assignments, guard insertion, deletion and
insertion of a nearby statement. Conventions as in
:mod:`harness.generators.edit_text` (``cx`` is the file's index; edits are
character offsets into the original text).
"""

from __future__ import annotations

import ast

from harness.generators.index import Index, last_line
from harness.generators.edit_text import BINOP_SYMBOLS, Cand, add_cand, add_replacement, short, swap_table, fit, prec
from harness.generators.mutation_ops import condition_mutants

_AUG = swap_table("+: -, *; -: +; *: /, +, //; /: //, *; //: /, %, *; %: //, /; **: *; <<: >>; >>: <<; "
              "&: |, ^; |: &, ^; ^: &, |; @: *")
_KIND_CALLS = {"num": {"len", "sum", "int", "float", "abs", "round", "count", "min", "max"},
               "str": {"join", "format", "str", "strip", "lower", "upper", "replace"},
               "list": {"list", "sorted", "split"}, "dict": {"dict"},
               "iter": {"map", "filter", "reversed", "zip", "range", "keys", "values", "items"}}
_KIND_NODES = {ast.List: "list", ast.ListComp: "list", ast.Dict: "dict", ast.DictComp: "dict",
               ast.GeneratorExp: "iter", ast.JoinedStr: "str"}
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


# -- statement operators -----------------------------------------------------------
def stmt_mutants(cx: Index, st: ast.stmt) -> list[Cand]:
    """Candidates for one statement covering an asked line (any order)."""
    out: list[Cand] = []
    if isinstance(st, (ast.If, ast.While, ast.Assert)):
        condition_mutants(cx, st.test, st, out)
    elif isinstance(st, ast.Return):
        _return(cx, st, out)
    elif isinstance(st, ast.AugAssign):
        _augassign(cx, st, out)
    elif isinstance(st, ast.Assign) and len(st.targets) == 1 and cx.in_loop(st):
        a, b = cx.span(st.targets[0])[1], cx.span(st.value)[0]
        i = cx.text.find("=", a, b)
        if i >= 0:
            add_replacement(out, cx, "assign_swap", st, i, i + 1, "+=")
    _guard(cx, st, out)
    _delete(cx, st, out)
    _insert_nearby(cx, st, out)
    return out


def _augassign(cx: Index, st: ast.AugAssign, out: list[Cand]) -> None:
    sym = BINOP_SYMBOLS[type(st.op)][0]
    a, b = cx.span(st.target)[1], cx.span(st.value)[0]
    i = cx.text.find(sym + "=", a, b)
    if i < 0:
        return
    for new in _AUG.get(sym, ()):
        add_replacement(out, cx, "augassign_swap", st, i, i + len(sym) + 1, new + "=")
    add_replacement(out, cx, "assign_swap", st, i, i + len(sym) + 1, "=")


def _kind(v: ast.AST) -> str:
    """Rough type of a returned expression: num, str, list, dict, iter or ''."""
    if isinstance(v, ast.Call):
        name = getattr(v.func, "id", None) or getattr(v.func, "attr", "")
        return next((k for k, names in _KIND_CALLS.items() if name in names), "")
    if isinstance(v, ast.Constant):
        return {int: "num", float: "num", str: "str"}.get(type(v.value), "")
    if isinstance(v, (ast.UnaryOp, ast.BinOp)) and isinstance(v.op, (ast.USub, ast.Sub, ast.Mult,
                                                                     ast.Div, ast.FloorDiv, ast.Mod)):
        return "num"
    return _KIND_NODES.get(type(v), "")


def _return(cx: Index, st: ast.Return, out: list[Cand]) -> None:
    fn, v = cx.function(st), st.value
    if fn is None:
        return
    names = cx.names_near(fn, st.lineno)
    if v is None:
        start, end = cx.span(st)
        for n in names[:3]:
            add_replacement(out, cx, "return_value", st, start, end, f"return {n}")
        return
    start, end = cx.span(v)
    x, p, kind = cx.seg(v), prec(v), ("bool" if cx.is_bool(v) else _kind(v))
    texts = [] if isinstance(v, ast.Constant) and v.value is None else ["None"]
    if cx.boolish(fn) or kind == "bool":
        texts += ["not " + fit(x, p, 5), "True", "False"]
    if kind in ("num", ""):
        negated = isinstance(v, ast.UnaryOp) and isinstance(v.op, ast.USub)
        texts += ["0", "1"] + (["-" + fit(x, p, 13)] if kind and not negated else [])
    if kind in ("str", ""):
        texts.append("''")
    if kind in ("list", "iter", ""):
        texts.append("[]")
    if kind == "dict":
        texts.append("{}")
    texts += {"iter": [f"list({x})"], "str": [f"str({x})"]}.get(kind, [])
    if isinstance(v, ast.BinOp) and isinstance(v.op, ast.Div):
        texts.append(f"int({x})")
    others = [n for n in names[:4] if n != x][:3]
    # a returned variable is most often wrong for another variable (ManySStuBs4J's
    # "change identifier used"): those first
    texts = others + texts if isinstance(v, ast.Name) else texts + others
    for t in texts[:10]:
        add_replacement(out, cx, "return_value", st, start, end, t)


def _guard(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    fn = cx.function(st)
    if fn is None or isinstance(st, _FUNCS) or not cx.standalone(st):
        return
    params, used = set(cx.params(fn)), []
    for h in cx.header_nodes(st):
        for n in ast.walk(h):
            if isinstance(n, ast.Name) and n.id in params and n.id not in used:
                used.append(n.id)
    line = cx.first_line(st)
    lt = cx.line_text(line)
    indent, nl, at = lt[: len(lt) - len(lt.lstrip())], cx.newline(line), cx.line_starts[line - 1]
    gen, falsy = cx.scope(fn).generator, ("False" if cx.boolish(fn) else "0")
    if gen:
        forms = ["if {n} is None: return", "if not {n}: return"]
    else:
        forms = ["if {n} is None: return None", "if not {n}: return {n}", "if not {n}: return None",
                 "if not {n}: return " + falsy, "if not {n}: return []"]
    forms += ["if {n} is None: {n} = []", "if {n} is None: {n} = 0", "if {n} is None: {n} = ''"]
    for form in forms:
        for name in used[:2]:
            g = form.format(n=name)
            add_cand(out, "guard_insert", st, [(at, at, indent + g + nl)], f"insert `{g}`")


def _delete(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    if isinstance(st, (ast.Pass, ast.Global, ast.Nonlocal, *_FUNCS)) or cx.docstring(st):
        return
    if cx.compound(st) and last_line(st) - st.lineno > 3:
        return
    block, _ = cx.block(st)
    start, end = cx.span(st)
    what = f"delete `{short(cx.text[start:end])}`"
    if len(block) == 1 or not cx.standalone(st):
        add_cand(out, "delete_statement", st, [(start, end, "pass")], what)
    else:
        add_cand(out, "delete_statement", st,
              [(cx.line_starts[st.lineno - 1], cx.line_end(last_line(st)), "")], what)


def _insert_nearby(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    if isinstance(st, _FUNCS) or not cx.standalone(st):
        return
    block, i = cx.block(st)
    before = cx.line_starts[cx.first_line(st) - 1]
    after = cx.line_end(last_line(st))
    nl = cx.newline(last_line(st))
    for j in (i - 1, i + 1, i - 2, i + 2, i - 3, i + 3, i):
        if not 0 <= j < len(block):
            continue
        nb = block[j]
        if (cx.compound(nb) or isinstance(nb, ast.Pass) or cx.docstring(nb)
                or last_line(nb) - nb.lineno > 2 or not cx.standalone(nb)):
            continue
        copy = cx.text[cx.line_starts[nb.lineno - 1] : cx.line_end(last_line(nb))]
        body = copy.rstrip("\r\n")
        desc = f"copy of line {nb.lineno} `{short(body)}`"
        if j != i:
            add_cand(out, "insert_nearby_statement", st, [(before, before, body + nl)],
                  f"insert {desc} before")
        if isinstance(st, (ast.Return, ast.Raise, ast.Continue, ast.Break)):
            continue  # nothing after them runs
        tail = nl + body if after == len(cx.text) and not cx.text.endswith(("\n", "\r")) else body + nl
        add_cand(out, "insert_nearby_statement", st, [(after, after, tail)], f"insert {desc} after")

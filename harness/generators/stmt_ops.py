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
        target_end, value_start = cx.span(st.targets[0])[1], cx.span(st.value)[0]
        equals = cx.text.find("=", target_end, value_start)
        if equals >= 0:
            add_replacement(out, cx, "assign_swap", st, equals, equals + 1, "+=")
    _guard(cx, st, out)
    _delete(cx, st, out)
    _insert_nearby(cx, st, out)
    return out


def _augassign(cx: Index, st: ast.AugAssign, out: list[Cand]) -> None:
    sym = BINOP_SYMBOLS[type(st.op)][0]
    target_end, value_start = cx.span(st.target)[1], cx.span(st.value)[0]
    op_start = cx.text.find(sym + "=", target_end, value_start)
    if op_start < 0:
        return
    for new in _AUG.get(sym, ()):
        add_replacement(out, cx, "augassign_swap", st, op_start, op_start + len(sym) + 1, new + "=")
    add_replacement(out, cx, "assign_swap", st, op_start, op_start + len(sym) + 1, "=")


def _kind(value: ast.AST) -> str:
    """Rough type of a returned expression: num, str, list, dict, iter or ''."""
    if isinstance(value, ast.Call):
        name = getattr(value.func, "id", None) or getattr(value.func, "attr", "")
        return next((kind for kind, names in _KIND_CALLS.items() if name in names), "")
    if isinstance(value, ast.Constant):
        return {int: "num", float: "num", str: "str"}.get(type(value.value), "")
    if isinstance(value, (ast.UnaryOp, ast.BinOp)) and isinstance(value.op, (ast.USub, ast.Sub, ast.Mult,
                                                                     ast.Div, ast.FloorDiv, ast.Mod)):
        return "num"
    return _KIND_NODES.get(type(value), "")


def _return(cx: Index, st: ast.Return, out: list[Cand]) -> None:
    fn, value = cx.function(st), st.value
    if fn is None:
        return
    names = cx.names_near(fn, st.lineno)
    if value is None:
        start, end = cx.span(st)
        for name in names[:3]:
            add_replacement(out, cx, "return_value", st, start, end, f"return {name}")
        return
    start, end = cx.span(value)
    value_text, precedence, kind = cx.seg(value), prec(value), ("bool" if cx.is_bool(value) else _kind(value))
    texts = [] if isinstance(value, ast.Constant) and value.value is None else ["None"]
    if cx.boolish(fn) or kind == "bool":
        texts += ["not " + fit(value_text, precedence, 5), "True", "False"]
    if kind in ("num", ""):
        negated = isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub)
        texts += ["0", "1"] + (["-" + fit(value_text, precedence, 13)] if kind and not negated else [])
    if kind in ("str", ""):
        texts.append("''")
    if kind in ("list", "iter", ""):
        texts.append("[]")
    if kind == "dict":
        texts.append("{}")
    texts += {"iter": [f"list({value_text})"], "str": [f"str({value_text})"]}.get(kind, [])
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Div):
        texts.append(f"int({value_text})")
    others = [name for name in names[:4] if name != value_text][:3]
    # a returned variable is most often wrong for another variable (ManySStuBs4J's
    # "change identifier used"): those first
    texts = others + texts if isinstance(value, ast.Name) else texts + others
    for text in texts[:10]:
        add_replacement(out, cx, "return_value", st, start, end, text)


def _guard(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    fn = cx.function(st)
    if fn is None or isinstance(st, _FUNCS) or not cx.standalone(st):
        return
    params, used = set(cx.params(fn)), []
    for header in cx.header_nodes(st):
        for name_node in ast.walk(header):
            if isinstance(name_node, ast.Name) and name_node.id in params and name_node.id not in used:
                used.append(name_node.id)
    line = cx.first_line(st)
    line_text = cx.line_text(line)
    indent, nl, at = line_text[: len(line_text) - len(line_text.lstrip())], cx.newline(line), cx.line_starts[line - 1]
    gen, falsy = cx.scope(fn).generator, ("False" if cx.boolish(fn) else "0")
    if gen:
        forms = ["if {n} is None: return", "if not {n}: return"]
    else:
        forms = ["if {n} is None: return None", "if not {n}: return {n}", "if not {n}: return None",
                 "if not {n}: return " + falsy, "if not {n}: return []"]
    forms += ["if {n} is None: {n} = []", "if {n} is None: {n} = 0", "if {n} is None: {n} = ''"]
    for form in forms:
        for name in used[:2]:
            guard = form.format(n=name)
            add_cand(out, "guard_insert", st, [(at, at, indent + guard + nl)], f"insert `{guard}`")


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
    block, position = cx.block(st)
    before = cx.line_starts[cx.first_line(st) - 1]
    after = cx.line_end(last_line(st))
    nl = cx.newline(last_line(st))
    for near in (position - 1, position + 1, position - 2, position + 2, position - 3, position + 3, position):
        if not 0 <= near < len(block):
            continue
        neighbour = block[near]
        if (cx.compound(neighbour) or isinstance(neighbour, ast.Pass) or cx.docstring(neighbour)
                or last_line(neighbour) - neighbour.lineno > 2 or not cx.standalone(neighbour)):
            continue
        copy = cx.text[cx.line_starts[neighbour.lineno - 1] : cx.line_end(last_line(neighbour))]
        body = copy.rstrip("\r\n")
        desc = f"copy of line {neighbour.lineno} `{short(body)}`"
        if near != position:
            add_cand(out, "insert_nearby_statement", st, [(before, before, body + nl)],
                  f"insert {desc} before")
        if isinstance(st, (ast.Return, ast.Raise, ast.Continue, ast.Break)):
            continue  # nothing after them runs
        tail = nl + body if after == len(cx.text) and not cx.text.endswith(("\n", "\r")) else body + nl
        add_cand(out, "insert_nearby_statement", st, [(after, after, tail)], f"insert {desc} after")

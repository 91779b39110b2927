"""Edit text for the mutation operators: candidates, precedence, operands, arithmetic.

:class:`Cand` is an unvalidated candidate (operator id, anchor node, description, edits
``(start, end, text)`` as character offsets into the original text). The helpers build
replacement text that parses where it is put: ``prec``/``req``/``slot``/``fit`` decide
parentheses, ``infix``/``rebuild`` re-spell an infix expression with other operators or
operands in another order, ``plus_minus`` writes ``n ± 1`` folding integer constants.
``cx`` is the file's :class:`harness.generators.index.Index`. Used by every operator
module (:mod:`.mutation_ops`, :mod:`.stmt_ops`, :mod:`.reach_ops`, :mod:`.value_ops`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.generators.index import Index

#: ``(start, end, text)``: ``text`` replaces the original text's characters ``start:end``.
Edit = tuple[int, int, str]
#: the node a candidate is anchored at (its ``lineno`` is the mutant's line).
Anchor = ast.expr | ast.stmt


@dataclass(frozen=True)
class Cand:
    """One unvalidated mutant: operator id, anchor node (its ``lineno`` is the
    mutant's line), description, and edits on the original text."""

    op: str
    node: Anchor
    desc: str
    edits: tuple[Edit, ...]


#: the precedence of an atom (a name, a literal, a call): binds tightest.
ATOM = 16
#: binary operator type -> (symbol, precedence).
BINOP_SYMBOLS = {ast.Add: ("+", 11), ast.Sub: ("-", 11), ast.Mult: ("*", 12), ast.Div: ("/", 12),
        ast.FloorDiv: ("//", 12), ast.Mod: ("%", 12), ast.MatMult: ("@", 12), ast.Pow: ("**", 14),
        ast.LShift: ("<<", 10), ast.RShift: (">>", 10), ast.BitAnd: ("&", 9),
        ast.BitXor: ("^", 8), ast.BitOr: ("|", 7)}
#: binary operator symbol -> precedence.
SYMBOL_PRECEDENCE = dict(BINOP_SYMBOLS.values())
#: unary and boolean operator type -> precedence.
OP_PRECEDENCE = {ast.Not: 5, ast.USub: 13, ast.UAdd: 13, ast.Invert: 13, ast.And: 4, ast.Or: 3}
_PREC = {ast.Compare: 6, ast.IfExp: 2, ast.Lambda: 1, ast.Await: 15, ast.NamedExpr: 0,
         ast.Tuple: 0, ast.Starred: 0, ast.Yield: 0, ast.YieldFrom: 0}
#: comparison operator type -> symbol.
COMPARE_SYMBOLS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
        ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}


def swap_table(spec: str) -> dict[str, tuple[str, ...]]:
    """``"a: b, c; d: e"`` -> ``{"a": ("b", "c"), "d": ("e",)}``."""
    pairs = (p.split(":", 1) for p in spec.split(";"))
    return {k.strip(): tuple(v.strip() for v in vs.split(",")) for k, vs in pairs}


_WS = " \t\r\n\\\f"
_COMMENT = re.compile(r"#[^\r\n]*")



# -- precedence ---------------------------------------------------------------
def prec(n: ast.AST) -> int:
    """Precedence of an expression node (higher binds tighter; 16 = atom)."""
    if isinstance(n, ast.BinOp):
        return BINOP_SYMBOLS[type(n.op)][1]
    if isinstance(n, (ast.UnaryOp, ast.BoolOp)):
        return OP_PRECEDENCE[type(n.op)]
    return _PREC.get(type(n), ATOM)


def binop_operand_req(q: int) -> Callable[[int], int]:
    """Operand i of a binary operator of precedence q needs this precedence."""
    return (lambda i: 13 if i else 15) if q == 14 else (lambda i: q + 1 if i else q)


_ANY_SLOT = (ast.stmt, ast.keyword, ast.Slice, ast.List, ast.Set, ast.Dict, ast.Tuple,
             ast.arguments, ast.excepthandler, ast.withitem, ast.Lambda, ast.NamedExpr)


def req(cx: Index, n: ast.AST) -> int:
    """Precedence an expression needs to stand unparenthesized where ``n`` is (its parent and
    field from ``cx``)."""
    p, f = cx.parent(n), cx.field(n)
    if p is None or isinstance(p, _ANY_SLOT) or type(p).__name__ == "match_case":
        return 1
    if isinstance(p, ast.Call):
        return 1 if f == "args" else ATOM
    if isinstance(p, ast.Subscript):
        return 1 if f == "slice" else ATOM
    if isinstance(p, ast.BinOp):
        return binop_operand_req(BINOP_SYMBOLS[type(p.op)][1])(0 if f == "left" else 1)
    if isinstance(p, (ast.BoolOp, ast.UnaryOp)):
        return OP_PRECEDENCE[type(p.op)] + isinstance(p.op, (ast.And, ast.Or))
    if isinstance(p, (ast.Compare, ast.Starred)):
        return 7
    if isinstance(p, (ast.IfExp, ast.comprehension)):
        return 3
    return ATOM


def slot(cx: Index, n: ast.expr) -> int:
    """Like :func:`req`, but 1 when ``n`` already sits in its own parentheses."""
    r, (s, e) = req(cx, n), cx.span(n)
    before, after = cx.text[max(0, s - 200) : s].rstrip(), cx.text[e : e + 200].lstrip()
    return 1 if r > 1 and before.endswith("(") and after.startswith(")") else r


def fit(text: str, p: int, r: int) -> str:
    """``text`` (precedence p), parenthesized when the slot needs r > p."""
    return text if p >= r else f"({text})"


def short(s: str) -> str:
    """``s`` on one line, whitespace runs as one space, at most 60 characters (``...`` ending)."""
    s = " ".join(s.split())
    return s if len(s) <= 60 else s[:57] + "..."


def add_cand(out: list[Cand], op: str, node: Anchor, edits: list[Edit], desc: str) -> None:
    """Append to ``out`` the candidate of operator ``op`` anchored at ``node`` making ``edits``,
    described as ``line N: desc``."""
    out.append(Cand(op, node, f"line {node.lineno}: {desc}", tuple(edits)))


def run_ops(ops: tuple, cx: Index, node: Anchor) -> list[Cand]:
    """Candidates of the operator functions ``ops`` (each ``op(cx, node, out)``, appending
    to ``out``) for one node or statement, in the order of ``ops``."""
    out: list[Cand] = []
    for op in ops:
        op(cx, node, out)
    return out


def add_replacement(out: list[Cand], cx: Index, op: str, node: Anchor, s: int, e: int, new: str) -> None:
    """Append to ``out`` the candidate replacing the text ``s:e`` by ``new`` (described as
    ``old -> new``)."""
    add_cand(out, op, node, [(s, e, new)], f"`{short(cx.text[s:e])}` -> `{short(new)}`")


# -- infix operands with their own parentheses -----------------------------------
def infix(cx: Index, node: ast.expr, kids: Sequence[ast.expr]) -> tuple[list[list[int]], list[Edit]]:
    """For an infix node: ``ext[i]`` = [start, end] of operand i including its
    own parentheses; ``ops[i]`` = (start, end, text) of the operator after it."""
    ns, ne = cx.span(node)
    spans = [cx.span(k) for k in kids]
    ext = [[s, e] for s, e in spans]
    ext[0][0], ext[-1][1] = ns, ne
    opspans = []
    for i in range(len(kids) - 1):
        a, b = spans[i][1], spans[i + 1][0]
        gap = cx.text[a:b]
        if "#" in gap:
            gap = _COMMENT.sub(lambda m: " " * len(m.group()), gap)
        lead = len(gap) - len(gap.lstrip(")" + _WS))
        ext[i][1] = a + gap.rfind(")", 0, lead) + 1
        tail = len(gap.rstrip("(" + _WS))
        j = gap.find("(", tail)
        ext[i + 1][0] = a + j if j >= 0 else b
        opspans.append((a + lead, a + tail, " ".join(gap[lead:tail].split())))
    return ext, opspans


def _piece(cx: Index, kid: ast.expr, s: int, e: int) -> tuple[str, int]:
    return cx.text[s:e], (ATOM if s < cx.span(kid)[0] else prec(kid))


def rebuild(cx: Index, node: ast.expr, kids: Sequence[ast.expr], new_ops: Sequence[str | None],
            kid_req: Callable[[int], int],
            order: list[int] | None = None) -> str:
    """Text of an infix node with operator i replaced by ``new_ops[i]`` (None
    keeps it) and operands placed in ``order``, each parenthesized as needed."""
    ext, opsp = infix(cx, node, kids)
    order = order or list(range(len(kids)))
    out = []
    for i, k in enumerate(order):
        out.append(fit(*_piece(cx, kids[k], *ext[k]), kid_req(i)))
        if i < len(kids) - 1:
            s, e, _ = opsp[i]
            left, right = cx.text[ext[i][1] : s], cx.text[e : ext[i + 1][0]]
            op = new_ops[i] or cx.text[s:e]
            if op[0].isalpha() and not left:
                op = " " + op
            if op[-1].isalpha() and not right:
                op += " "
            out.append(left + op + right)
    return "".join(out)


def int_value(n: ast.AST) -> int | None:
    """The value of an integer literal such as ``3`` or ``-1``, else None."""
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
        v = int_value(n.operand)
        return None if v is None else -v
    return n.value if isinstance(n, ast.Constant) and type(n.value) is int else None


def plus_minus(cx: Index, n: ast.expr, d: int) -> tuple[str, int]:
    """Text (and precedence) of ``n + d``, folding integer constants."""
    value = int_value(n)
    if value is not None:
        v = value + d
        return str(v), (ATOM if v >= 0 else 13)
    if (isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub))
            and isinstance(n.right, ast.Constant) and type(n.right.value) is int):
        c = (n.right.value if isinstance(n.op, ast.Add) else -n.right.value) + d
        ext, _ = infix(cx, n, [n.left, n.right])
        lt, lp = _piece(cx, n.left, *ext[0])
        if c == 0:
            return lt, lp
        return f"{fit(lt, lp, 11)} {'+' if c > 0 else '-'} {abs(c)}", 11
    return f"{fit(cx.seg(n), prec(n), 11)} {'+' if d > 0 else '-'} 1", 11



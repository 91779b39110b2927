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
    pairs = (pair.split(":", 1) for pair in spec.split(";"))
    return {key.strip(): tuple(value.strip() for value in replacements.split(",")) for key, replacements in pairs}


_WS = " \t\r\n\\\f"
_COMMENT = re.compile(r"#[^\r\n]*")



# -- precedence ---------------------------------------------------------------
def prec(node: ast.AST) -> int:
    """Precedence of an expression node (higher binds tighter; 16 = atom)."""
    if isinstance(node, ast.BinOp):
        return BINOP_SYMBOLS[type(node.op)][1]
    if isinstance(node, (ast.UnaryOp, ast.BoolOp)):
        return OP_PRECEDENCE[type(node.op)]
    return _PREC.get(type(node), ATOM)


def binop_operand_req(precedence: int) -> Callable[[int], int]:
    """Operand i of a binary operator of precedence q needs this precedence."""
    return (lambda operand: 13 if operand else 15) if precedence == 14 else (lambda operand: precedence + 1 if operand else precedence)


_ANY_SLOT = (ast.stmt, ast.keyword, ast.Slice, ast.List, ast.Set, ast.Dict, ast.Tuple,
             ast.arguments, ast.excepthandler, ast.withitem, ast.Lambda, ast.NamedExpr)


def req(cx: Index, node: ast.AST) -> int:
    """Precedence an expression needs to stand unparenthesized where ``node`` is (its parent and
    field from ``cx``)."""
    parent, field = cx.parent(node), cx.field(node)
    if parent is None or isinstance(parent, _ANY_SLOT) or type(parent).__name__ == "match_case":
        return 1
    if isinstance(parent, ast.Call):
        return 1 if field == "args" else ATOM
    if isinstance(parent, ast.Subscript):
        return 1 if field == "slice" else ATOM
    if isinstance(parent, ast.BinOp):
        return binop_operand_req(BINOP_SYMBOLS[type(parent.op)][1])(0 if field == "left" else 1)
    if isinstance(parent, (ast.BoolOp, ast.UnaryOp)):
        return OP_PRECEDENCE[type(parent.op)] + isinstance(parent.op, (ast.And, ast.Or))
    if isinstance(parent, (ast.Compare, ast.Starred)):
        return 7
    if isinstance(parent, (ast.IfExp, ast.comprehension)):
        return 3
    return ATOM


def slot(cx: Index, node: ast.expr) -> int:
    """Like :func:`req`, but 1 when ``node`` already sits in its own parentheses."""
    need, (start, end) = req(cx, node), cx.span(node)
    before, after = cx.text[max(0, start - 200) : start].rstrip(), cx.text[end : end + 200].lstrip()
    return 1 if need > 1 and before.endswith("(") and after.startswith(")") else need


def fit(text: str, precedence: int, need: int) -> str:
    """``text`` (precedence p), parenthesized when the slot needs r > p."""
    return text if precedence >= need else f"({text})"


def bare_break(text: str) -> bool:
    """Does ``text`` hold a line break outside brackets (it does not parse as an expression
    alone)? Such a text is only valid where the slot itself is inside brackets."""
    if "\n" not in text and "\r" not in text:
        return False
    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        return True
    return False


def short(text: str) -> str:
    """``text`` on one line, whitespace runs as one space, at most 60 characters (``...`` ending)."""
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


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


def add_replacement(out: list[Cand], cx: Index, op: str, node: Anchor, start: int, end: int, new: str) -> None:
    """Append to ``out`` the candidate replacing the text ``s:e`` by ``new`` (described as
    ``old -> new``)."""
    add_cand(out, op, node, [(start, end, new)], f"`{short(cx.text[start:end])}` -> `{short(new)}`")


# -- infix operands with their own parentheses -----------------------------------
def infix(cx: Index, node: ast.expr, kids: Sequence[ast.expr]) -> tuple[list[list[int]], list[Edit]]:
    """For an infix node: ``ext[i]`` = [start, end] of operand i including its
    own parentheses; ``ops[i]`` = (start, end, text) of the operator after it."""
    node_start, node_end = cx.span(node)
    spans = [cx.span(kid) for kid in kids]
    ext = [[start, end] for start, end in spans]
    ext[0][0], ext[-1][1] = node_start, node_end
    opspans = []
    for i in range(len(kids) - 1):
        gap_start, gap_end = spans[i][1], spans[i + 1][0]
        gap = cx.text[gap_start:gap_end]
        if "#" in gap:
            gap = _COMMENT.sub(lambda match: " " * len(match.group()), gap)
        lead = len(gap) - len(gap.lstrip(")" + _WS))
        ext[i][1] = gap_start + gap.rfind(")", 0, lead) + 1
        tail = len(gap.rstrip("(" + _WS))
        paren = gap.find("(", tail)
        ext[i + 1][0] = gap_start + paren if paren >= 0 else gap_end
        opspans.append((gap_start + lead, gap_start + tail, " ".join(gap[lead:tail].split())))
    return ext, opspans


def _piece(cx: Index, kid: ast.expr, start: int, end: int) -> tuple[str, int]:
    return cx.text[start:end], (ATOM if start < cx.span(kid)[0] else prec(kid))


def rebuild(cx: Index, node: ast.expr, kids: Sequence[ast.expr], new_ops: Sequence[str | None],
            kid_req: Callable[[int], int],
            order: list[int] | None = None) -> str:
    """Text of an infix node with operator i replaced by ``new_ops[i]`` (None
    keeps it) and operands placed in ``order``, each parenthesized as needed."""
    ext, opsp = infix(cx, node, kids)
    order = order or list(range(len(kids)))
    out = []
    for i, kid_index in enumerate(order):
        out.append(fit(*_piece(cx, kids[kid_index], *ext[kid_index]), kid_req(i)))
        if i < len(kids) - 1:
            start, end, _ = opsp[i]
            left, right = cx.text[ext[i][1] : start], cx.text[end : ext[i + 1][0]]
            op = new_ops[i] or cx.text[start:end]
            if op[0].isalpha() and not left:
                op = " " + op
            if op[-1].isalpha() and not right:
                op += " "
            out.append(left + op + right)
    return "".join(out)


def int_value(node: ast.AST) -> int | None:
    """The value of an integer literal such as ``3`` or ``-1``, else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = int_value(node.operand)
        return None if value is None else -value
    return node.value if isinstance(node, ast.Constant) and type(node.value) is int else None


def plus_minus(cx: Index, node: ast.expr, delta: int) -> tuple[str, int]:
    """Text (and precedence) of ``n + d``, folding integer constants."""
    value = int_value(node)
    if value is not None:
        result = value + delta
        return str(result), (ATOM if result >= 0 else 13)
    if (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub))
            and isinstance(node.right, ast.Constant) and type(node.right.value) is int):
        constant = (node.right.value if isinstance(node.op, ast.Add) else -node.right.value) + delta
        ext, _ = infix(cx, node, [node.left, node.right])
        left_text, left_precedence = _piece(cx, node.left, *ext[0])
        if constant == 0:
            return left_text, left_precedence
        return f"{fit(left_text, left_precedence, 11)} {'+' if constant > 0 else '-'} {abs(constant)}", 11
    return f"{fit(cx.seg(node), prec(node), 11)} {'+' if delta > 0 else '-'} 1", 11


def param_names(signature: ast.arguments) -> list[str]:
    """Every parameter name of a signature, ``self``/``cls``, ``*args`` and ``**kwargs`` included."""
    return [param.arg for param in [*signature.posonlyargs, *signature.args, *signature.kwonlyargs,
                                    signature.vararg, signature.kwarg] if param]


def module_names(tree: ast.Module) -> set[str]:
    """Names a module binds at its top level: assignments (also inside top-level ``if``/``try``
    blocks), definitions, and imports (``import a.b`` binds ``a``)."""
    out: set[str] = set()
    for st in tree.body:
        for node in [st] if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else ast.walk(st):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                out.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                out.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return out


def line_indent(cx: Index, line: int) -> str:
    """The leading whitespace of line ``line`` (1-based) of ``cx``'s text."""
    text = cx.line_text(line)
    return text[: len(text) - len(text.lstrip())]

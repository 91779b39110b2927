"""The points of the angelic probe (:mod:`harness.core.angelic`): which conditions and
statements of the suspicious lines it probes, and the probe patch that lets a test run force
them.

A point is a condition (an ``if``/``elif``/``while`` test, a conditional expression's, a
comprehension's filter, or an operand of one of them that is an ``and``/``or``), a simple
statement (skipped when forced), or an early exit (``continue``, ``break``, ``return VALUE``
on a new line before a statement, taken when forced). Pure: files are read through the
``read`` function given.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass

from harness.core.angelic_grammar import predicates
from harness.core.context import SuspiciousLocation
from harness.core.localize import is_protected
from sandbox.patch import Patch, PatchError

#: points probed at most: ``if`` statements, simple statements.
MAX_CONDITIONS, MAX_STATEMENTS = 4, 2
#: early exits probed at most (``continue``, ``break``, ``return ...`` before a statement).
MAX_EXITS = 3
#: suspicious locations looked at for points (most suspicious first).
MAX_LOCATIONS = 30
_SIMPLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Delete)


@dataclass(frozen=True)
class Point:
    """One probed statement of ``path``: ``kind`` ``"if"`` (a condition, ``source[start:end]``
    and ``test``: an ``if``/``elif``/``while``'s test, a conditional expression's, a
    comprehension's filter, or an operand of one of them that is an ``and``/``or``), ``"stmt"`` (a simple statement starting at ``start``, the
    only one on its line) or ``"exit"`` (the statement ``exit``, e.g. ``continue`` or
    ``return out``, that a new line at ``start``, the start of the statement's line, could run
    first); ``exprs`` what the probe evaluates there."""

    id: int
    path: str
    line: int
    kind: str
    start: int
    end: int
    exprs: tuple[str, ...]
    exit: str = ""
    test: str = ""  # an "if" point's condition, as written

    def spec(self) -> dict:
        """The point as the plugin's spec wants it."""
        return {"id": self.id, "predicates": list(self.exprs)}


def char_offset(lines: list[str], line: int, col: int) -> int:
    """Character offset of ``col`` (UTF-8 bytes, as ``ast`` counts) on 1-based ``line``."""
    return sum(len(t) for t in lines[: line - 1]) + len(lines[line - 1].encode("utf-8")[:col].decode("utf-8", "replace"))


def find_points(locations: list[SuspiciousLocation], read, protected: tuple[str, ...]) -> list[Point]:
    """The points of the most suspicious ``locations`` (``read(path)`` gives a file's text or
    None): ``if``/``elif``/``while`` statements first met, then simple statements, in
    suspiciousness order."""
    conds: list[Point] = []
    stmts: list[Point] = []
    exits: list[Point] = []
    trees: dict[str, tuple[ast.Module, list[str], str, dict[int, list[ast.stmt]]] | None] = {}
    for loc in locations[:MAX_LOCATIONS]:
        if len(conds) >= MAX_CONDITIONS and len(stmts) >= MAX_STATEMENTS and len(exits) >= MAX_EXITS:
            break
        if not loc.path.endswith(".py") or is_protected(loc.path, protected) or loc.score <= 0:
            continue
        if loc.path not in trees:
            text = read(loc.path) or ""
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError):
                trees[loc.path] = None
            else:
                by_line: dict[int, list[ast.stmt]] = {}  # the statements starting on each line, walk order
                for node in ast.walk(tree):
                    if isinstance(node, ast.stmt):
                        by_line.setdefault(node.lineno, []).append(node)
                trees[loc.path] = (tree, text.splitlines(keepends=True), text, by_line)
        parsed = trees[loc.path]
        if parsed is None:
            continue
        tree, lines, source, by_line = parsed
        here = by_line.get(loc.line, [])
        n = len(conds) + len(stmts) + len(exits)
        alone = [st for st in here if not lines[st.lineno - 1][: st.col_offset].strip()]
        if len(alone) == 1 and len(exits) < MAX_EXITS and not lines[loc.line - 1].lstrip().startswith(("elif", "else")):
            start = char_offset(lines, loc.line, 0)
            for text in _exits(tree, alone[0])[: MAX_EXITS - len(exits)]:
                exits.append(Point(n, loc.path, loc.line, "exit", start, start, tuple(predicates(tree, loc.line)), text))
                n += 1
        tests = conditions_at(tree, loc.line)
        if tests and len(conds) < MAX_CONDITIONS:
            for test in tests[: MAX_CONDITIONS - len(conds)]:
                start = char_offset(lines, test.lineno, test.col_offset)
                end = char_offset(lines, test.end_lineno or test.lineno, test.end_col_offset or 0)
                conds.append(Point(n, loc.path, loc.line, "if", start, end, tuple(predicates(tree, loc.line, test)),
                                   test=source[start:end]))
                n += 1
        elif len(here) == 1 and isinstance(here[0], _SIMPLE) and len(stmts) < MAX_STATEMENTS:
            st = here[0]
            start = char_offset(lines, st.lineno, st.col_offset)
            if not lines[st.lineno - 1][: st.col_offset].strip():  # alone on its line
                stmts.append(Point(n, loc.path, loc.line, "stmt", start, start, tuple(predicates(tree, loc.line))))
    return conds + stmts + exits


def conditions_at(tree: ast.Module, line: int) -> list[ast.expr]:
    """The conditions that start on ``line``: an ``if``/``elif``/``while`` statement's test, a
    conditional expression's, a comprehension's filter, a returned value that is always a
    ``bool`` (a predicate function's); then the operands of each that is an ``and``/``or`` (a fix
    often tightens or widens one of them)."""
    whole: list[ast.expr] = []
    for node in _walk_over(tree, line):
        if isinstance(node, (ast.If, ast.While)) and node.lineno == line:
            whole.append(node.test)
        elif isinstance(node, ast.IfExp) and node.test.lineno == line:
            whole.append(node.test)
        elif isinstance(node, ast.comprehension):
            whole += [e for e in node.ifs if e.lineno == line]
        elif isinstance(node, ast.Return) and node.lineno == line and node.value is not None and _boolean(node.value):
            whole.append(node.value)
    whole.sort(key=lambda e: e.col_offset)
    parts = [v for e in whole if isinstance(e, ast.BoolOp) for v in e.values]
    return whole + parts


def _walk_over(tree: ast.AST, line: int) -> list[ast.AST]:
    """The nodes of ``tree`` whose lines hold ``line`` (a decorated definition's from its first
    decorator), and those without a position, in :func:`ast.walk`'s order: the walk, less the
    subtrees that cannot hold anything on ``line``."""
    out: list[ast.AST] = []
    todo = deque([tree])
    while todo:
        node = todo.popleft()
        out.append(node)
        for kid in ast.iter_child_nodes(node):
            first = min([getattr(kid, "lineno", line)] + [d.lineno for d in getattr(kid, "decorator_list", [])])
            if first <= line <= (getattr(kid, "end_lineno", None) or line):
                todo.append(kid)
    return out


def _boolean(e: ast.expr) -> bool:
    """``e`` is a truth value by its form: a comparison, a ``not``, an ``isinstance``/``hasattr``/
    ``callable``/``startswith``/``endswith`` call or one of a predicate's name (``is...``,
    ``has...``), or an ``and``/``or`` of those (forcing it keeps its meaning)."""
    if isinstance(e, ast.BoolOp):
        return all(_boolean(v) for v in e.values)
    if isinstance(e, ast.Call):
        name = e.func.id if isinstance(e.func, ast.Name) else e.func.attr if isinstance(e.func, ast.Attribute) else ""
        return name in ("isinstance", "hasattr", "callable", "startswith", "endswith") or name.startswith(("is", "has"))
    return isinstance(e, ast.Compare) or (isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not))


def _exits(tree: ast.Module, st: ast.stmt) -> list[str]:
    """The early exits a guard before ``st`` could take, most likely first: ``continue`` (and
    ``break``) in a loop, ``return`` with each simple value the function returns elsewhere (a
    name, an attribute, a constant, an empty literal; bare in a generator or a function
    returning nothing). None before a ``return``/``raise`` or outside a function."""
    if isinstance(st, (ast.Return, ast.Raise, ast.Pass, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or (
            isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant)):  # a docstring
        return []
    parents: dict[int, ast.AST] = {id(c): n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
    node: ast.AST = st
    loop = None
    while id(node) in parents:
        node = parents[id(node)]
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)) and loop is None:
            loop = node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            break
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return ["continue", "break"] if loop is not None else []
    own = [n for n in ast.walk(node) if not _nested(n, node, parents)]
    returns = [n for n in own if isinstance(n, ast.Return)]
    out = ["continue", "break"] if loop is not None else []
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in own) or not any(r.value for r in returns):
        return out + ["return"]
    for r in returns:
        v = r.value
        if v is None or (isinstance(v, ast.Constant) and v.value is None):
            text = "return"
        elif isinstance(v, (ast.Name, ast.Attribute, ast.Constant)) or (
                isinstance(v, (ast.List, ast.Dict, ast.Tuple, ast.Set)) and not ast.unparse(v).strip("[](){}")):
            text = f"return {ast.unparse(v)}"
        else:
            continue
        if text not in out and r.lineno != st.lineno:
            out.append(text)
    return out


def _nested(n: ast.AST, fn: ast.AST, parents: dict[int, ast.AST]) -> bool:
    """``n`` is inside a function or class nested in ``fn``."""
    while id(n) in parents and n is not fn:
        n = parents[id(n)]
        if n is not fn and isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return True
    return False


def probe_patch(points: list[Point], read) -> Patch | None:
    """The probe patch: each point's condition ``C`` written ``__lw_probe__(n, (C))`` (an operand
    of a condition that is a point too, inside it), each
    statement ``S`` ``if __lw_probe__(n, True): S`` on the same line, and each early exit a new
    line ``if __lw_probe__(n, False): EXIT`` before its statement; None when a file cannot be
    read or the result does not parse."""
    changes: dict[str, tuple[str, str]] = {}
    for path in dict.fromkeys(p.path for p in points):
        old = read(path)
        if old is None:
            return None
        new = old
        grown: list[tuple[int, int, int]] = []  # (start, end, characters added) of the edits made
        for p in sorted((p for p in points if p.path == path), key=lambda p: (-p.start, p.end, -p.id)):
            if p.kind == "if":  # an operand inside a test it wraps was wrapped first: its end moved
                end = p.end + sum(d for a, b, d in grown if p.start <= a and b <= p.end)
                head = f"__lw_probe__({p.id}, ("
                new = f"{new[:p.start]}{head}{new[p.start:end]})){new[end:]}"
                grown.append((p.start, p.end, len(head) + 2))
            elif p.kind == "exit":
                line = new[p.start:new.find("\n", p.start) + 1 or len(new)]
                indent = line[: len(line) - len(line.lstrip(" \t"))]
                new = f"{new[:p.start]}{indent}if __lw_probe__({p.id}, False): {p.exit}\n{new[p.start:]}"
            else:
                new = f"{new[:p.start]}if __lw_probe__({p.id}, True): {new[p.start:]}"
        try:
            ast.parse(new)
        except (SyntaxError, ValueError):
            return None
        changes[path] = (old, new)
    try:
        return Patch.from_texts(changes, "angelic probe", {"generator": "angelic"})
    except PatchError:
        return None

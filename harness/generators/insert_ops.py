"""Statements synthesized from the surrounding code: operators behind
:func:`harness.generators.mutations.mutants_at` that insert a whole missing statement (issue 21).

The older statement operators copy a neighbouring line or drop one; a missing statement is
often one the code implies but never wrote:

- ``insert_append``: an in-scope value appended to an in-scope list that is used later
  (``out.append(x)``), in the method the list already uses (``append``, ``add``, ...);
- ``carry_forward``: in a loop, a name set before the loop and read in it is given the loop
  variable (``prev = x``): the assignment that carries a value to the next iteration;
- ``restore_statement``: a call statement or an increment written elsewhere in the same
  function (or, for ``self.m()`` calls, in the same class) restored after this statement:
  the push onto a stack in the branch that lacks it, a deleted ``count += 1``, a reset call;
  and ``n += 1`` for a counter set to a number and never changed;
- ``branch_statement``: a one-line statement of the other branch of the same ``if``,
  missing from this branch, inserted before its first statement or after its last (an
  LRU cache's ``self.cache[key] = value`` in the ``else`` only, where the ``if`` branch
  that moves the key must store the value too);
- ``return_call``: ``f(x)`` -> ``return f(x)``: a call whose value is dropped in a function
  that returns values.

Conventions as in :mod:`.edit_text` (``cx`` is the file's :class:`harness.generators.index.Index`;
edits are character offsets into the original text).
"""

from __future__ import annotations

import ast
from typing import TypeGuard

from harness.generators.index import FunctionNode, Index, last_line
from harness.generators.edit_text import Cand, line_indent, add_cand, short, run_ops

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_ADDERS = ("append", "add", "appendleft", "push", "put", "extend")
_ENDS = (ast.Return, ast.Raise, ast.Continue, ast.Break)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)


def _indent(cx: Index, st: ast.stmt) -> str:
    return line_indent(cx, cx.first_line(st))  # decorators included


def insert_line(cx: Index, st: ast.stmt, body: str, op: str, desc: str, out: list[Cand]) -> None:
    """Insert the line ``body`` at ``st``'s indentation: after ``st``, or before it when
    nothing after it runs (a return, raise, break, continue)."""
    nl = cx.newline(st.lineno)
    if isinstance(st, _ENDS):
        at = cx.line_starts[cx.first_line(st) - 1]
        add_cand(out, op, st, [(at, at, _indent(cx, st) + body + nl)], f"insert `{short(body)}` before")
        return
    after = cx.line_end(last_line(st))
    line = _indent(cx, st) + body
    tail = nl + line if after == len(cx.text) and not cx.text.endswith(("\n", "\r")) else line + nl
    add_cand(out, op, st, [(after, after, tail)], f"insert `{short(body)}` {desc}")


def _simple(cx: Index, st: ast.stmt) -> bool:
    """A standalone simple statement inside a function (where a statement may be added)."""
    return cx.function(st) is not None and not cx.compound(st) and cx.standalone(st) and not cx.docstring(st)


def _block_texts(cx: Index, st: ast.stmt) -> set[str]:
    block, _ = cx.block(st)
    return {" ".join(cx.seg(sibling).split()) for sibling in block}


# -- operators -------------------------------------------------------------------
class _Facts:
    """What one function (walked once) offers the insertion operators: the lists it adds to
    (name -> method), its one-line call statements and increments, the names it increments,
    and its ``name = <int>`` assignments."""

    def __init__(self, fn: FunctionNode) -> None:
        self.adders: dict[str, str] = {}
        self.restorable: list[ast.stmt] = []
        self.incremented: set[str] = set()
        self.int_sets: list[tuple[str, int]] = []  # (name, line) of `name = <int>`
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _ADDERS[:5] \
                    and isinstance(node.func.value, ast.Name):
                self.adders.setdefault(node.func.value.id, node.func.attr)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(target := node.targets[0], ast.Name):
                if isinstance(node.value, ast.List) and not node.value.elts:
                    self.adders.setdefault(target.id, "append")
                elif isinstance(node.value, ast.Constant) and type(node.value.value) is int:
                    self.int_sets.append((target.id, node.lineno))
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                self.incremented.add(node.target.id)
            if _restorable(node):
                self.restorable.append(node)


def _new_facts(cx: Index) -> dict[FunctionNode, _Facts]:
    return {}


def _new_class_calls(cx: Index) -> dict[ast.ClassDef, list[ast.stmt]]:
    return {}


def _facts(cx: Index, fn: FunctionNode) -> _Facts:
    cache = cx.memo(_new_facts)
    got = cache.get(fn)
    if got is None:
        got = cache[fn] = _Facts(fn)
    return got


def insert_append(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """``lst.append(v)`` after ``st``: ``lst`` a list (or set, deque) this function adds to
    with that method and reads after ``st`` (or in a loop around it), ``v`` the three nearest
    other names in scope."""
    fn = cx.function(st)
    if fn is None or not _simple(cx, st):
        return
    adders = _facts(cx, fn).adders
    if not adders:
        return
    near = cx.names_near(fn, st.lineno)
    later = {name_node.id for name_node in cx.scope(fn).names if name_node.lineno > last_line(st) and isinstance(name_node.ctx, ast.Load)}
    texts = _block_texts(cx, st)
    for lst in [name for name in near if name in adders and (name in later or cx.in_loop(st))][:2]:
        for value in [name for name in near if name != lst and "." not in name][:3]:
            body = f"{lst}.{adders[lst]}({value})"
            if body not in texts:
                insert_line(cx, st, body, "insert_append", "after", out)


def carry_forward(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """In a ``for`` loop, ``prev = x`` after ``st``: ``prev`` set before the loop and read in
    it but never set in it, ``x`` the loop variable (or a name set in the loop)."""
    if not _simple(cx, st) or isinstance(st, _ENDS):
        return
    loop = cx.parent(st)
    while loop is not None and not isinstance(loop, (_LOOPS + _FUNCS)):
        loop = cx.parent(loop)
    if not isinstance(loop, (ast.For, ast.AsyncFor)):
        return
    inside = [name_node for body_stmt in loop.body for name_node in ast.walk(body_stmt) if isinstance(name_node, ast.Name)]
    stored = {name_node.id for name_node in inside if isinstance(name_node.ctx, ast.Store)}
    read = [name_node.id for name_node in inside if isinstance(name_node.ctx, ast.Load)]
    targets = [name_node.id for name_node in ast.walk(loop.target) if isinstance(name_node, ast.Name)]
    before = {name_node.id for name_node in cx.scope(cx.function(st)).names if isinstance(name_node.ctx, ast.Store) and name_node.lineno < loop.lineno}
    before |= set(cx.params(cx.function(st)))
    carried = [name for name in dict.fromkeys(read) if name in before and name not in stored and name not in targets]
    values = targets + sorted(stored - set(targets))
    for name in carried[:2]:
        for value in values[:3]:
            insert_line(cx, st, f"{name} = {value}", "carry_forward", "after", out)


def restore_statement(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """A call statement or increment written elsewhere in the function (nearest first; the
    class's ``self.m()`` calls too) and missing from ``st``'s block, inserted after ``st``;
    ``n += 1`` for a name set to a number that nothing changes, inside a loop."""
    fn = cx.function(st)
    if fn is None or not _simple(cx, st):
        return
    facts = _facts(cx, fn)
    pool = sorted((node for node in facts.restorable if node is not st), key=lambda node: abs(node.lineno - st.lineno))
    cls = cx.parent(fn)
    if isinstance(cls, ast.ClassDef):  # the class's self.m() calls, after the function's own
        pool += [node for node in _class_calls(cx, cls) if not fn.lineno <= node.lineno <= last_line(fn)][:8]
    texts = _block_texts(cx, st)
    bodies = [" ".join(cx.seg(node).split()) for node in pool]
    if cx.in_loop(st):
        bodies += [f"{name} += 1" for name, line in facts.int_sets
                   if name not in facts.incremented and line < st.lineno]
    for body in [text for text in dict.fromkeys(bodies) if text not in texts and len(text) <= 80][:4]:
        insert_line(cx, st, body, "restore_statement", "after (as written elsewhere)", out)


def branch_statement(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """Up to two one-line statements (assignment, increment, call) of the other branch of
    the ``if`` holding ``st`` that ``st``'s branch lacks: before ``st`` when it opens its
    branch, after it when it closes it (before when it is a return, raise, ...)."""
    parent = cx.parent(st)
    if not isinstance(parent, ast.If) or not _simple(cx, st):
        return
    mine, other = (parent.body, parent.orelse) if st in parent.body else (parent.orelse, parent.body)
    if st not in (mine[0], mine[-1]):
        return
    texts = _block_texts(cx, st)
    moves = [node for node in other if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr))
             and node.lineno == last_line(node) and not cx.docstring(node)]
    for node in moves[:2]:
        body = " ".join(cx.seg(node).split())
        if body in texts or len(body) > 80:
            continue
        if st is mine[0]:
            at = cx.line_starts[cx.first_line(st) - 1]
            add_cand(out, "branch_statement", st, [(at, at, _indent(cx, st) + body + cx.newline(st.lineno))],
                     f"insert `{short(body)}` before (as the other branch does)")
        if st is mine[-1] and (st is not mine[0] or not isinstance(st, _ENDS)):
            insert_line(cx, st, body, "branch_statement", "after (as the other branch does)", out)


def _restorable(node: ast.AST) -> TypeGuard[ast.stmt]:
    """A one-line call statement (not a print or a docstring) or an increment."""
    if not isinstance(node, ast.stmt) or node.lineno != last_line(node):
        return False
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        return not (isinstance(func, ast.Name) and func.id in ("print", "breakpoint"))
    return isinstance(node, ast.AugAssign)


def _class_calls(cx: Index, cls: ast.ClassDef) -> list[ast.stmt]:
    """The one-line ``self.m(...)`` call statements of a class's methods, in order of
    appearance; the same call text once."""
    cache = cx.memo(_new_class_calls)
    if cls not in cache:
        seen: set[str] = set()
        got: list[ast.stmt] = []
        for method in cls.body:
            if isinstance(method, _FUNCS):
                for node in ast.walk(method):
                    if _restorable(node) and _self_call(node) and (text := cx.seg(node)) not in seen:
                        seen.add(text)
                        got.append(node)
        cache[cls] = got
    return cache[cls]


def _self_call(node: ast.stmt) -> bool:
    func = getattr(getattr(node, "value", None), "func", None)
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self"


def return_call(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """``f(x)`` -> ``return f(x)`` in a function (not a generator) that returns a value elsewhere."""
    if not (isinstance(st, ast.Expr) and isinstance(st.value, (ast.Call, ast.Await))) or cx.function(st) is None:
        return
    info = cx.scope(cx.function(st))
    if info.generator or not any(ret.value is not None for ret in info.returns):
        return
    start = cx.span(st)[0]
    add_cand(out, "return_call", st, [(start, start, "return ")], f"return the value of `{short(cx.seg(st))}`")


def stmt_mutants(cx: Index, st: ast.stmt) -> list[Cand]:
    """Candidates of this module's operators for one statement (any order)."""
    return run_ops((return_call, restore_statement, branch_statement, insert_append, carry_forward), cx, st)

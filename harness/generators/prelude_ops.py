"""A value handed to a parser without the preparation the other path gives it: an operator
behind :func:`harness.generators.mutations.mutants_at` (issue 21: statement insertion
synthesized from the code around it).

A library often has two ways into one parser: the main entry normalizes its text first
(``s = s.replace("\\r\\n", "\\n")``, then ``state.process(s)``) and a second entry, added
later, passes its text straight on (``state.child_state(content)``, whose body calls
``child.process(src)``). A bug report then says the second path mishandles input the first
accepts (CRLF line ends, surrounding blanks, case).

``sink_prelude``: for a call ``x.m(v)`` on a suspicious statement (``v`` a plain name), the
*sinks* are ``m`` and the methods ``m`` hands its first parameter to (``def child_state(self,
src): ... child.process(src)``), found in this module and the repository modules it imports
(``TYPE_CHECKING`` imports too). Another function of those modules that calls a sink as
``y.k(w)`` after rebinding ``w`` by pure methods in the same block (``w = w.replace(...)``,
:data:`.result_ops.PURE_METHODS`) is the donor: its rebinding statements, ``w`` renamed to
``v``, are inserted before the statement (all of them, then the first alone).

Edits are character offsets into the original text, as in :mod:`harness.generators.edit_text`.
"""

from __future__ import annotations

import ast

from harness.generators.edit_text import Cand, add_cand, line_indent, run_ops, short
from harness.generators.facts import shared
from harness.generators.forward_ops import MAX_OTHER, module_files
from harness.generators.index import Index
from harness.generators.result_ops import PURE_METHODS
from harness.core.tree_memo import nodes

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
#: parsed other modules by text: the last few (a search asks the same ones).
_TREES: dict[str, ast.Module | None] = {}
#: rebinding statements copied from one donor block at most.
MAX_PRELUDE = 4


def _tree_of(text: str) -> ast.Module | None:
    if text not in _TREES:
        if len(_TREES) >= 8:
            _TREES.pop(next(iter(_TREES)))
        try:
            _TREES[text] = ast.parse(text) if len(text) <= MAX_OTHER else None
        except (SyntaxError, ValueError):
            _TREES[text] = None
    return _TREES[text]


def _modules(cx: Index) -> list[tuple[ast.Module, str]]:
    """This module and the repository modules it imports, as ``(tree, text)`` (once per tree:
    :func:`.facts.shared`)."""
    out = [(cx.tree, cx.text)]
    if cx.read is None or not cx.path:
        return out
    seen: set[str] = set()
    for node in nodes(cx.tree):
        base = "." * node.level + (node.module or "") if isinstance(node, ast.ImportFrom) else ""
        names = [base, *(f"{base}.{a.name}" if node.module else base + a.name for a in node.names)] \
            if isinstance(node, ast.ImportFrom) else [a.name for a in node.names] if isinstance(node, ast.Import) else []
        for dotted in names:
            for rel in module_files(cx.path, dotted):
                text = cx.read(rel) if rel not in seen else None
                seen.add(rel)
                tree = _tree_of(text) if text is not None else None
                if tree is not None and text is not None:
                    out.append((tree, text))
                    break
    return out


def _first_arg_calls(body: list[ast.stmt], name: str) -> set[str]:
    """The methods a block calls with ``name`` as first argument (``child.process(src)``)."""
    return {n.func.attr for st in body for n in ast.walk(st) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute) and n.args and isinstance(n.args[0], ast.Name) and n.args[0].id == name}


def _sinks(modules: list[tuple[ast.Module, str]], method: str) -> set[str]:
    """``method`` and the methods each definition of it hands its first parameter to."""
    out = {method}
    for tree, _ in modules:
        for fn in nodes(tree):
            if isinstance(fn, _FUNCS) and fn.name == method:
                params = [a.arg for a in fn.args.args]
                first = params[1] if params[:1] in (["self"], ["cls"]) and len(params) > 1 else params[0] if params else ""
                out |= _first_arg_calls(fn.body, first) if first else set()
    return out


def _rebinds(st: ast.stmt) -> str | None:
    """``w`` of ``w = w.m(...)`` (chains too: ``w = w.m(...).n(...)``, pure methods only)."""
    if not (isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)):
        return None
    value: ast.expr = st.value
    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in PURE_METHODS:
        value = value.func.value
    name = st.targets[0].id
    return name if isinstance(value, ast.Name) and value.id == name and value is not st.value else None


def _preludes(modules: list[tuple[ast.Module, str]], sinks: set[str]) -> list[list[tuple[ast.stmt, str, str]]]:
    """Per donor block: its rebinding statements before a sink call of the rebound name, as
    ``(statement, its text, the name)``."""
    out = []
    for tree, text in modules:
        lines = text.splitlines(keepends=True)
        for fn in nodes(tree):
            if not isinstance(fn, _FUNCS):
                continue
            body = fn.body
            for i, st in enumerate(body):
                names = {n.args[0].id for n in ast.walk(st) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                         and n.func.attr in sinks and n.args and isinstance(n.args[0], ast.Name)}
                rebinding = [(b, name) for b in body[:i] if (name := _rebinds(b)) in names and b.lineno == b.end_lineno
                             and lines[b.lineno - 1].isascii()]  # AST columns are bytes: ASCII lines only
                if rebinding:
                    out.append([(b, lines[b.lineno - 1].strip(), name) for b, name in rebinding[:MAX_PRELUDE]])
    return out


def _new_donors(cx: Index) -> dict[str, list[list[tuple[ast.stmt, str, str]]]]:
    return {}


def _inside(st: ast.stmt, fn: ast.AST) -> bool:
    """Is statement ``st`` one of function ``fn``'s (the function being edited is no donor)?"""
    return any(node is st for node in ast.walk(fn))


def _renamed(st: ast.stmt, text: str, old: str, new: str) -> str:
    """``text`` (statement ``st`` on one line, stripped) with the name ``old`` written ``new``."""
    indent = st.col_offset
    spots = sorted((n.col_offset - indent, n.end_col_offset - indent) for n in ast.walk(st)  # type: ignore[operator]
                   if isinstance(n, ast.Name) and n.id == old)
    for start, end in reversed(spots):
        text = text[:start] + new + text[end:]
    return text


def sink_prelude(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """Before ``... x.m(v) ...``: the rebinding of another path into the same sink (the module docstring)."""
    fn = cx.function(st)
    if fn is None or cx.compound(st) or not cx.standalone(st) or not st.lineno == st.end_lineno:
        return
    calls = [n for n in ast.walk(st) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and n.args and isinstance(n.args[0], ast.Name)]
    if not calls:
        return
    modules = shared(cx, _modules)
    donors = shared(cx, _new_donors)  # method -> its donor blocks, once per tree
    at = cx.line_starts[st.lineno - 1]
    indent, nl = line_indent(cx, st.lineno), cx.newline(st.lineno)
    for call in calls:
        value = call.args[0].id  # type: ignore[attr-defined]
        method = call.func.attr  # type: ignore[attr-defined]
        if method not in donors:
            donors[method] = _preludes(modules, _sinks(modules, method))
        for prelude in [p for p in donors[method] if not _inside(p[0][0], fn)][:2]:
            texts = [_renamed(b, text, name, value) for b, text, name in prelude]
            for chosen in dict.fromkeys([tuple(texts), tuple(texts[:1])]):
                body = "".join(indent + t + nl for t in chosen)
                add_cand(out, "sink_prelude", st, [(at, at, body)],
                         f"prepare `{value}` as the other path into `{method}` does: `{short(' '.join(chosen))}`")


def stmt_mutants(cx: Index, st: ast.stmt) -> list[Cand]:
    """Candidates of this module's operator for one statement (any order)."""
    return run_ops((sink_prelude,), cx, st)

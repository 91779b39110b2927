"""Message operator for a name a test patches where the code does not look it up (issue 21).

``unittest.mock.patch("urllib.request.urlopen", fake)`` replaces the attribute ``urlopen`` of
the module ``urllib.request``. A module that did ``from urllib.request import urlopen`` at its
top level bound its own name to the real function when it was imported, so the patch never
reaches it and the test talks to the real thing. The Python documentation names the rule
("patch where an object is looked up, which is not necessarily the same place as where it is
defined": unittest.mock, *Where to patch*). The usual fix when the test is right is to look
the name up at call time: the top-level ``from M import name`` is moved into the functions
that use it, each right before the statement that needs it.

The evidence is the failing test's own source: the targets of ``patch("M.name")`` /
``mock.patch.object(M, "name")`` / ``monkeypatch.setattr(M, "name", ...)`` /
``monkeypatch.setattr("M.name", ...)`` calls and ``@patch`` decorators in the test function
and its class. A file qualifies when it imports one of those names from that module at its
top level and reads it only inside functions.

:func:`patch_edits` returns ``(score, mutant)`` pairs, score in (0, 1]. Pure: files are read
through :class:`.message_evidence.Files`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from harness.generators.edit_text import Edit
from harness.generators.index import FUNCTION_TYPES
from harness.generators.message_evidence import Evidence, Files, Parsed, absolute, make_mutant
from harness.generators.mutant import Mutant

Scored = tuple[float, Mutant]
Target = tuple[str, str]  # (dotted module, attribute name)
_BODIES = ("body", "orelse", "finalbody")


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """``urllib.request`` for an expression ``urllib.request`` (an imported alias resolved)."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    return None


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Names a test module binds to modules: ``import a.b as m`` -> ``m: a.b``,
    ``from a import b`` -> ``b: a.b``."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update({alias.asname: alias.name for alias in node.names if alias.asname})
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.update({alias.asname or alias.name: f"{node.module}.{alias.name}" for alias in node.names})
    return out


def _call_target(call: ast.Call, aliases: dict[str, str]) -> Target | None:
    """The (module, name) one ``patch``/``patch.object``/``setattr`` call replaces."""
    func = call.func
    callee = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    args = call.args
    first = args[0] if args else None
    text = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""
    if callee in ("patch", "setattr") and "." in text and (callee == "patch" or len(args) == 2):
        home, _, name = text.rpartition(".")
        return home, name
    if callee in ("object", "setattr") and len(args) >= 2 and isinstance(args[1], ast.Constant) \
            and isinstance(args[1].value, str) and (module := _dotted(args[0], aliases)):
        return module, args[1].value
    return None


def patched_targets(files: Files, found: list[Evidence]) -> set[Target]:
    """What the failing tests patch: ``(module, name)`` pairs from the calls and decorators of
    each failing test function and its class (a parametrized id's ``[...]`` left out)."""
    targets: set[Target] = set()
    aliases_of: dict[str, dict[str, str]] = {}  # test path -> its module's aliases (one walk per file)
    for item in found:
        parsed = files.parsed(item.test_path)
        if parsed is None:
            continue
        parts = [part.split("[", 1)[0] for part in item.test_id.split("::")[1:]]
        nodes: list[ast.AST] = []
        scope: list[ast.stmt] = parsed.tree.body
        for part in parts:
            node = next((st for st in scope if isinstance(st, (*FUNCTION_TYPES, ast.ClassDef)) and st.name == part), None)
            if not isinstance(node, (*FUNCTION_TYPES, ast.ClassDef)):
                break
            nodes += list(node.decorator_list) + ([node] if isinstance(node, FUNCTION_TYPES) else [])
            scope = node.body
        if item.test_path not in aliases_of:
            aliases_of[item.test_path] = _aliases(parsed.tree)
        aliases = aliases_of[item.test_path]
        for part_node in nodes:
            for call in ast.walk(part_node):
                if isinstance(call, ast.Call) and (target := _call_target(call, aliases)):
                    targets.add(target)
    return targets


def _uses(tree: ast.AST, name: str) -> list[ast.Name]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id == name]


def _binds(fn: ast.AST, name: str) -> bool:
    """Does a function bind ``name`` itself (an assignment, a parameter or its own import)?"""
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (alias.asname or alias.name.split(".")[0]) == name for alias in node.names):
            return True
        if isinstance(node, ast.arg) and node.arg == name:
            return True
    return False


def _contains(node: ast.stmt | ast.expr, uses: list[ast.Name]) -> bool:
    end = node.end_lineno or node.lineno
    return all(node.lineno <= use.lineno <= end for use in uses)


def _insert_before(fn: ast.FunctionDef | ast.AsyncFunctionDef, uses: list[ast.Name]) -> ast.stmt:
    """The statement a local import goes right before: the deepest statement, in a statement
    list of ``fn``, whose lines hold every use while no single body of it does."""
    body: list[ast.stmt] = fn.body
    while True:
        here = next(st for st in body if _contains(st, uses))
        inner = [getattr(here, field) for field in _BODIES if getattr(here, field, None)]
        inner += [handler.body for handler in getattr(here, "handlers", [])]
        deeper = next((b for b in inner if all(any(_contains(st, [use]) for st in b) for use in uses)
                       and any(_contains(st, uses) for st in b)), None)
        if deeper is None or isinstance(here, FUNCTION_TYPES + (ast.ClassDef,)):
            return here
        body = deeper


def _moved(parsed: Parsed, node: ast.ImportFrom, alias: ast.alias, module: str) -> Mutant | None:
    """The candidate moving ``alias`` of the top-level ``node`` into the functions using it."""
    name = alias.asname or alias.name
    functions = parsed.functions()
    own = [fn for fn in functions if _binds(fn, name)]  # their uses read their own binding
    outer = {id(inner) for fn in functions for inner in ast.walk(fn) if inner is not fn and isinstance(inner, FUNCTION_TYPES)}
    located: list[ast.FunctionDef | ast.AsyncFunctionDef] = [fn for fn in functions if isinstance(fn, FUNCTION_TYPES)]
    uses = [use for use in _uses(parsed.tree, name)
            if isinstance(use.ctx, ast.Load) and not any(_contains(fn, [use]) for fn in own)]
    by_function: dict[int, tuple[ast.FunctionDef | ast.AsyncFunctionDef, list[ast.Name]]] = {}
    for use in uses:
        holder = next((fn for fn in located if id(fn) not in outer and _contains(fn, [use])), None)
        if holder is None:
            return None  # read at module or class level: the name must stay bound there
        by_function.setdefault(id(holder), (holder, []))[1].append(use)
    if not by_function:
        return None
    index, nl = parsed.index, parsed.index.newline(node.lineno)
    text = f"from {'.' * node.level}{node.module or ''} import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
    edits: list[Edit] = []
    if len(node.names) == 1:
        edits.append((index.line_starts[node.lineno - 1], index.line_end(node.end_lineno or node.lineno), ""))
    else:
        at = node.names.index(alias)
        start, end = index.off(alias.lineno, alias.col_offset), index.off(alias.end_lineno or 0, alias.end_col_offset or 0)
        if at + 1 < len(node.names):  # "a, " before the next name
            after = node.names[at + 1]
            end = index.off(after.lineno, after.col_offset)
        else:  # ", a" after the previous name
            before = node.names[at - 1]
            start = index.off(before.end_lineno or 0, before.end_col_offset or 0)
        edits.append((start, end, ""))
    for fn, found in by_function.values():
        statement = _insert_before(fn, found)
        if statement.lineno == fn.lineno:
            return None  # a one-line function: no line of its own to put the import on
        at = index.line_starts[statement.lineno - 1]
        edits.append((at, at, f"{parsed.line_indent(statement.lineno)}{text}{nl}"))
    return make_mutant("patch_lookup", parsed, edits, node.lineno,
                       f"`{text}` moved into the functions using it: the tests patch `{module}.{alias.name}`")


def patch_edits(files: Files, found: list[Evidence], paths: Callable[[], list[str]]) -> list[Scored]:
    """Candidates for the names the failing tests patch in a module that the editable files of
    ``paths()`` (called only when a failing test patches something) import the name from at
    their top level: one candidate per import moved."""
    targets = patched_targets(files, found)
    if not targets:
        return []
    out: list[Scored] = []
    for path in paths():
        parsed = files.parsed(path)
        if parsed is None or not files.editable(path):
            continue
        for node in parsed.tree.body:
            if not isinstance(node, ast.ImportFrom):
                continue
            module = absolute(path, node.module, node.level)
            for alias in node.names:
                if (module, alias.name) in targets and (mutant := _moved(parsed, node, alias, module)):
                    out.append((1.0, mutant))
    return out

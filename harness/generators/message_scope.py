"""Message operators on names out of scope (issue 21): the interpreter names the variable, the
innermost frame gives the function, and the fix is a line at the top of one or the other.

- ``NameError: name 're' is not defined`` where the line uses ``re.``: a standard-library
  module the file never imports gets ``import re`` after the file's imports
  (``sys.stdlib_module_names``); a name another module of the same package defines at its
  top level gets ``from .other import name``.
- ``UnboundLocalError: cannot access local variable 'count' ...`` (Python 3.11+; earlier
  ``local variable 'count' referenced before assignment``): a function assigns a name it
  also reads before. A name of the module gets ``global count``, one of an enclosing function
  ``nonlocal count``; otherwise the function starts with ``count = None`` (a name bound only
  on some paths).

Each function returns ``(score, mutant)`` pairs, score in (0, 1].
"""

from __future__ import annotations

import ast
import posixpath
import re
import sys
from collections.abc import Callable

from harness.generators.edit_text import module_names
from harness.generators.message_evidence import Evidence, Files, Parsed, make_mutant
from harness.generators.mutant import Mutant

_UNDEFINED = re.compile(r"name '(\w+)' is not defined")
_UNBOUND = re.compile(r"(?:cannot access local variable|local variable) '(\w+)'")
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
Scored = tuple[float, Mutant]
#: ``modules(directory)``: the ``.py`` files directly in a directory (repo-relative).
Lister = Callable[[str], list[str]]


def asks_scope(found: list[Evidence]) -> bool:
    """Does a failing test end in a ``NameError`` or an ``UnboundLocalError``?"""
    return any(item.exception in ("NameError", "UnboundLocalError") for item in found)


def _import_at(parsed: Parsed) -> int:
    """Offset of the line after the module's docstring, ``__future__`` and other imports."""
    line = 0
    for st in parsed.tree.body:
        docstring = isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant) and isinstance(st.value.value, str)
        if not (docstring or isinstance(st, (ast.Import, ast.ImportFrom))):
            break
        line = st.end_lineno or st.lineno
    return parsed.index.line_end(line) if line else 0


def _body_at(parsed: Parsed, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, str, str] | None:
    """(offset, indentation, line break) of the function's first statement after its docstring."""
    body = fn.body[1:] if len(fn.body) > 1 and isinstance(fn.body[0], ast.Expr) and isinstance(
        getattr(fn.body[0], "value", None), ast.Constant) else fn.body
    first = body[0]
    if first.lineno == fn.lineno:
        return None
    return parsed.index.line_starts[first.lineno - 1], parsed.line_indent(first.lineno), parsed.index.newline(first.lineno)


def _undefined(files: Files, parsed: Parsed, line: int, name: str, modules: Lister) -> list[Scored]:
    out: list[Scored] = []
    nl = parsed.index.newline(1)
    at = _import_at(parsed)
    if name in sys.stdlib_module_names and f"{name}." in parsed.index.line_text(line):
        mutant = make_mutant("import_missing", parsed, [(at, at, f"import {name}{nl}")], line, f"`import {name}`")
        out += [(0.9, mutant)] if mutant else []
    directory = posixpath.dirname(parsed.path)
    listed = sorted(modules(directory))
    package = posixpath.join(directory, "__init__.py") in listed  # an empty __init__ parses to nothing
    for path in listed:
        other = files.parsed(path)
        if path == parsed.path or other is None or name not in module_names(other.tree) or path.endswith("__init__.py"):
            continue
        stem = posixpath.basename(path).removesuffix(".py")
        text = f"from .{stem} import {name}" if package else f"from {stem} import {name}"
        mutant = make_mutant("import_missing", parsed, [(at, at, f"{text}{nl}")], line, f"`{text}`")
        out += [(0.8, mutant)] if mutant else []
    return out[:3]


def _unbound(parsed: Parsed, line: int, name: str) -> list[Scored]:
    fn = parsed.function_at(line)
    if not isinstance(fn, _FUNCS):
        return []
    place = _body_at(parsed, fn)
    if place is None:
        return []
    at, indent, nl = place
    enclosing = [outer for outer in parsed.functions() if outer is not fn and outer.lineno < fn.lineno
                 and (outer.end_lineno or 0) >= (fn.end_lineno or 0)]
    if any(name in {n.id for n in ast.walk(outer) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
           or name in [a.arg for a in outer.args.args] for outer in enclosing):
        statement, score = f"nonlocal {name}", 0.85
    elif name in module_names(parsed.tree):
        statement, score = f"global {name}", 0.85
    else:
        statement, score = f"{name} = None", 0.5
    mutant = make_mutant("declare_name", parsed, [(at, at, f"{indent}{statement}{nl}")], line, f"`{statement}`")
    return [(score, mutant)] if mutant else []


def scope_edits(files: Files, found: list[Evidence], modules: Lister = lambda directory: []) -> list[Scored]:
    """The imports and declarations the failing tests' ``NameError``/``UnboundLocalError`` ask
    for, in the file of the innermost frame (when editable)."""
    out: list[Scored] = []
    for item in found:
        if item.exception not in ("NameError", "UnboundLocalError") or not item.frames:
            continue
        path, line = item.frames[-1]
        parsed = files.parsed(path)
        if parsed is None or not files.editable(path):
            continue
        if item.exception == "NameError" and (match := _UNDEFINED.search(item.text)):
            out += _undefined(files, parsed, line, match.group(1), modules)
        elif item.exception == "UnboundLocalError" and (match := _UNBOUND.search(item.text)):
            out += _unbound(parsed, line, match.group(1))
    return out

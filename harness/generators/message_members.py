"""Message operators on a method's outside (issue 21): its decorator, a parameter's name, what
it returns. The failure names the method and says how it was used, and the edit that makes
that use right is one line or one name.

- ``add_property``: a test compared an attribute and got a method: ``<bound method
  Money.amount of Money(3)>`` in the message, or pytest's explanation showing the value by its
  name (``where amount = <money.Money object at 0x7f..>.amount``): ``amount`` is read as a
  value, so the ``def amount(self)`` of class ``Money`` (no argument but ``self``) gets
  ``@property``.
- ``add_staticmethod``: ``TypeError: Money.parse() takes 1 positional argument but 2 were
  given``: a method called on an instance or the class whose first parameter is not ``self``
  gets ``@staticmethod`` (``cls``: ``@classmethod``).

- ``rename_param``: ``TypeError: parse() got an unexpected keyword argument 'strict'``: the
  function's parameter closest to the asked name (difflib's ratio at least
  :data:`MIN_RATIO`: ``strict_mode``, ``stirct``) is renamed, at the definition and every
  read or write of it in the function's body.

- ``return_self``: ``AttributeError: 'NoneType' object has no attribute 'build'`` where the
  failing line calls ``.where(...)``: a method of that name that returns no value anywhere
  (a builder's step) gets ``return self`` at its end, so the chain goes on.

The class is looked for in the files the evidence points at (frames, the failing tests'
imports, the suspicious lines' files); a method that already has a decorator is left alone.
Each function returns ``(score, mutant)`` pairs, score in (0, 1].
"""

from __future__ import annotations

import ast
import difflib
import re

from harness.generators.message_evidence import Evidence, Files, make_mutant
from harness.generators.mutant import Mutant

_BOUND = re.compile(r"<bound method ([A-Za-z_][\w.]*)\.([A-Za-z_]\w*) of ")
#: pytest's explanation of a callable it shows by name: ``where area = <shapes.Circle object at
#: 0x7f..>.area`` (a value would be shown by its repr: ``where 3.0 = <...>.area``).
_WHERE = re.compile(r"where ([A-Za-z_]\w*) = (?:<(?:[\w.]+\.)?([A-Za-z_]\w*) object at 0x[0-9a-fA-F]+>|.+)\.\1$", re.M)
_ARITY = re.compile(r"(?:([A-Za-z_]\w*)\.)?([A-Za-z_]\w*)\(\) takes (\d+) positional arguments? but (\d+) (?:were|was) given")
_UNEXPECTED = re.compile(r"(?:([A-Za-z_]\w*)\.)?([A-Za-z_]\w*)\(\) got an unexpected keyword argument '(\w+)'")
_NONE_USED = re.compile(r"'NoneType' object (?:has no attribute '\w+'|is not (?:subscriptable|iterable|callable))")
_CALLED = re.compile(r"\.([A-Za-z_]\w*)\s*\(")
#: the least ``difflib.SequenceMatcher.ratio`` between the asked parameter name and the renamed one.
MIN_RATIO = 0.7
Scored = tuple[float, Mutant]
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _methods(files: Files, paths: list[str], owner: str | None, name: str,
             plain: bool = True) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """``(path, def)`` of each method ``name`` of a class named ``owner`` (any class when None)
    in ``paths``, undecorated ones only when ``plain``; with ``plain`` False, module-level
    functions of that name too."""
    out = []
    for path in paths:
        parsed = files.parsed(path)
        if parsed is None:
            continue
        for node in ast.walk(parsed.tree):
            if isinstance(node, ast.ClassDef) and (owner is None or node.name == owner):
                out += [(path, item) for item in node.body
                        if isinstance(item, _FUNCS) and item.name == name and not (plain and item.decorator_list)]
        if not plain and owner is None:
            out += [(path, item) for item in parsed.tree.body if isinstance(item, _FUNCS) and item.name == name]
    return out


def _renamed(files: Files, path: str, fn: ast.FunctionDef | ast.AsyncFunctionDef, asked: str) -> Mutant | None:
    """``fn``'s parameter closest to ``asked`` renamed to it, in the signature and the body."""
    parsed = files.parsed(path)
    params = [a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]
    if parsed is None or asked in params:
        return None
    close = difflib.get_close_matches(asked, [p for p in params if p not in ("self", "cls")], 1, MIN_RATIO)
    if not close:
        return None
    old, index = close[0], parsed.index
    edits = [(index.off(a.lineno, a.col_offset), index.off(a.lineno, a.col_offset) + len(old), asked)
             for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs if a.arg == old]
    edits += [(*index.span(node), asked) for st in fn.body for node in ast.walk(st)
              if isinstance(node, ast.Name) and node.id == old]
    return make_mutant("rename_param", parsed, edits, fn.lineno, f"parameter `{old}` renamed `{asked}`")


def _decorated(files: Files, path: str, fn: ast.FunctionDef | ast.AsyncFunctionDef, decorator: str,
               operator: str) -> Mutant | None:
    parsed = files.parsed(path)
    if parsed is None:
        return None
    at = parsed.index.line_starts[fn.lineno - 1]
    indent = parsed.line_indent(fn.lineno)
    return make_mutant(operator, parsed, [(at, at, f"{indent}@{decorator}{parsed.index.newline(fn.lineno)}")],
                       fn.lineno, f"`@{decorator}` on `{fn.name}`")


def asks_member(found: list[Evidence]) -> bool:
    """Does any failing test's message read like one of this module's cases?"""
    return any(_BOUND.search(item.text) or _WHERE.search(item.text) or _UNEXPECTED.search(item.text)
               or _NONE_USED.search(item.text)
               or (item.exception == "TypeError" and _ARITY.search(item.text))
               for item in found)


def _returns_nothing(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """No ``return <value>``, ``yield`` in ``fn`` itself (nested definitions not counted)."""
    todo: list[ast.AST] = list(fn.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom)) and getattr(node, "value", None) is not None:
            return False
        if not isinstance(node, (*_FUNCS, ast.Lambda, ast.ClassDef)):
            todo += ast.iter_child_nodes(node)
    return True


def _return_self(files: Files, item: Evidence, editable: list[str]) -> list[Scored]:
    if not item.frames or not _NONE_USED.search(item.text):
        return []
    path, line = item.frames[-1]
    parsed = files.parsed(path)
    if parsed is None or not 0 < line <= parsed.index.line_count:
        return []
    out: list[Scored] = []
    for name in dict.fromkeys(_CALLED.findall(parsed.index.line_text(line))):
        for where, fn in _methods(files, editable, None, name, plain=False):
            first = (fn.args.posonlyargs + fn.args.args)[:1]
            target = files.parsed(where)
            if not first or first[0].arg != "self" or not _returns_nothing(fn) or target is None:
                continue
            last = fn.body[-1]
            at = target.index.line_end(last.end_lineno or last.lineno)
            indent = target.line_indent(last.lineno)
            nl = target.index.newline(last.lineno)
            text = f"{indent}return self{nl}" if target.text[:at].endswith(("\n", "\r")) else f"{nl}{indent}return self"
            mutant = make_mutant("return_self", target, [(at, at, text)], last.lineno, f"`{fn.name}` returns `self`")
            out += [(0.7, mutant)] if mutant else []
    return out


def member_edits(files: Files, found: list[Evidence], paths: list[str]) -> list[Scored]:
    """The decorators, parameter names and ``return self`` the failing tests' messages ask for
    (see the module docstring), in the editable files of ``paths``."""
    out: list[Scored] = []
    editable = [path for path in paths if files.editable(path)]
    for item in found:
        text = item.text
        read = [(m.group(1).rsplit(".", 1)[-1], m.group(2)) for m in _BOUND.finditer(text)]
        read += [(m.group(2), m.group(1)) for m in _WHERE.finditer(text)]
        for owner, name in dict.fromkeys(read):
            for path, fn in _methods(files, editable, owner, name):
                params = fn.args.posonlyargs + fn.args.args
                if len(params) == 1 and not fn.args.vararg and not fn.args.kwonlyargs:
                    mutant = _decorated(files, path, fn, "property", "add_property")
                    out += [(1.0, mutant)] if mutant else []
        arity = _ARITY.search(text) if item.exception == "TypeError" else None
        if arity and int(arity.group(4)) == int(arity.group(3)) + 1:
            for path, fn in _methods(files, editable, arity.group(1), arity.group(2)):
                first = (fn.args.posonlyargs + fn.args.args)[:1]
                if first and first[0].arg == "self":
                    continue
                decorator = "classmethod" if first and first[0].arg == "cls" else "staticmethod"
                mutant = _decorated(files, path, fn, decorator, "add_staticmethod")
                out += [(0.9, mutant)] if mutant else []
        for match in _UNEXPECTED.finditer(text) if item.exception == "TypeError" else ():
            owner, name, asked = match.groups()
            for path, fn in _methods(files, editable, owner, name, plain=False):
                mutant = _renamed(files, path, fn, asked)
                out += [(0.8, mutant)] if mutant else []
        out += _return_self(files, item, editable)
    return out

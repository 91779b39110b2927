"""Class-level tables read through ``self``/``cls`` (issue 21), for :mod:`.message_literals`.

A base-class method often formats a class-level table that each subclass overrides: arrow's
``Locale._format_timeframe`` returns ``self.timeframes[timeframe].format(...)`` and the wrong
text sits in ``class SwedishLocale(Locale): timeframes = {"seconds": "{0} några sekunder"}``,
a statement no localized function holds or names as a module constant. :func:`attribute_roots`
finds, for the attributes ``X`` the localized functions read as ``self.X``, ``cls.X``,
``type(self).X`` or ``self.__class__.X``, every class-level assignment of ``X`` (``X = ...``,
``X: T = ...``) in any class of the functions' module, of the modules their classes' bases are
imported from, and of the modules the failing tests' files import (at most
:data:`MAX_MODULES` modules in all). :func:`mentioned` tells whether a failing test names a
class (its name, or a string of its class-level ``name``/``names``/``aliases``): of two tables
that explain a diff as well, the named class's comes first. Pure: files come from
:class:`.message_evidence.Files`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass

from harness.generators.index import FunctionNode
from harness.generators.literal_hints import function_of_test
from harness.generators.message_evidence import Evidence, Files, absolute

#: modules searched for class-level assignments, the localized functions' own first.
MAX_MODULES = 6
#: names through which a method reads its class's attributes.
RECEIVERS = frozenset({"self", "cls"})
#: class-level attributes that name a class to its users (arrow's ``names = ["sv", "sv_se"]``).
NAME_ATTRS = frozenset({"name", "names", "aliases"})
#: a class name shorter than this is mentioned only when written whole (``A`` is in every word).
MIN_NAME = 4


@dataclass(frozen=True)
class Owner:
    """The class a class-level table belongs to: its name and the strings of its
    :data:`NAME_ATTRS` assignments."""

    name: str
    names: frozenset[str]


def attributes_read(functions: Iterable[FunctionNode]) -> set[str]:
    """The attributes ``functions`` read from their own class or instance: ``self.X``,
    ``cls.X``, ``type(self).X``, ``self.__class__.X`` (loads only; dunder names aside)."""
    out = set()
    for fn in functions:
        for node in ast.walk(fn):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and _receiver(node.value):
                out.add(node.attr)
    return {name for name in out if not (name.startswith("__") and name.endswith("__"))}


def _receiver(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in RECEIVERS
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "type" and len(node.args) == 1:
        return _receiver(node.args[0])
    return isinstance(node, ast.Attribute) and node.attr == "__class__" and _receiver(node.value)


def attribute_roots(files: Files, path: str, functions: list[FunctionNode], found: list[Evidence]
                    ) -> dict[str, list[tuple[ast.expr, Owner]]]:
    """path -> the values of the class-level assignments of an attribute ``functions`` (of
    the module ``path``) read through ``self``/``cls``, with their class, in the modules
    :func:`modules` lists (editable ones only). Empty when they read none."""
    parsed = files.parsed(path)
    wanted = attributes_read(functions)
    if parsed is None or not wanted:
        return {}
    out: dict[str, list[tuple[ast.expr, Owner]]] = {}
    for module in modules(files, path, functions, found):
        tree = files.parsed(module)
        if tree is None or not files.editable(module):
            continue
        for cls in _classes(tree.tree):
            values = [(st.value, cls) for st in cls.body if isinstance(st, (ast.Assign, ast.AnnAssign))
                      and st.value is not None and _targets(st) & wanted]
            if values:
                owner = Owner(cls.name, frozenset(_name_strings(cls)))
                out.setdefault(module, []).extend((value, owner) for value, _ in values)
    return out


def modules(files: Files, path: str, functions: list[FunctionNode], found: list[Evidence]) -> list[str]:
    """``path``, the modules the bases of the classes holding ``functions`` are imported from
    (``from .base import Locale``), then the modules the failing tests' files import; at most
    :data:`MAX_MODULES`."""
    parsed = files.parsed(path)
    if parsed is None:
        return []
    holders = [cls for cls in _classes(parsed.tree) if any(st in functions for st in cls.body)]
    bases = {base.id for cls in holders for base in cls.bases if isinstance(base, ast.Name)}
    order = [path]
    for node in parsed.tree.body:
        if isinstance(node, ast.ImportFrom) and any((alias.asname or alias.name) in bases for alias in node.names):
            order += [module for module in [files.module(absolute(path, node.module, node.level))] if module]
    for item in found:
        order += files.imported_by(item.test_path)
    return list(dict.fromkeys(order))[:MAX_MODULES]


def _classes(tree: ast.Module) -> list[ast.ClassDef]:
    """Every class of a module outside functions (nested classes too)."""
    out, stack = [], list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ClassDef):
            out.append(node)
            stack += node.body
    return sorted(out, key=lambda cls: cls.lineno)


def _targets(st: ast.Assign | ast.AnnAssign) -> set[str]:
    targets = st.targets if isinstance(st, ast.Assign) else [st.target]
    return {t.id for t in targets if isinstance(t, ast.Name)}


def _name_strings(cls: ast.ClassDef) -> set[str]:
    out = set()
    for st in cls.body:
        if isinstance(st, (ast.Assign, ast.AnnAssign)) and st.value is not None and _targets(st) & NAME_ATTRS:
            out |= {n.value for n in ast.walk(st.value) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return out


def said_by(files: Files, item: Evidence) -> tuple[str, set[str]]:
    """What a failing test says, for :func:`mentioned`: its node id and the source of its
    function (``""`` when not found), and the string constants of that function."""
    parsed = files.parsed(item.test_path)
    parts = item.test_id.split("::")[1:]
    fn = function_of_test(parsed.tree, parts) if parsed is not None and parts else None
    if fn is None or parsed is None:
        return item.test_id, set()
    source = parsed.index.seg(fn)
    return item.test_id + "\n" + source, {n.value for n in ast.walk(fn) if isinstance(n, ast.Constant)
                                          and isinstance(n.value, str)}


def mentioned(owner: Owner, words: tuple[str, set[str]]) -> bool:
    """Does a failing test (:func:`said_by`) name ``owner``: its class name inside the test's
    id or source (``TestSwedishLocale`` names ``SwedishLocale``; a name shorter than
    :data:`MIN_NAME` only as a whole word), or one of its name strings as a string constant?"""
    text, strings = words
    if len(owner.name) >= MIN_NAME and owner.name in text:
        return True
    return owner.name in re.findall(r"\w+", text) or bool(owner.names & strings)

"""Message operators on names and signatures (issue 21): what a failing test's exception says
the code should be called or accept.

- ``TypeError: C.f() got multiple values for argument 'self'``: a keyword the caller passes
  lands both in a positional parameter and in ``**kwargs``. The parameters before ``**kwargs``
  become positional-only (``def f(self, /, *args, **kwargs)``: Python 3.8, PEP 570, whose
  motivation is this very clash), at the definition the message names; a second candidate
  does the same at every definition of the module with the same parameter names.
- ``AttributeError: module 'm' has no attribute 'new'``, ``ImportError: cannot import name
  'new' from 'm'``, ``AttributeError: 'C' object has no attribute 'new'``: the test asks for a
  name the code does not have. The closest existing name of that module or class (difflib's
  ratio, at least :data:`MIN_RATIO`; the interpreter's ``Did you mean`` first) is renamed at
  its definition and every use in the module, and a second candidate keeps it and adds
  ``new = old`` after it (an import of the old name elsewhere keeps working; a rename that
  breaks one is caught by the full suite, which runs every test).

Each function returns ``(score, mutant)`` pairs, score in (0, 1]: how precise the evidence is.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterator

from harness.generators.edit_text import Edit
from harness.generators.index import FUNCTION_TYPES, FunctionNode
from harness.generators.message_evidence import Evidence, Files, Parsed, make_mutant, name_token
from harness.generators.mutant import Mutant

#: the least ``difflib.SequenceMatcher.ratio`` between the asked name and an existing one.
MIN_RATIO = 0.7
#: existing names tried per asked name (closest first).
CLOSEST = 2
_MULTIPLE = re.compile(r"([\w.<>]+)\(\) got multiple values for (?:keyword )?argument '(\w+)'")
MODULE_ATTR = re.compile(r"module '([\w.]+)' has no attribute '(\w+)'")
IMPORT_NAME = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")
_OBJECT_ATTR = re.compile(r"(?:'(\w+)' object|type object '(\w+)') has no attribute '(\w+)'")
_HINT = re.compile(r"Did you mean: '(\w+)'\?")
Scored = tuple[float, Mutant]


def asks(found: list[Evidence]) -> bool:
    """Does any failing test say something these operators read (so its files are worth finding)?"""
    return any(pattern.search(item.text) for item in found
               for pattern in (_MULTIPLE, MODULE_ATTR, IMPORT_NAME, _OBJECT_ATTR))


# -- positional-only parameters ------------------------------------------------
def positional_only(files: Files, found: list[Evidence], paths: list[str]) -> list[Scored]:
    """Candidates for ``got multiple values for argument 'x'``: ``/`` after the parameters
    before ``*args``/``**kwargs`` (score 1.0), after ``x`` itself (0.9), and after them in every
    same-signature definition of the module at once (0.8)."""
    out: list[Scored] = []
    for item in found:
        hit = _MULTIPLE.search(item.text) if item.exception == "TypeError" else None
        if hit is None:
            continue
        parts = hit.group(1).split(".")
        owner = parts[-2] if len(parts) > 1 and not parts[-2].startswith("<") else None
        for path in paths:
            parsed = files.parsed(path)
            if parsed is None:
                continue
            for fn, cls in _defs(parsed.tree):
                if fn.name == parts[-1] and (owner is None or cls == owner) and _clash(fn, hit.group(2)):
                    out += _slash_candidates(parsed, fn, hit.group(2))
    return out


def _defs(tree: ast.Module) -> Iterator[tuple[FunctionNode, str | None]]:
    """Every function definition with the name of the class whose body holds it (or None)."""
    stack: list[tuple[ast.AST, str | None]] = [(tree, None)]
    while stack:
        node, cls = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, FUNCTION_TYPES):
                yield child, cls
            stack.append((child, child.name if isinstance(child, ast.ClassDef) else None))


def _clash(fn: FunctionNode, arg: str) -> bool:
    """``fn`` takes ``**kwargs`` and ``arg`` as a positional-or-keyword parameter, and has no
    positional-only ones yet."""
    spec = fn.args
    return spec.kwarg is not None and not spec.posonlyargs and arg in [param.arg for param in spec.args]


def _after(parsed: Parsed, fn: FunctionNode, position: int) -> int:
    """Offset just past parameter ``position`` of ``fn`` (its annotation and default included)."""
    spec = fn.args
    ends = [parsed.index.span(spec.args[position])[1]]
    default = position - (len(spec.args) - len(spec.defaults))
    if default >= 0:
        ends.append(parsed.index.span(spec.defaults[default])[1])
    return max(ends)


def _slash_candidates(parsed: Parsed, fn: FunctionNode, arg: str) -> list[Scored]:
    names = [param.arg for param in fn.args.args]
    out: list[Scored] = []
    for position, score in ((len(names) - 1, 1.0), (names.index(arg), 0.9)):
        where = _after(parsed, fn, position)
        got = make_mutant("positional_only", parsed, [(where, where, ", /")], fn.lineno,
                          f"`{names[position]}` and the parameters before it positional-only (`/`) in "
                          f"`{fn.name}`: a keyword `{arg}` goes to `**{fn.args.kwarg.arg if fn.args.kwarg else ''}`")
        if got is not None:
            out.append((score, got))
    siblings = [other for other, _ in _defs(parsed.tree) if other is not fn and _clash(other, arg)
                and [param.arg for param in other.args.args] == names]
    if siblings:
        edits = [(where, where, ", /") for where in (_after(parsed, other, len(names) - 1) for other in [fn, *siblings])]
        got = make_mutant("positional_only", parsed, edits, fn.lineno,
                          f"parameters before `**` positional-only (`/`) in `{fn.name}` and its "
                          f"{len(siblings)} same-signature sibling(s)")
        if got is not None:
            out.append((0.8, got))
    return out


# -- names the tests ask for ----------------------------------------------------
def asked_names(files: Files, found: list[Evidence], paths: list[str]) -> list[Scored]:
    """Candidates for a name a test asks a module or class for that it does not have: the
    closest existing name renamed (score ratio squared: a closer name first) or aliased (0.9 x
    that; a private attribute asked for by its public name: a read-only property, ahead of the
    rename)."""
    out: list[Scored] = []
    for item in found:
        hint = _HINT.search(item.text)
        module = MODULE_ATTR.search(item.text) if item.exception == "AttributeError" else None
        imported = IMPORT_NAME.search(item.text) if item.exception == "ImportError" else None
        member = _OBJECT_ATTR.search(item.text) if item.exception == "AttributeError" else None
        if module or imported:
            dotted, asked = (module.group(1), module.group(2)) if module else (imported.group(2), imported.group(1))  # type: ignore[union-attr]
            path = files.module(dotted)
            parsed = files.parsed(path) if path and files.editable(path) else None
            if parsed is not None:
                out += _module_candidates(parsed, asked, hint.group(1) if hint else "")
        elif member:
            cls, asked = member.group(1) or member.group(2), member.group(3)
            for path in paths:
                parsed = files.parsed(path)
                for node in ast.walk(parsed.tree) if parsed else ():
                    if isinstance(node, ast.ClassDef) and node.name == cls and parsed is not None:
                        out += _member_candidates(parsed, node, asked, hint.group(1) if hint else "")
    return out


def _closest(asked: str, have: dict[str, ast.stmt | None], hint: str) -> list[tuple[float, str]]:
    """The existing names closest to ``asked`` as (ratio, name), best first, leading underscores
    left out of the comparison; the interpreter's hint counts as 1.0. Empty when ``asked`` exists."""
    if asked in have:
        return []
    # leading underscores mark visibility, not meaning: `_can_do_colour` is compared as `can_do_colour`
    bare = asked.lstrip("_")
    scored = sorted(((1.0 if name == hint else difflib.SequenceMatcher(None, bare, name.lstrip("_")).ratio(), name)
                     for name in have if not name.startswith("__")), key=lambda pair: (-pair[0], pair[1]))
    return [pair for pair in scored if pair[0] >= MIN_RATIO][:CLOSEST]


def top_names(tree: ast.Module | ast.ClassDef) -> dict[str, ast.stmt | None]:
    """Names a module or class body defines -> the defining statement (first one)."""
    out: dict[str, ast.stmt | None] = {}
    for st in tree.body:
        if isinstance(st, (*FUNCTION_TYPES, ast.ClassDef)):
            out.setdefault(st.name, st)
        elif isinstance(st, (ast.Assign, ast.AnnAssign)):
            for target in st.targets if isinstance(st, ast.Assign) else [st.target]:
                if isinstance(target, ast.Name):
                    out.setdefault(target.id, st)
    return out


def _module_candidates(parsed: Parsed, asked: str, hint: str) -> list[Scored]:
    out: list[Scored] = []
    have = top_names(parsed.tree)
    for ratio, old in _closest(asked, have, hint):
        edits = _module_uses(parsed, old, asked)
        score = ratio * ratio
        got = make_mutant("rename_to_asked", parsed, edits, _line_of(have[old]),
                          f"`{old}` renamed `{asked}` ({len(edits)} places), the name the test asks for")
        if got is not None:
            out.append((score, got))
        alias = _alias(parsed, have[old], asked, old)
        if alias is not None:
            out.append((0.9 * score, alias))
    return out


def _member_candidates(parsed: Parsed, cls: ast.ClassDef, asked: str, hint: str) -> list[Scored]:
    out: list[Scored] = []
    have = top_names(cls)
    for node in ast.walk(cls):  # instance attributes: `self.x = ...` in its methods
        if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name) and node.value.id == "self"):
            have.setdefault(node.attr, None)
    for ratio, old in _closest(asked, have, hint):
        edits = [edit for edit in _attribute_uses(parsed, old, asked)]
        edits += _body_uses(parsed, cls, old, asked)
        private = old.lstrip("_") == asked and old != asked  # asked by its public name: an accessor first
        score = ratio * ratio * (0.8 if private else 1.0)
        got = make_mutant("rename_to_asked", parsed, edits, _line_of(have[old]) or cls.lineno,
                          f"`{cls.name}.{old}` renamed `{asked}` ({len(edits)} places), the name the test asks for")
        if got is not None:
            out.append((score, got))
        alias = _alias(parsed, have[old], asked, old) if have[old] is not None else _property(parsed, cls, asked, old)
        if alias is not None:
            out.append((ratio * ratio if private else 0.9 * score, alias))
    return out


def _property(parsed: Parsed, cls: ast.ClassDef, asked: str, old: str) -> Mutant | None:
    """A read-only ``asked`` property returning the instance attribute ``self.old``, after
    ``__init__`` (or the first method that sets it)."""
    setters = [st for st in cls.body if isinstance(st, FUNCTION_TYPES) and any(
        isinstance(node, ast.Attribute) and node.attr == old and isinstance(node.ctx, ast.Store) for node in ast.walk(st))]
    init = next((st for st in cls.body if isinstance(st, FUNCTION_TYPES) and st.name == "__init__"), None)
    after = init or (setters[0] if setters else None)
    if after is None:
        return None
    indent = parsed.line_indent(after.lineno)
    end = parsed.index.line_end(after.end_lineno or after.lineno)
    newline = "" if parsed.text[:end].endswith("\n") else "\n"
    body = f"{newline}\n{indent}@property\n{indent}def {asked}(self):\n{indent}    return self.{old}\n"
    return make_mutant("alias_asked", parsed, [(end, end, body)], after.lineno,
                       f"a read-only property `{asked}` returning `self.{old}`: the name the test asks for")


def _line_of(st: ast.stmt | None) -> int:
    return st.lineno if st is not None else 0


def _alias(parsed: Parsed, st: ast.stmt | None, asked: str, old: str) -> Mutant | None:
    """``asked = old`` on the line after the statement defining ``old``, at its indentation."""
    if st is None:
        return None
    end = parsed.index.line_end(st.end_lineno or st.lineno)
    newline = "" if parsed.text[:end].endswith("\n") else "\n"
    return make_mutant("alias_asked", parsed, [(end, end, f"{newline}{parsed.line_indent(st.lineno)}{asked} = {old}\n")],
                       st.lineno, f"`{asked} = {old}` after `{old}`: the name the test asks for, the old kept")


def _def_edits(parsed: Parsed, st: ast.stmt, old: str, asked: str) -> list[Edit]:
    """The name token of a ``def``/``class`` named ``old`` (nothing for other statements)."""
    if isinstance(st, (*FUNCTION_TYPES, ast.ClassDef)) and st.name == old:
        span = name_token(parsed, st)
        return [(span[0], span[1], asked)] if span else []
    return []


def _module_uses(parsed: Parsed, old: str, asked: str) -> list[Edit]:
    """Every module-scope use of ``old``: its module-level definition, names (not where a
    function's local or parameter of that name hides it), ``global`` statements and
    ``__all__`` entries."""
    edits: list[Edit] = []
    stack: list[tuple[ast.AST, bool, bool]] = [(parsed.tree, False, False)]  # (node, hidden, nested)
    while stack:
        node, hidden, nested = stack.pop()
        if isinstance(node, ast.stmt) and not nested:
            edits += _def_edits(parsed, node, old, asked)
        if isinstance(node, ast.Name) and node.id == old and not hidden:
            start, end = parsed.index.span(node)
            edits.append((start, end, asked))
        elif isinstance(node, ast.Global) and old in node.names:
            start, end = parsed.index.span(node)
            edits += [(start + hit.start(), start + hit.end(), asked)
                      for hit in re.finditer(rf"\b{re.escape(old)}\b", parsed.text[start:end])]
        elif isinstance(node, ast.Constant) and node.value == old and _in_all(parsed.tree, node):
            start, end = parsed.index.span(node)
            edits.append((start + 1, end - 1, asked))
        scope = isinstance(node, (*FUNCTION_TYPES, ast.ClassDef))
        for child in ast.iter_child_nodes(node):
            stack.append((child, hidden or (isinstance(child, FUNCTION_TYPES) and _local(child, old)), nested or scope))
    return edits


def _local(fn: FunctionNode, name: str) -> bool:
    """``name`` is a parameter of ``fn`` or assigned in it without ``global``."""
    spec = fn.args
    params = [param.arg for param in spec.posonlyargs + spec.args + spec.kwonlyargs] + [
        param.arg for param in (spec.vararg, spec.kwarg) if param is not None]
    declared = any(isinstance(node, ast.Global) and name in node.names for node in ast.walk(fn))
    stored = any(isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store)
                 for node in ast.walk(fn))
    return name in params or (stored and not declared)


def _in_all(tree: ast.Module, node: ast.Constant) -> bool:
    """``node`` is an entry of the module's ``__all__`` list or tuple."""
    for st in tree.body:
        if (isinstance(st, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in st.targets)
                and isinstance(st.value, (ast.List, ast.Tuple)) and node in st.value.elts):
            return True
    return False


def _attribute_uses(parsed: Parsed, old: str, asked: str) -> list[Edit]:
    """Every ``x.old`` of the module, as the edit of its attribute name."""
    edits: list[Edit] = []
    for node in ast.walk(parsed.tree):
        if isinstance(node, ast.Attribute) and node.attr == old:
            end = parsed.index.span(node)[1]
            if parsed.text[end - len(old):end] == old:
                edits.append((end - len(old), end, asked))
    return edits


def _body_uses(parsed: Parsed, cls: ast.ClassDef, old: str, asked: str) -> list[Edit]:
    """``old`` defined or named in the class body itself (its methods' own bodies aside; their
    decorators are the class body's)."""
    edits: list[Edit] = []
    stack: list[ast.AST] = list(cls.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.stmt):
            edits += _def_edits(parsed, node, old, asked)
        if isinstance(node, (*FUNCTION_TYPES, ast.ClassDef)):
            stack += list(node.decorator_list)
            continue
        if isinstance(node, ast.Name) and node.id == old:
            start, end = parsed.index.span(node)
            edits.append((start, end, asked))
        stack += list(ast.iter_child_nodes(node))
    return edits

"""A module-level singleton that pickling or copying must give back as itself (issue 21): a
candidate for :func:`harness.generators.message_ops.message_mutants` from a failing test that
pickles or copies it.

``pickle`` rebuilds an object by calling its class, so a sentinel such as ``required =
_required()`` comes back as a new object and ``pickle.loads(pickle.dumps(required)) is required``
fails (``copy.copy``/``copy.deepcopy`` likewise). The documented remedy (the ``pickle`` docs,
``object.__reduce__``: "If a string is returned, the string should be interpreted as the name
of a global variable ... This behaviour is typically useful for singletons") is::

    class _required:                          class _required:
        def __repr__(self): ...                   def __repr__(self): ...
                                         ->
    required = _required()                        def __reduce__(self):
                                                      return 'required'

``singleton_reduce`` (operator ``reduce_global``): for each argument of ``pickle.dumps``/``pickle.dump``/
``copy.copy``/``copy.deepcopy`` in a failing test's function that names, through the test
file's imports (module level or in the function), a module-level ``name = C(...)`` of an
editable repository module whose class ``C`` is defined there and defines no ``__reduce__``,
``__reduce_ex__`` or ``__copy__``: ``__reduce__`` returning ``'name'`` added at the end of
``C``'s body. Pure: files are read through the :class:`.message_evidence.Files` given.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from harness.generators.index import last_line
from harness.generators.message_evidence import Evidence, Files, Parsed, make_mutant
from harness.generators.mutant import Mutant
from harness.generators.type_evidence import failing_functions

#: ``module.function`` calls that pickle or copy their first argument.
DUMPERS = frozenset({"pickle.dumps", "pickle.dump", "cPickle.dumps", "copy.copy", "copy.deepcopy"})
#: methods with which a class already decides how it is pickled or copied.
_DECIDED = frozenset({"__reduce__", "__reduce_ex__", "__copy__", "__deepcopy__", "__getnewargs__",
                      "__getnewargs_ex__"})


def singleton_reduce(files: Files, found: list[Evidence]) -> list[tuple[float, Mutant]]:
    """The candidates of the module docstring for the failing tests ``found``, as ``(1.0,
    mutant)``, one per class."""
    out: dict[tuple[str, str], tuple[float, Mutant]] = {}
    for functions in failing_functions(files, found).values():
        for test, fn in functions:
            names = {**_imports(test.tree.body), **_imports(list(ast.walk(fn)))}
            for call in ast.walk(fn):
                dotted = _pickled(call, names)
                module, _, attr = dotted.rpartition(".") if dotted else ("", "", "")
                path = files.module(module) if module else None
                parsed = files.parsed(path) if path and files.editable(path) else None
                found_cls = _singleton_class(parsed, attr) if parsed is not None else None
                if parsed is not None and found_cls is not None and (path, found_cls.name) not in out:
                    mutant = _reduce(parsed, found_cls, attr)
                    if mutant is not None:
                        out[(parsed.path, found_cls.name)] = (1.0, mutant)
    return list(out.values())


def _imports(statements: Sequence[ast.AST]) -> dict[str, str]:
    """Local name -> dotted name bound by the ``import``/``from ... import`` statements among
    ``statements`` (absolute imports only: a test names the package)."""
    names: dict[str, str] = {}
    for st in statements:
        if isinstance(st, ast.Import):
            for alias in st.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(st, ast.ImportFrom) and st.module and not st.level:
            for alias in st.names:
                names[alias.asname or alias.name] = f"{st.module}.{alias.name}"
    return names


def _dotted(node: ast.expr, names: dict[str, str]) -> str:
    """``pkg.mod.name`` of a name or attribute chain, its first part resolved through ``names``."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.insert(0, node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    return ".".join([names.get(node.id, node.id), *parts])


def _pickled(node: ast.AST, names: dict[str, str]) -> str:
    """The dotted name of what ``node`` pickles or copies (:data:`DUMPERS`), or ``""``."""
    if not isinstance(node, ast.Call) or not node.args or _dotted(node.func, names) not in DUMPERS:
        return ""
    return _dotted(node.args[0], names)


def _singleton_class(parsed: Parsed, name: str) -> ast.ClassDef | None:
    """The module-level class ``C`` of the module-level ``name = C(...)``, when it does not
    decide its pickling already (:data:`_DECIDED`)."""
    classes = {st.name: st for st in parsed.tree.body if isinstance(st, ast.ClassDef)}
    for st in parsed.tree.body:
        if (isinstance(st, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in st.targets)
                and isinstance(st.value, ast.Call) and isinstance(st.value.func, ast.Name)):
            cls = classes.get(st.value.func.id)
            if cls is not None and not any(isinstance(member, (ast.FunctionDef, ast.Assign)) and _DECIDED & _bound(member)
                                           for member in cls.body):
                return cls
    return None


def _bound(member: ast.stmt) -> set[str]:
    if isinstance(member, ast.FunctionDef):
        return {member.name}
    return {t.id for t in getattr(member, "targets", []) if isinstance(t, ast.Name)}


def _reduce(parsed: Parsed, cls: ast.ClassDef, name: str) -> Mutant | None:
    """``def __reduce__(self): return 'name'`` after the last statement of ``cls``, one blank
    line before it."""
    index, last = parsed.index, cls.body[-1]
    indent = parsed.line_indent(index.first_line(last))
    outer = parsed.line_indent(cls.lineno)
    step = indent[len(outer):] if indent.startswith(outer) and len(indent) > len(outer) else "    "
    nl = index.newline(cls.lineno)
    at = index.line_end(last_line(last))
    text = f"{nl}{indent}def __reduce__(self):{nl}{indent}{step}return {name!r}{nl}"
    if at == len(parsed.text) and not parsed.text.endswith(("\n", "\r")):
        text = nl + text
    return make_mutant("reduce_global", parsed, [(at, at, text)], cls.lineno,
                       f"add `__reduce__` returning {name!r} to `{cls.name}`: pickling and copying give the module's "
                       f"`{name}` back")

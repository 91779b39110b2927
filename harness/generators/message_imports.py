"""Message operator on a package's exports (issue 21): the name a test asks a package for is
defined in one of the package's own modules, which the package does not import.

``AttributeError: module 'pkg' has no attribute 'name'`` or ``ImportError: cannot import name
'name' from 'pkg'``, where ``pkg``'s file does not bind ``name`` and a sibling module of the
same package defines it at module level: the fix is an import that re-exports it
(``from .__version__ import __title__, __version__`` in ``furl/__init__.py``; a forgotten
export is a common release bug). Every name the failing tests ask ``pkg`` for (their messages,
and ``pkg.NAME`` / ``from pkg import NAME`` in their source) that the sibling defines goes in
the one import, placed after the package file's last top-level import (at its top when it has
none). Score: the share of the asked names the sibling defines.

Pure: files are read through :class:`~harness.generators.message_evidence.Files` and the
package's modules listed by the ``modules`` function given; no test is run here.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Callable

from harness.generators.message_evidence import Evidence, Files, Parsed, make_mutant
from harness.generators.message_names import IMPORT_NAME, MODULE_ATTR, top_names
from harness.generators.mutant import Mutant

#: the package's modules looked at for a definition (in name order).
MAX_SIBLINGS = 40
Scored = tuple[float, Mutant]
#: ``modules(directory) -> repo-relative paths of the .py files directly in it``.
Lister = Callable[[str], list[str]]


def reexports(files: Files, found: list[Evidence], modules: Lister) -> list[Scored]:
    """Candidates importing into a package the names its tests ask it for from the sibling
    module that defines them (see the module docstring), best first."""
    asked: dict[str, list[str]] = {}  # package dotted name -> names asked, first seen first
    for item in found:
        hit = (MODULE_ATTR.search(item.text) if item.exception == "AttributeError" else None)
        got = (hit.group(1), hit.group(2)) if hit else None
        if got is None and item.exception == "ImportError" and (imp := IMPORT_NAME.search(item.text)):
            got = (imp.group(2), imp.group(1))
        if got is not None:
            names = asked.setdefault(got[0], [])
            names[:] = list(dict.fromkeys([*names, got[1], *_asked_in_source(files, item.test_path, got[0])]))
    out: list[Scored] = []
    for dotted, names in asked.items():
        path = files.module(dotted) or ""
        parsed = files.parsed(path) if path and files.editable(path) else None
        if parsed is None or not path.endswith("__init__.py"):
            continue  # a package's __init__ only: a relative import needs a package
        bound = _bound(files, parsed)
        wanted = [n for n in names if n not in bound]
        if not wanted or wanted[0] != names[0]:
            continue
        for sibling in sorted(modules(posixpath.dirname(path)))[:MAX_SIBLINGS]:
            other = files.parsed(sibling) if sibling != path else None
            if other is None:
                continue
            defined = [n for n in wanted if n in top_names(other.tree)]
            if wanted[0] in defined:
                got_mutant = _import(parsed, sibling, defined)
                if got_mutant is not None:
                    out.append((len(defined) / len(wanted), got_mutant))
    return sorted(out, key=lambda pair: -pair[0])


def _asked_in_source(files: Files, test_path: str, dotted: str) -> list[str]:
    """Names a test file asks module ``dotted`` for: ``last.NAME`` (``last``: the dotted name's
    last part, as ``import pkg`` binds it) and ``from dotted import A, B``."""
    parsed = files.parsed(test_path)
    if parsed is None:
        return []
    last = dotted.rpartition(".")[2]
    out: list[str] = []
    for node in ast.walk(parsed.tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == last:
            out.append(node.attr)
        elif isinstance(node, ast.ImportFrom) and node.module == dotted and not node.level:
            out += [alias.name for alias in node.names if alias.name != "*"]
    return list(dict.fromkeys(out))


def _bound(files: Files, parsed: Parsed) -> set[str]:
    """Names a package file binds at its top level: definitions, assignments, imports, and the
    top-level names of a sibling it star-imports (``from .core import *``)."""
    names = set(top_names(parsed.tree))
    for st in parsed.tree.body:
        if isinstance(st, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in st.names if alias.name != "*")
        if isinstance(st, ast.ImportFrom) and st.level == 1 and st.module and any(a.name == "*" for a in st.names):
            star = files.parsed(posixpath.join(posixpath.dirname(parsed.path), *st.module.split(".")) + ".py")
            names.update(top_names(star.tree) if star else ())
    return names


def _import(parsed: Parsed, sibling: str, names: list[str]) -> Mutant | None:
    """``from .sibling import names`` put after ``parsed``'s last top-level import."""
    module = posixpath.splitext(posixpath.basename(sibling))[0]
    if module == "__init__":
        return None
    imports = [st for st in parsed.tree.body if isinstance(st, (ast.Import, ast.ImportFrom))]
    if imports:
        line = imports[-1].end_lineno or imports[-1].lineno
        at = parsed.text.find("\n", parsed.index.span(imports[-1])[1])  # past a trailing comment
        at = len(parsed.text) if at < 0 else at
        text = f"\nfrom .{module} import {', '.join(names)}"
    else:
        at, line, text = 0, 1, f"from .{module} import {', '.join(names)}\n"
    return make_mutant("import_asked", parsed, [(at, at, text)], line,
                       f"`from .{module} import {', '.join(names)}`: the names the tests ask "
                       f"`{posixpath.dirname(parsed.path) or '.'}` for, defined in {sibling}")

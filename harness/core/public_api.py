"""Public names a patch takes away: a fix that renames or deletes a module's API is suspect.

A failing test that imports a name the code does not have (``from m import PY38``) can be
passed by renaming the nearest existing name (``PY36`` -> ``PY38``): the test is happy, and
every caller of the old name breaks - callers the repository's tests may not have. Real
bug fixes keep the API they fix: they add the missing name, or alias it, and leave the old
one. So a plausible patch after which a public name of a changed module is no longer bound
is reported ``fixed (suspect: …)`` (:mod:`harness.core.overfit`), and the choice among
plausible patches prefers one that keeps it (:func:`harness.core.plausible.choose`).

Public means: listed in the module's ``__all__`` when it has one; otherwise a module-level
``def``, ``class`` or assigned name not starting with ``_``, and the methods and class
attributes (not starting with ``_``) of such a class. Imports are not API the module owns
(moving an import into the function that uses it is a common fix), and a test module's
names are not API at all. Pure: text in, text out.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

#: module-level statements whose names are the module's own (imports left out on purpose).
_BINDERS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)


def _targets(st: ast.stmt) -> list[str]:
    """Names a module- or class-level statement binds (``def``/``class`` names, plain
    assignment targets, tuple targets unpacked); [] for other statements."""
    if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [st.name]
    targets = st.targets if isinstance(st, ast.Assign) else [st.target] if isinstance(st, ast.AnnAssign) else []
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _declared_all(tree: ast.Module) -> set[str] | None:
    """The strings of a literal ``__all__ = [...]``/``(...)`` (None: no such assignment)."""
    for st in tree.body:
        if isinstance(st, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in st.targets):
            if isinstance(st.value, (ast.List, ast.Tuple)):
                return {e.value for e in st.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return None


def public_names(text: str) -> set[str]:
    """The public API of one module's source: ``name`` for a module-level binding, and
    ``Class.member`` for a public class's methods and class attributes. Empty when the
    text does not parse (a broken file is judged by the tests, not here)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return set()
    declared = _declared_all(tree)
    out: set[str] = set()
    for st in tree.body:
        if not isinstance(st, _BINDERS):
            continue
        for name in _targets(st):
            if name.startswith("_") or (declared is not None and name not in declared):
                continue
            out.add(name)
            if isinstance(st, ast.ClassDef):
                out.update(f"{name}.{member}" for inner in st.body if isinstance(inner, _BINDERS)
                           for member in _targets(inner) if not member.startswith("_"))
    return out


def is_test_module(rel: str) -> bool:
    """A test file by pytest's default patterns, or a file under a ``tests``/``test`` folder."""
    parts = rel.replace("\\", "/").split("/")
    name = parts[-1]
    return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py" or any(
        p in ("tests", "test", "testing") for p in parts[:-1])


def removed_public_names(old: Mapping[str, str | None], new: Mapping[str, str]) -> str:
    """Why a patch looks like an API break (empty when it does not): the first public name of
    a changed, non-test ``.py`` module (see :func:`public_names`) bound before the patch and
    not after it.

    Args:
        old: repo-relative path -> the file's text before the patch (None: the file is new).
        new: repo-relative path -> the file's text after the patch ("" for a removed file).
    """
    for rel in sorted(new):
        before = old.get(rel)
        if not before or not rel.endswith(".py") or is_test_module(rel):
            continue
        gone = sorted(public_names(before) - public_names(new[rel])) if new[rel] else []
        if gone and public_names(new[rel]):
            more = f" and {len(gone) - 1} more" if len(gone) > 1 else ""
            return (f"removes the public name `{gone[0]}`{more} from {rel}: code that uses it breaks "
                    "(a fix keeps the API it fixes; an alias would keep both)")
    return ""

"""What a plausible patch's coverage says (issue 21's overfit checks): which lines of the old
text a diff keeps and where they move (:func:`line_map`), the lines it adds, and the dead code
check of :class:`harness.core.overfit.OverfitChecks` (:func:`dead_code`): lines the passing tests
ran that no test runs any more, and a function the failing tests reached only through the edit.
Functionality deletion is what Qi et al., ISSTA 2015 ("An analysis of patch plausibility and
correctness for generate-and-validate patch generation systems") found behind most plausible but
wrong patches.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable, Collection, Iterable

from harness.core.evidence import IMPORT_CONTEXT
from harness.core.localize import simple_statements
from harness.core.public_api import is_test_module
from sandbox.patch import Patch


def line_map(patch: Patch, moved: bool = False) -> dict[str, dict[int, int | None]]:
    """Per changed file, old line -> new line for the lines inside hunks (None: removed);
    lines outside hunks shift by the hunks above them (see :func:`new_line`).

    With ``moved``, a removed line whose text comes back in the same hunk only re-indented
    (a ``return`` put under an added guard, a statement put in an added ``try``) maps to that
    added line, the first such one not yet taken: it is the same code, run or not after the patch."""
    import unidiff

    out: dict[str, dict[int, int | None]] = {}
    for pf in unidiff.PatchSet(patch.diff):
        path = pf.path[2:] if pf.path.startswith(("a/", "b/")) else pf.path
        per = out.setdefault(path, {})
        for h in pf:
            added = [(ln.value.strip(), ln.target_line_no) for ln in h if ln.is_added and ln.value.strip()]
            for ln in h:
                if ln.source_line_no is not None:
                    per[ln.source_line_no] = ln.target_line_no
                    if moved and ln.is_removed and (text := ln.value.strip()):
                        hit = next((i for i, (again, _) in enumerate(added) if again == text), None)
                        if hit is not None:
                            per[ln.source_line_no] = added.pop(hit)[1]
    return out


def added_lines(patch: Patch) -> dict[str, set[int]]:
    """Per changed file, the new text's line numbers (1-based) of the lines the patch adds."""
    import unidiff

    out: dict[str, set[int]] = {}
    for pf in unidiff.PatchSet(patch.diff):
        path = pf.path[2:] if pf.path.startswith(("a/", "b/")) else pf.path
        out.setdefault(path, set()).update(ln.target_line_no for h in pf for ln in h
                                           if ln.is_added and ln.target_line_no is not None)
    return out


#: calls a module-level table is written in (``frozenset([...])``).
_TABLE_CALLS = frozenset({"frozenset", "set", "tuple", "list", "dict"})
#: the nodes a data table is made of: displays of constants, names and their attributes or items.
_DATA = (ast.Constant, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.Name, ast.Attribute, ast.Subscript,
         ast.expr_context)


def table_only(patch: Patch, texts: dict[str, str], source: Callable[[str], str | None]) -> bool:
    """Does ``patch`` change nothing but entries of data tables: every line it adds (in the new
    text, ``texts``) and removes (in the old, ``source(rel)``) inside a module- or class-level
    assignment of a display of constants, names and their items (``VOID = frozenset(["br",
    ...])``, ``ATTRS = ((ns["xlink"], "href"), ...)``)? Such an edit routes the case it adds
    to the code the table sends it to; it makes no code dead by itself."""
    import unidiff

    for pf in unidiff.PatchSet(patch.diff):
        rel = pf.path[2:] if pf.path.startswith(("a/", "b/")) else pf.path
        added = {ln.target_line_no for h in pf for ln in h if ln.is_added and ln.target_line_no is not None}
        removed = {ln.source_line_no for h in pf for ln in h if ln.is_removed and ln.source_line_no is not None}
        for lines, text in ((added, texts.get(rel)), (removed, source(rel))):
            if lines and not lines <= _table_lines(text or ""):
                return False
    return True


def _table_lines(text: str) -> set[int]:
    """The lines of ``text``'s module- and class-level assignments of data tables."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return set()
    out: set[int] = set()
    bodies = [tree.body] + [node.body for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    for st in (st for body in bodies for st in body if isinstance(st, (ast.Assign, ast.AnnAssign))):
        value = st.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in _TABLE_CALLS \
                and len(value.args) == 1 and not value.keywords:
            value = value.args[0]
        if isinstance(value, (ast.Tuple, ast.List, ast.Set, ast.Dict)) and all(isinstance(n, _DATA) for n in ast.walk(value)):
            out.update(range(st.lineno, (st.end_lineno or st.lineno) + 1))
    return out


def new_line(mapping: dict[int, int | None], old: int) -> int | None:
    """``old``'s line number after the patch (None when the patch removed it)."""
    if old in mapping:
        return mapping[old]
    below = [k for k in mapping if k < old and mapping[k] is not None]
    if not below:
        return old
    k = max(below)
    moved = mapping[k]
    return old if moved is None else old + (moved - k)


def dead_code(by_line: dict[str, dict[int, list[str]]], root: str, slot_root: str,
              coverage: dict[str, dict[str, list[int]]], passing: list[str], bug_path: dict[str, set[int]],
              sampled: list[str], patch: Patch, texts: dict[str, str], *, failing: Iterable[str] = (),
              source: Callable[[str], str | None] = lambda _rel: None, reporters: Collection[str] = ()) -> str:
    """Why the re-run's coverage looks like an overfit (empty when it does not).

    Args:
        by_line: baseline coverage, absolute path (under ``root``) -> line -> test ids.
        root, slot_root: the baseline's and the patched worktree's roots, ending in a separator.
        coverage: the re-run's, test id -> absolute path (under ``slot_root``) -> lines.
        passing: the passing tests that execute the changed lines; sampled: the tests the patch
            fixes that the re-run ran.
        bug_path: the failing tests' traceback frames at baseline, repo-relative path -> lines.
        failing: the tests the patch fixes.
        source: repo-relative path -> the file's text before the patch (None: none), read from
            git's objects by the caller (the worktree's files are untrusted once tests ran there).
        patch: the patch; texts: its changed files' new text (repo-relative path -> text).
        reporters: names of functions that built the failing tests' error report
            (:func:`reporting_calls`): no loss when the fix stops calling them.

    A line counts as dead when the passing tests ran it at baseline, it is not on the bug's path,
    and no re-run test runs it now. Lines of test modules are no code path of the program: a
    test's branch on the interpreter's state (``if "requests" in sys.modules:``) runs or not
    with the order the tests run in, which the re-run of a few tests changes. The bug's path is a failing test's traceback, and the error
    path the failing tests ran: a ``raise`` or an ``except`` handler (restoring ``not in``
    leaves the ``raise`` the failing tests ended in and the handler that reported it, which
    tests expecting another error reached too). A normal line the failing tests merely ran is
    not exempt: a patch that turns the branch the failing test takes into dead code for every
    test (an ``and not key`` added to the guard of an update) is the branch-killing overfit of
    Qi et al., ISSTA 2015.
    """
    maps = line_map(patch, moved=True)
    watch, fix, failed = set(passing), set(sampled), set(failing)
    after: dict[str, set[int]] = {}
    for files in coverage.values():
        for path, lines in files.items():
            if path.startswith(slot_root):
                after.setdefault(path[len(slot_root):].replace(os.sep, "/"), set()).update(lines)
    dead: list[tuple[str, int, bool]] = []  # (path, line, a failing test ran it)
    reached: dict[str, set[int]] = {}  # lines the fixed tests ran at baseline, new numbering
    for path, per in by_line.items():
        if not path.startswith(root):
            continue
        rel = path[len(root):].replace(os.sep, "/")
        mapping, now = maps.get(rel, {}), after.get(rel, set())
        for ln, tests in per.items():
            if IMPORT_CONTEXT in tests and len(tests) == 1:
                continue
            new = new_line(mapping, ln) if mapping else ln
            if new is None:
                continue  # a changed line (not only moved): what it does now is the fix
            if watch.intersection(tests) and new not in now and ln not in bug_path.get(rel, ()) \
                    and not is_test_module(rel):  # a test's own branch on the interpreter's state
                dead.append((rel, ln, bool(failed.intersection(tests))))  # moves with the test order
            if fix.intersection(tests) and not is_test_module(rel):  # a test's own helper is no code path
                reached.setdefault(rel, set()).add(new)
    errors = {rel: error_path_lines(source(rel) or "") for rel in {rel for rel, _ln, ran in dead if ran}}
    dead = [(rel, ln, ran) for rel, ln, ran in dead if not (ran and ln in errors[rel])]
    if dead:
        rel, ln, _ran = dead[0]
        return (f"{len(dead)} line(s) the passing tests ran are no longer run ({rel}:{ln}"
                + (", ..." if len(dead) > 1 else "") + ")")
    if table_only(patch, texts, source):
        return ""  # an entry of a data table: which functions the routed case reaches is the table's meaning
    for rel, ran in reached.items():
        text = texts[rel] if rel in texts else source(rel)  # a file the patch leaves is as it was
        mapping = maps.get(rel, {})
        on_path = {new_line(mapping, ln) if mapping else ln for ln in bug_path.get(rel, ())}
        fn = _lost_function(text, ran, after.get(rel, set()), on_path, frozenset(reporters))
        if fn:
            return f"no test runs `{fn}` ({rel}) any more: the failing tests reached it only through the edit"
    return ""


#: a ``raise`` statement in a diff line (its text without the ``+``/``-``).
RAISE = re.compile(r"\s*raise\b")
#: a failing test that expects an exception: pytest's ``raises``, unittest's ``assertRaises``.
_EXPECTS = re.compile(r"\braises\(|\bassertRaises(?:Regex)?\(")


def bypassed_raise(by_line: dict[str, dict[int, list[str]]], root: str, slot_root: str,
                   coverage: dict[str, dict[str, list[int]]], sampled: list[str], patch: Patch,
                   texts: dict[str, str], source: Callable[[str], str | None], test_source: str) -> str:
    """Why a fix looks like it routes the failing tests around the ``raise`` they check
    (empty when it does not).

    The failing tests expect an exception (``test_source``, their files' text, calls
    ``raises(``/``assertRaises``); at baseline a sampled fixed test ran a ``raise`` of a function
    the patch edits; after the patch it still enters that function but runs none of its
    ``raise`` statements, the patch left that ``raise`` as it was and writes no ``raise`` of its
    own. So the exception the test now accepts comes from code the patch did not write (a
    callee's ``KeyError``), not from the statement whose message or type the test asked to
    change: a guard that makes the buggy branch unreachable for the test's input, the
    "workaround" kind of plausible but wrong patch (Qi et al., ISSTA 2015). A fix that moves the
    test to another ``raise`` of the same function (a condition fixed) or adds one (a guard
    raising the expected class) is not suspect.

    Args: as :func:`dead_code` (``sampled``: the fixed tests the re-run ran with coverage).
    """
    if not sampled or not _EXPECTS.search(test_source):
        return ""
    if any(RAISE.match(ln[1:]) for ln in patch.diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")):
        return ""
    maps, changed, fix = line_map(patch), added_lines(patch), set(sampled)
    after: dict[str, set[int]] = {}
    for t in sampled:
        for path, lines in coverage.get(t, {}).items():
            if path.startswith(slot_root):
                after.setdefault(path[len(slot_root):].replace(os.sep, "/"), set()).update(lines)
    for path, per in by_line.items():
        rel = path[len(root):].replace(os.sep, "/") if path.startswith(root) else ""
        if rel not in texts or is_test_module(rel):
            continue
        ran = {ln for ln, tests in per.items() if fix.intersection(tests)}
        mapping, now = maps.get(rel, {}), after.get(rel, set())
        try:
            tree = ast.parse(source(rel) or "")
        except (SyntaxError, ValueError):
            continue
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            span = range(fn.body[0].lineno, (fn.end_lineno or fn.body[-1].lineno) + 1)
            news = [new_line(mapping, ln) for ln in span]
            kept = [n for n in news if n is not None]
            edited = len(kept) < len(news) or any(min(kept) <= a <= max(kept) for a in changed.get(rel, ()))
            raises = [n.lineno for n in ast.walk(fn) if isinstance(n, ast.Raise) and n.exc is not None]
            left = [ln for ln in raises if ln in ran and new_line(mapping, ln) is not None]
            if (not left or not kept or not edited or not now.intersection(kept)
                    or any(new_line(mapping, ln) in now for ln in raises)):
                continue
            return (f"the failing tests expect an exception and no longer reach the `raise` at {rel}:{left[0]} "
                    f"in `{fn.name}`: the exception they get now comes from code the patch did not write")
    return ""


def error_path_lines(text: str) -> set[int]:
    """The lines of ``text``'s ``raise`` statements and ``except`` handlers (the ``except``
    line and its body): the error path. Empty when ``text`` does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return set()
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Raise, ast.ExceptHandler)):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


#: methods a failing assertion's message calls on the values it shows (``repr`` in pytest's
#: assertion rewriting, unittest's ``assertIsNone``): a fix that makes the assertion pass stops
#: calling them, which says nothing of the fix (parse 1.12's ``Result.__repr__``).
DISPLAY = frozenset({"__repr__", "__str__", "__format__", "__rich_repr__", "_repr_pretty_"})


def reporting_calls(chains: Iterable[list[tuple[str, int]]], source: Callable[[str], str | None]) -> set[str]:
    """Names of the functions the failing tests' error report was built with.

    Args:
        chains: per failing test, its traceback's in-repository frames ``(repo-relative path,
            line)``, outermost first.
        source: repo-relative path -> the file's text before the patch (None: none).

    Returns:
        The names called (``f(...)``, ``obj.f(...)``) inside the statement at each frame of a
        chain whose innermost frame is a ``raise``: the code reported an error, and what the
        statements on the way computed for the report ran only because of it (pycparser's
        ``p_error`` calls ``self.clex.find_tok_column(p)`` for the message's column). A fix
        that stops the error stops those calls too; that is no function lost. A chain ending
        elsewhere (a ``TypeError`` in a computation) names nothing. Each file is parsed once
        (tabulate: 138 failing tests ending in its 105 KB module took 7 s parsed per test).
    """
    names: set[str] = set()
    statements: dict[str, list[tuple[int, int, ast.stmt]]] = {}  # each file parsed once
    errors: dict[str, set[int]] = {}  # each file's error path found once, not once per failing test
    for chain in chains:
        if not chain:
            continue
        where, line = chain[-1]
        if where not in errors:
            errors[where] = error_path_lines(source(where) or "")
        if line not in errors[where]:
            continue
        for rel, line in chain:
            if rel not in statements:
                try:
                    statements[rel] = simple_statements(ast.parse(source(rel) or ""))
                except (SyntaxError, ValueError):
                    statements[rel] = []
            stmt = next((node for lo, hi, node in statements[rel] if lo <= line <= hi), None)
            for node in ast.walk(stmt) if stmt is not None else ():
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                    if name:
                        names.add(name)
    return names


def _error_classes(tree: ast.Module) -> list[ast.ClassDef]:
    """The module's exception classes: a base named ``...Error``/``...Exception``/``...Warning``
    (``Exception`` itself too), or a class of the module that is one."""
    classes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    names: set[str] = set()
    changed = True
    while changed:
        changed = False
        for cls in classes:
            bases = {b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else "" for b in cls.bases}
            if cls.name not in names and any(b.endswith(("Error", "Exception", "Warning")) or b in names for b in bases):
                names.add(cls.name)
                changed = True
    return [cls for cls in classes if cls.name in names]


def _lost_function(text: str | None, ran: set[int], now: set[int], on_path: Collection[int | None] = (),
                   reporters: frozenset[str] = frozenset()) -> str:
    """The name of a function (of ``text``; :data:`DISPLAY` methods, ``reporters``, the methods
    of exception classes and functions with a line ``on_path`` aside: the failing tests'
    traceback, whose error-reporting chain a fix is meant to stop reaching) whose body ``ran``
    entered and ``now`` does not."""
    if not text:
        return ""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return ""
    errors = {id(item) for cls in _error_classes(tree) for item in cls.body}  # an exception's own methods:
    for fn in ast.walk(tree):  # the error path a fix stops taking, caught inside the code or not
        if (isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.body and fn.name not in DISPLAY
                and fn.name not in reporters and id(fn) not in errors):
            body = range(fn.body[0].lineno, (fn.end_lineno or fn.body[-1].lineno) + 1)
            if any(n in ran for n in body) and not any(n in now for n in body) and not any(n in on_path for n in body):
                return fn.name
    return ""

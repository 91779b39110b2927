"""The data edits of a search (issue 21): :mod:`.table_ops` and :mod:`.regex_ops` candidates
for the modules the failing tests point to, scored to come early.

They are few and precise - each writes a literal of the failing tests that the module does
not contain, into a table or pattern the failing code reaches - so they are scored as the
best single edit at the module's most suspicious line would be (:data:`PRIORS`), decaying
by :data:`DECAY` per candidate of the module; when they are not few (:data:`FEW`), less.
No literal of the tests new to the module, no table or pattern reached: no candidate,
and the search is unchanged.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable

from harness.core.context import Context
from harness.core.localize import is_protected
from harness.generators.forward_ops import module_files
from harness.generators.literal_hints import Hints, gather, other_strings
from harness.generators.mutant import Mutant
from harness.generators.regex_guard import RegexTimeout, time_limit
from harness.generators.regex_composed import compiled_names, composed_regex_mutants
from harness.generators.regex_more import more_regex_mutants
from harness.generators.regex_narrow import narrow_regex_mutants
from harness.generators.regex_ops import regex_mutants
from harness.generators.data_text import module_strings, near_of, parsed
from harness.generators.message_evidence import Files
from harness.generators.name_table_ops import name_entry_mutants
from harness.generators.table_ops import row_entries, table_mutants

#: operator id -> prior, on the scale of :data:`harness.generators.mutations.OPERATOR_PRIORS`
#: (above its highest, 0.60: a value the failing test wrote beats a guessed edit).
PRIORS = {"table_value": 0.66, "regex_alternative": 0.64, "regex_optional": 0.63, "regex_class": 0.63,
          "regex_optional_char": 0.62, "regex_quantifier": 0.62, "table_entry": 0.62, "name_entry": 0.62,
          # regex_more: a piece inside the pattern made optional, a case-insensitive flag, a range end
          "regex_optional_piece": 0.63, "regex_ignorecase": 0.63, "regex_range": 0.63,
          # regex_narrow: a boundary, an anchor, a lazy quantifier (after the widening edits)
          "regex_narrow": 0.61,
          # the failing parametrize row's value, added to the table holding the other rows' values
          "row_entry": 0.66}
#: score factor of each further data edit of the same module.
DECAY = 0.85
#: literals of the failing tests new to a module that count as few: with more (tests full
#: of data, as a table-formatting suite's), each data edit is scored ``FEW / count`` of its
#: prior, so they fall behind the line mutants (an edit the failure itself gives - a
#: ``table_value`` from the assertion's actual and expected values, an entry for a
#: ``KeyError``'s key - keeps its score).
FEW = 4
#: modules looked at: the most suspicious ones (by their best line) first.
MAX_FILES = 3
#: suspicious lines of a module whose names count as reached by the failing code.
NEAR_LINES = 40
#: score of a module imported by a suspicious one (the names it binds are read on its suspicious
#: lines), against the importing module's best line
IMPORTED = 0.5
#: modules looked at in all: the most suspicious ones and those whose names they read.
MAX_CHOSEN = 8
#: modules searched for the table that holds the other parametrize rows' values.
MAX_ROW_MODULES = 40
#: modules of the ranked lines read for the patterns they compile from another module.
MAX_IMPORTERS = 12
#: wall seconds the regex edits of one module may take in all (:mod:`.regex_guard`): a pattern
#: that backtracks without end on a test's string costs this, not the run.
MODULE_REGEX_SECONDS = 10.0


def _given(mutant: Mutant, hints: Hints) -> bool:
    """Is the edit's value given by the failure itself (an assertion's expected value for its
    actual one, a new table entry that is an assertion's expected string or a failing
    ``parametrize`` row's string, or the key of a ``KeyError``), not guessed among the tests'
    literals?"""
    given = [*hints.missing_keys, *(e for _, e in hints.wrong if isinstance(e, str) and mutant.operator == "table_entry")]
    row = mutant.operator == "table_entry" and any(
        quoted in mutant.replacement for case in hints.cases for quoted in (repr(case), f'"{case}"'))
    return mutant.operator == "table_value" or row or any(repr(key)[1:-1] in mutant.replacement for key in given)


def _bound_lines(tree: ast.Module, wanted: set[str]) -> list[int]:
    """The lines of the module-level assignments of ``tree`` binding one of ``wanted`` (a
    statement over lines: all of them)."""
    return [n for st in tree.body if isinstance(st, (ast.Assign, ast.AnnAssign))
            and any(isinstance(t, ast.Name) and t.id in wanted for t in (st.targets if isinstance(st, ast.Assign) else [st.target]))
            for n in range(st.lineno, (st.end_lineno or st.lineno) + 1)]


def _module_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted module (leading dots: relative) of each top-level import that may bind
    a module: ``from . import misc`` (``.misc``), ``from pkg import mod``, ``import pkg.mod as mod``."""
    modules: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            modules.update({alias.asname or alias.name: f"{base}.{alias.name}" if node.module else base + alias.name
                            for alias in node.names})
        elif isinstance(node, ast.Import):
            modules.update({alias.asname: alias.name for alias in node.names if alias.asname})
    return modules


def imported(path: str, source: str, lines: list[int],
             read: Callable[[str], str | None]) -> list[tuple[str, list[int], set[str]]]:
    """The repository modules ``path`` (repo-relative, text ``source``) imports a name from
    (``from .constants import RE_HEADER``, ``from pkg.constants import ...``) that its
    ``lines`` read, as ``(repo-relative path, the lines binding those names there, the names)``:
    a pattern or table defined in one module and used in another (unidiff's ``constants.py``).
    Absolute imports resolve against the folders of ``path`` (``src/`` layouts); a module
    ``read`` cannot give is skipped."""
    tree = parsed(source)
    if tree is None:
        return []
    text = source.splitlines()
    used = {name for n in lines if 0 < n <= len(text) for name in re.findall(r"[A-Za-z_]\w*", text[n - 1])}
    folders = path.split("/")[:-1]
    out: list[tuple[str, list[int], set[str]]] = []
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        wanted = {alias.name for alias in node.names if (alias.asname or alias.name) in used}
        if not wanted:
            continue
        parts = node.module.split(".")
        base = folders[:len(folders) - node.level + 1] if node.level else \
            folders[:folders.index(parts[0])] if parts[0] in folders else []
        out += _binding(("/".join([*base, *parts]) + ".py", "/".join([*base, *parts, "__init__.py"])), wanted, read)
    return out + _module_attrs(path, tree, [text[n - 1] for n in lines if 0 < n <= len(text)], read)


def _module_attrs(path: str, tree: ast.Module, lines: list[str],
                  read: Callable[[str], str | None]) -> list[tuple[str, list[int], set[str]]]:
    """:func:`imported`'s rows for a module imported whole and read as ``mod.NAME`` on ``lines``
    (``from . import misc`` and ``misc.URI_MATCHER.match(...)``; ``import pkg.misc as misc``)."""
    modules = _module_names(tree)
    out: list[tuple[str, list[int], set[str]]] = []
    for local, dotted in modules.items():
        wanted = {m for line in lines for m in re.findall(rf"(?<![\w.]){re.escape(local)}\.([A-Za-z_]\w*)", line)}
        out += _binding(module_files(path, dotted), wanted, read) if wanted else []
    return out


def _binding(rels: Iterable[str], wanted: set[str], read: Callable[[str], str | None]) -> list[tuple[str, list[int], set[str]]]:
    """``[(rel, the lines binding wanted names there, wanted)]`` for the first of ``rels`` that
    ``read`` gives (none when it does not parse or binds none of them)."""
    for rel in rels:
        other = read(rel)
        if other is None:
            continue
        other_tree = parsed(other)
        bound = _bound_lines(other_tree, wanted) if other_tree is not None else []
        return [(rel, bound, wanted)] if bound else []
    return []


def compiled_by_importers(files: list[str], read: Callable[[str], str | None]) -> dict[str, set[str]]:
    """Module -> the names of it that another of ``files`` (repo-relative) compiles as
    ``re.compile(mod.NAME)`` after ``from . import mod`` / ``from pkg import mod`` / ``import
    pkg.mod as mod`` (rfc3986's ``misc.URI_MATCHER = re.compile(abnf_regexp.URL_PARSING_RE)``):
    a pattern composed in one module and compiled in another that the failing tests ran."""
    out: dict[str, set[str]] = {}
    for path in files[:MAX_IMPORTERS]:
        text = read(path) or ""
        if not re.search(r"\bre\.\w+\(\s*\w+\.\w+", text):  # no `re.compile(mod.NAME` here: not parsed
            continue
        tree = parsed(text)
        attrs = [name.split(".", 1) for name in compiled_names(tree) if "." in name] if tree is not None else []
        if not attrs or tree is None:
            continue
        modules = _module_names(tree)
        for alias, name in attrs:
            for rel in module_files(path, modules[alias]) if alias in modules else []:
                if read(rel) is not None:
                    out.setdefault(rel, set()).add(name)
                    break
    return out


def _bounded(make: Callable[..., list[Mutant]], *args: object) -> list[Mutant]:
    """``make(*args)``, or [] when its regular-expression work runs past :data:`MODULE_REGEX_SECONDS`."""
    try:
        with time_limit(MODULE_REGEX_SECONDS):
            return make(*args)
    except RegexTimeout:
        return []


def hinted(context: Context, lines: list[tuple[tuple[str, int], float]],
           read: Callable[[str], str | None]) -> list[tuple[float, Mutant]]:
    """The data edits for ``context`` as ``(score, mutant)``, best first.

    Args:
        context: the search's context (its ``root`` and ``task.failing`` give the hints).
        lines: the search's ranked suspicious lines ``((path, line), score)``, best first.
        read: repo-relative path -> the module's text (None when unreadable).

    Returns:
        Per module of the :data:`MAX_FILES` most suspicious, its table and regex candidates
        scored ``best line score x prior x DECAY**n`` (``x FEW / count`` past :data:`FEW`
        literals new to the module); empty when the tests give no hint.
    """
    hints = gather(context.root, context.task.failing)
    test_lines, passing = other_strings(context.root, context.task.failing)  # regex inputs and checks
    if not hints and not hints.words and not test_lines:
        return []
    files: dict[str, list[tuple[int, float]]] = {}
    for (path, line), score in lines:
        files.setdefault(path, []).append((line, score))
    for result in context.task.failing.values():  # frames in modules the coverage missed
        for frame in result.frames:
            if frame.path.endswith(".py") and not frame.path.startswith("/") and not is_protected(frame.path, context.protected):
                files.setdefault(frame.path, []).append((frame.line, 0.0))
    out: list[tuple[float, Mutant]] = []
    chosen = dict(list(files.items())[:MAX_FILES])
    compiled: dict[str, set[str]] = {}  # module -> its names another module compiles
    queue = list(chosen.items())  # the tables and patterns they import and read on those lines, two steps deep
    while queue:
        path, ranked = queue.pop(0)
        tree = parsed(read(path) or "")
        for other, bound, names in imported(path, read(path) or "", [line for line, _ in ranked[:NEAR_LINES]], read):
            compiled.setdefault(other, set()).update(names & compiled_names(tree) if tree is not None else ())
            if other not in chosen and not is_protected(other, context.protected) and len(chosen) < MAX_CHOSEN:
                chosen[other] = [(line, IMPORTED * max(score for _, score in ranked)) for line in bound]
                queue.append((other, chosen[other]))  # misc.URI_MATCHER -> misc.py -> abnf_regexp.URL_PARSING_RE
    top = max((score for ranked in chosen.values() for _, score in ranked), default=0.5)
    for other, names in compiled_by_importers([*chosen, *(f for f in files if f not in chosen)], read).items():
        compiled.setdefault(other, set()).update(names)  # `re.compile(mod.NAME)` in a module read or ranked
        if other not in chosen and not is_protected(other, context.protected) and len(chosen) < MAX_CHOSEN:
            chosen[other] = [(1, IMPORTED * top)]
    for path, ranked in chosen.items():
        source = read(path)
        if source is None:
            continue
        top = max(score for _, score in ranked) or 0.5
        near = near_of(source, [line for line, _ in ranked[:NEAR_LINES]])
        found = (_bounded(regex_mutants, path, source, hints, near)
                 + _bounded(more_regex_mutants, path, source, hints, passing, test_lines, near)
                 + _bounded(narrow_regex_mutants, path, source, hints, passing, test_lines, near)
                 + _bounded(composed_regex_mutants, path, source, hints, passing, test_lines, near,
                            compiled.get(path, ()))
                 + table_mutants(path, source, hints, near) + name_entry_mutants(path, source, hints, near))
        found.sort(key=lambda m: -PRIORS[m.operator])
        tree = parsed(source)
        if tree is None:
            continue
        known = module_strings(tree)
        novel = sum(s not in known for s in hints.strings)
        scale = min(1.0, FEW / novel) if novel else 1.0
        # the narrowing edits decay among themselves: they answer another failure (a match that
        # takes too much) than the widening ones sorted before them, and pass as strict a check
        ranks = {"narrow": 0, "other": 0}
        for m in found:
            family = "narrow" if m.operator == "regex_narrow" else "other"
            n, ranks[family] = ranks[family], ranks[family] + 1
            out.append((top * PRIORS[m.operator] * DECAY ** n * (1.0 if _given(m, hints) else scale), m))
    return sorted(out + _row_edits(context, hints, [*files, *chosen], read), key=lambda item: -item[0])


def _row_edits(context: Context, hints: Hints, located: list[str],
               read: Callable[[str], str | None]) -> list[tuple[float, Mutant]]:
    """:func:`~harness.generators.table_ops.row_entries` over every module of the suspicious
    lines and the frames, and the repository modules they import (the table that holds the
    other rows' values may sit in a constants module no suspicious line is in), at most
    :data:`MAX_ROW_MODULES` of them, scored by the prior alone (as the best edit at a line of
    suspiciousness 1): the rows name the table, whatever the coverage says of its module."""
    if not hints.cases or len(hints.siblings) < 2:
        return []
    imports = Files(read, context.protected)
    modules = list(dict.fromkeys(located))
    modules += [other for path in modules for other in imports.imported_by(path)]
    out: list[tuple[float, Mutant]] = []
    for path in [m for m in dict.fromkeys(modules) if not is_protected(m, context.protected)][:MAX_ROW_MODULES]:
        out += [(PRIORS["row_entry"] * DECAY ** n, m) for n, m in enumerate(row_entries(path, read(path) or "", hints))]
    return out

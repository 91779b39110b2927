"""Operators that change a class the code names, from the failing tests' evidence (issue 21).

Two families, each read from what the failing tests expect rather than tried blindly:

- **A raised class retyped to the one the test expects** (``raise_expected``). A failing test's
  exception escaped from a ``raise E(...)`` of the repository (the innermost repository frame
  of its traceback is that ``raise``), while the test's own source expects another class F
  (``pytest.raises(F)``, ``pytest.raises((F, G))``, ``self.assertRaises(F)``): the candidate is
  ``raise F(...)`` with the same arguments. ``DID NOT RAISE F`` (pytest) or ``F not raised``
  (unittest) does the same for a ``raise`` on a suspicious line (the failing tests ran it:
  an exception a handler swallowed before it reached the test). F must be nameable in the
  module (a builtin, a class it defines or imports: :func:`.message_except.spelled`) and must
  not already be a base of E (then the test would have passed).
- **An ``isinstance`` check widened by a sibling class** (``isinstance_sibling``).
  ``isinstance(x, A)`` or ``isinstance(x, (A, B))`` on a suspicious line -> ``isinstance(x, (A,
  C))``, where C is a class of the same namespace (``mod.C`` beside ``mod.A``, a class of the
  same module, or a builtin type beside a builtin) that the evidence names: C written in the
  failing test's code or messages, or one of the words of its test id (``test_exprlist_with_
  compound`` names ``Compound``). When a failing test's id names one of the site's own
  classes too (``exprlist``: the test is about this pair, the site is tied to the failure) it
  is tried before every mutant; else at a mutant's rank (suspiciousness times
  :data:`SIBLING_PRIOR`): classes a test's code calls and an assertion diff prints as values
  (semantic-version's ``AllOf(...) != AllOf(...)``) name what was compared, not what a check
  should accept. A class the enclosing function itself names (its other ``isinstance``
  checks, the same dispatch) but no test does is offered at a lower one
  (:data:`NEAR_PRIOR`), a few per site.

A third family lives in :mod:`.type_guard` (``type_guard``): a guard raising the class the test
expects where the code crashes on the bad input at a line that is no ``raise``.

Real cases: humanize 4.15.0 (``raise Exception(msg)`` -> ``raise FileNotFoundError(msg)``) and
pycparser 2.23 (``isinstance(n, c_ast.ExprList)`` -> ``isinstance(n, (c_ast.ExprList,
c_ast.Compound))``). What the failing tests expect and name is read by :mod:`.type_evidence`.
Pure: files are read through the ``read`` function given; nothing runs.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from harness.core.context import Context
from harness.generators.message_evidence import (
    Evidence, Files, Parsed, Reader, absolute, evidence, make_mutant, suspicious_spots,
)
from harness.generators.message_except import lineage, spelled
from harness.generators.mutant import Mutant
from harness.generators.type_evidence import FailingFunctions, Said, expected_classes, not_raised, said_by, failing_functions
from harness.generators.type_guard import GUARD_PRIOR, type_guards

#: operator id -> prior in (0, 1]: how sure its kind of evidence makes the edit.
TYPE_PRIORS: dict[str, float] = {"raise_expected": 0.95, "isinstance_sibling": 0.85, "type_guard": GUARD_PRIOR}
#: a widening whose added class the tests name but whose site's own classes they do not is
#: scored as a mutant with this operator prior (times the line's suspiciousness): the site is
#: not tied to the failure (tenacity's tests name RetryError; `isinstance(x, TryAgain)` is not
#: what fails), so it waits for its line's turn, among the likelier blind edits (guard_insert's).
SIBLING_PRIOR = 0.3
#: the same for a class only the code around names: below the common operators.
NEAR_PRIOR = 0.12
#: candidates per ``isinstance`` site, and in all (first tier and near ones each).
MAX_PER_SITE = 3
MAX_CANDIDATES = 8
#: suspicious lines whose ``raise`` statements and ``isinstance`` calls are read.
SCANNED_LINES = 400
#: builtin types an ``isinstance`` of a builtin may be widened with (the evidence must name one).
_BUILTIN_TYPES = frozenset({"int", "float", "complex", "str", "bytes", "bytearray", "list", "tuple", "dict",
                            "set", "frozenset", "bool", "range", "memoryview"})
_VERDICTS = frozenset({"AssertionError", "Failed", "Timeout", "TestTimeout", "Skipped"})


class Ranked(NamedTuple):
    """A candidate and its rank. ``score`` in (0, 1]; ``first``: the failing tests' own evidence
    names the class (tried before every mutant), else a mutant-scale score."""

    score: float
    mutant: Mutant
    first: bool


def type_mutants(context: Context, read: Reader) -> list[Ranked]:
    """The retyped ``raise`` and widened ``isinstance`` candidates for ``context``, best first,
    at most :data:`MAX_CANDIDATES` of each tier, one per new file text. ``read(path)`` gives a
    repository file's text (None when absent). Empty when no failing test has a message."""
    found = evidence(context.task.failing)
    if not found:
        return []
    files = Files(read, context.protected)
    spots = suspicious_spots(context.locations, SCANNED_LINES, py_only=True)  # path -> {line: suspiciousness}
    tests = failing_functions(files, found)
    said = said_by(found, tests, context.task.failing)
    got = retyped_raises(files, found, tests, spots) + widened_isinstance(files, spots, said)
    got += [Ranked(*guard) for guard in type_guards(files, found, tests)]  # a guard (type_guard.py)
    best: dict[tuple[str, tuple], Ranked] = {}
    for item in got:
        key = (item.mutant.path, item.mutant.key)
        if key not in best or (item.first, item.score) > (best[key].first, best[key].score):
            best[key] = item
    ranked = sorted(best.values(), key=lambda item: (not item.first, -item.score))
    return ([item for item in ranked if item.first][:MAX_CANDIDATES]
            + [item for item in ranked if not item.first][:MAX_CANDIDATES])


# -- 1. a raised class retyped --------------------------------------------------------
def retyped_raises(files: Files, found: list[Evidence], tests: FailingFunctions,
                   spots: Mapping[str, Mapping[int, float]]) -> list[Ranked]:
    """``raise E(...)`` -> ``raise F(...)`` for a test expecting F: at the innermost repository
    frame of an escaped E (score: the expectation's weight, times 0.9 when F is not a subclass
    of E), or, for ``DID NOT RAISE F``, at a ``raise`` on a suspicious line (times 0.6)."""
    out: list[Ranked] = []
    for item in found:
        sites: list[tuple[Parsed, ast.Raise]] = []
        expected: list[tuple[str, Parsed | None, float]] = []
        missing = not_raised(item)
        if missing:
            expected = [(name, None, 0.6) for name in missing]
            for path, lines in spots.items():
                sites += _raises(files, path, lines)
        elif item.exception not in _VERDICTS and item.frames:
            path, line = item.frames[-1]
            expected = [(name, where, weight) for name, where, weight in expected_classes(tests, item)]
            sites = _raises(files, path, {line})
        for parsed, node in sites:
            for name, where, weight in expected:
                got = _retyped(files, parsed, node, name, where)
                if got is not None:
                    out.append(Ranked(TYPE_PRIORS["raise_expected"] * weight * got[0], got[1], True))
    return out


def _raises(files: Files, path: str, lines: Iterable[int]) -> list[tuple[Parsed, ast.Raise]]:
    """The ``raise`` statements of editable file ``path`` with a line among ``lines``."""
    wanted = set(lines)
    text = files.read(path) if path.endswith(".py") else None
    rows = text.splitlines() if text else []
    if not any("raise" in rows[n - 1] for n in wanted if 0 < n <= len(rows)):
        return []  # a file read, never parsed, when none of the lines raises
    parsed = files.parsed(path) if files.editable(path) else None
    if parsed is None:
        return []
    return [(parsed, node) for node in ast.walk(parsed.tree) if isinstance(node, ast.Raise)
            and any(n in wanted for n in range(node.lineno, (node.end_lineno or node.lineno) + 1))]


def _retyped(files: Files, parsed: Parsed, node: ast.Raise, expected: str,
             where: Parsed | None) -> tuple[float, Mutant] | None:
    """``node``'s class replaced by ``expected`` (written in ``where``, a test file; None: as
    pytest prints it), with its factor (1.0 for a subclass of the raised class, else 0.9), or
    None when the module cannot name it or it is already a base of the raised class."""
    target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    if not isinstance(target, ast.Name | ast.Attribute):
        return None
    raised = ast.unparse(target)
    own = lineage(raised, files, parsed)
    wanted = (lineage(expected, files, where) if where is not None else []) or lineage(expected, files, parsed) \
        or lineage(expected, files)
    if not wanted or (own and wanted[0] in own):
        return None
    name = spelled(expected, wanted, files, parsed)
    if name is None or name == raised:
        return None
    start, end = parsed.index.span(target)
    mutant = make_mutant("raise_expected", parsed, [(start, end, name)], node.lineno,
                         f"`raise {raised}` -> `raise {name}`: the failing test expects {expected}")
    if mutant is None:
        return None
    return (1.0 if own and own[0] in wanted else 0.9), mutant


# -- 2. an isinstance check widened ------------------------------------------------------
class _Option(NamedTuple):
    """A widening not built yet: its rank, its site and the class added."""

    score: float
    first: bool
    parsed: Parsed
    call: ast.Call
    sibling: str


def widened_isinstance(files: Files, spots: Mapping[str, Mapping[int, float]], said: Said) -> list[Ranked]:
    """``isinstance(x, A)`` -> ``isinstance(x, (A, C))`` on the suspicious lines ``spots``
    (path -> {line: suspiciousness}) for a sibling class C a failing test's id names with one
    of the site's own classes (first tier: prior times both weights), C the tests name
    alone (suspiciousness times :data:`SIBLING_PRIOR` and C's weight) or C the enclosing
    function names (suspiciousness times :data:`NEAR_PRIOR`);
    :data:`MAX_PER_SITE` per site and :data:`MAX_CANDIDATES` in all of each tier, best first
    (only those are built: a candidate of a large module costs a parse)."""
    options: list[_Option] = []
    for path, lines in spots.items():
        text = files.read(path) if path.endswith(".py") else None
        rows = text.splitlines() if text else []
        if not any("isinstance" in rows[n - 1] for n in lines if 0 < n <= len(rows)) or not files.editable(path):
            continue  # a file read, never parsed, when no suspicious line of it calls isinstance
        parsed = files.parsed(path)
        for call in ast.walk(parsed.tree) if parsed is not None else ():
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "isinstance"
                    and len(call.args) == 2 and not call.keywords) or parsed is None:
                continue
            hit = [lines[n] for n in range(call.lineno, (call.end_lineno or call.lineno) + 1) if n in lines]
            if hit:
                options += _options(files, parsed, call, max(hit), said)
    out: list[Ranked] = []
    for tier in (True, False):
        ranked = sorted((option for option in options if option.first == tier), key=lambda option: -option.score)
        built = (Ranked(option.score, mutant, tier) for option in ranked if (mutant := _widened(option)) is not None)
        out += [item for _, item in zip(range(MAX_CANDIDATES), built)]
    return out


def _options(files: Files, parsed: Parsed, call: ast.Call, suspicious: float, said: Said) -> list[_Option]:
    """The classes one ``isinstance`` call may be widened by, ranked (at most
    :data:`MAX_PER_SITE` of each tier)."""
    arg = call.args[1]
    kinds = arg.elts if isinstance(arg, ast.Tuple) else [arg]
    if not kinds or not all(isinstance(kind, ast.Name | ast.Attribute) for kind in kinds):
        return []
    written = [ast.unparse(kind) for kind in kinds]
    fn = parsed.function_at(call.lineno)
    near = _names_in(fn) if fn is not None else set()
    site = max(said.weight(name) for name in written)  # the tests name the site's own class
    paired = any(map(said.in_test_id, written))  # a test id names it: the test is about this site
    first: list[_Option] = []
    rest: list[_Option] = []
    for sibling in siblings(files, parsed, written[0], said):
        weight = said.weight(sibling)
        if sibling in written or not (weight or sibling.rsplit(".", 1)[-1] in near) \
                or _subclass_of(files, parsed, sibling, written):
            continue
        if paired and said.in_test_id(sibling):  # then both weights are set
            first.append(_Option(TYPE_PRIORS["isinstance_sibling"] * weight * site, True, parsed, call, sibling))
        else:
            rest.append(_Option(suspicious * (SIBLING_PRIOR * weight or NEAR_PRIOR), False, parsed, call, sibling))
    first.sort(key=lambda option: -option.score)
    rest.sort(key=lambda option: -option.score)
    return first[:MAX_PER_SITE] + rest[:MAX_PER_SITE]


def _widened(option: _Option) -> Mutant | None:
    """The candidate of one option: the class added into the tuple after its last class (a
    trailing comma replaced), or a tuple made of the single class."""
    parsed, call, sibling = option.parsed, option.call, option.sibling
    arg = call.args[1]
    kinds = arg.elts if isinstance(arg, ast.Tuple) else [arg]
    start, end = parsed.index.span(arg)
    text, last = parsed.text[start:end], parsed.index.span(kinds[-1])[1]
    edit = (last, end - 1, f", {sibling}") if isinstance(arg, ast.Tuple) and text.endswith(")") \
        and parsed.text[last:end - 1].strip() in ("", ",") else (start, end, f"({text}, {sibling})")
    return make_mutant("isinstance_sibling", parsed, [edit], call.lineno,
                       f"`{ast.unparse(call)}` also accepts `{sibling}`")


def _names_in(fn: ast.AST) -> set[str]:
    return {node.id if isinstance(node, ast.Name) else node.attr for node in ast.walk(fn)
            if isinstance(node, ast.Name | ast.Attribute)}


def _subclass_of(files: Files, parsed: Parsed, name: str, written: list[str]) -> bool:
    """Whether the class ``name`` (as ``parsed`` writes it) derives from one of ``written``
    (then ``isinstance`` already accepts it): followed through the repository's ``class``
    statements."""
    heads = {found[0] for klass in written if (found := lineage(klass, files, parsed))}
    return any(klass in heads for klass in lineage(name, files, parsed)[1:])


def siblings(files: Files, parsed: Parsed, written: str, said: Said) -> list[str]:
    """The classes of ``written``'s namespace, as ``parsed`` can name them: ``mod.C`` for every
    class of the module ``mod`` names (``mod.A`` written); for a bare ``A``, the module's own
    classes when it defines A, the names it imports from A's module, or the builtin types the
    failing tests' messages name when A is a builtin type."""
    head, _, last = written.rpartition(".")
    if head:
        module = _module_of(files, parsed, head)
        other = files.parsed(module) if module else None
        return [f"{head}.{name}" for name in _classes(other)] if other is not None else []
    if last in _classes(parsed):
        return _classes(parsed)
    for st in parsed.tree.body:
        if isinstance(st, ast.ImportFrom) and any((alias.asname or alias.name) == last for alias in st.names):
            module = files.module(absolute(parsed.path, st.module, st.level))
            known = set(_classes(files.parsed(module))) if module else set()
            return [alias.asname or alias.name for alias in st.names if alias.name in known]
    if last in _BUILTIN_TYPES and isinstance(getattr(builtins, last, None), type):
        return sorted(name for name in _BUILTIN_TYPES if name in said.told)
    return []


def _classes(parsed: Parsed | None) -> list[str]:
    return [] if parsed is None else [st.name for st in parsed.tree.body if isinstance(st, ast.ClassDef)]


def _module_of(files: Files, parsed: Parsed, head: str) -> str | None:
    """The repository file a dotted prefix written in ``parsed`` names (``c_ast`` through ``from
    . import c_ast``, ``pkg.mod`` through ``import pkg.mod``), or None."""
    first, _, rest = head.partition(".")
    for st in parsed.tree.body:
        if isinstance(st, ast.Import):
            for alias in st.names:
                if (alias.asname or alias.name.split(".")[0]) == first:
                    base = alias.name if alias.asname else first
                    return files.module(base + ("." + rest if rest else ""))
        elif isinstance(st, ast.ImportFrom):
            for alias in st.names:
                if (alias.asname or alias.name) == first:
                    base = f"{absolute(parsed.path, st.module, st.level)}.{alias.name}".lstrip(".")
                    return files.module(base + ("." + rest if rest else ""))
    return None


"""Operators guided by the failing tests' own evidence (issue 21): the exception message and
traceback frames each failing test carries, read before any blind mutation.

Many real fixes are written in the failure itself: ``got multiple values for argument 'self'``
(:func:`.message_names.positional_only`), a name the test asks for that the code spells
differently (:func:`.message_names.asked_names`), an exception that escaped a ``try`` the
frames pass through or one a test expected and a handler swallowed
(:mod:`.message_except`), a string the assertion diff shows one word too long
(:mod:`.message_literals`), a method read as a value that lacks ``@property``
(:mod:`.message_members`), a module used but never imported or a global assigned without
``global`` (:mod:`.message_scope`), a name the test patches in the module it comes from while
the code bound it at import (:mod:`.message_patch`), ``str`` where ``bytes`` was wanted or the
other way round (:mod:`.message_bytes`), a string or dict the failing test builds with the
code's template and other fields (:mod:`.message_template`), an attribute some objects lack
read behind ``hasattr`` (:mod:`.attr_guard`), a singleton a test pickles given ``__reduce__``
(:mod:`.pickle_ops`). These candidates are few and precise, so the templates generator
tries them before its mutants at the suspicious lines
(:class:`harness.generators.templates.TemplateGenerator`). Their patches go through the same
stages as any other: the full suite (a rename that breaks an import elsewhere is rejected
there) and the overfit checks of :mod:`harness.core.overfit`.

Pure: files are read through the ``read`` function given; no test is run here.
"""

from __future__ import annotations

from harness.core.context import Context
from harness.generators.attr_guard import attr_guards
from harness.generators.pickle_ops import singleton_reduce
from harness.generators.message_bytes import bytes_edits
from harness.generators.message_evidence import Files, Reader, evidence, related_files, suspicious_spots
from harness.generators.message_except import unswallow, widen
from harness.generators.message_imports import Lister, reexports
from harness.generators.message_literals import literal_edits
from harness.generators.message_members import asks_member, member_edits
from harness.generators.message_scope import asks_scope, scope_edits
from harness.generators.message_template import template_edits
from harness.generators.message_names import asked_names, asks, positional_only
from harness.generators.message_patch import patch_edits
from harness.generators.mutant import Mutant

#: operator id -> prior in (0, 1]: how sure its kind of evidence makes the edit, before the
#: operator's own score (how precisely the evidence points at this edit).
MESSAGE_PRIORS: dict[str, float] = {
    "positional_only": 1.0, "except_base": 0.95, "except_narrow": 0.95, "rename_to_asked": 0.9,
    "literal_from_diff": 0.9, "except_widen": 0.85, "except_reraise": 0.8, "alias_asked": 0.8,
    "except_drop": 0.6, "import_asked": 0.9, "add_property": 0.9, "add_staticmethod": 0.85, "rename_param": 0.85, "return_self": 0.8, "import_missing": 0.9, "declare_name": 0.85,
    "patch_lookup": 0.9, "bytes_literal": 0.85, "bytes_convert": 0.8, "template_from_test": 0.85,
    "hasattr_conjunct": 0.85, "hasattr_guard": 0.85, "getattr_default": 0.85, "reduce_global": 0.9,
}
#: message candidates handed out at most (the best first), and at most of one operator.
MAX_CANDIDATES = 12
MAX_PER_OPERATOR = 4
#: suspicious lines whose functions the literal and handler operators read (most suspicious first).
LOCATED_LINES = 40


def message_mutants(context: Context, read: Reader, modules: Lister = lambda directory: []) -> list[tuple[float, Mutant]]:
    """The candidates the failing tests' messages and frames point at, as ``(score, mutant)``
    with score in (0, 1] (prior times the operator's own precision), best first, at most
    :data:`MAX_CANDIDATES`, one per new file text. ``read(path)`` gives a repository file's
    text (None when absent); ``modules(directory)`` the ``.py`` files directly in a directory
    (repo-relative; for :func:`.message_imports.reexports`). Empty when no failing test says anything these operators read."""
    found = evidence(context.task.failing)
    if not found:
        return []
    files = Files(read, context.protected)
    spots = suspicious_spots(context.locations, LOCATED_LINES)  # path -> {line: suspiciousness}
    located = {path: set(lines) for path, lines in spots.items()}
    for item in found:
        for path, line in item.frames:
            spots.setdefault(path, {})[line] = 1.0
    paths = related_files(files, found, located) if asks(found) else []
    scored = (positional_only(files, found, paths) + asked_names(files, found, paths) + widen(files, found)
              + unswallow(files, found, located) + literal_edits(files, found, spots)
              + (reexports(files, found, modules) if paths else [])
              + (member_edits(files, found, paths or related_files(files, found, located))
                 if asks_member(found) else [])
              + (scope_edits(files, found, modules) if asks_scope(found) else [])
              + patch_edits(files, found, lambda: paths or related_files(files, found, located))
              + bytes_edits(files, found) + template_edits(files, found, spots) + attr_guards(files, found)
              + singleton_reduce(files, found))
    best: dict[tuple[str, tuple], tuple[float, Mutant]] = {}
    for score, mutant in scored:
        value = score * MESSAGE_PRIORS[mutant.operator]
        key = (mutant.path, mutant.key)
        if key not in best or value > best[key][0]:
            best[key] = (value, mutant)
    ranked = sorted(best.values(), key=lambda pair: -pair[0])  # stable: the operators' order on ties
    per_operator: dict[str, int] = {}
    out = []
    for value, mutant in ranked:
        per_operator[mutant.operator] = per_operator.get(mutant.operator, 0) + 1
        if per_operator[mutant.operator] <= MAX_PER_OPERATOR:
            out.append((value, mutant))
    return out[:MAX_CANDIDATES]

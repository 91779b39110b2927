"""Equality that NaN breaks (issue 21): ``nan_identity``.

``float('nan') == float('nan')`` is false, so code that checks a value against itself or
against the object it came from with ``==`` (``assert base.val == resolved``, a cache or
a merge that compares what it stored) fails as soon as the data holds a NaN. Python's own
containers compare their items by identity first for this reason (``x is y or x == y``, the
language reference, "Value comparisons"). jsonmerge 1.6.1 fixed three such asserts by
writing ``is``.

The evidence is the failing tests' own: a test function that builds a NaN
(``float('nan')``, ``math.nan``, ``np.nan``, ``Decimal('NaN')``) or is named for one
(``test_nan``). Then each ``==`` / ``!=`` comparison on the failing code's most suspicious
lines gets ``is`` / ``is not`` and the identity-first form ``a is b or a == b`` /
``a is not b and a != b``, scored like the data edits (:mod:`.data_edits`): few, and what the
test is about. No NaN in the failing tests, no candidate.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from harness.core.context import Context
from harness.core.localize import is_protected
from harness.generators.data_text import Text, make, parsed
from harness.generators.literal_hints import test_functions
from harness.generators.mutant import Mutant

#: operator id -> prior, on the scale of :data:`harness.generators.mutations.OPERATOR_PRIORS`.
PRIORS = {"nan_identity": 0.62}
#: score factor of each further candidate.
DECAY = 0.9
#: suspicious lines looked at, most suspicious first.
MAX_LINES = 12
#: a NaN built in a test's source: ``float('nan')``, ``math.nan``, ``np.nan``, ``Decimal("NaN")``.
_NAN = re.compile(r"""\bnan\b|float\(\s*['"][-+]?nan['"]\s*\)|Decimal\(\s*['"][-+]?s?nan['"]\s*\)""", re.IGNORECASE)


def tests_use_nan(root: Path, failing: dict) -> bool:
    """Whether a failing test function (``failing``: test id -> result) builds a NaN or is
    named for one (a ``nan`` part of its name). Read once per root and set of tests: every
    search of a run (the base one and each lead's) asks."""
    return _uses_nan(root, tuple(sorted(failing)))


@lru_cache(maxsize=64)
def _uses_nan(root: Path, test_ids: tuple[str, ...]) -> bool:
    for _test_id, _rel, fn in test_functions(root, test_ids):
        if "nan" in fn.name.lower().split("_") or _NAN.search(ast.unparse(fn)):
            return True
    return False


def nan_edits(context: Context, lines: list[tuple[tuple[str, int], float]],
              read: Callable[[str], str | None]) -> list[tuple[float, Mutant]]:
    """The identity candidates for ``context`` as ``(score, mutant)``, best first.

    Args:
        context: the search's context (``root`` and ``task.failing`` give the tests' source).
        lines: the search's ranked suspicious lines ``((path, line), score)``, best first.
        read: repo-relative path -> the module's text (None when unreadable).

    Returns:
        For each ``==``/``!=`` comparison of two operands on the :data:`MAX_LINES` most
        suspicious lines (protected paths left out), ``is`` then the identity-first form,
        scored ``line score x prior x DECAY**n``; empty when no failing test uses a NaN.
    """
    ranked = [(path, line, score) for (path, line), score in lines[:MAX_LINES]
              if path.endswith(".py") and not is_protected(path, context.protected)]
    if not ranked or not tests_use_nan(Path(context.root), context.task.failing):
        return []
    out: list[tuple[float, Mutant]] = []
    texts: dict[str, tuple[Text, ast.Module] | None] = {}
    for path, line, score in ranked:
        if path not in texts:
            source = read(path)
            tree = parsed(source) if source else None  # the data edits' one tree per text
            texts[path] = (Text(source), tree) if source and tree is not None else None
        got = texts[path]
        if got is None:
            continue
        text, tree = got
        for node in ast.walk(tree):
            if (isinstance(node, ast.Compare) and node.lineno == line and len(node.ops) == 1
                    and isinstance(node.ops[0], (ast.Eq, ast.NotEq))):
                for mutant in _identity(path, text, node):
                    out.append((score * PRIORS["nan_identity"] * DECAY ** len(out), mutant))
    return out


def _identity(path: str, text: Text, node: ast.Compare) -> list[Mutant]:
    """``a is b`` and ``a is b or a == b`` for ``a == b`` (``is not`` / ``and`` for ``!=``)."""
    start, end = text.span(node)
    left, right = (text.source[slice(*text.span(n))] for n in (node.left, node.comparators[0]))
    eq = isinstance(node.ops[0], ast.Eq)
    op, join, sym = ("is", "or", "==") if eq else ("is not", "and", "!=")
    out = []
    for new, desc in ((f"{left} {op} {right}", f"`{sym}` -> `{op}` (NaN is not equal to itself)"),
                      (f"({left} {op} {right} {join} {left} {sym} {right})", f"`{sym}` -> `{op}` first, as containers compare")):
        mutant = make("nan_identity", path, text, node.lineno, desc, start, end, new)
        if mutant is not None:
            out.append(mutant)
    return out

"""Names a partial fix changed are *hot*: the search moves the candidates that touch them
(by name part: ``strict`` in ``disable_strict``) ahead. Tabulate s2's bug computes
``disable_numparse``'s flags; ``numparse and ...`` -> ``numparse or ...`` fixes 139 of its
156 failing tests with regressions, long before the fix's turn."""

from __future__ import annotations

import textwrap

from harness.core.context import Attempt, Context, SuspiciousLocation
from harness.core.task import Task
from harness.generators.feedback import name_parts, near_names
from harness.generators.templates import TemplateGenerator

SOURCE = textwrap.dedent('''
    def flags(disable_strict, n):
        width = n * 2 + 1
        pad = width - n
        return [disable_strict] * n


    def check(value, strict, lo=0, hi=10):
        if value < lo or value > hi:
            return lo
        if strict and value == hi:
            return hi - 1
        return value
''').lstrip()
FIX = "return [not disable_strict] * n"


def _context(root, attempts=()) -> Context:
    (root / "m.py").write_text(SOURCE)
    locs = [SuspiciousLocation("m.py", line, 0.8) for line in range(1, 14)]
    task = Task("failing_tests", failing={f"t.py::test_{i}": None for i in range(8)})
    return Context(root, task, locs, (), attempts=list(attempts))


def _position_of_fix(tmp_path, fixed: int) -> int:
    """Where the fix comes after a first batch in which ``strict and`` -> ``strict or``
    fixed ``fixed`` of the 8 failing tests (with regressions)."""
    tmp_path.mkdir(exist_ok=True)
    gen = TemplateGenerator(batch=8)
    first = gen.generate(_context(tmp_path)).candidates
    swap = next(p for p in gen.generate(_context(tmp_path, [Attempt(p.digest, "", False, "x") for p in first])).candidates
                if "if strict or value" in p.diff)
    tried = [Attempt(p.digest, p.description, False, "x", p.diff, False,
                     tuple(f"t.py::test_{i}" for i in range(fixed)) if p is swap else ()) for p in [*first, swap]]
    order = []
    while True:
        batch = gen.generate(_context(tmp_path, tried)).candidates
        if not batch:
            return 10**6
        order += batch
        tried += [Attempt(p.digest, p.description, False, "x") for p in batch]
        hit = next((i for i, p in enumerate(order) if FIX in p.diff), None)
        if hit is not None:
            return hit


def test_the_candidates_touching_a_hot_name_come_first(tmp_path):
    cold = _position_of_fix(tmp_path / "cold", fixed=0)
    hot = _position_of_fix(tmp_path / "hot", fixed=6)
    assert hot < cold, (hot, cold)


def test_near_names_are_the_names_an_edit_changes_or_sits_between():
    from harness.generators.mutations import mutants_at

    by = {(m.operator, m.line): m for m in mutants_at("m.py", SOURCE, [4, 10])}
    swap = by[("boolop_swap", 10)]  # `strict and value == hi` -> `strict or ...`
    assert near_names(swap, changed=True) == {"strict", "value"}
    neg = by[("negate_value", 4)]
    assert "strict" in near_names(neg) and "disable" in near_names(neg)


def test_self_is_not_a_hot_name():

    assert name_parts("self.max_width and self.numParse") == {"width", "parse"}  # 3-letter parts too

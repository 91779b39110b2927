"""A lead's two-site candidates are weighted by the share of the failing tests the lead
fixes: a partial fix that explains little of the failure (tabulate s2: 64 of 156) does not
push the single edits of the base search behind a long run of pairs built on it."""

from __future__ import annotations

from harness.core.context import Attempt, Context
from harness.core.task import Task
from harness.generators.templates import LEAD_WEIGHT, TemplateGenerator
from tests.test_templates import make_context


def _with_failing(ctx: Context, n: int, attempts: list[Attempt]) -> Context:
    task = Task("failing_tests", failing={f"t.py::test_{i}": None for i in range(n)})
    return Context(ctx.root, task, ctx.locations, ctx.protected, attempts=attempts)


def _pairs_in_next_batch(tmp_path, failing: int, fixed: int) -> tuple[int, float]:
    """(two-site candidates in the batch after a lead fixing ``fixed`` of ``failing``, their best score)."""
    gen = TemplateGenerator(batch=10)
    tmp_path.mkdir(exist_ok=True)
    ctx = make_context(tmp_path, {5: 1.0, 3: 0.9, 11: 0.8, 12: 0.7})
    first = gen.generate(_with_failing(ctx, failing, [])).candidates
    lead = first[0]
    attempts = [Attempt(p.digest, p.description, False, "fixes none") for p in first[1:]]
    attempts.append(Attempt(lead.digest, lead.description, False, "partial", lead.diff, True,
                            tuple(f"t.py::test_{i}" for i in range(fixed))))
    batch = gen.generate(_with_failing(ctx, failing, attempts)).candidates
    pairs = [p for p in batch if p.meta.get("lead") == lead.digest]
    return len(pairs), max((p.meta["score"] for p in pairs), default=0.0)


def test_a_lead_fixing_all_failing_tests_but_one_keeps_the_full_weight(tmp_path):
    pairs, best = _pairs_in_next_batch(tmp_path, failing=2, fixed=1)
    assert pairs >= 3 and best > 0.5 * LEAD_WEIGHT * 0.6  # the best line's score 1.0, a top prior


def test_a_lead_fixing_a_small_share_of_the_failing_tests_weighs_less(tmp_path):
    many, best_many = _pairs_in_next_batch(tmp_path / "a", failing=2, fixed=1)
    few, best_few = _pairs_in_next_batch(tmp_path / "b", failing=40, fixed=4)  # a tenth
    assert few < many and best_few < best_many / 5

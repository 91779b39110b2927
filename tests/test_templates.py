"""The offline template repairer: lazy best-first order, batches, deduplication."""

from __future__ import annotations

import textwrap

from harness.core.context import Attempt, Context, SuspiciousLocation
from harness.generators.mutations import OPERATOR_PRIORS, mutants_at
from harness.generators.templates import DECAY, TemplateGenerator
from harness.core.task import Task

SOURCE = textwrap.dedent('''
    def clamp(x, lo, hi):
        if x < lo:
            return lo
        if x >= hi:
            return lo
        return x


    def total(items, start=0):
        acc = start
        for i in range(len(items) - 1):
            acc += items[i] * 2
        return acc if acc > 0 else 0
''').lstrip()


def make_context(tmp_path, scores: dict[int, float], attempts=()) -> Context:
    (tmp_path / "pkg").mkdir(exist_ok=True)
    (tmp_path / "pkg" / "m.py").write_text(SOURCE)
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "tests" / "test_m.py").write_text("def test_x():\n    assert 1 == 1\n")
    locs = [SuspiciousLocation("pkg/m.py", line, s) for line, s in scores.items()]
    locs.append(SuspiciousLocation("tests/test_m.py", 2, 1.0))  # protected: never mutated
    locs.sort(key=lambda loc: -loc.score)
    return Context(tmp_path, Task("failing_tests"), locs, ("tests/*",), attempts=list(attempts))


def eager(scores: dict[int, float]) -> list[tuple[float, str]]:
    """Every mutant of every line scored up front, the order the lazy search must match."""
    out, seen = [], set()
    for line, score in sorted(scores.items(), key=lambda kv: -kv[1]):
        count: dict[str, int] = {}
        for m in mutants_at("pkg/m.py", SOURCE, [line]):
            if m.new_source in seen:
                continue
            seen.add(m.new_source)
            n = count[m.operator] = count.get(m.operator, -1) + 1
            out.append((score * OPERATOR_PRIORS[m.operator] * DECAY ** n, m.new_source))
    return sorted(out, key=lambda t: -t[0])


def test_lazy_order_is_the_eager_order(tmp_path):
    scores = {line: 1.0 / line for line in range(1, 14)}
    ctx = make_context(tmp_path, scores)
    lazy = TemplateGenerator().candidates(ctx)
    assert [round(s, 9) for s, _ in lazy] == [round(s, 9) for s, _ in eager(scores)]
    assert sorted(m.new_source for _, m in lazy) == sorted(src for _, src in eager(scores))
    assert all(m.path == "pkg/m.py" for _, m in lazy)  # the test file is protected
    prefix = TemplateGenerator().candidates(ctx, limit=7)
    assert [m.new_source for _, m in prefix] == [m.new_source for _, m in lazy[:7]]


def test_batches_are_disjoint_and_skip_tried_patches(tmp_path):
    scores = {5: 1.0, 3: 0.7, 11: 0.4}
    gen = TemplateGenerator(batch=10)
    ctx = make_context(tmp_path, scores)
    first = gen.generate(ctx).candidates
    assert len(first) == 10 and len({p.digest for p in first}) == 10
    tried = [Attempt(p.digest, p.description, False, "fixes none") for p in first]
    second = gen.generate(make_context(tmp_path, scores, tried)).candidates
    assert second and not {p.digest for p in first} & {p.digest for p in second}
    fresh = TemplateGenerator(batch=10).generate(make_context(tmp_path, scores, tried)).candidates
    assert [p.digest for p in fresh] == [p.digest for p in second]  # a resumed run asks the same
    best = first[0]
    assert best.meta["line"] == 5 and best.meta["generator"] == "templates"
    assert list(best.files) == ["pkg/m.py"] and best.diff.startswith("--- a/pkg/m.py")


def test_nothing_left_is_an_empty_proposal(tmp_path):
    ctx = make_context(tmp_path, {})
    assert TemplateGenerator().generate(ctx).candidates == []

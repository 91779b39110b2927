"""What a candidate costs in its slot: a two-site candidate (a lead's edit + one more) is
probed on a test its lead leaves failing, so a second edit that fixes nothing more is
rejected by one test instead of the screen and the whole suite; a test known to fail for
real with candidates is not re-run alone for one that cannot be complete; a search starts
with a small batch."""

from __future__ import annotations


from harness.core.context import Attempt
from harness.core.outcome import Outcome
from sandbox.patch import Patch
from tests.conftest import PYTHON, validate_patches

#: two independent bugs: ``area`` (four tests) and ``perimeter`` (one, slower, named last)
SHAPES = '''\
def area(w, h):
    return w + h


def perimeter(w, h):
    return 2 * (w - h)
'''
TESTS = '''\
import time

from shapes import area, perimeter


def test_a1():
    assert area(2, 3) == 6


def test_a2():
    assert area(4, 5) == 20


def test_a3():
    assert area(1, 7) == 7


def test_a4():
    assert area(3, 3) == 9


def test_z_perimeter():
    time.sleep(0.2)
    assert perimeter(2, 3) == 10


def test_passing():
    assert area(0, 0) == 0 or True
'''
LEAD_TEXT = SHAPES.replace("w + h", "w * h")
LEAD = Patch.from_texts({"shapes.py": (SHAPES, LEAD_TEXT)}, "line 2: `+` -> `*`", {"operator": "binop_swap"})
#: the lead's edit plus a second one that fixes nothing more (``perimeter`` still wrong)
TWO_SITE = Patch.from_texts({"shapes.py": (SHAPES, LEAD_TEXT.replace("(w - h)", "(w - h - 1)"))},
                            "lead + line 6", {"operator": "const_off_by_one", "lead": LEAD.digest, "sites": 2})


def _validate(root, patch: Patch | list[Patch], leads: list[Outcome]) -> Outcome | list[Outcome]:
    seen, _ = validate_patches(root, patch if isinstance(patch, list) else [patch], ("test_*.py",), leads)
    return seen if isinstance(patch, list) else seen[0]


def test_a_two_site_candidate_is_probed_on_a_test_its_lead_leaves_failing(make_repo):
    root = make_repo({"shapes.py": SHAPES, "test_shapes.py": TESTS})
    fixed = [f"test_shapes.py::test_a{i}" for i in range(1, 5)]
    lead = Outcome(LEAD, False, "fixes 4 of 5 failing tests, no regressions", "full", viable=True, fixed=fixed)
    out = _validate(root, TWO_SITE, [lead])
    assert out.stage == "screen" and not out.viable
    assert set(out.seconds) == {"apply", "probe", "reset"}, out.seconds  # one test, no screen, no full suite
    assert out.tests_run == 1
    assert out.reason.startswith("fixes none of the 1 failing tests its lead leaves failing; "
                                 "test_shapes.py::test_z_perimeter still fails"), out.reason


def test_without_its_lead_known_the_same_candidate_is_screened_as_before(make_repo):
    root = make_repo({"shapes.py": SHAPES, "test_shapes.py": TESTS})
    out = _validate(root, TWO_SITE, [])  # the probe is the fastest nearest test: one area() fixes
    assert "screen" in out.seconds and out.viable and len(out.fixed) == 4


def test_a_search_starts_with_a_small_batch_then_full_ones(tmp_path):
    from harness.generators.templates import FIRST_BATCH, TemplateGenerator
    from tests.test_templates import make_context

    ctx = make_context(tmp_path, {line: 1.0 / line for line in range(1, 14)})
    gen = TemplateGenerator(batch=64)
    sizes = []
    for _ in range(2):
        batch = gen.generate(ctx).candidates
        sizes.append(len(batch))
        ctx.attempts += [Attempt(p.digest, p.description, False, "fixes none") for p in batch]
    assert sizes == [FIRST_BATCH, 64] and FIRST_BATCH < 64


F = "def f(x):\n    return x + 1\n"
F_TESTS = """\
from f import f


def test_one():
    assert f(1) == 3


def test_two():
    assert f(2) == 5


def test_guard():
    assert f(0) == 1
"""


def _f(new: str, what: str) -> Patch:
    return Patch.from_texts({"f.py": (F, F.replace("x + 1", new))}, what, {"operator": "binop_swap"})


def test_a_known_regression_is_not_re_run_for_a_candidate_that_cannot_be_complete(make_repo):
    root = make_repo({"f.py": F, "test_f.py": F_TESTS})
    # two partial fixes (test_one only) and one that fixes both; each breaks test_guard
    a, b, c = _f("x + 2", "a"), _f("2 + x", "b"), _f("2 * x + 1 + (x == 0)", "c")
    seen = {o.patch.description: o for o in _validate(root, [a, b, c], [])}
    assert all(o.broken == ["test_f.py::test_guard"] for o in seen.values()), seen
    assert "rerun" in seen["a"].seconds  # the first time: flaky or real?
    assert "rerun" not in seen["b"].seconds  # real, and b could not be plausible anyway
    assert "rerun" in seen["c"].seconds  # a would-be plausible patch is always checked again


def test_the_confirmation_run_counts_as_test_time(make_repo):
    # a passing test that takes 3 s: the full stage runs it once (for the fix, the only
    # candidate that reaches that stage) and the confirmation run once more, after the loop
    from harness.core.config import RunConfig
    from harness.work.fix import fix
    from loops.spec import Limits
    from harness.generators.templates import TemplateGenerator
    from tests.conftest import run_dir
    from tests.test_fix import CLAMP
    import json

    root = make_repo({**CLAMP, "tests/test_slow.py": "import time\n\n\ndef test_slow():\n    time.sleep(3.0)\n"})
    res = fix(root, TemplateGenerator(), RunConfig(python=PYTHON, limits=Limits(30, 240, 8)))
    assert res.state.status == "fixed"
    steps = {s["action"]: s for s in map(json.loads, (run_dir(root, res.state.run_id) / "trajectory.jsonl")
                                         .read_text().splitlines())}
    baseline, confirm = steps["baseline"]["seconds"], steps["confirm"]["seconds"]
    assert confirm >= 3.0
    spent = res.state.spent
    # baseline + the fix's full stage (>= 3 s) + the confirmation run, none of them overlapping
    assert spent.test_seconds >= baseline + 3.0 + confirm - 0.1, (spent.test_seconds, baseline, confirm)
    assert spent.test_seconds <= spent.wall_seconds

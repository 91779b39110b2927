"""The comparison window after a batch's first plausible patch: capped by candidates and by
seconds (RunConfig.window), and slots that finish early take the next candidate."""

from __future__ import annotations

import time

from harness.evaluators.pytest_runner import PytestEvaluator
from harness.core.config import RunConfig
from harness.core.plausible import Window
from harness.core.validate import Baseline, Validator
from sandbox.patch import Patch
from sandbox.worktree import Worktree, open_repo
from tests.conftest import PYTHON
from tests.test_leads import MEAN, TESTS  # the same buggy mean() and its three tests


def _patch(new: str, operator: str) -> Patch:
    return Patch.from_texts({"stats.py": (MEAN, new)}, operator, {"operator": operator})


IDENTITY = _patch(MEAN.replace("len(xs) + 1", "len(xs) + 0"), "const_off_by_one")
WRONG = _patch(MEAN.replace("len(xs) + 1", "len(xs) + 2"), "const_off_by_one")
NATURAL = _patch(MEAN.replace("(len(xs) + 1)", "len(xs)"), "drop_term")


def _choose(root, patches: list[Patch], slots: int, window: Window | None):
    repo = open_repo(root)
    main = Worktree.create(repo, "m", None)
    ev = PytestEvaluator(PYTHON)
    base = ev.run(main.path, coverage=True)
    baseline = Baseline(main.path, base.results, base.collected, base.coverage, base.duration)
    validator = Validator(ev, [Worktree.create(repo, f"s{i}", None) for i in range(slots)], baseline,
                          ("test_*.py",), 40, ev.timeouts, window=window)
    seen = []
    try:
        return validator.first_accepted(patches, time.monotonic() + 120, seen.append), seen
    finally:
        validator.close()
        ev.close()


def test_a_closed_window_starts_no_candidate_after_the_first_plausible_patch(make_repo):
    root = make_repo({"stats.py": MEAN, "test_stats.py": TESTS})
    # fraction 0: the window is closed as soon as it opens; with one slot nothing else is in flight
    chosen, seen = _choose(root, [IDENTITY, WRONG, NATURAL], 1, Window(fraction=0.0))
    assert chosen.patch is IDENTITY and chosen.accepted
    assert chosen.plausible_patches == 1 and chosen.window["candidates"] == 0
    assert [o.patch for o in seen] == [IDENTITY]
    assert chosen.summary()["window"]["candidates"] == 0


def test_the_candidate_limit_still_holds_without_a_time_limit(make_repo):
    root = make_repo({"stats.py": MEAN, "test_stats.py": TESTS})
    chosen, seen = _choose(root, [IDENTITY, WRONG, NATURAL], 1, Window(candidates=1, unprotected_per_slot=0, fraction=None))
    assert chosen.patch is IDENTITY and chosen.window["candidates"] == 1
    assert [o.patch for o in seen] == [WRONG, IDENTITY]  # decided in order; plausible ones last


def test_outcomes_are_decided_in_candidate_order_with_several_slots(make_repo):
    root = make_repo({"stats.py": MEAN, "test_stats.py": TESTS})
    chosen, seen = _choose(root, [WRONG, WRONG.__class__.from_texts(
        {"stats.py": (MEAN, MEAN.replace("len(xs) + 1", "len(xs) + 3"))}, "c3", {"operator": "c3"}),
        NATURAL, IDENTITY], 2, Window(fraction=None))
    assert chosen.patch is NATURAL and chosen.plausible_patches == 2
    assert [o.patch.description for o in seen[:2]] == [WRONG.description, "c3"]


def test_runs_take_the_documented_default_window():
    assert RunConfig().window == Window(candidates=4, unprotected_per_slot=2, fraction=0.5, suspect_fraction=2.0)


def test_a_suspect_first_patch_keeps_the_window_open_longer():
    window = Window()
    assert window.closed(searched=10.0, elapsed=6.0)  # half the search spent comparing
    assert not window.closed(searched=10.0, elapsed=6.0, suspect=True)
    assert window.closed(searched=10.0, elapsed=21.0, suspect=True)
    assert not Window(fraction=None).closed(10.0, 100.0, suspect=True)

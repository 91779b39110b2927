"""The screen's probe test (``CandidateStages._probe``): when many tests fail, a candidate first
runs one of them; which one must not depend on milliseconds of timing noise."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

from harness.core.stages import CandidateStages
from harness.evaluators.verdict import Frame, TestResult


def _probe(durations: dict[str, float], frames: dict[str, tuple] | None = None,
           changed: dict[str, set[int]] | None = None) -> str:
    results = {t: TestResult(t, "failed", "boom", (frames or {}).get(t, ()), d) for t, d in durations.items()}
    holder = SimpleNamespace(baseline=SimpleNamespace(results=results))
    picked = {CandidateStages._probe(holder, list(order), changed or {}) for order in itertools.permutations(durations)}
    assert len(picked) == 1, picked  # the order the tests come in does not matter
    return picked.pop()


def test_fast_tests_a_few_milliseconds_apart_are_told_apart_by_id():
    # bracex-3.2.3-1 lost its partial fix between two runs: 11 vs 13 ms picked another probe
    assert _probe({"t::test_b": 0.013, "t::test_c": 0.011, "t::test_a": 0.012}) == "t::test_a"
    assert _probe({"t::test_b": 0.011, "t::test_c": 0.013, "t::test_a": 0.012}) == "t::test_a"


def test_a_clearly_faster_test_is_still_preferred():
    assert _probe({"t::test_a": 0.9, "t::test_z": 0.02}) == "t::test_z"


def test_a_frame_near_the_change_comes_before_speed():
    frames = {"t::test_slow": (Frame("pkg/mod.py", 10, "f"),), "t::test_fast": (Frame("pkg/other.py", 3, "g"),)}
    assert _probe({"t::test_slow": 1.5, "t::test_fast": 0.01}, frames, {"pkg/mod.py": {11}}) == "t::test_slow"

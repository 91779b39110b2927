"""Structured evaluator results: what a test run (or any evaluator) found.

These are plain dataclasses; they are what the loop, the trajectory and the
reports see. A generator never produces or grades one.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Frame:
    """One traceback frame: repo-relative (or absolute, if outside) path, 1-based line, function."""

    path: str
    line: int
    function: str = ""


@dataclass(frozen=True)
class TestResult:
    """One test's outcome.

    Attributes:
        test_id: pytest node id, e.g. ``tests/test_x.py::test_y[1]``; collection
            errors use the collected path (``tests/test_x.py``).
        outcome: ``passed``, ``failed``, ``error`` (setup/teardown or collection),
            ``skipped``, ``xfailed``, ``xpassed`` or ``timeout``.
        message: the exception line (``AssertionError: assert 1 == 2``), empty if passed.
        frames: traceback frames, outermost first.
        duration: seconds spent in setup + call + teardown.
    """

    __test__ = False  # not a pytest test class

    test_id: str
    outcome: str
    message: str = ""
    frames: tuple[Frame, ...] = ()
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        """True for outcomes that do not count as a failure."""
        return self.outcome in ("passed", "skipped", "xfailed", "xpassed")  # non-strict XPASS passes


def passed_in(results: dict[str, TestResult], test_id: str) -> bool:
    """``test_id`` (a failing test) passed in ``results``: its outcome is ``passed`` (or
    ``xpassed``); a skip or an expected failure is not a fix (code under test calling
    ``pytest.skip()`` must not turn a failing test into a fixed one). A file id (how a
    collection error, such as a syntax error, is named at baseline) passes when the file now
    collects and its tests pass (skips allowed, at least one passed)."""
    if test_id in results:
        return results[test_id].outcome in ("passed", "xpassed")
    if "::" in test_id:
        return False
    mine = [r for t, r in results.items() if t.startswith(test_id + "::")]
    return bool(mine) and all(r.ok for r in mine) and any(r.outcome == "passed" for r in mine)


def renamed_ids(missing: list[str], results: dict[str, TestResult], known: Collection[str]) -> set[str]:
    """The parametrized ids of ``missing`` (no result in ``results``) that were only renamed: a
    parameter built from the clock or a random value names a test anew at each collection
    (marshmallow's ``test_invalid_datetime_deserialization[21:03:27 2026-12-07]``). An id
    counts when ``results`` holds at least as many passing ids of the same test function,
    none of them in ``known`` (the ids seen before), as ``missing`` has of it; such a test
    ran, under another name, and is neither broken nor a disagreement."""
    groups: dict[str, list[str]] = {}
    for tid in missing:
        if "[" in tid:
            groups.setdefault(tid.split("[", 1)[0] + "[", []).append(tid)
    out: set[str] = set()
    for base, group in groups.items():
        new = [t for t, r in results.items() if t.startswith(base) and t not in known and r.ok]
        if len(new) >= len(group):
            out.update(group)
    return out


@dataclass
class Verdict:
    """One evaluator's result.

    Attributes:
        evaluator: evaluator id (``tests``, ``lint``, ``types``).
        passed: no failures among the results considered.
        results: per-test (or per-diagnostic) results keyed by id.
        duration: wall seconds of the evaluator process(es).
        error: set when the evaluator itself could not run (crash, missing tool,
            whole-process timeout); the text says what happened.
        new_failures: ids that passed at baseline and fail now (regressions).
        fixed: ids that failed at baseline and pass now.
    """

    evaluator: str
    passed: bool
    results: dict[str, TestResult] = field(default_factory=dict)
    duration: float = 0.0
    error: str = ""
    new_failures: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)

    @property
    def failures(self) -> dict[str, TestResult]:
        """Results that count as failures."""
        return {k: r for k, r in self.results.items() if not r.ok}

    @property
    def counts(self) -> dict[str, int]:
        """Number of results per outcome."""
        out: dict[str, int] = {}
        for r in self.results.values():
            out[r.outcome] = out.get(r.outcome, 0) + 1
        return out

    def summary(self) -> dict:
        """A compact JSON-serialisable summary for trajectories and reports."""
        return {
            "evaluator": self.evaluator,
            "passed": self.passed,
            "counts": self.counts,
            "failures": sorted(self.failures)[:20],
            "new_failures": self.new_failures[:20],
            "fixed": self.fixed,
            "duration": round(self.duration, 3),
            "error": self.error,
        }

    def to_dict(self) -> dict:
        """Full JSON-serialisable form."""
        return asdict(self)

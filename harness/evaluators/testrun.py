"""The plain data of a test evaluation: per-test timeouts (:class:`TimeoutPolicy`) and what
one evaluation produced (:class:`TestRun`); :mod:`harness.evaluators.pytest_runner` makes them."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.evaluators.verdict import TestResult


@dataclass(frozen=True)
class TimeoutPolicy:
    """Per-test timeouts derived from baseline durations.

    A test that passed at baseline gets ``max(min_seconds, factor * baseline_seconds)``.
    A test that failed there gets at least ``default``: its baseline time is how long
    the bug took to fail it, often far less than the fixed code needs to pass (a
    crash in the first line of a subprocess-driven CLI test). Tests without a
    baseline duration get ``default`` (seconds). ``baseline`` applies to the
    baseline run itself, where durations are not known yet.

    A failing test whose file has passing tests (``peers``: the slowest of them, seconds)
    is given the scale of its file instead: ``max(min_seconds, factor * max(baseline_seconds,
    peers))``, at most ``default``. A test driving a slow subprocess has neighbours that do
    too; one whose neighbours all take milliseconds does not need 10 s to pass, and every
    candidate that makes it loop forever cost those 10 s (tabulate's injected bug s7: five
    hanging candidates, 50 of the run's 68 s).
    """

    min_seconds: float = 2.0
    factor: float = 10.0
    default: float = 10.0
    baseline: float = 60.0

    def for_test(self, baseline_seconds: float | None, passed: bool = True, peers: float | None = None) -> float:
        """Limit in seconds for a test that took ``baseline_seconds`` at baseline (None: not
        known, or it timed out), ``passed``: whether it passed there; ``peers``: the slowest
        passing test of its file (seconds), for a test that did not pass."""
        if not passed and peers is not None:
            return min(self.default, max(self.min_seconds, self.factor * max(baseline_seconds or 0.0, peers)))
        if baseline_seconds is None:
            return self.default
        return max(self.min_seconds if passed else self.default, self.factor * baseline_seconds)


@dataclass
class TestRun:
    """What one evaluation (possibly several processes) produced.

    Attributes:
        results: test id -> result. collected: ids pytest collected, in run order.
        coverage: test id -> {absolute path: [lines]} when coverage was asked for.
        duration: wall seconds inside test processes. processes: how many were started.
        error: why the run could not produce results (empty when it could).
        stopped: the plugin stopped the session early (a regression).
        calls: test id -> the captured calls ``[name, args, result]`` when a capture was
            asked for (``PytestEvaluator.run(capture=...)``); for an angelic probe's spec
            (``"kind": "angelic"``) its records ``[point, went, forced, bits]`` instead.
        files: the suite's test files in collection order, as a shard's process saw them
            before it kept its own (:mod:`harness.evaluators.shards`); empty otherwise.
    """

    __test__ = False  # not a pytest test class

    results: dict[str, TestResult] = field(default_factory=dict)
    collected: list[str] = field(default_factory=list)
    coverage: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    duration: float = 0.0
    processes: int = 0
    error: str = ""
    stopped: bool = False
    calls: dict[str, list[list[str]]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def merge_coverage(into: dict[str, dict[str, list[int]]], more: dict[str, dict[str, list[int]]]) -> None:
    """Add one process's per-test coverage to ``into``: a test's spectrum from the first
    process that reported it; the import-time lines (``<import>``) of every process, united."""
    for tid, files in more.items():
        if tid not in into:
            into[tid] = files
        elif tid == "<import>":
            for path, lines in files.items():
                into[tid][path] = sorted(set(into[tid].get(path, [])) | set(lines))

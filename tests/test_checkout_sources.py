"""The checkout's sources the baseline searches for tracer and clock probes
(``harness/core/baseline.py``'s ``CheckoutSources``): read in the user's checkout, never in the
worktree, and searched once per file and pattern however many tests ran the file."""

from __future__ import annotations

import re

from harness.core.baseline import TRACER_PROBE, CheckoutSources


class _Counting:
    """A compiled pattern that counts its searches."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern, self.searches = pattern, 0

    def search(self, text: str):
        self.searches += 1
        return self.pattern.search(text)


def test_a_file_is_searched_once_per_pattern_and_read_in_the_checkout(tmp_path):
    checkout, worktree = tmp_path / "checkout", tmp_path / "worktree"
    (checkout / "pkg").mkdir(parents=True)
    (worktree / "pkg").mkdir(parents=True)
    (checkout / "pkg" / "trace.py").write_text("import sys\nold = sys.gettrace()\n")
    (worktree / "pkg" / "trace.py").write_text("x = 1\n")  # what code under test left there: not read
    sources = CheckoutSources(worktree, checkout)
    probe = _Counting(TRACER_PROBE)
    rel = sources.relative(str(worktree / "pkg" / "trace.py"))
    assert rel == "pkg/trace.py"
    # 138 failing tests that each ran the module ask the same question: one search
    assert all(sources.matches(rel, probe) for _ in range(138))  # type: ignore[arg-type]
    assert probe.searches == 1
    assert sources.relative("/elsewhere/mod.py") is None
    assert not sources.matches("pkg/missing.py", TRACER_PROBE)  # unreadable: no match

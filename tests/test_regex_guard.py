"""``regex_guard.time_limit``: regular-expression work in the generator is stopped at its time
limit (nested limits, the earliest first), and ``regex_more.pattern_edits`` drops an edit that
backtracks without end instead of hanging the run."""

from __future__ import annotations

import re
import signal

import pytest

from harness.generators import regex_more
from harness.generators.regex_guard import RegexTimeout, time_limit

#: backtracks exponentially on a run of "a" that does not end in "b" (the ReDoS shape)
CATASTROPHIC = r"(a*)*b"


def test_a_runaway_match_is_stopped_and_the_handler_restored():
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(RegexTimeout):
        with time_limit(0.2):
            re.match(CATASTROPHIC, "a" * 40)
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_limits_nest_and_an_inner_one_does_not_stop_the_outer_block():
    with time_limit(5.0):
        with pytest.raises(RegexTimeout):
            with time_limit(0.1):
                re.match(CATASTROPHIC, "a" * 40)
        assert re.match("a+", "aaa")  # the outer block goes on
    with pytest.raises(RegexTimeout):  # an outer limit that passes inside an inner one stops it
        with time_limit(0.1):
            with time_limit(10.0):
                re.match(CATASTROPHIC, "a" * 40)


def test_an_edit_that_backtracks_without_end_is_dropped(monkeypatch):
    # the only edit offered makes the pattern catastrophic on the failing test's string
    monkeypatch.setattr(regex_more, "_edits", lambda pattern, compiled, misses, whole=True: [
        ("regex_optional_piece", CATASTROPHIC, "runaway"), ("regex_optional_piece", r"a+c", "fine")])
    monkeypatch.setattr(regex_more, "EDIT_SECONDS", 0.2)
    got = regex_more.pattern_edits(r"a+b", 0, ["a" * 40 + "c"], passing=["xyz"], whole=False)
    assert [new for _, new, _ in got] == ["a+c"]

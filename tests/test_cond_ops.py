"""``cond_ops``: an ``if`` that checks the wrong thing given the emptiness of the collection its
function fills before it (``if exc is not None: raise exc`` -> ``if not rets: raise exc``); on
bugs written for these tests, and end to end on a small library that tries several date
formats and must fail only when none of them worked."""

from __future__ import annotations

from harness.generators.mutations import mutants_at
from tests.conftest import fix_offline
from tests.mutant_checks import check_all, find, src

TRIES = src('''
    def first_number(texts):
        found = []
        error = None
        for text in texts:
            try:
                found.append(int(text))
            except ValueError as exc:
                error = exc
        if error is not None:
            raise error
        return found[0]
''')


def conds(source: str, line: int) -> list[str]:
    got = mutants_at("pkg/mod.py", source, [line])
    check_all(source, got)
    return [m.description for m in got if m.operator == "cond_to_empty"]


def test_the_condition_becomes_the_emptiness_of_what_the_loop_collected():
    fixed = TRIES.replace("if error is not None:", "if not found:")
    assert find(mutants_at("pkg/mod.py", TRIES, [9]), fixed).operator == "cond_to_empty"
    assert conds(TRIES, 9) == ["line 9: `error is not None` -> `not found`", "line 9: `error is not None` -> `found`"]


def test_no_collection_filled_before_the_if_or_already_in_its_test():
    source = src('''
        def f(xs):
            if xs:
                out = []
                out.append(1)
            seen = []
            if not seen:
                seen.append(2)
            total = 0
            if total > 3:
                return seen
            return out
    ''')
    assert conds(source, 2) == []  # nothing is filled before the first `if`
    # `seen` is in its own test; `not seen` -> `not out` is replace_name's candidate already
    assert conds(source, 6) == ["line 6: `not seen` -> `out`"]
    assert conds(source, 9) == ["line 9: `total > 3` -> `not seen`", "line 9: `total > 3` -> `seen`",
                                "line 9: `total > 3` -> `not out`", "line 9: `total > 3` -> `out`"]


DATES = src('''
    """Reading a date written in one of several formats."""
    from datetime import datetime

    FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y")


    def parse_date(text):
        """The date ``text`` spells in the first of :data:`FORMATS` that reads it; the error
        of the last format when none does."""
        dates = []
        error = None
        for fmt in FORMATS:
            try:
                dates.append(datetime.strptime(text, fmt).date())
            except ValueError as exc:
                error = exc
        if error is not None:
            raise error
        return dates[0]
''')
DATES_TESTS = src('''
    from datetime import date

    import pytest

    from dates import parse_date


    def test_the_last_format():
        assert parse_date("12/31/2024") == date(2024, 12, 31)


    def test_the_first_format():
        assert parse_date("2024-01-02") == date(2024, 1, 2)


    def test_no_format():
        with pytest.raises(ValueError):
            parse_date("yesterday")
''')


def test_loopwright_fix_fails_only_when_no_format_worked(make_repo):
    """``cond_to_empty`` writes ``if not dates:``; the angelic probe (issue 21) finds the
    equivalent ``if error is not None and not dates:`` when the first batch fails. Either is the
    fix: an error is raised exactly when no format parsed the text."""
    out, _, _ = fix_offline(make_repo, {"dates.py": DATES, "test_dates.py": DATES_TESTS})
    assert out["status"] == "fixed", out
    assert ("-    if error is not None:\n+    if not dates:\n" in out["patch"]
            or "-    if error is not None:\n+    if error is not None and not dates:\n" in out["patch"]), out["patch"]

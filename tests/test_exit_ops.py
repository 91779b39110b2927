"""``exit_ops``: a ``break`` added at the end of an ``if`` branch inside a loop, and ``break``
<-> ``continue``; on bugs written for these tests, and end to end on a small library whose
lookup returns the last match where it must return the first."""

from __future__ import annotations

from harness.generators.mutations import mutants_at
from tests.conftest import fix_offline
from tests.mutant_checks import check_all, find, src

OPS = ("insert_break", "break_continue")


def exits(source: str, line: int) -> dict[str, str]:
    """Description -> new source of the loop-exit candidates at ``line``; every mutant is valid."""
    got = mutants_at("pkg/mod.py", source, [line])
    check_all(source, got)
    return {m.description: m.new_source for m in got if m.operator in OPS}


FIRST = src('''
    def first_even(xs):
        found = None
        for x in xs:
            if x % 2 == 0:
                found = x
        return found
''')


def test_a_search_that_keeps_the_last_match_gets_a_break():
    fixed = FIRST.replace("            found = x\n", "            found = x\n            break\n")
    assert find(mutants_at("pkg/mod.py", FIRST, [5]), fixed).operator == "insert_break"
    assert exits(FIRST, 5) == {"line 5: insert `break` after `found = x`": fixed}


def test_no_break_outside_a_branch_of_a_loop_or_after_a_jump():
    source = src('''
        def f(xs, flag):
            total = 0
            for x in xs:
                total += x
            if flag:
                total = -total
            for x in xs:
                try:
                    if x:
                        total += 1
                except ValueError:
                    pass
                if x > 9:
                    return total
            return total
    ''')
    assert exits(source, 4) == {}  # the loop's own body: it would run once
    assert exits(source, 6) == {}  # an `if` outside any loop
    assert exits(source, 10) == {}  # inside a `try` of the loop: `break` may not be what ends it
    assert exits(source, 14) == {}  # a branch that already leaves


def test_elif_and_else_branches_and_the_last_line_of_a_file():
    source = src('''
        def pick(xs):
            for x in xs:
                if x < 0:
                    continue
                elif x == 0:
                    y = 0
                else:
                    y = x''').rstrip("\n")
    got = exits(source, 6)
    assert got == {"line 6: insert `break` after `y = 0`": source.replace("y = 0\n", "y = 0\n            break\n")}
    assert exits(source, 8) == {"line 8: insert `break` after `y = x`": source + "\n            break"}
    assert exits(source, 4) == {"line 4: `continue` -> `break`": source.replace("continue", "break")}


ROUTES = src('''
    """A tiny router: the first route whose prefix matches a path wins."""


    def route(routes, path):
        """The handler name of the first ``(prefix, name)`` in ``routes`` whose prefix starts
        ``path``, or ``"not_found"``."""
        handler = "not_found"
        for prefix, name in routes:
            if path.startswith(prefix):
                handler = name
        return handler
''')
ROUTES_TESTS = src('''
    from routes import route

    TABLE = [("/api/", "api"), ("/", "pages")]


    def test_first_match_wins():
        assert route(TABLE, "/api/users") == "api"


    def test_fallback():
        assert route(TABLE, "/about") == "pages"


    def test_not_found():
        assert route([], "/x") == "not_found"
''')


def test_loopwright_fix_stops_the_search_at_the_first_match(make_repo):
    """``insert_break`` writes the ``break``; the angelic probe (issue 21) finds a condition that
    keeps the first match as well (``and handler == 'not_found'``, the value before any match)."""
    out, _, _ = fix_offline(make_repo, {"routes.py": ROUTES, "test_routes.py": ROUTES_TESTS})
    assert out["status"] == "fixed", out
    assert ("             handler = name\n+            break\n" in out["patch"]
            or "+        if path.startswith(prefix) and handler == 'not_found':\n" in out["patch"]), out["patch"]

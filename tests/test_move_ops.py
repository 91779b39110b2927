"""``move_ops``: a statement at the wrong spot moved one step (out of a body, into the body
before it, or exchanged with the next statement it depends on); on bugs written for these
tests, and end to end on a small library whose ``append`` sits one level too deep."""

from __future__ import annotations

from harness.generators.mutations import mutants_at
from tests.conftest import fix_offline
from tests.mutant_checks import check_all, find, src

OPS = ("move_out", "move_in", "swap_statements")


def moves(source: str, line: int) -> dict[str, str]:
    """Description -> new source of the move candidates at ``line``; every mutant is valid."""
    got = mutants_at("pkg/mod.py", source, [line])
    check_all(source, got)
    return {m.description: m.new_source for m in got if m.operator in OPS}


def test_a_return_indented_into_its_loop_is_moved_out():
    buggy = src('''
        def largest(xs):
            best = None
            for x in xs:
                if best is None or x > best:
                    best = x
                return best
    ''')
    fixed = buggy.replace("        return best", "    return best")
    assert find(mutants_at("pkg/mod.py", buggy, [6]), fixed).operator == "move_out"


def test_a_statement_after_a_loop_is_moved_into_it():
    buggy = src('''
        def doubled(xs):
            out = []
            for x in xs:
                y = x * 2
            out.append(y)
            return out
    ''')
    fixed = buggy.replace("    out.append(y)", "        out.append(y)")
    got = moves(buggy, 5)
    assert got["line 5: move `out.append(y)` into the `for` of line 3"] == fixed
    # and exchanged with the `return` that reads `out`; never moved out of the function
    assert set(got) == {"line 5: move `out.append(y)` into the `for` of line 3",
                        "line 5: swap `out.append(y)` with the next statement `return out`"}


def test_only_statements_that_share_a_name_are_exchanged():
    source = src('''
        def f(a, b):
            x = a + 1
            y = b + 1
            z = x + y
            return z
    ''')
    assert moves(source, 2) == {}  # `x = a + 1` and `y = b + 1` are independent
    assert list(moves(source, 3)) == ["line 3: swap `y = b + 1` with the next statement `z = x + y`"]


def test_what_is_never_moved():
    source = src('''
        def f(xs):
            for x in xs:
                g(x)
                h("""a
        b""")
            for x in xs:
                g(x)
            else:
                h(x)
            k(1,
        2)
            if xs:
                g(xs)
    ''')
    assert moves(source, 4) == {}   # a triple-quoted string would be re-indented
    assert moves(source, 10) == {}  # the loop before it has an `else`; a continuation line at column 0
    assert moves(source, 13) == {}  # the only statement of its body stays where it is


def test_a_swap_keeps_comments_between_and_the_last_line_without_a_break():
    source = "def f(xs):\n    n = len(xs)\n    # the count\n    xs = []"
    got = moves(source, 2)
    assert got == {"line 2: swap `n = len(xs)` with the next statement `xs = []`":
                   "def f(xs):\n    xs = []\n    # the count\n    n = len(xs)"}


RUNNING = src('''
    """Running statistics over a sequence, one value per item."""


    def running_max(values):
        """The largest value seen so far, at each position of ``values``: a list as long as it."""
        out = []
        best = None
        for value in values:
            if best is None or value > best:
                best = value
                out.append(best)
        return out


    def running_sum(values):
        """The sum of the values so far, at each position."""
        out, total = [], 0
        for value in values:
            total += value
            out.append(total)
        return out
''')
RUNNING_TESTS = src('''
    from running import running_max, running_sum


    def test_increasing():
        assert running_max([1, 2, 5]) == [1, 2, 5]


    def test_empty():
        assert running_max([]) == []


    def test_sum():
        assert running_sum([1, 2, 3]) == [1, 3, 6]


    def test_one_value_per_item():
        assert running_max([3, 1, 4, 1, 5]) == [3, 3, 4, 4, 5]
''')


def test_loopwright_fix_moves_the_append_out_of_the_branch(make_repo):
    out, _, _ = fix_offline(make_repo, {"running.py": RUNNING, "test_running.py": RUNNING_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "-            out.append(best)\n+        out.append(best)" in out["patch"], out["patch"]

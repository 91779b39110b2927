"""Each operator of ``harness.generators.reach_ops`` (and the completed operator tables)
offers the developer's fix of one real bug of the kind program-repair benchmarks hold.

The classic programs (QuixBugs-style algorithm programs, this project's own, not the
held-out set) are the ones ``python -m evals.classic`` runs end to end, taken from
:mod:`evals.classic_programs`; here each is checked at the operator level: the correct
program is among the mutants of its buggy line.
"""

from __future__ import annotations

import pytest

from evals.classic_programs import PROGRAMS, with_bug
from harness.generators.mutations import mutants_at
from tests.mutant_checks import check_all, check_fix, find, src


def check_program(name: str, operator: str | None, source: str | None = None,
                  fixed: str | None = None) -> None:
    """A mutant of the bug line of classic program ``name`` (or of ``source``, whose fix is
    ``fixed``) gives the correct program, by ``operator``; every mutant is valid."""
    buggy, correct, line = with_bug(PROGRAMS[name])
    if source is not None:
        buggy, correct = source, fixed
    mutants = mutants_at("pkg/mod.py", buggy, [line])
    check_all(buggy, mutants)
    m = find(mutants, correct)
    assert m.line == line
    if operator:
        assert m.operator == operator, m


@pytest.mark.parametrize(("name", "operator"), [
    ("bitcount", "augassign_swap"),          # n ^= n - 1 -> n &= n - 1
    ("to_base", "swap_commutative"),         # result + alphabet[i] -> alphabet[i] + result
    ("max_sublist_sum", "wrap_call"),        # x -> max(0, x)
    ("flatten", "unwrap_call"),              # yield flatten(x) -> yield x
    ("levenshtein", None),                   # 1 + f(...) -> f(...): const_off_by_one (folded) or drop_term
    ("lcs_length", "index_off_by_one"),      # dp[i - 1, j] -> dp[i - 1, j - 1]
    ("sum_list", "name_to_slice"),           # total(xs) -> total(xs[1:])
    ("rightmost", "attr_swap"),              # node.left -> node.right
    ("bfs", "const_cond_to_name"),           # while True -> while queue
    ("binary_search", "call_arity"),         # search(arr, x, mid + 1) -> search(arr, x, mid + 1, hi)
])
def test_classic_program_fixed_by_its_operator(name, operator):
    check_program(name, operator)


def test_nested_index_and_extra_argument_variants():
    buggy, correct, _ = with_bug(PROGRAMS["lcs_length"])
    nest = lambda t: t.replace("dp[i, j] =", "dp[i][j] =").replace("dp[i - 1, j", "dp[i - 1][j")  # noqa: E731
    check_program("lcs_length", "index_off_by_one", nest(buggy), nest(correct))
    buggy, correct, _ = with_bug(PROGRAMS["binary_search"])
    extra = correct.replace("search(arr, x, mid + 1, hi)", "search(arr, x, x, mid + 1, hi)")
    check_program("binary_search", "call_arity", extra, correct)


def test_an_added_argument_goes_before_the_keywords():
    source = src('''
        def step(state, retry_state=None):
            return state

        def run(retry_state):
            return step(retry_state=retry_state)
    ''')
    mutants = mutants_at("pkg/mod.py", source, [5])
    check_all(source, mutants)
    texts = [m.new_source.splitlines()[4].strip() for m in mutants if m.operator == "call_arity"]
    assert "return step(retry_state, retry_state=retry_state)" in texts
    assert not any("retry_stateretry_state" in t for t in texts)


def test_a_total_with_a_term_too_many():
    source = src('''
        def invoice_total(price, tax, discount):
            return price + tax + discount
    ''')
    check_fix(source, 2, "price + tax + discount", "price + tax", "drop_term")


def test_a_weighted_total_missing_a_term():
    source = src('''
        def score(hits, bonus, misses):
            base = hits * 10
            return base - misses
    ''')
    check_fix(source, 3, "base - misses", "base - misses + bonus", "add_term")


def test_normalize_both_coordinates():
    source = src('''
        def normalize(a, b):
            m = max(abs(a), abs(b))
            a = a / m
            return a, b
    ''')
    lines = source.splitlines(keepends=True)
    expected = "".join(lines[:3] + ["    b = b / m\n"] + lines[3:])
    mutants = mutants_at("pkg/mod.py", source, [3])
    check_all(source, mutants)
    m = next(m for m in mutants if m.new_source == expected)
    assert m.operator == "copy_renamed" and "`a` -> `b`" in m.description


def test_completed_arithmetic_family():
    source = src('''
        def last_digit(n):
            return n // 10
    ''')
    check_fix(source, 2, "n // 10", "n % 10", "binop_swap")
    power = src('''
        def square(x):
            return x ** 2
    ''')
    check_fix(power, 2, "x ** 2", "x * 2", "binop_swap")
    mod = src('''
        def bucket(h, n):
            h %= n
            return h
    ''')
    check_fix(mod, 2, "h %= n", "h //= n", "augassign_swap")


def test_new_operators_keep_every_mutant_valid_and_unique():
    source = src('''
        class Walker:
            def walk(self, node, depth):
                while True:
                    total = node.left.size + node.right.size + depth
                    items = list(node.children)
                    node = self.step(node, depth)
                    if node is None:
                        return total + len(items[1:])
    ''')
    mutants = mutants_at("w.py", source, [3, 4, 5, 6, 8])
    check_all(source, mutants)
    ops = {m.operator for m in mutants}
    assert {"const_cond_to_name", "attr_swap", "drop_term", "wrap_call", "unwrap_call"} <= ops


def test_an_unwrapped_argument_over_two_lines_keeps_parentheses():
    source = src('''
        def check(x):
            if x is None:
                raise ValueError("a long message "
                                 "over two lines")
    ''')
    mutants = mutants_at("pkg/mod.py", source, [3])
    check_all(source, mutants)  # every mutant parses: `raise "a "\\n "b"` would not
    assert find(mutants, source.replace('ValueError("a long message "', '("a long message "')).operator == "unwrap_call"

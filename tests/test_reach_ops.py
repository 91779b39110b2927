"""Each operator of ``harness.generators._reach_ops`` (and the completed operator tables)
offers the developer's fix of one real bug of the kind program-repair benchmarks hold.

The programs are written here after well-known one-line bugs (QuixBugs-style algorithm
programs); they are this project's own fixtures, not the held-out set.
"""

from __future__ import annotations

from harness.generators.mutations import mutants_at
from tests.test_mutations import check_all, check_fix, src


def test_bitcount_needs_the_and_assignment():
    source = src('''
        def bitcount(n):
            count = 0
            while n:
                n ^= n - 1
                count += 1
            return count
    ''')
    check_fix(source, 4, "n ^= n - 1", "n &= n - 1", "augassign_swap")


def test_base_conversion_builds_the_string_the_other_way_round():
    source = src('''
        def to_base(num, b):
            result = ''
            alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'
            while num > 0:
                i = num % b
                num = num // b
                result = result + alphabet[i]
            return result
    ''')
    check_fix(source, 7, "result + alphabet[i]", "alphabet[i] + result", "swap_commutative")


def test_max_sublist_sum_resets_at_zero():
    source = src('''
        def max_sublist_sum(arr):
            max_ending_here = 0
            max_so_far = 0
            for x in arr:
                max_ending_here = max_ending_here + x
                max_so_far = max(max_so_far, max_ending_here)
            return max_so_far
    ''')
    check_fix(source, 5, "max_ending_here + x", "max(0, max_ending_here + x)", "wrap_call")


def test_flatten_yields_the_item_not_a_generator():
    source = src('''
        def flatten(arr):
            for x in arr:
                if isinstance(x, list):
                    for y in flatten(x):
                        yield y
                else:
                    yield flatten(x)
    ''')
    check_fix(source, 7, "flatten(x)", "x", "unwrap_call")


def test_levenshtein_match_costs_nothing():
    source = src('''
        def levenshtein(source, target):
            if source == '' or target == '':
                return len(source) or len(target)
            elif source[0] == target[0]:
                return 1 + levenshtein(source[1:], target[1:])
            else:
                return 1 + min(levenshtein(source, target[1:]), levenshtein(source[1:], target[1:]),
                               levenshtein(source[1:], target))
    ''')
    # offered as const_off_by_one (`1` -> `0`, folded: no `0 + ...`) and as drop_term
    check_fix(source, 5, "1 + levenshtein(source[1:], target[1:])", "levenshtein(source[1:], target[1:])")


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


def test_longest_common_substring_extends_the_diagonal():
    source = src('''
        from collections import Counter

        def longest_common_substring(s, t):
            dp = Counter()
            for i in range(len(s)):
                for j in range(len(t)):
                    if s[i] == t[j]:
                        dp[i, j] = dp[i - 1, j] + 1
            return max(dp.values()) if dp else 0
    ''')
    check_fix(source, 8, "dp[i - 1, j]", "dp[i - 1, j - 1]", "index_off_by_one")
    nested = source.replace("dp[i, j] = dp[i - 1, j] + 1", "dp[i][j] = dp[i - 1][j] + 1")
    check_fix(nested, 8, "dp[i - 1][j]", "dp[i - 1][j - 1]", "index_off_by_one")


def test_recursive_sum_must_shrink_its_argument():
    source = src('''
        def total(xs):
            if not xs:
                return 0
            return xs[0] + total(xs)
    ''')
    check_fix(source, 4, "total(xs)", "total(xs[1:])", "name_to_slice")


def test_rightmost_node_follows_the_right_child():
    source = src('''
        def rightmost(node):
            while node.right is not None:
                node = node.left
            return node.key
    ''')
    check_fix(source, 3, "node.left", "node.right", "attr_swap")


def test_breadth_first_search_stops_when_the_queue_is_empty():
    source = src('''
        from collections import deque

        def breadth_first_search(start, goal):
            queue = deque([start])
            seen = {start}
            while True:
                node = queue.popleft()
                if node is goal:
                    return True
                for s in node.successors:
                    if s not in seen:
                        seen.add(s)
                        queue.append(s)
            return False
    ''')
    check_fix(source, 6, "while True", "while queue", "const_cond_to_name")


def test_recursive_call_missing_an_argument():
    source = src('''
        def search(arr, x, lo, hi):
            if lo > hi:
                return -1
            mid = (lo + hi) // 2
            if arr[mid] < x:
                return search(arr, x, mid + 1)
            if arr[mid] > x:
                return search(arr, x, lo, mid - 1)
            return mid
    ''')
    check_fix(source, 6, "search(arr, x, mid + 1)", "search(arr, x, mid + 1, hi)", "call_arity")
    extra = source.replace("search(arr, x, lo, mid - 1)", "search(arr, x, x, lo, mid - 1)")
    check_fix(extra, 8, "search(arr, x, x, lo, mid - 1)", "search(arr, x, lo, mid - 1)", "call_arity")


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

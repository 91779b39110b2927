"""The programs of :mod:`evals.classic`: this project's own classic one-line bugs.

Written here (not taken from a benchmark, not the held-out set), after the kind of
bugs QuixBugs holds. Each entry: ``source`` (the correct program), ``bug`` (a line of
it and the buggy line replacing it) and ``tests`` (pytest module importing the program).
"""

from __future__ import annotations

import textwrap

PROGRAMS: dict[str, dict] = {
    "bitcount": {
        "source": """
            def bitcount(n):
                count = 0
                while n:
                    n &= n - 1
                    count += 1
                return count
        """,
        "bug": ("n &= n - 1", "n ^= n - 1"),
        "tests": """
            from bitcount import bitcount

            def test_zero():
                assert bitcount(0) == 0

            def test_small():
                assert bitcount(127) == 7

            def test_power():
                assert bitcount(128) == 1

            def test_mixed():
                assert bitcount(0b1011) == 3
        """,
    },
    "to_base": {
        "source": """
            def to_base(num, b):
                result = ''
                alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'
                while num > 0:
                    i = num % b
                    num = num // b
                    result = alphabet[i] + result
                return result
        """,
        "bug": ("result = alphabet[i] + result", "result = result + alphabet[i]"),
        "tests": """
            from to_base import to_base

            def test_binary():
                assert to_base(6, 2) == '110'

            def test_hex():
                assert to_base(31, 16) == '1F'

            def test_single():
                assert to_base(7, 10) == '7'
        """,
    },
    "max_sublist_sum": {
        "source": """
            def max_sublist_sum(arr):
                max_ending_here = 0
                max_so_far = 0
                for x in arr:
                    max_ending_here = max(0, max_ending_here + x)
                    max_so_far = max(max_so_far, max_ending_here)
                return max_so_far
        """,
        "bug": ("max_ending_here = max(0, max_ending_here + x)", "max_ending_here = max_ending_here + x"),
        "tests": """
            from max_sublist_sum import max_sublist_sum

            def test_all_positive():
                assert max_sublist_sum([1, 2, 3]) == 6

            def test_dip():
                assert max_sublist_sum([4, -5, 2, 1, -1, 3]) == 5

            def test_negative_start():
                assert max_sublist_sum([-4, 3, 2]) == 5
        """,
    },
    "gcd": {
        "source": """
            def gcd(a, b):
                if b == 0:
                    return a
                return gcd(b, a % b)
        """,
        "bug": ("return gcd(b, a % b)", "return gcd(a % b, b)"),
        "tests": """
            from gcd import gcd

            def test_coprime():
                assert gcd(17, 5) == 1

            def test_common():
                assert gcd(12, 18) == 6

            def test_zero():
                assert gcd(7, 0) == 7
        """,
    },
    "binary_search": {
        "source": """
            def search(arr, x, lo, hi):
                if lo > hi:
                    return -1
                mid = (lo + hi) // 2
                if arr[mid] < x:
                    return search(arr, x, mid + 1, hi)
                if arr[mid] > x:
                    return search(arr, x, lo, mid - 1)
                return mid


            def find(arr, x):
                return search(arr, x, 0, len(arr) - 1)
        """,
        "bug": ("return search(arr, x, mid + 1, hi)", "return search(arr, x, mid + 1)"),
        "tests": """
            from binary_search import find

            def test_found_right():
                assert find([1, 3, 5, 7, 9], 9) == 4

            def test_found_left():
                assert find([1, 3, 5, 7, 9], 1) == 0

            def test_missing():
                assert find([1, 3, 5, 7, 9], 4) == -1
        """,
    },
    "levenshtein": {
        "source": """
            def levenshtein(source, target):
                if source == '' or target == '':
                    return len(source) or len(target)
                elif source[0] == target[0]:
                    return levenshtein(source[1:], target[1:])
                else:
                    return 1 + min(levenshtein(source, target[1:]),
                                   levenshtein(source[1:], target[1:]),
                                   levenshtein(source[1:], target))
        """,
        "bug": ("return levenshtein(source[1:], target[1:])", "return 1 + levenshtein(source[1:], target[1:])"),
        "tests": """
            from levenshtein import levenshtein

            def test_same():
                assert levenshtein('abc', 'abc') == 0

            def test_kitten():
                assert levenshtein('kitten', 'sitting') == 3

            def test_empty():
                assert levenshtein('', 'ab') == 2
        """,
    },
    "lcs_length": {
        "source": """
            from collections import Counter

            def lcs_length(s, t):
                dp = Counter()
                for i in range(len(s)):
                    for j in range(len(t)):
                        if s[i] == t[j]:
                            dp[i, j] = dp[i - 1, j - 1] + 1
                return max(dp.values()) if dp else 0
        """,
        "bug": ("dp[i, j] = dp[i - 1, j - 1] + 1", "dp[i, j] = dp[i - 1, j] + 1"),
        "tests": """
            from lcs_length import lcs_length

            def test_common():
                assert lcs_length('witch', 'sandwich') == 2

            def test_longer():
                assert lcs_length('meow', 'homeowner') == 4

            def test_none():
                assert lcs_length('abc', 'xyz') == 0

            def test_repeat():
                assert lcs_length('aa', 'a') == 1
        """,
    },
    "flatten": {
        "source": """
            def flatten(arr):
                for x in arr:
                    if isinstance(x, list):
                        for y in flatten(x):
                            yield y
                    else:
                        yield x
        """,
        "bug": ("            yield x", "            yield flatten(x)"),
        "tests": """
            from flatten import flatten

            def test_nested():
                assert list(flatten([1, [2, [3]], 4])) == [1, 2, 3, 4]

            def test_flat():
                assert list(flatten([5, 6])) == [5, 6]
        """,
    },
    "bfs": {
        "source": """
            from collections import deque

            def reachable(graph, start, goal):
                queue = deque([start])
                seen = {start}
                while queue:
                    node = queue.popleft()
                    if node == goal:
                        return True
                    for nxt in graph.get(node, ()):
                        if nxt not in seen:
                            seen.add(nxt)
                            queue.append(nxt)
                return False
        """,
        "bug": ("while queue:", "while True:"),
        "tests": """
            from bfs import reachable

            GRAPH = {'a': ['b', 'c'], 'b': ['d'], 'c': [], 'd': [], 'e': ['a']}

            def test_path():
                assert reachable(GRAPH, 'a', 'd')

            def test_no_path():
                assert not reachable(GRAPH, 'a', 'e')

            def test_self():
                assert reachable(GRAPH, 'c', 'c')
        """,
    },
    "sum_digits": {
        "source": """
            def sum_digits(n):
                total = 0
                while n > 0:
                    total += n % 10
                    n //= 10
                return total
        """,
        "bug": ("total += n % 10", "total += n // 10"),
        "tests": """
            from sum_digits import sum_digits

            def test_one():
                assert sum_digits(7) == 7

            def test_many():
                assert sum_digits(1234) == 10

            def test_zeros():
                assert sum_digits(1005) == 6
        """,
    },
    "rightmost": {
        "source": """
            class Node:
                def __init__(self, key, left=None, right=None):
                    self.key = key
                    self.left = left
                    self.right = right


            def rightmost(node):
                while node.right is not None:
                    node = node.right
                return node.key
        """,
        "bug": ("        node = node.right", "        node = node.left"),
        "tests": """
            from rightmost import Node, rightmost

            def test_chain():
                tree = Node(1, Node(0), Node(3, Node(2), Node(4)))
                assert rightmost(tree) == 4

            def test_leaf():
                assert rightmost(Node(5)) == 5
        """,
    },
    "sum_list": {
        "source": """
            def total(xs):
                if not xs:
                    return 0
                return xs[0] + total(xs[1:])
        """,
        "bug": ("return xs[0] + total(xs[1:])", "return xs[0] + total(xs)"),
        "tests": """
            from sum_list import total

            def test_empty():
                assert total([]) == 0

            def test_many():
                assert total([1, 2, 3]) == 6
        """,
    },
    "is_sorted": {
        "source": """
            def is_sorted(xs):
                for i in range(1, len(xs)):
                    if xs[i - 1] > xs[i]:
                        return False
                return True
        """,
        "bug": ("if xs[i - 1] > xs[i]:", "if xs[i - 1] >= xs[i]:"),
        "tests": """
            from is_sorted import is_sorted

            def test_sorted():
                assert is_sorted([1, 2, 2, 3])

            def test_unsorted():
                assert not is_sorted([2, 1])

            def test_empty():
                assert is_sorted([])
        """,
    },
    "pascal": {
        "source": """
            def pascal(n):
                rows = [[1]]
                for r in range(1, n):
                    row = []
                    for c in range(0, r + 1):
                        upleft = rows[r - 1][c - 1] if c > 0 else 0
                        upright = rows[r - 1][c] if c < r else 0
                        row.append(upleft + upright)
                    rows.append(row)
                return rows
        """,
        "bug": ("for c in range(0, r + 1):", "for c in range(0, r):"),
        "tests": """
            from pascal import pascal

            def test_one():
                assert pascal(1) == [[1]]

            def test_five():
                assert pascal(5)[-1] == [1, 4, 6, 4, 1]
        """,
    },
}



def with_bug(program: dict) -> tuple[str, str, int]:
    """``(buggy source, correct source, 1-based bug line)`` of a program entry (shape as in
    :data:`PROGRAMS`): the correct program dedented, with its bug line swapped in. Shared by
    :func:`evals.classic.make_repo` and the operator tests (``tests/test_reach_ops.py``).

    Raises:
        ValueError: the bug's line is not in the source.
    """
    source = textwrap.dedent(program["source"]).lstrip()
    old, new = program["bug"]
    at = source.find(old)
    if at < 0:
        raise ValueError(f"bug line {old!r} not in the source")
    return source.replace(old, new, 1), source, source.count("\n", 0, at) + 1

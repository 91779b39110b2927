"""The AST mutation operators of the offline repairer: text splicing (precedence, byte
offsets, line breaks, comments) and the contract of ``mutants_at`` (order, bounds, dedup,
speed)."""

from __future__ import annotations

import ast

import pytest

from evals.mutation_snapshot import large_source
from harness.generators.mutations import MAX_PER_LINE, OPERATOR_PRIORS, mutants_at
from tests.mutant_checks import CLAMP, changed_lines, check_all, check_fix, find, src


# -- text splicing ------------------------------------------------------------------

def test_precedence_is_respected():
    source = src('''
        def f(a, b, c, xs):
            y = a - b * c
            z = (a - b) - c
            w = sorted(a + b)[0]
            return y, z, w
    ''')
    check_fix(source, 2, "a - b * c", "a - (b + c)", "binop_swap")
    check_fix(source, 3, "(a - b) - c", "c - (a - b)", "swap_operands")
    check_fix(source, 4, "sorted(a + b)[0]", "(a + b)[0]", "call_drop")
    check_all(source, mutants_at("m.py", source, [2, 3, 4]))


def op_diffs(old: ast.AST, new: ast.AST) -> list[tuple[str, str]] | None:
    """Operator nodes that differ between two trees of the same shape
    (None when the shapes differ: not a pure operator change)."""
    if type(old) is not type(new):
        if all(isinstance(n, (ast.operator, ast.cmpop, ast.boolop)) for n in (old, new)):
            return [(type(old).__name__, type(new).__name__)]
        return None
    out: list[tuple[str, str]] = []
    for name in old._fields:
        a, b = getattr(old, name), getattr(new, name)
        pairs = list(zip(a, b)) if isinstance(a, list) else [(a, b)]
        if isinstance(a, list) and len(a) != len(b):
            return None
        for x, y in pairs:
            if isinstance(x, ast.AST):
                sub = op_diffs(x, y)
                if sub is None:
                    return None
                out += sub
            elif x != y:
                return None
    return out


def test_operator_swaps_change_exactly_one_operator_in_the_tree():
    """Text splices keep the AST meaning: swapping an operator whose precedence
    differs adds the parentheses that keep every other node where it was."""
    source = src('''
        def f(a, b, c, d):
            x = a - b * c ** d + (a | b) & c
            y = a and b or c and not d
            z = a < b < c or a in b and -a ** b
            return x, y, z
    ''')
    old = ast.parse(source)
    ops = {"binop_swap", "bitop_swap", "boolop_swap", "compare_swap", "is_eq_swap"}
    mutants = [m for m in mutants_at("m.py", source, [2, 3, 4]) if m.operator in ops]
    assert len(mutants) >= 20
    for m in mutants:
        diffs = op_diffs(old, ast.parse(m.new_source))
        assert diffs is not None and len(diffs) == 1, (m.description, diffs)
        assert changed_lines(source, m.new_source) == {m.line}


def test_unicode_lines_use_byte_offsets():
    source = src('''
        def label(n, suffix):
            text = "héllo wörld ✓" + suffix if n < 1 else "ñ"  # ünïcode comment
            return text
    ''')
    m = check_fix(source, 2, "n < 1", "n <= 1", "compare_swap")
    assert '"héllo wörld ✓"' in m.new_source and "# ünïcode comment" in m.new_source
    check_fix(source, 2, '"héllo wörld ✓" + suffix', 'suffix + "héllo wörld ✓"', "swap_operands")
    check_all(source, mutants_at("m.py", source, [2]))


def test_crlf_and_tabs_are_kept():
    source = "def f(xs):\r\n\tif xs[0] < 1:\r\n\t\treturn 0\r\n\treturn 1\r\n"
    mutants = mutants_at("m.py", source, [2, 4])
    check_all(source, mutants)
    assert source.replace("< 1", "<= 1") in [m.new_source for m in mutants]
    guard = source.replace("\tif xs", "\tif xs is None: return None\r\n\tif xs")
    assert guard in [m.new_source for m in mutants]
    for m in mutants:
        assert "\n" not in m.new_source.replace("\r\n", "")


def test_comments_and_parentheses_inside_expressions():
    source = src('''
        def f(a, b):
            return (a  # first
                    + b)  # second
    ''')
    mutants = mutants_at("m.py", source, [2])
    check_all(source, mutants)
    expected = source.replace("+ b)", "- b)")
    m = find(mutants, expected)
    assert m.operator == "binop_swap"


# -- the contract -------------------------------------------------------------------

SAMPLE = src('''
    import os  # imports stay

    LIMIT = 10


    class Store:
        """A store."""

        def __init__(self, path, size=3):
            self.path = path
            self.size = size
            self.items = []

        def add(self, item, key=None):
            # a comment between statements
            if item is None or (key and key(item) < LIMIT):
                return False
            for i in range(len(self.items)):
                if self.items[i] == item:
                    return False
            self.items.append(item * 2 + self.size)
            total = sum(x for x in self.items if x > 0)
            name = f"{self.path}-{total}"
            return total > self.size and name.startswith(os.sep)

        async def load(self, n):
            async with open(self.path) as fh:
                data = await fh.read(n)
            return data[1:n - 1]
''')


def test_contract_on_a_realistic_file():
    lines = list(range(1, SAMPLE.count("\n") + 2))
    mutants = mutants_at("store.py", SAMPLE, lines)
    assert len(mutants) > 100
    check_all(SAMPLE, mutants)
    for m in mutants:
        assert "# a comment between statements" in m.new_source
        assert "# imports stay" in m.new_source or m.description == "line 1: delete `import os`"
        assert len(changed_lines(SAMPLE, m.new_source)) <= 4, m
        assert 0 < OPERATOR_PRIORS[m.operator] <= 1
    # deterministic
    again = mutants_at("store.py", SAMPLE, lines)
    assert [(m.operator, m.new_source) for m in again] == [(m.operator, m.new_source) for m in mutants]


def test_order_bound_and_dedup_per_line():
    for line in range(1, SAMPLE.count("\n") + 1):
        ms = mutants_at("store.py", SAMPLE, [line])
        assert len(ms) <= MAX_PER_LINE
        priors = [OPERATOR_PRIORS[m.operator] for m in ms]
        assert priors == sorted(priors, reverse=True), line
    both = mutants_at("store.py", SAMPLE, [17, 17, 16])
    assert len({m.new_source for m in both}) == len(both)
    first = mutants_at("store.py", SAMPLE, [17])
    assert [m.new_source for m in both[: len(first)]] == [m.new_source for m in first]


def test_lines_may_be_any_iterable_of_ints():
    by_score = {4: 0.9}  # the templates generator passes {line: suspiciousness}
    assert mutants_at("m.py", CLAMP, by_score) == mutants_at("m.py", CLAMP, [4])
    assert mutants_at("m.py", CLAMP, iter([4, 4])) == mutants_at("m.py", CLAMP, (4,))
    m = mutants_at("m.py", CLAMP, [4])[0]
    with pytest.raises(AttributeError):
        m.line = 3  # frozen


def test_unparsable_and_empty_inputs():
    repairs = mutants_at("m.py", "def f(:\n    return 1\n", [1, 2])  # token edits, no AST operator
    assert all(m.operator == "syntax" and ast.parse(m.new_source) for m in repairs)
    assert mutants_at("m.py", "", [1]) == []
    assert mutants_at("m.py", "x = 1\n", []) == []
    assert mutants_at("m.py", "x = 1\n", [0, -3, 99]) == []


def test_a_large_file_gives_mutants_only_on_the_asked_lines():
    """Locality on a 1,800-line module (how long it takes is a figure printed by
    ``python -m evals.mutation_snapshot``, not asserted here)."""
    source, lines = large_source()
    assert source.count("\n") > 1800 and len(lines) == 30
    mutants = mutants_at("big.py", source, lines)
    assert len(mutants) > 10 * len(lines)
    assert {m.line for m in mutants} <= set(lines)
    assert len({m.line for m in mutants}) > 20
    for m in mutants[::80]:
        ast.parse(m.new_source)
        assert min(changed_lines(source, m.new_source)) >= m.line - 1, m.description

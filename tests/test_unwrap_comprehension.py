"""``unwrap_comprehension`` offers the developer's fix of a real release regression.

furl 2.1.2 -> 2.1.3 (``evals/suites/release-pairs.yaml``, furl-2.1.3-1): 2.1.2 split a
query string on ``;`` as well as ``&``, so ``a=;`` became two empty pairs; 2.1.3 walks
``querystr.split('&')`` as it is.
"""

from __future__ import annotations

from harness.generators.mutations import mutants_at
from tests.mutant_checks import check_all, check_fix, src

FURL = src('''
    def _extract_items_from_querystr(self, querystr):
        items = []

        pairstrs = [s2 for s1 in querystr.split('&') for s2 in s1.split(';')]
        pairs = [item.split('=', 1) for item in pairstrs]
        return pairs
''')


def test_a_flattening_comprehension_gives_back_the_iterable_it_walks():
    check_fix(FURL, 4, "[s2 for s1 in querystr.split('&') for s2 in s1.split(';')]",
              "querystr.split('&')", "unwrap_comprehension")


def test_the_unwrapped_iterable_keeps_its_parentheses_where_it_needs_them():
    source = src('''
        def total(rows, extra):
            return sum(x * 2 for x in rows or extra)
    ''')
    mutants = mutants_at("pkg/mod.py", source, [2])
    check_all(source, mutants)
    got = {m.new_source.splitlines()[1].strip() for m in mutants if m.operator == "unwrap_comprehension"}
    assert got == {"return sum(rows or extra)"}


def test_a_generator_that_only_walks_is_left_alone():
    source = src('''
        def first(xs):
            return next(x for x in xs)
    ''')
    assert not [m for m in mutants_at("pkg/mod.py", source, [2]) if m.operator == "unwrap_comprehension"]

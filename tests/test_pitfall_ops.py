"""``pitfall_ops``: Python pitfalls linters name, fixed the documented way (a missing ``f``
prefix, a lambda bound late in a loop, ``rstrip`` of a suffix, the ``None`` of ``list.sort``);
on bugs written for these tests, and end to end on a small report module whose message lost
its ``f``."""

from __future__ import annotations

from harness.generators.mutations import mutants_at
from tests.conftest import fix_offline
from tests.mutant_checks import check_all, check_fix, src

OPS = ("f_prefix", "late_binding", "strip_affix", "sorted_copy")
CODE = src('''
    import os
    GREETING = "hi"


    def f(name, items, path):
        msg = "Hello {name}, {GREETING}!"
        raw = "{x} literal"
        tmpl = "{name}".format(name=1)
        cbs = [lambda: i for i in items]
        for j in items:
            cbs.append(lambda x: x + j)
        stem = path.rstrip(".txt")
        ys = items.sort()
        zs = items.sort(key=len)
        print("{path!r:>10} and {items[0]} of {{braces}}")
        items.sort()
        return msg, raw, tmpl, ys, zs, b"{name}", "{id}"
''')


def offered(line: int) -> list[str]:
    got = mutants_at("pkg/mod.py", CODE, [line])
    check_all(CODE, got)
    return [m.new_source.splitlines()[line - 1].strip() for m in got if m.operator in OPS]


def test_each_pitfall_gets_its_documented_fix():
    check_fix(CODE, 6, '"Hello {name}', 'f"Hello {name}', "f_prefix")
    check_fix(CODE, 9, "lambda: i", "lambda i=i: i", "late_binding")
    check_fix(CODE, 11, "lambda x: x + j", "lambda x, j=j: x + j", "late_binding")
    check_fix(CODE, 12, 'path.rstrip(".txt")', 'path.removesuffix(".txt")', "strip_affix")
    check_fix(CODE, 13, "items.sort()", "sorted(items)", "sorted_copy")
    check_fix(CODE, 14, "items.sort(key=len)", "sorted(items, key=len)", "sorted_copy")


def test_what_is_not_a_pitfall():
    assert offered(7) == []   # `{x}` names nothing in scope: a template for later
    assert offered(8) == []   # filled by .format
    assert offered(15) == []  # `{{braces}}` would change meaning with an f
    assert offered(16) == []  # sort() as a statement is right
    assert offered(17) == []  # bytes cannot be f-strings; `{id}` is a builtin, not a local


REPORT = src('''
    """One-line reports of stock."""


    def describe(item, count):
        """``"3 x apple"``; ``"no apple"`` when there is none."""
        if count == 0:
            return f"no {item}"
        return "{count} x {item}"
''')
REPORT_TESTS = src('''
    from report import describe


    def test_none():
        assert describe("apple", 0) == "no apple"


    def test_some_apples():
        assert describe("apple", 3) == "3 x apple"


    def test_one_pear():
        assert describe("pear", 1) == "1 x pear"
''')


def test_loopwright_fix_restores_the_f_prefix(make_repo):
    out, _, _ = fix_offline(make_repo, {"report.py": REPORT, "test_report.py": REPORT_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert '+    return f"{count} x {item}"' in out["patch"], out["patch"]


MORE = src('''
    KEYWORDS = [
        "if",
        "else"
        "elif",
    ]


    def f(items, d, ch, seen):
        for x in items:
            if x < 0:
                items.remove(x)
        for k in d:
            del d[k]
        if ch in ("abc"):
            return [c for c in seen]
        for c in ("abc"):
            seen.add(c)
        for c in seen:
            items.append(c)
        print("a, b",
              "c" "d")
        raise ValueError("a long message "
                         "over two lines")
''')


def more(line: int) -> list[str]:
    got = mutants_at("pkg/mod.py", MORE, [line])
    check_all(MORE, got)
    return [m.new_source.splitlines()[line - 1].strip() for m in got if m.operator in ("copy_iterated", "split_concat", "one_tuple")]


def test_a_loop_over_what_it_resizes_iterates_a_copy():
    assert more(9) == ["for x in list(items):"]
    assert more(12) == ["for k in list(d):"]
    assert more(18) == []  # it resizes another collection


def test_a_missing_comma_is_restored_and_a_one_string_tuple_made():
    assert more(3) == ['"else",']
    assert more(14) == ['if ch in ("abc",):']
    assert more(16) == ['for c in ("abc",):']
    assert more(21) == ['"c", "d")']  # on one line of a call's arguments
    assert more(22) == []  # a message split over lines on purpose


LOOKUPS = src('''
    def f(d, k, x, s, t, T):
        d.get(k, []).append(x)
        if type(x) == T:
            return 1
        if type(x) is not T and s.find(t):
            return 2
        if not s.rfind(t + "a"):
            return 3
        return s.find(t), d.get(k, [])
''')


def lookups(line: int) -> list[str]:
    got = mutants_at("pkg/mod.py", LOOKUPS, [line])
    check_all(LOOKUPS, got)
    return sorted(m.new_source.splitlines()[line - 1].strip() for m in got
                  if m.operator in ("setdefault_lost", "type_compare", "find_truthy"))


def test_a_lost_default_a_type_comparison_and_a_find_used_as_a_truth():
    assert lookups(2) == ["d.setdefault(k, []).append(x)"]
    assert lookups(3) == ["if isinstance(x, T):"]
    assert lookups(5) == ["if not isinstance(x, T) and s.find(t):", "if type(x) is not T and t in s:"]
    assert lookups(7) == ['if t + "a" not in s:']
    assert lookups(9) == []  # a position returned, a lookup only read


MONEY = src('''
    class Money:
        def __init__(self, amount, tag):
            self.amount, self.tag = amount, tag

        def __add__(self, other):
            if not isinstance(other, Money):
                raise TypeError("cannot add Money and " + type(other).__name__)
            return Money(self.amount + other.amount, self.tag)

        def __eq__(self, other):
            return self.tag == other.tag

        def __hash__(self):
            return hash(id(self))

        def count(self, node):
            raise TypeError("not an operator")
            return len(node.orelse)
''')


def test_an_operator_method_declines_a_hash_follows_eq_and_a_count_becomes_a_flag():
    check_fix(MONEY, 7, 'raise TypeError("cannot add Money and " + type(other).__name__)', "return NotImplemented",
              "not_implemented")
    check_fix(MONEY, 14, "hash(id(self))", "hash(self.tag)", "hash_eq")
    check_fix(MONEY, 18, "len(node.orelse)", "bool(node.orelse)", "len_bool")
    ops = {m.operator for m in mutants_at("pkg/mod.py", MONEY, [17])}
    assert "not_implemented" not in ops  # `count` is no operator method


FRACTION = src('''
    class Cents:
        def __init__(self, value):
            self.value = value

        def __add__(self, other):
            if not isinstance(other, Cents):
                raise TypeError("cannot add Cents to " + type(other).__name__)
            return Cents(self.value + other.value)
''')
FRACTION_TESTS = src('''
    from cents import Cents


    class Tip:
        def __radd__(self, other):
            return Cents(other.value + 1)


    def test_a_foreign_operand_gets_its_reflected_add():
        assert (Cents(2) + Tip()).value == 3


    def test_cents_add():
        assert (Cents(2) + Cents(3)).value == 5
''')


def test_loopwright_fix_returns_not_implemented_for_a_foreign_operand(make_repo):
    """The ``raise TypeError`` hides ``Tip.__radd__``; ``return NotImplemented`` is the data
    model's answer, and not a deleted ``raise`` (Python raises ``TypeError`` itself)."""
    out, _root, _before = fix_offline(make_repo, {"cents.py": FRACTION, "test_cents.py": FRACTION_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+            return NotImplemented" in out["patch"], out["patch"]

"""String literals rewritten from an assertion diff (``harness.generators.message_literals``,
issue 21) beyond pytest's ``assert a == b``: unittest's ``assertEqual`` messages (made by
unittest itself here, not written by hand), module-level tables the localized functions name,
and class-level tables a base class reads through ``self`` (arrow's ``Locale._format_timeframe``
over ``SwedishLocale.timeframes``); each on a bug written for it, and end to end through
``loopwright fix``."""

from __future__ import annotations

import ast
import unittest

from harness.generators.literal_attrs import Owner, attributes_read, mentioned
from harness.generators.message_literals import sides
from tests.conftest import fix_offline
from tests.mutant_checks import src
from tests.test_message_ops import _offered, _texts


def _unittest_message(first: object, second: object) -> str:
    """What ``assertEqual(first, second)`` says, as the evidence holds it (after ``AssertionError: ``)."""
    case = unittest.TestCase()
    case.maxDiff = None
    try:
        case.assertEqual(first, second)
    except AssertionError as exc:
        return str(exc)
    raise AssertionError("equal values")


# -- 1. unittest's messages -----------------------------------------------------------------
def test_unittest_sides_short_long_and_not_strings():
    assert sides(_unittest_message("dziewięćdzisiąt dwa", "dziewięćdziesiąt dwa")) == (
        "dziewięćdzisiąt dwa", "dziewięćdziesiąt dwa")
    # long values: the first line's reprs are shortened ('line[14 chars]...'), the ndiff is whole
    first = "line one\nline two is long enough for unittest to shorten its repr in the message\nthree"
    second = first.replace("message", "messages")
    assert "[23 chars]" in _unittest_message(first, second)
    assert sides(_unittest_message(first, second)) == (first, second)
    # a custom message after the diff is not part of the values
    case = unittest.TestCase()
    case.maxDiff = None
    try:
        case.assertMultiLineEqual(first, second, "see the docs")
    except AssertionError as exc:
        assert sides(str(exc)) == (first, second)
    # `assertEqual("expected", actual)`: the side the test file spells is the expected one
    assert sides(_unittest_message("Hello, Bob", "Hello, dear Bob"), 'self.assertEqual("Hello, Bob", greet())') == (
        "Hello, dear Bob", "Hello, Bob")
    # lists, dicts and numbers compare no two strings, though their diffs have `- `/`+ ` lines
    assert sides(_unittest_message(["a", "b"], ["a", "c"])) is None
    assert sides(_unittest_message({"k": "x"}, {"k": "y"})) is None
    assert sides(_unittest_message(3, 4)) is None


NUMBERS = src('''
    TENS = {2: "dwadzieścia", 3: "trzydzieści", 9: "dziewięćdzisiąt"}
    ONES = {0: "", 1: "jeden", 2: "dwa"}


    def spell(n):
        tens, ones = divmod(n, 10)
        return " ".join(word for word in (TENS[tens], ONES[ones]) if word)
''')
NUMBERS_FIXED = NUMBERS.replace('"dziewięćdzisiąt"', '"dziewięćdziesiąt"')


def test_a_unittest_diff_mends_a_misspelt_word_of_a_module_table(tmp_path):
    """`spell(92)` joins the table's word with another: the word is no whole value a data edit
    could replace, but its literal holds the run the diff changes."""
    message = "AssertionError: " + _unittest_message("dziewięćdzisiąt dwa", "dziewięćdziesiąt dwa")
    got = _offered(tmp_path, {"numbers_pl.py": NUMBERS},
                   {"tests/test_numbers.py::TestSpell::test_ninety_two": (message, [("tests/test_numbers.py", 7)])},
                   [("numbers_pl.py", 7, 1.0)])
    assert _texts(got) == [NUMBERS_FIXED]
    assert got[0][1].operator == "literal_from_diff"


# -- 2. class-level tables read through self -----------------------------------------------
LOCALES = src('''
    class Locale:
        names = []
        timeframes = {}

        def describe(self, frame, count):
            return self.timeframes[frame].format(count)

        @classmethod
        def code(cls):
            return cls.names[0]

        def kind(self):
            return type(self).__name__ + self.__class__.__name__


    class FrenchLocale(Locale):
        names = ["fr", "fr_fr"]
        timeframes = {"seconds": "{0} secondes", "minutes": "{0} minutes"}


    class DutchLocale(Locale):
        names = ["nl", "nl_nl"]
        timeframes = {"seconds": "{0} secondes", "minutes": "{0} minuten"}


    class Labels:
        seconds = "{0} secondes"


    def get_locale(name):
        return next(cls for cls in (FrenchLocale, DutchLocale) if name in cls.names)()
''')
DUTCH_FIXED = LOCALES.replace('"seconds": "{0} secondes", "minutes": "{0} minuten"',
                              '"seconds": "{0} seconden", "minutes": "{0} minuten"')
FRENCH_BROKEN = LOCALES.replace('"seconds": "{0} secondes", "minutes": "{0} minutes"',
                                '"seconds": "{0} seconden", "minutes": "{0} minutes"')


def test_a_base_class_method_reads_the_subclass_tables_the_named_class_first(tmp_path):
    """Two subclasses' tables hold `secondes`: both explain the diff; the class the failing
    test names (by its test class, or by one of its `names`) comes first. `Labels.seconds` is
    not read through `self`, so it is no candidate."""
    message = "assert '3 secondes' == '3 seconden'\n  \n  - 3 seconden\n  ?          ^\n  + 3 secondes\n  ?          ^"
    failing = {"tests/test_locales.py::TestDutchLocale::test_seconds": ("AssertionError: " + message,
                                                                      [("tests/test_locales.py", 9)])}
    got = _offered(tmp_path, {"locales.py": LOCALES}, failing, [("locales.py", 6, 1.0)])
    assert _texts(got) == [DUTCH_FIXED, FRENCH_BROKEN] and got[0][0] > got[1][0]
    test = 'from locales import get_locale\n\n\ndef test_seconds():\n    assert get_locale("nl").describe("seconds", 3) == "3 seconden"\n'
    got = _offered(tmp_path, {"locales.py": LOCALES, "tests/test_by_name.py": test},
                   {"tests/test_by_name.py::test_seconds": ("AssertionError: " + message, [("tests/test_by_name.py", 5)])},
                   [("locales.py", 6, 1.0)])
    assert _texts(got) == [DUTCH_FIXED, FRENCH_BROKEN] and got[0][0] > got[1][0]


def test_tables_in_the_module_a_subclass_imports_its_base_from(tmp_path):
    """The localized method is a subclass's; the table it reads is its base's, in another module."""
    base = 'class Unit:\n    symbol = "metre"\n    plural = "{0} metress"\n'
    length = src('''
        from .base import Unit


        class Length(Unit):
            def show(self, n):
                return self.plural.format(n)
    ''')
    message = "AssertionError: assert '2 metress' == '2 metres'\n  \n  - 2 metres\n  + 2 metress\n  ?         +"
    got = _offered(tmp_path, {"units/__init__.py": "", "units/base.py": base, "units/length.py": length},
                   {"tests/test_units.py::test_show": (message, [("tests/test_units.py", 4)])},
                   [("units/length.py", 6, 1.0)])
    assert _texts(got) == [base.replace("metress", "metres")]


def test_what_a_method_reads_from_its_class_and_what_names_a_class():
    functions = [node for node in ast.walk(ast.parse(LOCALES)) if isinstance(node, ast.FunctionDef)]
    assert attributes_read(functions[:3]) == {"timeframes", "names"}  # dunders aside
    dutch = Owner("DutchLocale", frozenset({"nl", "nl_nl"}))
    assert mentioned(dutch, ("tests/test_locales.py::TestDutchLocale::test_seconds", set()))
    assert mentioned(dutch, ("tests/t.py::test_x\ndef test_x(): get_locale('nl')", {"nl"}))
    assert not mentioned(dutch, ("tests/t.py::test_x\ndef test_x(): get_locale('fr')", {"fr"}))
    assert not mentioned(Owner("Nl", frozenset()), ("tests/t.py::TestNlx::test_x", set()))  # short: whole words only
    assert mentioned(Owner("Nl", frozenset()), ("tests/t.py::test_x\nNl()", set()))


# -- end to end --------------------------------------------------------------------------
def test_loopwright_fix_mends_the_word_a_unittest_diff_shows(make_repo):
    test = src('''
        import unittest

        from numbers_pl import spell


        class TestSpell(unittest.TestCase):
            def test_ninety_two(self):
                self.assertEqual(spell(92), "dziewięćdziesiąt dwa")

            def test_thirty_one(self):
                self.assertEqual(spell(31), "trzydzieści jeden")

            def test_twenty(self):
                self.assertEqual(spell(20), "dwadzieścia")
    ''')
    out, _, _ = fix_offline(make_repo, {"numbers_pl.py": NUMBERS, "tests/__init__.py": "", "tests/test_numbers.py": test})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert '+TENS = {2: "dwadzieścia", 3: "trzydzieści", 9: "dziewięćdziesiąt"}' in out["patch"]


def test_loopwright_fix_mends_a_subclass_table_a_base_method_formats(make_repo):
    test = src('''
        from locales import DutchLocale, FrenchLocale


        class TestDutchLocale:
            def test_seconds(self):
                assert DutchLocale().describe("seconds", 3) == "3 seconden"

            def test_minutes(self):
                assert DutchLocale().describe("minutes", 2) == "2 minuten"


        class TestFrenchLocale:
            def test_seconds(self):
                assert FrenchLocale().describe("seconds", 5) == "5 secondes"
    ''')
    out, _, _ = fix_offline(make_repo, {"locales.py": LOCALES, "tests/__init__.py": "", "tests/test_locales.py": test})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert '+    timeframes = {"seconds": "{0} seconden", "minutes": "{0} minuten"}' in out["patch"]

"""The type guard (``harness.generators.type_guard``, issue 21): a failing test expects a class F
but the code crashes on the bad input with a builtin error at a line that is no ``raise``; the
candidate is ``if <bad input>: raise F(...)`` at the entry of the function the test called (or
of the innermost one). Each case on a bug written for it (messages as pytest prints them), its
rank, its naturalness class, the overfit checks on it, and end to end through ``loopwright fix``."""

from __future__ import annotations

from pathlib import Path

from harness.core.overfit import static_suspicion
from harness.core.plausible import NATURALNESS, naturalness
from harness.generators.templates import MESSAGE_FIRST, TemplateGenerator
from harness.generators.type_guard import CHECKED_FACTOR, GUARD_PRIOR, INNER_FACTOR, MAX_GUARDS
from harness.generators.type_ops import TYPE_PRIORS, Ranked, type_mutants
from sandbox.patch import Patch
from tests.conftest import fix_offline
from tests.mutant_checks import src
from tests.test_message_ops import _context  # the same fixture: files written, failing tests with frames


def _offered(tmp_path: Path, files, failing, located=()) -> list[Ranked]:
    def read(rel: str) -> str | None:
        path = tmp_path / rel
        return path.read_text() if path.is_file() else None
    return [item for item in type_mutants(_context(tmp_path, files, failing, located), read)
            if item.mutant.operator == "type_guard"]


def _added(item: Ranked) -> list[str]:
    """The lines a candidate inserts, stripped."""
    old, new = item.mutant.source.splitlines(), item.mutant.new_source.splitlines()
    return [line.strip() for line in new if line not in old]


# -- a None input, pytest.raises ---------------------------------------------------------------
TAGS = src('''
    def parse_tags(text):
        """Split a comma-separated tag list."""
        if "," in text:
            return [tag.strip() for tag in text.split(",")]
        return [text.strip()]
''')
TEST_TAGS = src('''
    import pytest

    from tags import parse_tags


    def test_tags():
        assert parse_tags("a, b") == ["a", "b"]
        assert parse_tags(" a ") == ["a"]


    def test_none_is_rejected():
        with pytest.raises(ValueError):
            parse_tags(None)
''')
NONE_ITERABLE = {"test_tags.py::test_none_is_rejected": ("TypeError: argument of type 'NoneType' is not iterable",
                                                         [("test_tags.py", 13), ("tags.py", 3)])}


def test_a_none_input_gets_a_guard_raising_the_expected_class(tmp_path):
    got = _offered(tmp_path, {"tags.py": TAGS, "test_tags.py": TEST_TAGS}, NONE_ITERABLE)
    # None named by the message first, then the type the function's own `text.split`/`text.strip` want
    assert [_added(item) for item in got] == [["if text is None:", 'raise ValueError("text must not be None")'],
                                              ["if not isinstance(text, str):", 'raise ValueError("text must be str")']]
    assert got[0].first and got[0].score == GUARD_PRIOR  # the test's `with` holds the call that crashed
    # inserted after the docstring, at the body's indentation
    assert '"""Split a comma-separated tag list."""\n    if text is None:\n        raise ValueError(' \
        in got[0].mutant.new_source


def test_the_guard_raises_the_message_the_test_matches(tmp_path):
    test = TEST_TAGS.replace("pytest.raises(ValueError)", 'pytest.raises(ValueError, match=r"no tags given \\(None\\)")')
    got = _offered(tmp_path, {"tags.py": TAGS, "test_tags.py": test}, NONE_ITERABLE)
    assert _added(got[0]) == ["if text is None:", 'raise ValueError("no tags given (None)")']
    # a pattern no plain text made from it matches: the plain sentence naming the parameter
    test = TEST_TAGS.replace("pytest.raises(ValueError)", 'pytest.raises(ValueError, match="^(no|missing) tags")')
    got = _offered(tmp_path, {"test_tags.py": test}, NONE_ITERABLE)
    assert _added(got[0]) == ["if text is None:", 'raise ValueError("text must not be None")']
    # the text an `assert S in str(info.value)` after the `with ... as info` looks for
    test = TEST_TAGS.replace("pytest.raises(ValueError):", "pytest.raises(ValueError) as info:") \
        + '    assert "tags (a string) are required" in str(info.value)\n'
    got = _offered(tmp_path, {"test_tags.py": test}, NONE_ITERABLE)
    assert _added(got[0]) == ["if text is None:", 'raise ValueError("tags (a string) are required")']


def test_no_guard_when_the_crash_is_already_the_expected_class_or_a_raise_or_unnamable(tmp_path):
    files = {"tags.py": TAGS, "test_tags.py": TEST_TAGS.replace("pytest.raises(ValueError)", "pytest.raises(TypeError)")}
    assert _offered(tmp_path, files, NONE_ITERABLE) == []  # a TypeError is one: the test would pass
    # a crash no type guard prevents: a value's or a lookup's error
    for message in ("KeyError: 'text'", "IndexError: list index out of range"):
        failing = {"test_tags.py::test_none_is_rejected": (message, [("test_tags.py", 13), ("tags.py", 3)])}
        assert _offered(tmp_path, {"test_tags.py": TEST_TAGS}, failing) == [], message
    # the module cannot name the class the test expects (an import is a wider edit)
    errors = "class TagError(Exception):\n    pass\n"
    test = "import pytest\n\nfrom errors import TagError\nfrom tags import parse_tags\n\n\n" \
           "def test_none_is_rejected():\n    with pytest.raises(TagError):\n        parse_tags(None)\n"
    failing = {"test_tags.py::test_none_is_rejected": ("TypeError: argument of type 'NoneType' is not iterable",
                                                       [("test_tags.py", 9), ("tags.py", 3)])}
    assert _offered(tmp_path, {"errors.py": errors, "tags.py": TAGS, "test_tags.py": test}, failing) == []
    # the innermost repository line is a `raise`: type_ops retypes it instead
    raising = TAGS.replace('    if "," in text:\n', '    if not text:\n        raise TypeError(text)\n    if "," in text:\n')
    failing = {"test_tags.py::test_none_is_rejected": ("TypeError: None", [("test_tags.py", 13), ("tags.py", 4)])}
    assert _offered(tmp_path, {"tags.py": raising, "test_tags.py": TEST_TAGS}, failing) == []


# -- a wrong-type input, unittest assertRaises through a helper --------------------------------------
UNITS = src('''
    class UnitError(ValueError):
        """A length that cannot be read."""


    FACTORS = {"m": 1.0, "cm": 0.01, "km": 1000.0}


    def _split(text):
        number, unit = text.split()
        return float(number), unit


    def parse_length(value, default_unit="m"):
        number, unit = _split(value)
        if unit not in FACTORS:
            raise UnitError(f"unknown unit {unit!r}")
        return number * FACTORS[unit]
''')
TEST_UNITS = src('''
    import unittest

    from units import UnitError, parse_length


    class LengthTest(unittest.TestCase):
        def test_cm(self):
            self.assertEqual(parse_length("250 cm"), 2.5)

        def test_not_text(self):
            self.assertRaises(UnitError, parse_length, 12)
''')


def test_a_wrong_type_gets_a_guard_in_the_called_function_then_in_the_innermost(tmp_path):
    failing = {"test_units.py::LengthTest::test_not_text": ("AttributeError: 'int' object has no attribute 'split'",
                                                            [("test_units.py", 11), ("units.py", 14), ("units.py", 9)])}
    got = _offered(tmp_path, {"units.py": UNITS, "test_units.py": TEST_UNITS}, failing)
    # the value is followed from `text.split()` back through `_split(value)`; `str` because only str (and
    # bytes) have `split`, `int` because the message names it; the function the test called first
    assert [(_added(item)[0], item.mutant.line) for item in got] == [
        ("if not isinstance(value, str):", 14), ("if isinstance(value, int):", 14),
        ("if not isinstance(text, str):", 9), ("if isinstance(text, int):", 9)]
    assert _added(got[0])[1] == 'raise UnitError("value must be str")'
    assert got[2].score == GUARD_PRIOR * 0.8 * INNER_FACTOR  # assertRaises(F, f, arg) holds no `with`: 0.8
    assert all(item.first for item in got) and len(got) <= MAX_GUARDS


def test_the_type_the_code_expects_comes_from_its_other_calls_on_the_parameter(tmp_path):
    shout = src('''
        def shout(title):
            loud = title + "!"
            return loud.upper() if title.islower() else loud
    ''')
    test = src('''
        import unittest

        from shout import shout


        class ShoutTest(unittest.TestCase):
            def test_number(self):
                with self.assertRaisesRegex(ValueError, "title must be text"):
                    shout(42)
    ''')
    failing = {"test_shout.py::ShoutTest::test_number": ("TypeError: unsupported operand type(s) for +: 'int' and 'str'",
                                                         [("test_shout.py", 9), ("shout.py", 2)])}
    got = _offered(tmp_path, {"shout.py": shout, "test_shout.py": test}, failing)
    # the message names no type of the value: `title.islower()` is a method of str (and bytes) alone,
    # and the test's pattern is the text raised
    assert [_added(item) for item in got] == [["if not isinstance(title, str):", 'raise ValueError("title must be text")']]


def test_a_guard_where_the_code_already_checks_the_type_waits_for_the_mutants(tmp_path):
    money = src('''
        class Money:
            def __init__(self, cents):
                self.cents = cents

            def __ge__(self, other):
                if isinstance(other, self.__class__):
                    return NotImplemented
                return self.cents >= other.cents

            def add(self, other):
                if isinstance(other, int):
                    other = Money(other)
                return Money(self.cents + other.cents)
    ''')
    test = src('''
        import pytest

        from money import Money


        def test_compare_text():
            with pytest.raises(TypeError):
                Money(1) >= "1"


        def test_add_text():
            with pytest.raises(TypeError):
                Money(1).add("1")
    ''')
    message = "AttributeError: 'str' object has no attribute 'cents'"
    trace = [("test_money.py", 13), ("money.py", 13)]
    got = _offered(tmp_path, {"money.py": money, "test_money.py": test}, {"test_money.py::test_add_text": (message, trace)},
                   [("money.py", 13, 1.0)])
    # the check of `other` that is there is the likelier fault: the guards are offered at a
    # mutant's rank, not before every mutant
    assert got and not any(item.first for item in got)
    assert max(item.score for item in got) == GUARD_PRIOR * CHECKED_FACTOR
    # an operator method gets none: a wrong operand gives NotImplemented, Python raises the TypeError
    trace = [("test_money.py", 8), ("money.py", 8)]
    assert _offered(tmp_path, {"test_money.py": test}, {"test_money.py::test_compare_text": (message, trace)},
                    [("money.py", 8, 1.0)]) == []


# -- rank, naturalness, overfit ------------------------------------------------------------------
def test_the_guard_comes_before_every_mutant_but_after_an_exact_retype(tmp_path):
    context = _context(tmp_path, {"tags.py": TAGS, "test_tags.py": TEST_TAGS}, NONE_ITERABLE,
                       [("tags.py", 3, 1.0), ("tags.py", 4, 0.8), ("tags.py", 5, 0.7)])
    got = TemplateGenerator().candidates(context, limit=10)
    early = [mutant.operator for score, mutant in got if score > MESSAGE_FIRST]
    assert early == ["type_guard", "type_guard"] and got[0][0] == MESSAGE_FIRST + GUARD_PRIOR
    assert GUARD_PRIOR < TYPE_PRIORS["raise_expected"] * 0.8 * 0.9  # below the weakest exact retype


def test_the_guard_is_a_natural_guard_not_suspect_but_a_literal_special_cased_is():
    assert NATURALNESS["type_guard"] == NATURALNESS["guard_insert"] == 3
    guarded = TAGS.replace('    if "," in text:\n', '    if text is None:\n        raise ValueError("text must not be None")\n'
                           '    if "," in text:\n')
    patch = Patch.from_texts({"tags.py": (TAGS, guarded)}, "guard", {"operator": "type_guard"})
    assert naturalness(patch)[1] == 3
    assert static_suspicion(patch, {"tags.py": guarded}, TEST_TAGS) == ""
    # the same guard on the failing test's literal is still the hard-coded test case
    literal = TEST_TAGS.replace("parse_tags(None)", 'parse_tags("#none#")')
    cheat = TAGS.replace('    if "," in text:\n', '    if text == "#none#":\n        raise ValueError("text must not be None")\n'
                         '    if "," in text:\n')
    patch = Patch.from_texts({"tags.py": (TAGS, cheat)}, "cheat", {"operator": "type_guard"})
    assert "special-cases \"#none#\", a literal of the failing test" in static_suspicion(patch, {"tags.py": cheat}, literal)


# -- end to end --------------------------------------------------------------------------------
def test_loopwright_fix_adds_the_guard_the_test_expects(make_repo):
    out, _, _ = fix_offline(make_repo, {"tags.py": TAGS, "test_tags.py": TEST_TAGS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+    if text is None:\n+        raise ValueError(\"text must not be None\")" in out["patch"]


# -- the type wanted from a comparison with a literal, and a test passing two bad values --------
OFFSET = src('''
    def parse_offset(tz):
        """Minutes east of UTC of ``+HH:MM``, ``-HH:MM`` or ``Z``."""
        if "Z" in tz:
            return 0
        sign = -1 if tz[0] == "-" else 1
        return sign * (int(tz[1:3]) * 60 + int(tz[4:6]))
''')
TEST_OFFSET = src('''
    import pytest

    from offset import parse_offset


    def test_offsets():
        assert parse_offset("Z") == 0
        assert parse_offset("-01:30") == -90


    def test_bad_types_are_rejected():
        with pytest.raises(ValueError):
            parse_offset(None)
        with pytest.raises(ValueError):
            parse_offset(130)
''')


def test_a_parameter_compared_with_a_string_literal_is_wanted_as_str(tmp_path):
    failing = {"test_offset.py::test_bad_types_are_rejected": (
        "TypeError: argument of type 'NoneType' is not iterable", [("test_offset.py", 13), ("offset.py", 3)])}
    got = _offered(tmp_path, {"offset.py": OFFSET, "test_offset.py": TEST_OFFSET}, failing)
    # `"Z" in tz` and `tz[0] == "-"`: no method is called on `tz`, the literals say it is text
    assert [_added(item) for item in got] == [["if tz is None:", 'raise ValueError("tz must not be None")'],
                                              ["if not isinstance(tz, str):", 'raise ValueError("tz must be str")']]


def test_loopwright_fix_guards_both_bad_types_the_test_passes(make_repo):
    out, _, _ = fix_offline(make_repo, {"offset.py": OFFSET, "tests/test_offset.py": TEST_OFFSET})
    assert out["status"] == "fixed", out
    assert "+    if not isinstance(tz, str):" in out["patch"], out["patch"]

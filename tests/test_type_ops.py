"""The class operators (``harness.generators.type_ops``, issue 21): a raised class retyped to
the one the failing test expects, and an ``isinstance`` check widened by a sibling class the
evidence names; each on bugs written for it (messages as pytest prints them), their rank
before every blind mutant, their naturalness class, the overfit checks on them, and end to end
through ``loopwright fix`` on real repositories."""

from __future__ import annotations

from pathlib import Path

from harness.core.overfit import static_suspicion
from harness.core.plausible import NATURALNESS, naturalness
from harness.generators.templates import MESSAGE_FIRST, TemplateGenerator
from harness.generators.type_ops import MAX_PER_SITE, NEAR_PRIOR, SIBLING_PRIOR, TYPE_PRIORS, Ranked, type_mutants
from sandbox.patch import Patch
from tests.conftest import fix_offline
from tests.mutant_checks import src
from tests.test_message_ops import _context  # the same fixture: files written, failing tests with frames




def _offered(tmp_path: Path, files, failing, located=()) -> list[Ranked]:
    def read(rel: str) -> str | None:
        path = tmp_path / rel
        return path.read_text() if path.is_file() else None
    return type_mutants(_context(tmp_path, files, failing, located), read)


def _changed(item: Ranked) -> tuple[str, str]:
    """(old line, new line) of a one-line candidate."""
    old, new = item.mutant.source.splitlines(), item.mutant.new_source.splitlines()
    return next((a.strip(), b.strip()) for a, b in zip(old, new) if a != b)


# -- 1. a raised class retyped ---------------------------------------------------------------
LOCALES = src('''
    import os


    def locale_dir(path=None):
        if path is None:
            path = os.environ.get("LOCALE_DIR")
        if path is None:
            msg = "cannot find the locale folder: pass the path"
            raise Exception(msg)
        return path
''')
TEST_LOCALES = src('''
    import pytest

    from locales import locale_dir


    def test_missing_folder(monkeypatch):
        monkeypatch.delenv("LOCALE_DIR", raising=False)
        with pytest.raises(FileNotFoundError, match="locale folder"):
            locale_dir()


    def test_given_folder():
        assert locale_dir("/x") == "/x"
''')


def test_an_escaped_exception_is_retyped_to_the_class_the_test_expects(tmp_path):
    got = _offered(tmp_path, {"locales.py": LOCALES, "test_locales.py": TEST_LOCALES},
                   {"test_locales.py::test_missing_folder": ("Exception: cannot find the locale folder: pass the path",
                                                             [("test_locales.py", 9), ("locales.py", 9)])})
    assert [(_changed(item), item.first, item.mutant.operator) for item in got] == [
        (("raise Exception(msg)", "raise FileNotFoundError(msg)"), True, "raise_expected")]
    assert got[0].score == TYPE_PRIORS["raise_expected"]  # a subclass of the raised class, in the raising `with`


ERRORS = src('''
    class FormatError(ValueError):
        """A malformed value."""
''')
PARSER = src('''
    from errors import FormatError


    def parse_pair(text):
        if "=" not in text:
            raise ValueError(f"no '=' in {text!r}")
        key, value = text.split("=", 1)
        return key.strip(), value.strip()
''')


def test_the_expected_class_is_spelled_as_the_module_imports_it_from_a_tuple_or_assert_raises(tmp_path):
    test = src('''
        import unittest

        import pytest

        from errors import FormatError
        from parser import parse_pair


        def test_no_equals():
            with pytest.raises((FormatError, KeyError)):
                parse_pair("abc")


        class PairTest(unittest.TestCase):
            def test_no_equals(self):
                self.assertRaises(FormatError, parse_pair, "abc")
    ''')
    message = "ValueError: no '=' in 'abc'"
    got = _offered(tmp_path, {"errors.py": ERRORS, "parser.py": PARSER, "test_parser.py": test},
                   {"test_parser.py::test_no_equals": (message, [("test_parser.py", 10), ("parser.py", 6)]),
                    "test_parser.py::PairTest::test_no_equals": (message, [("test_parser.py", 15), ("parser.py", 6)])})
    changed = [_changed(item) for item in got]
    # FormatError derives from the raised ValueError: first; KeyError does not, and is offered after it
    assert changed == [('raise ValueError(f"no \'=\' in {text!r}")', 'raise FormatError(f"no \'=\' in {text!r}")'),
                       ('raise ValueError(f"no \'=\' in {text!r}")', 'raise KeyError(f"no \'=\' in {text!r}")')]
    assert got[0].score > got[1].score


def test_no_retype_when_the_module_cannot_name_the_class_or_it_already_is_one(tmp_path):
    test = src('''
        import pytest

        from errors import FormatError
        from checks import check


        def test_check():
            with pytest.raises(FormatError):
                check(-1)


        def test_base():
            with pytest.raises(Exception):
                check(-1)
    ''')
    checks = "def check(n):\n    if n < 0:\n        raise ValueError(n)\n    return n\n"
    failing = {"test_checks.py::test_check": ("ValueError: -1", [("test_checks.py", 8), ("checks.py", 3)]),
               "test_checks.py::test_base": ("ValueError: -1", [("test_checks.py", 13), ("checks.py", 3)])}
    # checks.py imports no FormatError (an import is a wider edit), and Exception already catches it
    assert _offered(tmp_path, {"errors.py": ERRORS, "checks.py": checks, "test_checks.py": test}, failing) == []


SWALLOW = src('''
    def convert(value):
        try:
            return _checked(value)
        except ValueError:
            return None


    def _checked(value):
        if not isinstance(value, int):
            raise ValueError(f"not a number: {value!r}")
        return value * 2
''')


def test_did_not_raise_retypes_a_raise_the_failing_test_ran(tmp_path):
    for message in ("Failed: DID NOT RAISE <class 'TypeError'>", "AssertionError: TypeError not raised"):
        got = _offered(tmp_path, {"convert.py": SWALLOW, "test_convert.py": "def test_x():\n    pass\n"},
                       {"test_convert.py::test_text": (message, [("test_convert.py", 2)])},
                       [("convert.py", 10, 0.7), ("convert.py", 4, 0.5)])
        assert [_changed(item) for item in got] == [
            ('raise ValueError(f"not a number: {value!r}")', 'raise TypeError(f"not a number: {value!r}")')], message
        assert got[0].first and got[0].score < TYPE_PRIORS["raise_expected"]  # weaker evidence than an escaped one


# -- 2. an isinstance check widened ------------------------------------------------------------
SHAPES = src('''
    class Shape:
        sides = 0


    class Square(Shape):
        sides = 4


    class Triangle(Shape):
        sides = 3


    class Circle(Shape):
        sides = 0


    class Hexagon(Square):
        sides = 6


    def is_polygon(shape):
        return isinstance(shape, Square)


    def describe(shape):
        if isinstance(shape, Circle):
            return "round"
        return f"{shape.sides} sides"
''')


def test_an_isinstance_check_is_widened_by_the_sibling_class_the_test_names(tmp_path):
    test = "from shapes import Triangle, is_polygon\n\n\ndef test_polygon():\n    assert is_polygon(Triangle())\n"
    got = _offered(tmp_path, {"shapes.py": SHAPES, "test_shapes.py": test},
                   {"test_shapes.py::test_polygon": ("AssertionError: assert False", [("test_shapes.py", 5)])},
                   [("shapes.py", 22, 0.8)])
    # the test names Triangle but not the site's Square: a mutant's rank, not before every mutant
    assert [(_changed(item), item.first) for item in got] == [
        (("return isinstance(shape, Square)", "return isinstance(shape, (Square, Triangle))"), False)]
    assert got[0].mutant.operator == "isinstance_sibling" and got[0].score == 0.8 * SIBLING_PRIOR
    # nothing the tests name is added, but Circle is named by no test and not by is_polygon either,
    # and Hexagon is a Square already: neither is offered
    assert all("Circle" not in item.mutant.description and "Hexagon" not in item.mutant.description for item in got)


def test_classes_a_tests_code_calls_are_no_pair_its_id_names_them(tmp_path):
    def offered(name: str) -> list:
        test = (f"from shapes import Square, Triangle, is_polygon\n\n\ndef {name}():\n"
                "    assert is_polygon(Square()) and is_polygon(Triangle())\n")
        return _offered(tmp_path, {"shapes.py": SHAPES, "test_shapes.py": test},
                        {f"test_shapes.py::{name}": ("AssertionError: assert False", [("test_shapes.py", 5)])},
                        [("shapes.py", 22, 0.8)])
    # the code calls both the site's Square and Triangle: a mutant's rank (semantic-version's
    # tests call NpmSpec and print AllOf(...) values: no isinstance check is what they test)
    called = offered("test_polygons")
    assert [(item.first, item.score) for item in called] == [(False, 0.8 * SIBLING_PRIOR)]
    # the id names the pair: before every mutant
    named = offered("test_triangle_is_a_square")
    assert [item.first for item in named] == [True] and _changed(named[0]) == _changed(called[0])


def test_a_module_prefixed_class_is_widened_with_a_class_of_the_same_module_a_test_id_names(tmp_path):
    nodes = src('''
        class Node:
            pass


        class ExprList(Node):
            pass


        class Compound(Node):
            pass


        class Constant(Node):
            pass
    ''')
    gen = src('''
        from . import nodes


        def wrap(n, text):
            if isinstance(n, nodes.Constant):
                return text
            elif isinstance(n, (nodes.ExprList,)):
                return "(" + text + ")"
            return text
    ''')
    got = _offered(tmp_path, {"pkg/__init__.py": "", "pkg/nodes.py": nodes, "pkg/gen.py": gen,
                              "tests/test_gen.py": "def test_exprlist_with_compound():\n    assert False\n"},
                   {"tests/test_gen.py::test_exprlist_with_compound": ("AssertionError: assert 'x' == '(x)'",
                                                                       [("tests/test_gen.py", 2)])},
                   [("pkg/gen.py", 5, 0.4), ("pkg/gen.py", 7, 0.4)])
    first = [_changed(item) for item in got if item.first]
    assert first[0] == ("elif isinstance(n, (nodes.ExprList,)):", "elif isinstance(n, (nodes.ExprList, nodes.Compound)):")
    # only the site whose own class the test id names comes first; the other site gets the named
    # classes at a mutant's rank (in the module's order), and a class the same function names
    # but no test does gets a lower one
    assert first[1:] == []
    rest = [(_changed(item)[1], round(item.score, 6)) for item in got if not item.first]
    assert rest == [("if isinstance(n, (nodes.Constant, nodes.ExprList)):", round(0.4 * SIBLING_PRIOR * 0.8, 6)),
                    ("if isinstance(n, (nodes.Constant, nodes.Compound)):", round(0.4 * SIBLING_PRIOR * 0.8, 6)),
                    ("elif isinstance(n, (nodes.ExprList, nodes.Constant)):", round(0.4 * NEAR_PRIOR, 6))]


def test_a_builtin_type_is_widened_only_by_a_builtin_the_message_names(tmp_path):
    money = "def cents(amount):\n    if not isinstance(amount, int):\n        raise TypeError(amount)\n    return amount * 100\n"
    test = "from money import cents\n\n\ndef test_cents():\n    assert cents(2.5) == 250\n"
    failing = {"test_money.py::test_cents": ("TypeError: amount must be int, not float",
                                             [("test_money.py", 5), ("money.py", 3)])}
    got = _offered(tmp_path, {"money.py": money, "test_money.py": test}, failing, [("money.py", 2, 0.9)])
    assert [_changed(item) for item in got] == [
        ("if not isinstance(amount, int):", "if not isinstance(amount, (int, float)):")]
    # no type named as one in a message: nothing, though the test's code calls `float` and the
    # message's prose says "float" (builtin type names are everywhere in tests' code: xmltodict's
    # failing tests call dict, list and set; pathspec's unittest message says "the second set")
    failing = {"test_money.py::test_cents": ("TypeError: 2.5 is a float", [("test_money.py", 5), ("money.py", 3)])}
    test = "from money import cents\n\n\ndef test_cents():\n    assert cents(float('2.5')) == 250\n"
    assert _offered(tmp_path, {"test_money.py": test}, failing, [("money.py", 2, 0.9)]) == []


def test_the_site_count_is_bounded(tmp_path):
    many = "".join(f"class K{i}:\n    pass\n\n\n" for i in range(12)) + "def f(x):\n    return isinstance(x, K0)\n"
    test = "from kinds import *\n\n\ndef test_f():\n    assert all(f(k()) for k in (" + ", ".join(
        f"K{i}" for i in range(1, 12)) + "))\n"
    got = _offered(tmp_path, {"kinds.py": many, "test_kinds.py": test},
                   {"test_kinds.py::test_f": ("AssertionError: assert False", [("test_kinds.py", 5)])},
                   [("kinds.py", 50, 0.9)])
    assert len(got) == MAX_PER_SITE


# -- rank, naturalness, overfit ------------------------------------------------------------------
def test_the_evidence_named_candidates_come_before_every_mutant(tmp_path):
    context = _context(tmp_path, {"locales.py": LOCALES, "test_locales.py": TEST_LOCALES},
                       {"test_locales.py::test_missing_folder": ("Exception: cannot find the locale folder: pass the path",
                                                                 [("test_locales.py", 9), ("locales.py", 9)])},
                       [("locales.py", 9, 1.0), ("locales.py", 8, 0.8), ("locales.py", 6, 0.7)])
    (score, first), *rest = TemplateGenerator().candidates(context, limit=10)
    assert first.operator == "raise_expected" and score > MESSAGE_FIRST > max(s for s, _ in rest)


def test_every_type_operator_has_a_naturalness_class_and_the_retype_is_not_a_removed_raise():
    assert set(TYPE_PRIORS) <= set(NATURALNESS)
    old = LOCALES
    new = old.replace("raise Exception(msg)", "raise FileNotFoundError(msg)")
    patch = Patch.from_texts({"locales.py": (old, new)}, "retype", {"operator": "raise_expected"})
    assert naturalness(patch)[1] == NATURALNESS["raise_expected"] == 1
    assert static_suspicion(patch, {"locales.py": new}, TEST_LOCALES) == ""
    # the overfit checks still see a retype that deletes the raise besides
    worse = old.replace("        raise Exception(msg)\n", "")
    dropped = Patch.from_texts({"locales.py": (old, worse)}, "drop", {"operator": "raise_expected"})
    assert "removes a `raise`" in static_suspicion(dropped, {"locales.py": worse}, TEST_LOCALES)


# -- end to end --------------------------------------------------------------------------------
def test_loopwright_fix_retypes_the_raise_the_test_expects(make_repo):
    out, _, _ = fix_offline(make_repo, {"locales.py": LOCALES, "test_locales.py": TEST_LOCALES})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+        raise FileNotFoundError(msg)" in out["patch"]


def test_loopwright_fix_widens_the_isinstance_check_by_the_class_the_test_names(make_repo):
    test = src('''
        from shapes import Circle, Square, Triangle, describe, is_polygon


        def test_square():
            assert is_polygon(Square()) and describe(Square()) == "4 sides"


        def test_triangle_is_a_polygon():
            assert is_polygon(Triangle())


        def test_circle():
            assert not is_polygon(Circle()) and describe(Circle()) == "round"
    ''')
    out, _, _ = fix_offline(make_repo, {"shapes.py": SHAPES, "test_shapes.py": test})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+    return isinstance(shape, (Square, Triangle))" in out["patch"]

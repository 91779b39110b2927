"""A failing ``parametrize`` row read from the table the decorator names (``param_rows``) and a
dispatch table of same-prefix assignments given the row the failing test names
(``name_table_ops``): unit checks on written bugs and two end-to-end fixes."""

from __future__ import annotations

import ast

from harness.evaluators.verdict import TestResult
from harness.generators.data_text import near_of
from harness.generators.literal_hints import Hints, gather
from harness.generators.name_table_ops import name_entry_mutants, shape
from harness.generators.param_rows import failing_row
from tests.conftest import fix_offline, snapshot
from tests.mutant_checks import src

WORDS = src('''
    RULES = []


    def _irregular(singular, plural):
        RULES.append((singular, plural))


    _irregular('person', 'people')
    _irregular('child', 'children')
    _irregular('ox', 'oxen')


    def pluralize(word):
        for singular, plural in RULES:
            if word == singular:
                return plural
        return word + 's'
''')
WORDS_TESTS = src('''
    import pytest

    from words import pluralize

    SINGULAR_TO_PLURAL = [
        ("cat", "cats"),
        ("person", "people"),
        ("goose", "geese"),
    ]


    @pytest.mark.parametrize(("singular", "plural"), SINGULAR_TO_PLURAL)
    def test_pluralize(singular, plural):
        assert pluralize(singular) == plural
''')

LINTER = src('''
    class Fixer:
        def __init__(self):
            self.fix_e101 = self.fix_e100
            self.fix_e102 = self.fix_e100
            self.fix_e111 = self.fix_e110
            self.fix_e112 = self.fix_e110

        def fix_e100(self, line):
            return line.strip()

        def fix_e110(self, line):
            return line.rstrip()

        def apply(self, code, line):
            name = 'fix_' + code.lower()
            if hasattr(self, name):
                return getattr(self, name)(line)
            return line
''')
LINTER_TESTS = src('''
    from linter import Fixer


    def test_e101():
        assert Fixer().apply('E101', '  x  ') == 'x'


    def test_e103():
        assert Fixer().apply('E103', '  y  ') == 'y'
''')


def _fn(tree: ast.Module, name: str) -> ast.FunctionDef:
    return next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)


def _values(nodes) -> list:
    return [ast.literal_eval(n) for n in nodes]


def test_the_failing_row_of_a_named_table_is_found_by_its_id():
    tree = ast.parse(WORDS_TESTS)
    fn = _fn(tree, "test_pluralize")
    assert _values(failing_row(tree, fn, "test_words.py::test_pluralize[goose-geese]")) == ["goose", "geese"]
    assert failing_row(tree, fn, "test_words.py::test_pluralize[moose-meese]") == []
    assert failing_row(tree, fn, "test_words.py::test_pluralize") == []


def test_pytests_id_rules_repeated_ids_explicit_ids_and_stacked_decorators():
    tree = ast.parse(src('''
        import pytest

        ROWS = [("a", 1), ("a", 1), pytest.param("b", 2, id="second"), ("c", -3)]


        @pytest.mark.parametrize("word,n", ROWS)
        def test_rows(word, n):
            pass


        @pytest.mark.parametrize("x", [1, 2])
        @pytest.mark.parametrize("y", ["p", "q"])
        def test_stacked(x, y):
            pass
    '''))
    rows = _fn(tree, "test_rows")
    assert _values(failing_row(tree, rows, "t.py::test_rows[a-11]")) == ["a", 1]  # pytest's a-10, a-11
    assert _values(failing_row(tree, rows, "t.py::test_rows[second]")) == ["b", 2]
    assert len(failing_row(tree, rows, "t.py::test_rows[c--3]")) == 2
    assert _values(failing_row(tree, _fn(tree, "test_stacked"), "t.py::test_stacked[q-2]")) == [2, "q"]


def test_hints_carry_the_failing_row_and_the_test_names_words(tmp_path):
    (tmp_path / "test_words.py").write_text(WORDS_TESTS)
    test_id = "test_words.py::test_pluralize[goose-geese]"
    hints = gather(tmp_path, {test_id: TestResult(test_id, "failed", "AssertionError: assert 'gooses' == 'geese'")})
    assert hints.strings[:2] == ("goose", "geese") and ("goose", "geese") in hints.pairs
    assert "cat" not in hints.strings  # a passing row is not a hint
    (tmp_path / "test_linter.py").write_text(LINTER_TESTS)
    test_id = "test_linter.py::test_e103"
    assert gather(tmp_path, {test_id: TestResult(test_id, "failed", "")}).words[:2] == ("e103", "E103")


def test_a_missing_row_of_a_dispatch_table_gets_its_neighbours_values():
    hints = Hints(words=("e103", "E103"))
    near = near_of(LINTER, [15, 16])  # the lines that build the name and look it up
    got = {m.replacement.strip() for m in name_entry_mutants("linter.py", LINTER, hints, near)}
    assert got == {"self.fix_e103 = self.fix_e100", "self.fix_e103 = self.fix_e110"}
    first = name_entry_mutants("linter.py", LINTER, hints, near)[0]
    assert "self.fix_e102 = self.fix_e100\n        self.fix_e103 = self.fix_e100\n        self.fix_e111" in first.new_source
    assert shape("e103") == "a999" and shape("E1x") == "A9a"
    assert name_entry_mutants("linter.py", LINTER, Hints(words=("e10",)), near) == []  # another shape
    assert name_entry_mutants("linter.py", LINTER, Hints(words=("e102",)), near) == []  # a row it has
    assert name_entry_mutants("linter.py", LINTER, hints, near_of(LINTER, [9])) == []  # not reached


def test_loopwright_fix_adds_the_failing_rows_pair_to_the_rule_calls(make_repo):
    out, root, before = fix_offline(make_repo, {"words.py": WORDS, "test_words.py": WORDS_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+_irregular('goose', 'geese')" in out["patch"]
    assert snapshot(root) == before


def test_loopwright_fix_adds_the_dispatch_row_the_test_names(make_repo):
    out, root, before = fix_offline(make_repo, {"linter.py": LINTER, "test_linter.py": LINTER_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+        self.fix_e103 = self.fix_e100" in out["patch"]
    assert snapshot(root) == before

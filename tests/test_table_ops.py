"""Data-driven edits (issue 21): a table entry added, a wrong entry replaced, a regex widened,
each from the literals of the failing tests (``harness.generators.literal_hints``,
``table_ops``, ``regex_ops``, ``data_edits``); each on a bug written for it, three end to
end through ``loopwright fix``, and the overfit screen's view of such a patch."""

from __future__ import annotations

from pathlib import Path

from harness.core.overfit import static_suspicion
from harness.evaluators.verdict import Frame, TestResult
from harness.generators.literal_hints import Hints, gather
from harness.generators.regex_ops import regex_mutants
from harness.generators.data_text import near_of
from harness.generators.table_ops import table_mutants
from sandbox.patch import Patch
from tests.conftest import fix_offline, snapshot
from tests.mutant_checks import src

ROOT = Path(__file__).resolve().parents[1]

INFLECT = src('''
    PLURALS = {}


    def _irregular(singular, plural):
        PLURALS[singular] = plural


    _irregular('person', 'people')
    _irregular('child', 'children')
    _irregular('ox', 'oxen')


    def pluralize(word):
        if word in PLURALS:
            return PLURALS[word]
        return word + 's'
''')
INFLECT_TESTS = src('''
    from inflect import pluralize


    def test_regular():
        assert pluralize('cat') == 'cats'


    def test_irregular():
        assert pluralize('person') == 'people'
        assert pluralize('child') == 'children'


    def test_goose():
        assert pluralize('goose') == 'geese'
''')
COLORS = src('''
    ATTRIBUTES = {
        "bold": 1,
        "dark": 2,
        "underline": 4,
        "blink": 5,
    }


    def styled(text, attr):
        return "\\033[%dm%s\\033[0m" % (ATTRIBUTES[attr], text)
''')
COLORS_TESTS = src('''
    from colors import styled


    def test_bold():
        assert styled("x", "bold") == "\\033[1mx\\033[0m"


    def test_italic():
        assert styled("x", "italic") == "\\033[3mx\\033[0m"
''')
ORDINALS = src('''
    import re

    _ORDINAL = re.compile(r"^(\\d+)(st|nd|rd)$")


    def parse_ordinal(text):
        found = _ORDINAL.match(text)
        if found is None:
            raise ValueError(f"not an ordinal: {text!r}")
        return int(found.group(1))
''')
ORDINALS_TESTS = src('''
    import pytest

    from ordinals import parse_ordinal


    def test_first():
        assert parse_ordinal("1st") == 1
        assert parse_ordinal("22nd") == 22


    def test_not_an_ordinal():
        with pytest.raises(ValueError):
            parse_ordinal("first")


    def test_fourth():
        assert parse_ordinal("4th") == 4
''')


def _only(mutants, expected: str):
    got = [m for m in mutants if m.new_source == expected]
    assert got, "\n".join(f"{m.operator}: {m.description}" for m in mutants)
    return got[0]


def test_hints_are_the_failing_tests_literals_their_pairs_and_the_assertion_values(tmp_path):
    (tmp_path / "test_inflect.py").write_text(INFLECT_TESTS)
    failing = {"test_inflect.py::test_goose": TestResult("test_inflect.py::test_goose", "failed",
                                                          "AssertionError: assert 'gooses' == 'geese'")}
    hints = gather(tmp_path, failing)
    assert hints.strings == ("goose", "geese")  # only the failing test's, not test_regular's
    assert hints.pairs == (("goose", "geese"),)
    assert hints.wrong == (("gooses", "geese"),)  # the test's literal is the expected side
    key = {"t.py::test_k": TestResult("t.py::test_k", "failed", "KeyError: 'italic'")}
    assert gather(tmp_path, key).missing_keys == ("italic",)


def test_hints_never_follow_a_symlink_out_of_the_worktree(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "test_x.py").write_text("def test_x():\n    assert f('secret') == 'leak'\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "tests").symlink_to(outside)
    failing = {"tests/test_x.py::test_x": TestResult("tests/test_x.py::test_x", "failed", "")}
    assert not gather(root, failing)


def test_a_missing_pair_is_added_to_the_run_of_same_shape_calls():
    hints = Hints(strings=("goose", "geese"), pairs=(("goose", "geese"),))
    fixed = INFLECT.replace("_irregular('ox', 'oxen')\n", "_irregular('ox', 'oxen')\n_irregular('goose', 'geese')\n")
    m = _only(table_mutants("inflect.py", INFLECT, hints), fixed)
    assert m.operator == "table_entry"
    # a single call is no table: nothing is hard-coded where the code keeps no data
    lone = INFLECT.replace("_irregular('child', 'children')\n_irregular('ox', 'oxen')\n", "")
    assert table_mutants("inflect.py", lone, hints) == []


def test_a_keyerror_key_is_added_to_the_dict_with_the_first_unused_code_first():
    hints = Hints(strings=("x", "italic"), missing_keys=("italic",))
    mutants = table_mutants("colors.py", COLORS, hints)
    first = mutants[0]
    assert first.new_source == COLORS.replace('    "blink": 5,\n', '    "blink": 5,\n    "italic": 3,\n'), first
    inline = 'ATTRIBUTES = {"bold": 1, "dark": 2}\n'
    assert _only(table_mutants("c.py", inline, hints), 'ATTRIBUTES = {"bold": 1, "dark": 2, "italic": 3}\n')


def test_a_word_is_added_to_a_tuple_of_words_only_where_the_failing_code_reads_it():
    source = 'UNCOUNTABLE = ("sheep", "fish", "rice")\nOTHER = ("a", "b")\n\ndef plural(w):\n    return w if w in UNCOUNTABLE else w + "s"\n'
    hints = Hints(strings=("deer",))
    near = near_of(source, [5])
    got = [m.new_source for m in table_mutants("p.py", source, hints, near)]
    assert got == [source.replace('"rice")', '"rice", "deer")')]
    # `__all__` is bookkeeping, and a file name is not a word of a table of words
    exports = '__all__ = ["plural", "single"]\nWORDS = ["sheep", "fish"]\n'
    assert [m.new_source for m in table_mutants("p.py", exports, Hints(strings=("query.sql", "deer")))] == [
        exports.replace('"fish"]', '"fish", "deer"]')]
    dunders = 'ASSIGNED = ("__doc__", "__defaults__")\n'
    assert table_mutants("p.py", dunders, Hints(strings=("stop",))) == []


def test_a_keyword_table_read_through_the_map_built_from_it_gets_the_expected_value():
    # unittest's `'ID' != '_PRAGMA'`: the expected keyword goes into the tuple the class-level loop
    # turns into the map the lexer reads (pycparser 2.22); the other literals of the test wait
    source = ("class Lexer:\n    keywords_new = ('_BOOL', '_COMPLEX', '_ATOMIC')\n    keyword_map = {}\n"
              "    for kw in keywords_new:\n        keyword_map[kw[:2] + kw[2:].lower()] = kw\n\n"
              "    def t_ID(self, t):\n        t.type = self.keyword_map.get(t.value, 'ID')\n        return t\n")
    tests = "def test_pragma(lex):\n    assert lex('x')[0] == 'LPAREN'\n    assert lex('_Pragma')[0] == '_PRAGMA'\n"
    failing = {"test_lex.py::test_pragma": TestResult("test_lex.py::test_pragma", "failed",
                                                       "AssertionError: 'ID' != '_PRAGMA'\n- ID\n+ _PRAGMA")}
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "test_lex.py").write_text(tests)
        hints = gather(Path(tmp), failing)
    assert hints.wrong == (("ID", "_PRAGMA"),)
    near = near_of(source, [8])
    assert "keywords_new" in near.names  # one step back from keyword_map
    got = table_mutants("lex.py", source, hints, near)
    entries = [m for m in got if m.operator == "table_entry"]
    assert entries[0].new_source == source.replace("'_ATOMIC')", "'_ATOMIC', '_PRAGMA')")
    assert near_of(source, [9]).names == {"return", "t"}  # a line reading no table reaches none


def test_a_wrong_table_value_is_replaced_by_the_expected_value():
    source = 'UNITS = {"kb": 1000, "mb": 1000000, "gb": 100000000}\n'
    hints = Hints(numbers=(1000000000,), wrong=((100000000, 1000000000),))
    m = table_mutants("u.py", source, hints)[0]
    assert m.operator == "table_value" and "1000000000}" in m.new_source


def test_regex_edits_make_the_pattern_match_the_failing_input():
    hints = Hints(strings=("4th",))
    fixed = ORDINALS.replace("(st|nd|rd)", "(st|nd|rd|th)")
    assert _only(regex_mutants("ordinals.py", ORDINALS, hints), fixed).operator == "regex_alternative"
    version = 'import re\n_V = re.compile(r"^(\\d+)\\.(\\d+)$")\n'
    prefix = _only(regex_mutants("v.py", version, Hints(strings=("v1.2",))), version.replace("^(", "^(?:v)?("))
    assert prefix.operator == "regex_optional"
    key = 'import re\nKEY = re.compile(r"^[a-z_]+$")\n'
    widened = _only(regex_mutants("k.py", key, Hints(strings=("max-age",))), key.replace("_]", "_\\-]"))
    assert widened.operator == "regex_class"
    colour = 'import re\nHEX = re.compile(r"^#[0-9a-f]{6}$")\n'
    optional = _only(regex_mutants("c.py", colour, Hints(strings=("0a0b0c",))), colour.replace("^#", "^#?"))
    assert optional.operator == "regex_optional_char"
    # a string the pattern already matches asks for nothing
    assert regex_mutants("ordinals.py", ORDINALS, Hints(strings=("2nd",))) == []


def _patch(old: str, new: str) -> Patch:
    return Patch.from_texts({"inflect.py": (old, new)}, "test")


def test_overfit_screen_passes_a_table_entry_and_flags_a_special_cased_literal():
    entry = INFLECT.replace("_irregular('ox', 'oxen')\n", "_irregular('ox', 'oxen')\n_irregular('goose', 'geese')\n")
    assert static_suspicion(_patch(INFLECT, entry), {"inflect.py": entry}, INFLECT_TESTS) == ""
    cheat = INFLECT.replace("    if word in PLURALS:", "    if word == 'goose':\n        return 'geese'\n    if word in PLURALS:")
    assert "special-cases 'goose'" in static_suspicion(_patch(INFLECT, cheat), {"inflect.py": cheat}, INFLECT_TESTS)




def test_loopwright_fix_adds_the_missing_irregular_pair(make_repo):
    out, root, before = fix_offline(make_repo, {"inflect.py": INFLECT, "test_inflect.py": INFLECT_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+_irregular('goose', 'geese')" in out["patch"]
    assert snapshot(root) == before  # the user's tree is left alone without --apply


def test_loopwright_fix_adds_the_missing_dict_entry(make_repo):
    out, root, before = fix_offline(make_repo, {"colors.py": COLORS, "test_colors.py": COLORS_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert '+    "italic": 3,' in out["patch"]
    assert snapshot(root) == before


def test_loopwright_fix_adds_the_missing_regex_alternative(make_repo):
    out, root, before = fix_offline(make_repo, {"ordinals.py": ORDINALS, "test_ordinals.py": ORDINALS_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert '(st|nd|rd|th)' in out["patch"]
    assert snapshot(root) == before


def test_frames_alone_point_to_the_module(tmp_path):
    """A module no coverage ranked (the frames of the failing test name it) still gets its data edits."""
    from harness.core.context import Context
    from harness.core.task import Task
    from harness.generators.data_edits import hinted

    (tmp_path / "colors.py").write_text(COLORS)
    (tmp_path / "test_colors.py").write_text(COLORS_TESTS)
    tid = "test_colors.py::test_italic"
    failing = {tid: TestResult(tid, "failed", "KeyError: 'italic'", (Frame("test_colors.py", 9, "test_italic"),
                                                                     Frame("colors.py", 10, "styled")))}
    context = Context(tmp_path, Task("failing_tests", failing), protected=("test_*.py",))
    got = hinted(context, [], lambda p: (tmp_path / p).read_text())
    assert got and '"italic": 3,' in got[0][1].new_source


def test_many_guessed_entries_fall_behind_the_line_mutants(tmp_path):
    """Tests full of literals new to the module are no precise hint: their entries score
    below the best line mutant's (0.60 of the line), a few keep the lead."""
    from harness.core.context import Context
    from harness.core.task import Task
    from harness.generators.data_edits import hinted

    def scores(test_body: str) -> list[float]:
        (tmp_path / "colors.py").write_text(COLORS)
        (tmp_path / "test_colors.py").write_text(f"def test_x():\n    {test_body}\n")
        tid = "test_colors.py::test_x"
        context = Context(tmp_path, Task("failing_tests", {tid: TestResult(tid, "failed", "")}))
        return [score for score, _ in hinted(context, [(("colors.py", 10), 1.0)], lambda p: (tmp_path / p).read_text())]

    few = scores('assert styled("x", "italic")')
    assert few and few[0] > 0.6
    many = scores('assert styled("x", "italic", "strike", "frame", "encircle", "overline", "rapid")')
    assert many and max(many) < 0.6
    # the key of a KeyError is the failure's own word: its entry keeps the lead among many
    (tmp_path / "test_colors.py").write_text('def test_x():\n    assert styled("x", "italic", "strike", "frame", "encircle", "rapid")\n')
    from harness.core.context import Context as Ctx
    tid = "test_colors.py::test_x"
    context = Ctx(tmp_path, Task("failing_tests", {tid: TestResult(tid, "failed", "KeyError: 'italic'")}))
    got = hinted(context, [(("colors.py", 10), 1.0)], lambda p: (tmp_path / p).read_text())
    assert got[0][0] > 0.6 and '"italic": 3' in got[0][1].new_source


def test_a_counted_repeat_in_a_table_of_regex_pieces_takes_fewer_for_a_shorter_input():
    # parse 1.20: `%f` matched exactly six digits; the test's timestamp has five
    source = ('import re\n\nFORMATS = {\n    "%Y": "[0-9]{4}",\n    "%m": "[0-9]{1,2}",\n    "%H": "[0-9]{2}",\n'
              '    "%f": "[0-9]{6}",\n}\nSYMBOLS = re.compile("|".join(FORMATS))\n\n\n'
              'def to_regex(fmt):\n    return SYMBOLS.sub(lambda m: FORMATS[m.group(0)], fmt)\n')
    hints = Hints(strings=("%Y-%m-%d %H:%M:%S.%f", "2023-11-21 13:23:27.12345"))
    got = regex_mutants("fmt.py", source, hints, near_of(source, [13]))
    assert [m.new_source for m in got] == [source.replace('"[0-9]{6}"', '"[0-9]{1,6}"')]
    assert got[0].operator == "regex_quantifier"
    # a table the failing code does not read, and a table of plain words, give nothing
    assert regex_mutants("fmt.py", source, hints, near_of(source, [1])) == []
    words = 'NAMES = {"a": "alpha", "b": "beta", "g": "gamma"}\n'
    assert regex_mutants("w.py", words, Hints(strings=("alphabet",))) == []


ORDINAL_WORDS = src('''
    CARDINALS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    RULES = {
        "one": "firs",
        "two": "secon",
        "three": "thir",
        "eight": "eigh",
        "nine": "nin",
    }


    def ordinal(n):
        word = CARDINALS[n]
        for key in RULES:
            if word.endswith(key):
                word = word[:len(word) - len(key)] + RULES[key]
                break
        return word + ("t" if word in ("firs",) else "d" if word in ("secon", "thir") else "th")
''')
ORDINAL_WORDS_TESTS = src('''
    from ordwords import CARDINALS, ordinal


    def test_cardinals():
        assert CARDINALS[5] == "five"


    def test_regular():
        assert ordinal(4) == "fourth"
        assert [ordinal(n) for n in (1, 2, 3)] == ["first", "second", "third"]
        assert ordinal(8) == "eighth" and ordinal(9) == "ninth"


    def test_five():
        assert ordinal(5) == "fifth"
''')


def test_a_rewrite_rule_the_assertion_spells_is_added_with_the_modules_own_word_as_key():
    hints = Hints(strings=("fifth",), wrong=(("fiveth", "fifth"),))
    got = [m for m in table_mutants("ordwords.py", ORDINAL_WORDS, hints) if m.operator == "table_entry"]
    assert any('"five": "fif"' in m.description for m in got), [m.description for m in got]
    # the key must be the module's word: a test's own input is never written as a key
    assert not [m for m in table_mutants("ordwords.py", ORDINAL_WORDS.replace('"five", ', ""), hints)
                if '"five"' in m.description]


def test_loopwright_fix_adds_the_rewrite_rule(make_repo):
    out, root, before = fix_offline(make_repo, {"ordwords.py": ORDINAL_WORDS, "test_ordwords.py": ORDINAL_WORDS_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert '"five": "fif"' in out["patch"], out["patch"]
    assert snapshot(root) == before

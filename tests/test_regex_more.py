"""The wider regex edits (issue 21: ``regex_pieces``, ``regex_more``): a piece inside a
pattern made optional, a case-insensitive flag, an alternative added to a group of non-word
alternatives, a class range's end; each on a pattern written for it, the check that keeps a
passing test's strings as they were, and one ``loopwright fix`` end to end."""

from __future__ import annotations

import re

from harness.core.context import Context
from harness.core.task import Task
from harness.evaluators.verdict import TestResult
from harness.generators.data_edits import hinted
from harness.generators.literal_hints import Hints, other_strings
from harness.generators.regex_built import built
from harness.generators.regex_more import keeps, more_regex_mutants, pattern_edits, progress
from harness.generators.regex_pieces import pieces
from tests.conftest import fix_offline, snapshot
from tests.mutant_checks import src

DIFFHEADER = src('''
    import re

    _OLD = re.compile(r"^--- a/(?P<path>\\S+)")
    _NEW = re.compile(r"^\\+\\+\\+ b/(?P<path>\\S+)")


    def old_path(line):
        found = _OLD.match(line)
        if found is None:
            raise ValueError(f"not an old-file header: {line!r}")
        return found.group("path")


    def new_path(line):
        found = _NEW.match(line)
        if found is None:
            raise ValueError(f"not a new-file header: {line!r}")
        return found.group("path")
''')
DIFFHEADER_TESTS = src('''
    import pytest

    from diffheader import new_path, old_path


    def test_prefixed_headers():
        assert old_path("--- a/setup.py") == "setup.py"
        assert new_path("+++ b/docs/index.rst") == "docs/index.rst"


    def test_not_a_header():
        with pytest.raises(ValueError):
            old_path("+++ b/setup.py")


    def test_no_prefix_header():
        # `git diff --no-prefix` writes the path alone
        assert old_path("--- setup.py") == "setup.py"
''')


def _new(mutants, operator: str) -> list[str]:
    return [m.new_source for m in mutants if m.operator == operator]


def test_a_literal_piece_inside_the_pattern_is_made_optional_where_the_input_lacks_it():
    got = more_regex_mutants("diffheader.py", DIFFHEADER, Hints(strings=("--- setup.py",)), passing=("--- a/setup.py",))
    fixed = DIFFHEADER.replace(r'"^--- a/(?P', r'"^--- (?:a/)?(?P')
    assert got and got[0].new_source == fixed and got[0].operator == "regex_optional_piece"
    # a required group the input lacks, and a `+` that also takes none
    assert {e[1] for e in pattern_edits(r"^(\d+)-(\w+)$", 0, ["-abc"])} == {r"^(\d+)?-(\w+)$", r"^(\d*)-(\w+)$"}
    assert (("regex_quantifier", r"\d*\.\d+", r"`\d+` -> `\d*`")
            in pattern_edits(r"\d+\.\d+", 0, [".5"]))
    # a pattern that matches every input is left alone
    assert more_regex_mutants("diffheader.py", DIFFHEADER, Hints(strings=("--- a/setup.py",))) == []


def test_a_piece_the_input_has_is_inserted_optional_between_two_pieces():
    assert [e[1] for e in pattern_edits(r"^(\d+)-(\d+)$", 0, ["12x-34"])] == [r"^(\d+)x?-(\d+)$"]
    # blanks as a run of them; two of them when one is not enough
    assert [e[1] for e in pattern_edits(r"^(\w+)=(\w+)$", 0, ["key = value"])] == [r"^(\w+)[ \t]*=[ \t]*(\w+)$"]
    # not at the pattern's ends (regex_ops' prefix and suffix), not in a top-level alternation
    assert pattern_edits(r"^(\d+)$", 0, ["12x"]) == [] and pattern_edits(r"^a-b$|^c$", 0, ["a - b"]) == []


def test_two_pieces_of_one_pattern_and_two_patterns_at_once():
    pattern = r"^diff --git a/(\S+) b/(\S+)$"
    # neither piece alone lets the whole pattern match: the first one gets further
    assert progress(pattern.replace("a/", "(?:a/)?"), 0, "diff --git x.py x.py") > progress(pattern, 0, "diff --git x.py x.py")
    assert [e[1] for e in pattern_edits(pattern, 0, ["diff --git x.py x.py"])] == [
        r"^diff --git (?:a/)?(\S+) (?:b/)?(\S+)$"]
    both = DIFFHEADER.replace(r'"^--- a/(?P', r'"^--- (?:a/)?(?P').replace(r'\+ b/(?P', r'\+ (?:b/)?(?P')
    got = more_regex_mutants("diffheader.py", DIFFHEADER, Hints(strings=("--- setup.py", "+++ setup.py")))
    assert both in _new(got, "regex_optional_piece")


def test_ignorecase_is_added_to_the_calls_flags_or_at_the_patterns_start():
    source = 'import re\nDAY = re.compile(r"^(mon|tue)day$")\nWORD = re.compile("^[a-z]+$", re.M)\n'
    got = _new(more_regex_mutants("d.py", source, Hints(strings=("Monday", "Hello"))), "regex_ignorecase")
    assert source.replace(r'day$")', r'day$", re.IGNORECASE)') in got
    assert source.replace("re.M)", "re.M | re.IGNORECASE)") in got
    sub = 'import re\n\n\ndef hue(text):\n    return re.sub(r"colou?r", "hue", text)\n'
    assert _new(more_regex_mutants("h.py", sub, Hints(strings=("Colour",))), "regex_ignorecase") == [
        sub.replace("text)\n", "text, flags=re.IGNORECASE)\n")]  # never as sub's positional count
    unknown = 'import re\nFLAGS = 0\nDAY = re.compile(r"^(mon|tue)day$", FLAGS)\n'
    assert _new(more_regex_mutants("d.py", unknown, Hints(strings=("Monday",))), "regex_ignorecase") == [
        unknown.replace('r"^(mon', 'r"(?i)^(mon')]
    # a pattern built from a table of strings, spelled as the module spells the flag
    table = ('import re\nDAYS = ["monday", "tuesday"]\nDAY = re.compile(r"\\b(%s)\\b" % "|".join(map(re.escape, DAYS)))\n'
             'WORD = re.compile("[a-z]+", re.I)\n')
    assert built(__import__("ast").parse(table).body[2].value.args[0], {"DAYS": __import__("ast").parse(table).body[1].value}) \
        == r"\b(monday|tuesday)\b"
    got = _new(more_regex_mutants("d.py", table, Hints(strings=("Tuesday",))), "regex_ignorecase")
    assert got == [table.replace("DAYS)))", "DAYS)), re.I)")]


def test_non_word_alternatives_and_range_ends():
    assert [e[1] for e in pattern_edits(r"^(?:\+|-)(\d+)$", 0, ["~12"])] == [r"^(?:\+|-|~)(\d+)$"]
    assert [e[1] for e in pattern_edits(r"^[a-y]+$", 0, ["zebra"])][0] == r"^[a-z]+$"
    assert [e[1] for e in pattern_edits(r"^[1-9]\d*$", 0, ["07"])][0] == r"^[0-9]\d*$"
    # a range is not stretched to a far character, nor a negated class touched
    assert all("[a-x]" not in e[1] for e in pattern_edits(r"^[a-f]+$", 0, ["x"]))
    assert pattern_edits(r"^[^a-y]+$", 0, ["a"]) == []


def test_an_edit_that_accepts_what_the_passing_tests_reject_is_dropped():
    # `7x-8` of a passing test is refused: no `x?` inserted for the failing `12x-34`
    assert pattern_edits(r"^(\d+)-(\d+)$", 0, ["12x-34"]) != []
    assert pattern_edits(r"^(\d+)-(\d+)$", 0, ["12x-34"], passing=["7x-8"]) == []
    # an anchored pattern is aligned with the input's start: `day` of `Monday` is no gain
    assert pattern_edits(r"^(mon|tue)day$", 0, ["Monday"]) == []
    # a passing test shows an upper-case day is refused: no case flag, however it would help
    source = 'import re\nDAY = re.compile(r"^(mon|tue)day$")\n'
    assert _new(more_regex_mutants("d.py", source, Hints(strings=("Monday",)), passing=("MONDAY",)), "regex_ignorecase") == []
    old = re.compile(r"^v(\d+)$")
    assert not keeps(old, re.compile(r"^v?(\d*)$"), [])  # now matches the empty string
    assert not keeps(old, re.compile(r"^v?(\d+)$"), ["12"])  # accepts what a passing test's string shows it refused
    assert keeps(old, re.compile(r"^v?(\d+)$"), ["12"], failing=["12"])  # ... unless a failing test wants it
    assert not keeps(re.compile(r"(\d+)-(\d+)"), re.compile(r"(\d+)?-(\d+)"), ["a-1 2-3"])  # another first match
    assert keeps(old, re.compile(r"^v?(\d+)$"), ["v12", "x"])


def test_pieces_of_a_pattern():
    found = pieces(r"^--- a/(?P<path>\S+)(?=\n)[a-z]{2,3}")
    kinds = [(p.kind, p.quant_text) for p in found]
    assert kinds == [("anchor", ""), *[("lit", "")] * 6, ("escape", "+"), ("group", ""), ("special", ""),
                     ("special", ""), ("class", "{2,3}")]
    assert pieces("a)b") == [] and pieces("(a") == []


def test_test_strings_are_the_failing_tests_lines_and_the_other_tests_literals(tmp_path):
    (tmp_path / "test_d.py").write_text('def test_a():\n    run("""\n    --- x\n    +++ y\n    """)\n\n\n'
                                        'def test_b():\n    assert f("ok")\n\n\nclass TestC:\n    def test_c(self):\n'
                                        '        assert f("fine")\n')
    failing = {"test_d.py::test_a": TestResult("test_d.py::test_a", "failed", "")}
    assert other_strings(tmp_path, failing) == (("--- x", "+++ y"), ("ok", "fine"))


def test_bytes_literals_and_crlf_lines_are_test_strings_too(tmp_path):
    # protocol data: the failing test's bytes as text, and each CRLF line with its line end (a
    # parser matches one line at a time); the other tests' bytes are what an edit must keep
    (tmp_path / "test_w.py").write_text('def test_a():\n    read(b"5  \\t\\r\\nabc\\r\\n" + b"0\\r\\n")\n    read(b"x y")\n\n\n'
                                        'def test_b():\n    read(b"1a\\r\\n")\n')
    failing = {"test_w.py::test_a": TestResult("test_w.py::test_a", "failed", "")}
    lines, others = other_strings(tmp_path, failing)
    assert lines == ("5  \t\r\n", "abc\r\n", "0\r\n", "x y")
    assert others == ("1a", "1a\r\n")


def test_a_run_of_blanks_of_any_length_is_one_optional_piece():
    # five blanks where the pattern has none: one `[ \t]*`, not a gap cut at four characters
    assert pattern_edits(r"(?P<size>[0-9a-f]+)(;.*)?\r\n", 0, ["5   \t \r\n"]) == [
        ("regex_optional_piece", r"(?P<size>[0-9a-f]+)(;.*)?[ \t]*\r\n", "optional `   \t ` inserted")]


def test_the_data_edits_put_the_optional_piece_first(tmp_path):
    (tmp_path / "diffheader.py").write_text(DIFFHEADER)
    (tmp_path / "test_diffheader.py").write_text(DIFFHEADER_TESTS)
    tid = "test_diffheader.py::test_no_prefix_header"
    context = Context(tmp_path, Task("failing_tests", {tid: TestResult(tid, "failed", "ValueError")}), protected=("test_*.py",))
    got = hinted(context, [(("diffheader.py", 8), 1.0)], lambda p: (tmp_path / p).read_text())
    assert got[0][1].operator == "regex_optional_piece" and "(?:a/)?" in got[0][1].replacement


def test_loopwright_fix_makes_the_missing_prefix_optional(make_repo):
    out, root, before = fix_offline(make_repo, {"diffheader.py": DIFFHEADER, "test_diffheader.py": DIFFHEADER_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert '+_OLD = re.compile(r"^--- (?:a/)?(?P<path>\\S+)")' in out["patch"], out["patch"]
    assert snapshot(root) == before


def test_a_groups_whole_literal_head_is_made_optional():
    # `a/` is all the literal text of its group: no context inside it to align by
    pattern = r"^diff --git (?P<source>a/[^\t\n]+) (?P<target>b/[^\t\n]+)"
    assert [e[1] for e in pattern_edits(pattern, 0, ["diff --git file1 file1"])] == [
        r"^diff --git (?P<source>(?:a/)?[^\t\n]+) (?P<target>(?:b/)?[^\t\n]+)"]


def test_a_data_file_the_failing_test_names_gives_its_lines(tmp_path):
    (tmp_path / "tests" / "samples").mkdir(parents=True)
    (tmp_path / "tests" / "samples" / "no_prefix.diff").write_text("diff --git file1 file1\n--- file1\n")
    (tmp_path / "secret.txt").write_text("outside the tests\n")
    (tmp_path / "tests" / "samples" / "link.diff").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "tests" / "test_p.py").write_text(
        "import os\n\n\ndef test_p():\n    here = os.path.dirname(__file__)\n"
        "    parse(os.path.join(here, 'samples/no_prefix.diff'))\n"
        "    parse(os.path.join(here, 'samples/link.diff'))\n    parse('../../etc/passwd')\n")
    failing = {"tests/test_p.py::test_p": TestResult("tests/test_p.py::test_p", "failed", "")}
    # next to the test file; never through a symlink, never outside the repository
    assert other_strings(tmp_path, failing)[0] == ("diff --git file1 file1", "--- file1")


def test_a_pattern_imported_from_another_module_is_edited_there(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "constants.py").write_text('import re\n\nOLD = re.compile(r"^--- a/(?P<path>\\S+)")\n')
    (tmp_path / "pkg" / "parser.py").write_text(
        "from .constants import OLD\n\n\ndef old_path(line):\n    found = OLD.match(line)\n"
        "    return found.group('path')\n")
    (tmp_path / "test_parser.py").write_text(
        "from pkg.parser import old_path\n\n\ndef test_no_prefix():\n    assert old_path('--- setup.py') == 'setup.py'\n")
    tid = "test_parser.py::test_no_prefix"
    context = Context(tmp_path, Task("failing_tests", {tid: TestResult(tid, "failed", "AttributeError")}),
                      protected=("test_*.py",))
    got = hinted(context, [(("pkg/parser.py", 5), 1.0)], lambda p: (tmp_path / p).read_text()
                 if (tmp_path / p).is_file() else None)
    assert got and got[0][1].path == "pkg/constants.py" and "(?:a/)?" in got[0][1].replacement
    # scored below what the importing module's own line would get
    assert got[0][0] < 1.0

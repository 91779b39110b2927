"""``regex_narrow``: a pattern that matches too much narrowed (a word boundary, a class run
ending in a word character, a lazy quantifier, an anchor), checked on the failing tests'
strings (the first match must change) and the passing tests' (kept); on patterns written for
these tests, and end to end on a small docstring parser whose default-value pattern finds a
"default" inside a longer word; a run without an upper bound given the limit an over-long
input tests, on a bytes pattern, end to end on a header validator."""

from __future__ import annotations

from harness.core.context import Context
from harness.core.task import Task
from harness.evaluators.verdict import TestResult
from harness.generators.data_edits import DECAY, PRIORS, hinted
from harness.generators.literal_hints import Hints, other_strings
from harness.generators.regex_narrow import bounded, edits, narrow_regex_mutants, pattern_edits
from tests.conftest import fix_offline
from tests.mutant_checks import src

DEFAULT = r"[Dd]efault(?: is |: )\s*(?P<value>[\w\-\.]+)"


def test_the_edits_in_their_order_and_none_past_an_anchor():
    assert [desc for _, desc in edits(r"key=.*,")] == [
        "`\\b` before it", "`(?<!\\S)` before it", "`.*` made lazy", "`\\b` after it", "`^` before it", "`$` after it"]
    assert [new for new, _ in edits(r"^\d+$")] == []
    assert edits(r"[\w.]+")[2] == (r"[\w.]*\w", r"`[\w.]+` -> `[\w.]*\w`")


def test_only_edits_that_change_a_failing_match_and_keep_the_passing_ones():
    failing = ["The third arg. Default is 1.0.", "parameter_without_default is required."]
    got = pattern_edits(DEFAULT, 0, failing, ["Default is 3", "default: x"])
    assert [desc for _, desc in got] == ["`\\b` before it", "`(?<!\\S)` before it",
                                         r"`[\w\-\.]+` -> `[\w\-\.]*\w`", "`\\b` after it"]
    # a passing test's "Default is 3." keeps its period: the class-run edit is dropped
    got = pattern_edits(DEFAULT, 0, failing, ["Default is 3."])
    assert r"`[\w\-\.]+` -> `[\w\-\.]*\w`" not in [desc for _, desc in got]
    # nothing of the failing tests' strings matched: nothing to narrow
    assert pattern_edits(DEFAULT, 0, ["no match here"]) == []


def test_the_module_literal_is_edited_in_place():
    source = f'import re\n\nPATTERN = re.compile(r"{DEFAULT}")\n'
    got = narrow_regex_mutants("doc.py", source, Hints(strings=("system_default: x",)))
    assert got and all(m.operator == "regex_narrow" for m in got)
    assert got[0].new_source == source.replace('r"[Dd]', 'r"\\b[Dd]')
    # a plain literal gets no edit that would need its backslashes escaped
    plain = 'import re\n\nPATTERN = re.compile("[Dd]efault(?: is |: )(?P<value>[a-z.]+)")\n'
    got = narrow_regex_mutants("doc.py", plain, Hints(strings=("system_default: x",)))
    assert [m.description for m in got] == ["line 3: regex `^` before it"]


PARAMS = src('''
    """Parameter descriptions of docstrings."""
    import re

    DEFAULT = re.compile(r"[Dd]efault(?: is |: )(?P<value>\\w+)")


    def default_of(description):
        """The default value a parameter's description states, or None."""
        found = DEFAULT.search(description)
        return found.group("value") if found else None
''')
PARAMS_TESTS = src('''
    from params import default_of


    def test_stated():
        assert default_of("The width. Default is 80") == "80"
        assert default_of("The mode. Default: fast") == "fast"


    def test_not_stated():
        assert default_of("The width in columns") is None


    def test_a_word_that_ends_in_default():
        assert default_of("Uses the system_default: locale") is None
''')


def test_the_first_narrowing_edit_is_scored_as_a_first_data_edit(tmp_path):
    (tmp_path / "params.py").write_text(PARAMS)
    (tmp_path / "test_params.py").write_text(PARAMS_TESTS)
    tid = "test_params.py::test_a_word_that_ends_in_default"
    context = Context(tmp_path, Task("failing_tests", {tid: TestResult(tid, "failed", "AssertionError")}),
                      protected=("test_*.py",))
    got = hinted(context, [(("params.py", 9), 1.0)], lambda p: (tmp_path / p).read_text())
    # the widening edit comes first in the module's list, yet does not push the narrowing ones back:
    # each family's first edit has the full prior, the next ones decay
    assert [(m.operator, round(score / PRIORS[m.operator], 4)) for score, m in got] == [
        ("regex_optional", 1.0), ("regex_narrow", 1.0), ("regex_narrow", DECAY)]
    assert got[1][1].replacement.startswith("\\b")


def test_loopwright_fix_adds_the_word_boundary(make_repo):
    out, _, _ = fix_offline(make_repo, {"params.py": PARAMS, "test_params.py": PARAMS_TESTS})
    assert out["status"] == "fixed", out
    assert '+DEFAULT = re.compile(r"\\b[Dd]efault' in out["patch"], out["patch"]


HEADERS = src(r'''
    """Validates a Content-Length header's value (bytes, as read from the wire)."""
    import re

    _length_re = re.compile(rb"[0-9]+")


    class ProtocolError(ValueError):
        pass


    def content_length(value):
        """The length a header value gives; ProtocolError for anything but digits."""
        if _length_re.fullmatch(value) is None:
            raise ProtocolError("bad Content-Length")
        return int(value)
''')
HEADERS_TESTS = src(r'''
    import pytest

    from headers import ProtocolError, content_length


    def test_lengths():
        assert content_length(b"0") == 0
        assert content_length(b"1234") == 1234
        assert content_length(b"9" * 12) == 999999999999


    def test_not_digits():
        with pytest.raises(ProtocolError):
            content_length(b"12a")


    def test_more_digits_than_any_sane_length():
        with pytest.raises(ProtocolError):
            content_length(b"1" * 21)
''')


def test_a_run_without_bound_gets_one_below_the_failing_inputs_run():
    # unchecked: every unbounded run of a class the input has a long run of (the check keeps
    # only those that change a failing input's first match)
    assert bounded(r"(?P<n>[0-9]+)\.\d*", ["1" * 21 + ".5", "12.5"]) == [
        (r"(?P<n>[0-9]{1,20})\.\d*", "`[0-9]+` bounded to 20"), (r"(?P<n>[0-9]+)\.\d{0,20}", "`\\d*` bounded to 20")]
    assert pattern_edits(r"(?P<n>[0-9]+)\.\d*", 0, ["1" * 21 + ".5"]) == [
        (r"(?P<n>[0-9]{1,20})\.\d*", "`[0-9]+` bounded to 20")]
    assert bounded(r"[0-9]+", ["1234567"]) == []  # a run shorter than MIN_RUN: no limit is being tested
    # checked like every narrowing: a passing test's longer run keeps the pattern as it was
    assert pattern_edits(r"[0-9]+", 0, ["1" * 21], ["1" * 12]) == [(r"[0-9]{1,20}", "`[0-9]+` bounded to 20")]
    assert pattern_edits(r"[0-9]+", 0, ["1" * 21], ["1" * 30]) == []


def test_a_bytes_pattern_is_edited_in_its_literal_and_repeated_test_strings_are_inputs(tmp_path):
    (tmp_path / "test_headers.py").write_text(HEADERS_TESTS)
    failing = {"test_headers.py::test_more_digits_than_any_sane_length": TestResult(
        "test_headers.py::test_more_digits_than_any_sane_length", "failed", "Failed: DID NOT RAISE")}
    lines, others = other_strings(tmp_path, failing)
    assert lines == ("1" * 21,) and others == ("0", "1234", "9" * 12, "12a")
    got = narrow_regex_mutants("headers.py", HEADERS, Hints(), others, lines)
    assert [(m.line, m.replacement) for m in got] == [(4, "[0-9]{1,20}")]
    assert 'rb"[0-9]{1,20}"' in got[0].new_source


def test_loopwright_fix_puts_the_length_limit_on_the_bytes_pattern(make_repo):
    out, _, _ = fix_offline(make_repo, {"headers.py": HEADERS, "test_headers.py": HEADERS_TESTS})
    assert out["status"] == "fixed", out
    assert '+_length_re = re.compile(rb"[0-9]{1,20}")' in out["patch"], out["patch"]


def test_a_pattern_python_warns_about_is_bounded_without_a_warning_on_the_users_screen():
    import warnings

    from harness.generators.regex_narrow import bounded

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        got = bounded("[[a-z]+", ["[" * 30])  # "[[" is a possible nested set to Python's re
    assert [str(w.message) for w in seen] == []
    assert got and got[0][0] == "[[a-z]{1,29}"

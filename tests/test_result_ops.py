"""``result_ops.keep_result``: the new value of a call that changes nothing in place, kept
instead of thrown away; on bugs written for these tests, and end to end on a small slug
library whose ``title.lower()`` is a statement of its own (two later reads need its value:
no conversion at one of them fixes it)."""

from __future__ import annotations

from harness.generators.mutations import mutants_at
from tests.conftest import fix_offline
from tests.mutant_checks import check_all, check_fix, src

CODE = src('''
    import os
    import re


    class Record:
        def clean(self, text, items, parts):
            text.strip()
            sorted(items)
            re.sub(r"\\s+", " ", text)
            self.name.lower()
            os.path.join(parts[0], "x")
            "".join(items)
            items.append(1)
            print(text)
            os.sep.join(items)
            return text
''')


def kept(line: int) -> list[str]:
    got = mutants_at("pkg/mod.py", CODE, [line])
    check_all(CODE, got)
    return [m.new_source.splitlines()[line - 1].strip() for m in got if m.operator == "keep_result"]


def test_the_value_of_a_pure_call_is_kept():
    check_fix(CODE, 7, "text.strip()", "text = text.strip()", "keep_result")
    assert kept(8) == ["items = sorted(items)"]
    assert kept(9) == ['text = re.sub(r"\\s+", " ", text)']  # a module's function: its last argument
    assert kept(10) == ["self.name = self.name.lower()"]
    assert kept(11) == ['parts[0] = os.path.join(parts[0], "x")']


def test_nothing_for_calls_that_change_things_or_have_nowhere_to_go():
    assert kept(12) == []  # a literal's method: nothing to assign to
    assert kept(13) == []  # append changes the list in place
    assert kept(14) == []  # print is not a pure function
    assert kept(15) == ["items = os.sep.join(items)"]  # never `os.sep = ...`: os is a module


SLUG = src('''
    """URL slugs from titles."""
    import re

    RESERVED = {"new", "edit"}


    def slugify(title, sep="-"):
        """A URL slug of ``title``: lower case, each run of other characters made one ``sep``,
        none at either end; a reserved word gets ``sep`` appended."""
        title.lower()
        if title in RESERVED:
            return title + sep
        return re.sub(r"[^a-z0-9]+", sep, title).strip(sep)
''')
SLUG_TESTS = src('''
    from slug import slugify


    def test_words():
        assert slugify("hello world") == "hello-world"


    def test_ends_and_runs():
        assert slugify("  a -- b  ") == "a-b"


    def test_separator_and_reserved():
        assert slugify("x y", sep="_") == "x_y"
        assert slugify("new") == "new-"


    def test_capitals():
        assert slugify("Hello World") == "hello-world"
        assert slugify("New") == "new-"
''')


def test_loopwright_fix_keeps_the_lowered_title(make_repo):
    out, _, _ = fix_offline(make_repo, {"slug.py": SLUG, "test_slug.py": SLUG_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+    title = title.lower()" in out["patch"], out["patch"]

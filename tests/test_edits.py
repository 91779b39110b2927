"""The edit format: SEARCH/REPLACE blocks and fenced diffs, parsed and applied tolerantly."""

from __future__ import annotations

import pytest

from harness.generators.edits import Edit, EditError, parse_edits
from harness.generators.edits_apply import apply_edit, apply_edits

CALC = """\
class Calc:
    def add(self, a, b):
        total = a - b
        return total

    def mul(self, a, b):
        return a * b
"""


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def edit(search: str, replace: str, path: str = "calc.py") -> Edit:
    return Edit(path, search, replace, label="edit block 1")


# -- parsing -------------------------------------------------------------------------


def test_parse_block_inside_fence_with_explanation():
    answer = (
        "The sign is wrong.\n\ncalc.py\n```python\n"
        + block("", "        total = a - b\n", "        total = a + b\n").lstrip("\n")
        + "```\n"
    )
    [e] = parse_edits(answer)
    assert e.path == "calc.py"
    assert e.search == "        total = a - b\n"
    assert e.replace == "        total = a + b\n"


@pytest.mark.parametrize(
    "line", ["**calc.py**", "`calc.py`", "# File: calc.py", "calc.py:", "./calc.py"]
)
def test_parse_cleans_path_markup(line):
    [e] = parse_edits(block(line, "x\n", "y\n"))
    assert e.path == "calc.py"


def test_parse_second_block_without_path_reuses_previous_path():
    answer = (
        "calc.py\n```\n"
        + block("", "a\n", "b\n").lstrip("\n")
        + block("", "c\n", "d\n").lstrip("\n")
        + "```\n"
    )
    edits = parse_edits(answer)
    assert [(e.path, e.search, e.replace) for e in edits] == [
        ("calc.py", "a\n", "b\n"),
        ("calc.py", "c\n", "d\n"),
    ]


def test_parse_empty_replace_deletes_lines():
    [e] = parse_edits(block("calc.py", "x = 1\n", ""))
    assert e.replace == ""


def test_parse_no_edits_says_what_is_expected():
    with pytest.raises(EditError, match="no edits found.*<<<<<<< SEARCH"):
        parse_edits("I think the bug is in add().")


def test_parse_missing_divider():
    with pytest.raises(EditError, match=r"edit block 1 \(calc.py\): missing the '=======' line"):
        parse_edits("calc.py\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n")


def test_parse_cut_off_answer():
    with pytest.raises(EditError, match="missing '>>>>>>> REPLACE' .*cut off"):
        parse_edits("calc.py\n<<<<<<< SEARCH\nx\n=======\ny\n")


def test_parse_block_without_path():
    with pytest.raises(EditError, match="no file path"):
        parse_edits("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n")


# -- tolerant matching ---------------------------------------------------------------------


def test_exact_match():
    out = apply_edit(CALC, edit("        total = a - b\n", "        total = a + b\n"))
    assert "total = a + b" in out and out.count("\n") == CALC.count("\n")


def test_trailing_whitespace_is_ignored():
    text = CALC.replace("total = a - b\n", "total = a - b   \n")
    out = apply_edit(text, edit("        total = a - b\n", "        total = a + b\n"))
    assert "        total = a + b\n" in out
    assert "a - b" not in out


def test_indentation_shift_reindents_the_replacement():
    # the model quoted the method dedented by 4 spaces
    search = "def add(self, a, b):\n    total = a - b\n    return total\n"
    replace = "def add(self, a, b):\n    total = a + b\n    return total\n"
    out = apply_edit(CALC, edit(search, replace))
    assert "    def add(self, a, b):\n        total = a + b\n        return total\n" in out
    assert out.startswith("class Calc:\n")


def test_over_indented_search_is_dedented():
    search = "            return a * b\n"
    out = apply_edit(CALC, edit(search, "            return b * a\n"))
    assert "        return b * a\n" in out


def test_fuzzy_is_not_tried_on_a_single_line():
    with pytest.raises(EditError, match="was not found"):
        apply_edit(CALC, edit("        total = a - c\n", "        total = a + b\n"))


def test_fuzzy_unique_match():
    # one character differs in a long block (a typo the model made while quoting)
    search = "    def add(self, a, b):\n        total = a - b\n        return totl\n"
    replace = "    def add(self, a, b):\n        total = a + b\n        return total\n"
    out = apply_edit(CALC, edit(search, replace))
    assert "total = a + b" in out and "a - b" not in out


def test_ambiguous_exact_match_names_file_and_first_line():
    text = "x = 1\nprint(x)\nx = 1\n"
    with pytest.raises(EditError) as err:
        apply_edit(text, edit("x = 1\n", "x = 2\n", path="pkg/mod.py"))
    msg = str(err.value)
    assert "pkg/mod.py" in msg and "'x = 1'" in msg and "matches 2 places" in msg
    assert "lines 1, 3" in msg


def test_ambiguous_fuzzy_match_is_an_error():
    text = (
        "def f():\n    value = compute(1)\n    value += 10\n    return value\n\n"
        "def g():\n    value = compute(2)\n    value += 10\n    return value\n"
    )
    search = "    value = compute(3)\n    value += 10\n    return value\n"
    with pytest.raises(EditError, match="matches 2 places fuzzily"):
        apply_edit(text, edit(search, "    return 3\n", path="m.py"))


def test_not_found_points_at_the_closest_text():
    with pytest.raises(EditError) as err:
        apply_edit(CALC, edit("        total = a - c + 1\n        return total\n", "pass\n"))
    msg = str(err.value)
    assert "calc.py" in msg and "was not found" in msg and "'total = a - c + 1'" in msg
    assert "closest text starts at line 3" in msg


def test_surrounding_blank_lines_in_search_are_tolerated():
    out = apply_edit(CALC, edit("\n        return a * b\n\n", "\n        return b * a\n\n"))
    assert out.endswith("        return b * a\n")


def test_crlf_file_keeps_its_line_endings():
    text = "a = 1\r\nb = 2\r\n"
    out = apply_edit(text, edit("b = 2\n", "b = 3\n", path="x.py"))
    assert out == "a = 1\r\nb = 3\r\n"


def test_file_without_final_newline_stays_so():
    out = apply_edit("a = 1\nb = 2", edit("b = 2\n", "b = 3\n", path="x.py"))
    assert out == "a = 1\nb = 3"


def test_empty_search_creates_a_file_but_not_over_an_existing_one():
    changes = apply_edits([Edit("new.py", "", "X = 1\n")], lambda p: None)
    assert changes == {"new.py": ("", "X = 1\n")}
    with pytest.raises(EditError, match="SEARCH part .* is empty but the file exists"):
        apply_edits([Edit("calc.py", "", "X = 1\n")], lambda p: CALC)


def test_missing_file():
    with pytest.raises(EditError, match="nope.py: no such file"):
        apply_edits([edit("x\n", "y\n", path="nope.py")], lambda p: None)


def test_several_edits_to_one_file_apply_in_order():
    edits = [
        edit("        total = a - b\n", "        total = a + b\n"),
        edit("        return a * b\n", "        return b * a\n"),
    ]
    [(path, (old, new))] = apply_edits(edits, lambda p: CALC).items()
    assert path == "calc.py" and old == CALC
    assert "a + b" in new and "b * a" in new


# -- unified diff fallback -------------------------------------------------------------------


def test_fenced_diff_applies_by_content_despite_wrong_line_numbers():
    answer = (
        "Here is the fix:\n```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -40,3 +40,3 @@\n"
        "     def add(self, a, b):\n-        total = a - b\n+        total = a + b\n"
        "         return total\n```\n"
    )
    edits = parse_edits(answer)
    assert [e.path for e in edits] == ["calc.py"] and edits[0].hint == 40
    [(_, (_, new))] = apply_edits(edits, lambda p: CALC).items()
    assert "total = a + b" in new and "a - b" not in new


def test_diff_hunk_with_blank_context_line_missing_its_space():
    answer = (
        "```diff\n--- a/calc.py\n+++ b/calc.py\n@@ ... @@\n         return total\n\n"
        "     def mul(self, a, b):\n-        return a * b\n+        return b * a\n```\n"
    )
    [(_, (_, new))] = apply_edits(parse_edits(answer), lambda p: CALC).items()
    assert new.endswith("        return b * a\n")


def test_diff_hunk_line_number_breaks_a_tie():
    text = "x = 1\nprint(x)\nx = 1\nprint(x)\n"
    answer = "```diff\n--- a/m.py\n+++ b/m.py\n@@ -3,2 +3,2 @@\n-x = 1\n+x = 2\n print(x)\n```\n"
    [(_, (_, new))] = apply_edits(parse_edits(answer), lambda p: text).items()
    assert new == "x = 1\nprint(x)\nx = 2\nprint(x)\n"


def test_diff_creating_a_file():
    answer = "```diff\n--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1,2 @@\n+A = 1\n+B = 2\n```\n"
    changes = apply_edits(parse_edits(answer), lambda p: None)
    assert changes == {"pkg/new.py": ("", "A = 1\nB = 2\n")}


def test_diff_deleting_a_file_is_refused():
    answer = "```diff\n--- a/calc.py\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-x\n```\n"
    with pytest.raises(EditError, match="calc.py: deleting files is not supported"):
        parse_edits(answer)

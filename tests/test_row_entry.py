"""The failing ``parametrize`` row's value added to the table that holds the other rows' values
(``row_entry``, ``harness.generators.table_ops.row_entries``, issue 21): the table may sit in a
constants module no suspicious line is in, and the value may be written elsewhere in it."""

from __future__ import annotations

import json

from evals.gold_rank import gold_rank
from harness.generators.literal_hints import Hints
from harness.generators.table_ops import row_entries
from sandbox.patch import unified_diff
from tests.conftest import fix_offline, run_dir

CONSTANTS = '''\
"""Element tables."""

inlineElements = frozenset(["span", "b", "wbr", "em"])

voidElements = frozenset([
    "br",
    "hr",
    "img",
    "input"
])
'''
RENDER = '''\
from .constants import voidElements


def render(tag):
    """The markup of an empty element ``tag``."""
    if tag in voidElements:
        return f"<{tag}>"
    return _pair(tag)


def _pair(tag):
    return f"<{tag}></{tag}>"
'''
TESTS = '''\
import pytest

from markup.render import render


@pytest.mark.parametrize("tag", ["br", "hr", "img", "input", "wbr"])
def test_void_elements_close_themselves(tag):
    assert render(tag) == f"<{tag}>"

'''
FILES = {"markup/__init__.py": "", "markup/constants.py": CONSTANTS, "markup/render.py": RENDER, "tests/test_render.py": TESTS}


def test_the_table_holding_the_other_rows_gets_the_failing_one():
    hints = Hints(strings=("wbr",), cases=("wbr",), siblings=("br", "hr", "img", "input"))
    got = row_entries("markup/constants.py", CONSTANTS, hints)
    assert [m.operator for m in got] == ["row_entry"]  # "wbr" is in the module, not in this table
    assert 'frozenset([\n    "br",\n    "hr",\n    "img",\n    "input", "wbr"\n])' in got[0].new_source


def test_no_table_holds_the_rows_no_candidate():
    few = Hints(strings=("wbr",), cases=("wbr",), siblings=("br", "area", "col", "meta", "link"))  # 2 of 5
    assert row_entries("markup/constants.py", CONSTANTS, few) == []
    one = Hints(strings=("wbr",), cases=("wbr",), siblings=("br",))  # a single other row says little
    assert row_entries("markup/constants.py", CONSTANTS, one) == []
    assert row_entries("markup/constants.py", CONSTANTS, Hints(strings=("wbr",), siblings=("br", "hr"))) == []


def test_fix_end_to_end_adds_the_row_to_the_table(make_repo):
    summary, root, _ = fix_offline(make_repo, FILES)
    assert summary["status"] == "fixed", summary
    assert '+    "input", "wbr"' in summary["patch"] and "markup/constants.py" in summary["patch"]
    assert summary["candidates_tried"] <= 16  # in the first batch
    # only the failing row ran `_pair`, and no longer does: a table entry routes it, no overfit
    assert not summary.get("suspect"), summary["suspect"]
    steps = [json.loads(line) for line in next(run_dir(root).glob("*/trajectory.jsonl")).read_text().splitlines()]
    accepted = next(step["digest"] for step in steps if step["action"] == "accept")
    assert [step["patch"]["meta"]["operator"] for step in steps
            if step["action"] == "evaluate" and step["patch"]["digest"] == accepted] == ["row_entry"]


def test_gold_rank_sees_the_same_entry_written_on_its_own_line(make_repo):
    root = make_repo(FILES)
    gold = unified_diff("markup/constants.py", CONSTANTS, CONSTANTS.replace('"input"\n', '"input",\n    "wbr",\n'))
    row = gold_rank(root, gold, limit=50)
    assert row["rank"] == 1 and row["operator"] == "row_entry"


def test_a_reached_table_gets_the_failing_row_even_when_the_module_spells_it_elsewhere():
    from harness.generators.table_ops import table_mutants

    plain = Hints(strings=("wbr",))  # a test literal the module already has: no new entry
    assert not [m for m in table_mutants("markup/constants.py", CONSTANTS, plain) if "voidElements" in m.description
                or '"input", "wbr"' in m.new_source]
    row = Hints(strings=("wbr",), cases=("wbr",))
    assert any('"input", "wbr"' in m.new_source for m in table_mutants("markup/constants.py", CONSTANTS, row))


def test_table_only_tells_a_data_entry_from_a_code_edit():
    from harness.core.dead_code import table_only
    from tests.conftest import text_patch

    entry = CONSTANTS.replace('"input"\n', '"input",\n    "wbr",\n')
    assert table_only(text_patch(CONSTANTS, entry, "c.py"), {"c.py": entry}, lambda rel: CONSTANTS)
    code = RENDER.replace("if tag in voidElements:", "if tag in voidElements or tag == 'wbr':")
    assert not table_only(text_patch(RENDER, code, "r.py"), {"r.py": code}, lambda rel: RENDER)
    built = "VOID = frozenset(x for x in 'ab')\n"
    assert not table_only(text_patch("VOID = 1\n", built, "c.py"), {"c.py": built}, lambda rel: "VOID = 1\n")

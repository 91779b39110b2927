"""The parse checks of candidate edits (``harness/generators/parse_check.py``): an edit is
decided by the innermost standalone statement that holds all of it, never by the whole file
when a function or block holds it."""

from __future__ import annotations

import ast

from harness.generators.edit_text import Cand
from harness.generators.index import Index
from harness.generators.parse_check import edited_chunk, valid_many

SOURCE = (
    "import os\n"
    "\n"
    "\n"
    "class Box:\n"
    "    def size(self, scale=2):\n"
    "        width = self.width * scale\n"
    "        height = self.height\n"
    "        return width + height\n"
    "\n"
    "\n"
    "def unrelated():\n"
    "    return os.sep\n"
)


def _index() -> Index:
    return Index(SOURCE, ast.parse(SOURCE), [6, 7])


def _at(index: Index, line: int) -> ast.stmt:
    return index.stmts_by_line[line][0]


def test_a_default_value_edit_is_checked_in_its_def_header_only():
    index = _index()
    start = SOURCE.index("scale=2") + len("scale=")
    edits = ((start, start + 1, "3"),)
    chunk, nested = edited_chunk(index, edits, _at(index, 6))
    # the def line with a stub body: neither the class nor the other function
    assert chunk == "    def size(self, scale=3):\n        pass"
    assert nested
    assert valid_many(index, [(Cand("default_arg_value", _at(index, 6), "d", edits), edits)]) == [True]


def test_a_swap_of_two_statements_is_checked_in_the_function_that_holds_both():
    index = _index()
    first, second = "        width = self.width * scale\n", "        height = self.height\n"
    lo = SOURCE.index(first)
    edits = ((lo, lo + len(first), second), (lo + len(first), lo + len(first) + len(second), first))
    chunk, nested = edited_chunk(index, edits, _at(index, 6))
    assert chunk.startswith("    def size(self, scale=2):\n        height = self.height\n")
    assert "class Box" not in chunk and "unrelated" not in chunk
    assert nested


def test_an_edit_that_breaks_the_def_header_is_still_refused():
    index = _index()
    start = SOURCE.index("scale=2")
    edits = ((start, start + len("scale=2"), "scale=)"),)
    cand = Cand("default_arg_value", _at(index, 6), "d", edits)
    assert valid_many(index, [(cand, edits)]) == [False]


def test_an_edit_of_a_top_level_statement_parses_that_statement():
    index = Index(SOURCE, ast.parse(SOURCE), [12])
    start = SOURCE.index("os.sep")
    edits = ((start, start + len("os.sep"), "os.pathsep"),)
    chunk, nested = edited_chunk(index, edits, _at(index, 12))
    assert chunk == "    return os.pathsep\n" and nested

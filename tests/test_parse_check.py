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


CHAIN = (
    "def kind(prefix, value):\n"
    "    if prefix == '^':\n"
    "        return value + 1\n"
    "    elif prefix == '~':  # a comment\n"
    "        return value - 1\n"
    "    elif (prefix ==\n"
    "          '='): return value\n"
    "    else:\n"
    "        return None\n"
)


def _chain_edit(old: str, new: str, nth: int = 0) -> tuple[Index, tuple, ast.stmt]:
    index = Index(CHAIN, ast.parse(CHAIN), [4, 6])
    start = CHAIN.index(old)
    for _ in range(nth):
        start = CHAIN.index(old, start + 1)
    elif_if = index.stmts_by_line[4][0] if CHAIN.count("\n", 0, start) + 1 == 4 else index.stmts_by_line[6][0]
    return index, ((start, start + len(old), new),), elif_if


def test_an_elif_test_edit_is_checked_in_that_header_alone():
    index, edits, elif_if = _chain_edit("prefix == '~'", "prefix == '~' and value")
    chunk, nested = edited_chunk(index, edits, elif_if.test)
    # the elif's own header as an if, not the whole chain
    assert chunk == "    if prefix == '~' and value:  # a comment\n        pass"
    assert nested
    assert valid_many(index, [(Cand("add_conjunct", elif_if.test, "d", edits), edits)]) == [True]


def test_an_elif_header_over_two_lines_and_a_one_line_body_keeps_its_parentheses():
    index, edits, elif_if = _chain_edit("'='", "'=' or")
    assert edited_chunk(index, edits, elif_if.test) == ("    if (prefix ==\n          '=' or): pass", True)
    assert valid_many(index, [(Cand("add_disjunct", elif_if.test, "d", edits), edits)]) == [False]
    index, edits, elif_if = _chain_edit("'='", "'=' or value")
    assert valid_many(index, [(Cand("add_disjunct", elif_if.test, "d", edits), edits)]) == [True]


def test_an_edit_in_an_elif_body_is_not_a_header_edit():
    index = Index(CHAIN, ast.parse(CHAIN), [5])
    start = CHAIN.index("value - 1")
    edits = ((start, start + len("value - 1"), "value - 2"),)
    chunk, nested = edited_chunk(index, edits, index.stmts_by_line[5][0])
    assert chunk == "        return value - 2\n" and nested

"""Facts kept with a syntax tree (``harness/core/tree_memo.py``): a subtree's nodes are listed
once per tree and node, in ``ast.walk`` order, and a new tree gets its own listing."""

from __future__ import annotations

import ast

from harness.core.tree_memo import below, nodes
from harness.generators.cond_ops import filled_collections

SOURCE = (
    "def collect(rows):\n"
    "    out = []\n"
    "    for row in rows:\n"
    "        out.append(row)\n"
    "    seen = {}\n"
    "    seen[1] = 2\n"
    "    if rows:\n"
    "        return out\n"
    "    return seen\n"
)


def test_a_subtrees_nodes_are_listed_once_in_walk_order():
    tree = ast.parse(SOURCE)
    fn = tree.body[0]
    first = below(tree, fn)
    assert first is below(tree, fn)  # the same listing, not a second walk
    assert list(first) == list(ast.walk(fn))
    assert list(below(tree, tree)) == list(nodes(tree))
    other = ast.parse(SOURCE)  # the same text parsed again is another tree: its own listing
    assert below(other, other.body[0]) is not first


def test_a_functions_filled_collections_are_the_same_read_through_the_memo():
    tree = ast.parse(SOURCE)
    fn = tree.body[0]
    for line in (3, 7, 9):
        assert filled_collections(fn, line, tree) == filled_collections(fn, line)
    assert filled_collections(fn, 7, tree) == ["seen", "out"]  # the last filled first

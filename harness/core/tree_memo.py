"""Facts computed once per syntax tree: a file's tree is parsed once per text
(:func:`harness.generators.data_text.parsed`), and what is derived from it - a table of its
patterns, a donor pool, the classes its ``isinstance`` checks name - is kept with it. Pure.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

_T = TypeVar("_T")
#: id(tree) -> (the tree, key -> fact): the last :data:`MEMO_TREES` trees' facts (the tree is
#: kept with them, so its id is not reused while they are).
_MEMO: dict[int, tuple[ast.AST, dict[Hashable, Any]]] = {}
MEMO_TREES = 8


def remembered(tree: ast.AST, key: Hashable, make: Callable[[], _T]) -> _T:
    """``make()``, computed once per ``tree`` and ``key`` (for the last :data:`MEMO_TREES`
    trees asked). ``key`` names everything else the fact depends on: the function that builds
    it, and for a fact that reads more than the tree, that too (a path, a reader of files)."""
    entry = _MEMO.get(id(tree))
    if entry is None or entry[0] is not tree:
        while len(_MEMO) >= MEMO_TREES:
            _MEMO.pop(next(iter(_MEMO)))
        entry = _MEMO[id(tree)] = (tree, {})
    if key not in entry[1]:
        entry[1][key] = make()
    return entry[1][key]


def nodes(tree: ast.AST) -> tuple[ast.AST, ...]:
    """Every node of ``tree`` in :func:`ast.walk` order, listed once per tree (with
    :func:`remembered`): a scan of a whole module's nodes then costs its ``isinstance``
    checks, not a new walk (about 30 ms per scan of tabulate's 10,800 nodes). For the module
    trees the facts are kept with; a subtree walked once is cheaper walked directly."""
    return remembered(tree, nodes, lambda: tuple(ast.walk(tree)))


def below(tree: ast.AST, node: ast.AST) -> tuple[ast.AST, ...]:
    """Every node of ``node``'s subtree (``node`` included), in :func:`ast.walk` order, listed
    once per ``tree`` and ``node`` (with :func:`remembered`; ``node`` must be a node of
    ``tree``, which the memo keeps alive, so its id is not reused). For a function an operator
    scans again at each of its lines: one walk per function, not one per line."""
    return remembered(tree, (below, id(node)), lambda: tuple(ast.walk(node)))

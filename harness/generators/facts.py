"""Facts of a whole file shared by every :class:`~harness.generators.index.Index` of one parse.

A search asks one file's lines in several calls of :func:`~harness.generators.mutations.mutants_at`
(its chunks, then more), each with its own index (its records depend on the asked lines) over one
tree (:func:`~harness.generators.data_text.parsed`: one tree per text). A fact that reads nothing
but the tree, the text, the path and other files through the index's ``read`` - the donor pool,
the file's definitions, imports and keyword arguments - is built once for all of them here.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TypeVar

from harness.generators.index import Index

_T = TypeVar("_T")
#: (id(tree), path, read) -> (the tree, build -> fact), for the last :data:`TREES` parses (the
#: tree is kept with its facts, so its id is not reused while they are).
_SHARED: dict[tuple, tuple[ast.Module, dict[Callable, object]]] = {}
TREES = 8


def shared(cx: Index, build: Callable[[Index], _T]) -> _T:
    """``build(cx)``, computed once for every index of the same tree, path and ``read``.

    Only for facts that never read ``cx``'s records (they depend on the asked lines) nor tell
    one index from another: compare ``src.tree is cx.tree``, not ``src is cx``."""
    key = (id(cx.tree), cx.path, cx.read)
    entry = _SHARED.get(key)
    if entry is None or entry[0] is not cx.tree:
        while len(_SHARED) >= TREES:
            _SHARED.pop(next(iter(_SHARED)))
        entry = _SHARED[key] = (cx.tree, {})
    if build not in entry[1]:
        entry[1][build] = build(cx)
    return entry[1][build]  # type: ignore[return-value]  # stored by this very key

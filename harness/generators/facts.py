"""Facts of a whole file shared by every :class:`~harness.generators.index.Index` of one parse.

A search asks one file's lines in several calls of :func:`~harness.generators.mutations.mutants_at`
(its chunks, then more), each with its own index (its records depend on the asked lines) over one
tree (:func:`~harness.generators.data_text.parsed`: one tree per text). A fact that reads nothing
but the tree, the text, the path and other files through the index's ``read`` - the donor pool,
the file's definitions, imports and keyword arguments - is built once for all of them here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from harness.core.tree_memo import remembered
from harness.generators.index import Index

_T = TypeVar("_T")


def shared(cx: Index, build: Callable[[Index], _T]) -> _T:
    """``build(cx)``, computed once for every index of the same tree, path and ``read``
    (:func:`harness.core.tree_memo.remembered`).

    Only for facts that never read ``cx``'s records (they depend on the asked lines) nor tell
    one index from another: compare ``src.tree is cx.tree``, not ``src is cx``."""
    return remembered(cx.tree, (build, cx.path, cx.read), lambda: build(cx))

"""File-wide facts shared by the indexes of one parse (harness/generators/facts.py): a search
asks a file's lines in several ``mutants_at`` calls, and what depends only on the tree, the
path and the reader of other files is built once for them, never across another path, reader
or text."""

from __future__ import annotations

import ast

from harness.generators.data_text import parsed
from harness.generators.facts import shared
from harness.generators.index import Index

SOURCE = "def f(x):\n    return g(x, key=1)\n\n\ndef g(x, key=0):\n    return x + key\n"


def test_a_fact_is_built_once_per_parse_path_and_reader():
    built: list[Index] = []

    def calls(cx: Index) -> list[str]:
        built.append(cx)
        return sorted(ast.unparse(n.func) for n in ast.walk(cx.tree) if isinstance(n, ast.Call))

    def read(path: str) -> str | None:
        return None

    tree = parsed(SOURCE)
    assert tree is not None and parsed(SOURCE) is tree  # one tree per text
    first, second = Index(SOURCE, tree, [2], "m.py", read), Index(SOURCE, tree, [6], "m.py", read)
    assert shared(first, calls) == shared(second, calls) == ["g"]
    assert built == [first]  # the second index of the same parse reuses it
    shared(Index(SOURCE, tree, [2], "other.py", read), calls)  # another path
    shared(Index(SOURCE, tree, [2], "m.py", None), calls)  # another reader of other files
    shared(Index(SOURCE, ast.parse(SOURCE), [2], "m.py", read), calls)  # another parse
    assert len(built) == 4

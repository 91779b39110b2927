"""The mutation engine's typed index (issue 23 item 5): node records beside the AST, never
attributes on it; what each record says on a real tree; scopes and the per-file memo."""

from __future__ import annotations

import ast
import dataclasses
import textwrap

import pytest

from harness.generators.index import Index, NodeRecord
from harness.generators.mutations import mutants_at

SOURCE = textwrap.dedent('''
    import os


    class Box:
        def grow(self, items, n=1):
            total = 0
            for i, item in enumerate(items):
                if item > n:
                    total += self.size * item
            return [x for x in items if x] or total

        def far(self):
            return os.sep
''').lstrip()


def test_building_the_index_and_mutating_sets_nothing_on_the_nodes():
    tree = ast.parse(SOURCE)
    before = {id(n): dict(vars(n)) for n in ast.walk(tree)}
    index = Index(SOURCE, tree, [7, 8, 9])
    assert len(index.records) > 30
    assert {id(n): dict(vars(n)) for n in ast.walk(tree)} == before
    assert mutants_at("m.py", SOURCE, [7, 8, 9])  # the whole engine on the same lines


def test_records_give_parent_field_function_statement_and_block():
    tree = ast.parse(SOURCE)
    index = Index(SOURCE, tree, [8])
    cls = tree.body[1]
    grow = cls.body[0]
    loop = grow.body[1]
    test = loop.body[0].test  # item > n
    augassign = loop.body[0].body[0]
    assert isinstance(index.record(test), NodeRecord)
    assert index.parent(test) is loop.body[0] and index.field(test) == "test"
    assert index.function(test) is grow and index.statement(test) is loop.body[0]
    assert index.function(grow) is None and index.parent(grow) is cls  # a def's function: the one around it
    assert index.block(augassign) == (loop.body[0].body, 0)
    assert index.block(loop) == (grow.body, 1)
    assert index.in_loop(augassign) and not index.in_loop(grow.body[0])
    assert index.stmts_by_line[8] == [loop.body[0]]
    with pytest.raises(dataclasses.FrozenInstanceError):
        index.record(test).parent = None  # type: ignore[misc]


def test_statements_far_from_the_asked_lines_are_not_walked_inside():
    tree = ast.parse(SOURCE)
    index = Index(SOURCE, tree, [1])  # `import os` only
    far = tree.body[1].body[1]
    assert index.walked(tree.body[1])  # the class statement has its record
    assert not index.walked(far.body[0].value)  # nothing inside it was walked
    assert not index.walked(ast.parse("x").body[0])


def test_scopes_names_roles_and_the_memo():
    tree = ast.parse(SOURCE)
    index = Index(SOURCE, tree, [9])
    grow = tree.body[1].body[0]
    assert index.params(grow) == ["items", "n"]
    # `x` is the comprehension's own: not in scope; `total` was assigned before line 9
    assert index.names_near(grow, 9) == ["item", "total", "items", "n", "i"]  # nearest use first
    assert "self.size" in index.names_near(grow, 9, attrs=True)
    assert (ast.Compare, "left") in index.roles(grow)["item"]
    assert not index.scope(grow).generator and len(index.scope(grow).returns) == 1
    calls = []

    def build(ix: Index) -> list[int]:
        calls.append(ix)
        return [len(ix.text)]

    assert index.memo(build) is index.memo(build) and calls == [index]

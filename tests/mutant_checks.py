"""Checks shared by the mutation operator tests (``tests/test_mutations.py``,
``tests/test_mutation_splicing.py``, ``tests/test_reach_ops.py``, ``tests/test_value_ops.py``):
the expected fix is offered at its line, every mutant is valid and unique."""

from __future__ import annotations

import ast
import difflib
import textwrap

from harness.generators.mutations import OPERATOR_PRIORS, Mutant, mutants_at


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def changed_lines(old: str, new: str) -> set[int]:
    """1-based lines of ``old`` that were replaced or deleted, plus the line
    before which lines were inserted."""
    out: set[int] = set()
    sm = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    for tag, i1, i2, _, _ in sm.get_opcodes():
        if tag == "insert":
            out.add(i1 + 1)
        elif tag != "equal":
            out.update(range(i1 + 1, i2 + 1))
    return out


def find(mutants: list[Mutant], expected: str) -> Mutant:
    for m in mutants:
        if m.new_source == expected:
            return m
    shown = "\n".join(f"{m.operator}: {m.description}" for m in mutants)
    raise AssertionError(f"no mutant gives the expected source; got:\n{shown}")


def check_fix(source: str, line: int, old: str, new: str, operator: str | None = None) -> Mutant:
    """The mutant that turns ``old`` into ``new`` on ``line`` is offered for that
    line, touches only that line, and keeps the rest byte-identical."""
    lines = source.splitlines(keepends=True)
    assert old in lines[line - 1], (old, lines[line - 1])
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    expected = "".join(lines)
    mutants = mutants_at("pkg/mod.py", source, [line])
    m = find(mutants, expected)
    if operator:
        assert m.operator == operator, m
    assert m.path == "pkg/mod.py"
    assert m.line == line
    assert changed_lines(source, m.new_source) == {line}
    assert f"line {line}" in m.description
    return m


def check_all(source: str, mutants: list[Mutant]) -> None:
    """Every mutant parses, differs, is unique, and has a known operator."""
    seen = set()
    for m in mutants:
        ast.parse(m.new_source)
        assert m.new_source != source
        assert m.new_source not in seen, m
        seen.add(m.new_source)
        assert m.operator in OPERATOR_PRIORS


# -- fixes for common one-line bugs -------------------------------------------------

CLAMP = src('''
    # clamp negative values to zero
    def clamp(x):
        # boundary: zero itself must be clamped too
        if x < 0:  # the bug: should be <=
            return 0
        return x
''')

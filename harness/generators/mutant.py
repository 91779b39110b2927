"""The candidate of the offline repairer: one text splice of one file (:class:`Mutant`).

The lowest module of the repairer: :mod:`harness.generators.mutations` (AST operators)
and :mod:`harness.generators.syntax_fix` (token edits for a file that does not parse)
both build :class:`Mutant` objects; neither imports the other's caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mutant:
    """One candidate fix: ``source[start:end]`` replaced by ``replacement``.

    Attributes:
        operator: operator id, a key of :data:`OPERATOR_PRIORS`.
        path: repo-relative POSIX path, passed through from the caller.
        line: 1-based start line of the mutated node (or statement).
        description: human readable, e.g. ``"line 12: `<` -> `<=`"``.
        source: the original file text (shared by every mutant of the file, not copied).
        start, end: character offsets of the replaced span; replacement: its new text.
        key: equal for mutants whose new texts are equal (common prefix length,
            common suffix length, middle), cheap to hash.

    The new file text is built on demand (:attr:`new_source`): a search may hold
    thousands of mutants of one large module and build only the few it hands out.
    """

    operator: str
    path: str
    line: int
    description: str
    source: str = field(repr=False, compare=False)
    start: int = 0
    end: int = 0
    replacement: str = ""
    key: tuple = field(default=(), repr=False)

    @property
    def new_source(self) -> str:
        """The full new file text."""
        return self.source[: self.start] + self.replacement + self.source[self.end :]


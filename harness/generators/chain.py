"""Chained generators: try the cheap one first, escalate when it gives up.

``templates,anthropic:MODEL`` runs the free offline repairer until it has no
candidate left (or has had ``escalate_after`` iterations), then hands the task
to the model. Routing by cost is part of the loop (``docs/design.md``, Generators).
"""

from __future__ import annotations

from harness.core.context import Context
from harness.core.protocols import Generator, Proposal, Usage


class ChainGenerator(Generator):
    """Generators tried in order.

    Args:
        generators: the chain, cheapest first.
        escalate_after: iterations each generator gets before the next takes over
            (``None``: only when it has nothing left); the last one keeps going.

    Attributes:
        name: the members' names joined by ``,``. current: the active member.
    """

    def __init__(self, generators: list[Generator], escalate_after: int | None = 3):
        if not generators:
            raise ValueError("a chain needs at least one generator")
        self.generators = generators
        self.escalate_after = escalate_after
        self.name = ",".join(g.name for g in generators)
        self._index = 0
        self._used = 0

    @property
    def current(self) -> Generator:
        """The generator now in charge."""
        return self.generators[self._index]

    def generate(self, context: Context) -> Proposal:
        """Ask the current generator; escalate when it is exhausted, blocked or out of turns."""
        notes: list[str] = []
        usage = Usage()
        while True:
            last = self._index == len(self.generators) - 1
            if not last and self.escalate_after is not None and self._used >= self.escalate_after:
                notes.append(self._escalate(f"{self.escalate_after} iterations without a full fix"))
                continue
            proposal = self.current.generate(context)
            usage.add(proposal.usage)
            self._used += 1
            gave_up = proposal.blocked or (not proposal.candidates and not proposal.notes)
            if gave_up and not last:
                notes.append(self._escalate(proposal.blocked or "no candidates left"))
                continue
            proposal.notes = notes + proposal.notes
            proposal.usage = usage
            return proposal

    def estimate(self, context: Context | None = None) -> Usage:
        """The active generator's estimate of its next call (zero for offline ones)."""
        return self.current.estimate(context)

    def reset(self) -> None:
        """A new task: every member forgets its conversation; the chain starts over."""
        for g in self.generators:
            g.reset()
        self._index, self._used = 0, 0

    def _escalate(self, why: str) -> str:
        before = self.current.name
        self._index += 1
        self._used = 0
        return f"escalating from {before} to {self.current.name}: {why}"

"""The generator protocol and its data (:mod:`harness.core.protocols`), where generators import it from."""

from harness.core.protocols import BudgetExceeded, Generator, GeneratorError, Proposal, Usage

__all__ = ["BudgetExceeded", "Generator", "GeneratorError", "Proposal", "Usage"]

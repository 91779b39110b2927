"""The generator protocol and its data (:mod:`harness.core.protocols`), where generators import it from."""

from harness.core.protocols import Generator, Proposal, Usage

__all__ = ["Generator", "Proposal", "Usage"]

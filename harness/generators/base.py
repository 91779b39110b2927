"""The generator protocol and its data (:mod:`harness.protocols`), where generators import it from."""

from harness.protocols import Generator, Proposal, Usage

__all__ = ["Generator", "Proposal", "Usage"]

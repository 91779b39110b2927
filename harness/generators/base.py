"""The one generator protocol: ``generate(context) -> Proposal``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from harness.context import Context
from sandbox.patch import Patch


@dataclass
class Usage:
    """What a generator call cost.

    Attributes:
        input_tokens, output_tokens: tokens billed (0 for offline generators).
        cost_usd: USD, or ``None`` when the model's price is unknown.
        latency: wall seconds of the call(s).
        calls: number of model calls made.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    latency: float = 0.0
    calls: int = 0

    def add(self, other: Usage) -> None:
        """Accumulate ``other`` into this usage (unknown cost stays unknown)."""
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_usd = (
            None if self.cost_usd is None or other.cost_usd is None else self.cost_usd + other.cost_usd
        )
        self.latency += other.latency
        self.calls += other.calls


@dataclass
class Proposal:
    """A generator's answer.

    Attributes:
        candidates: patches to evaluate, best first. Empty means the generator
            has nothing (more) to offer.
        usage: what producing them cost.
        blocked: set when the generator asks for a human or lacks a needed tool;
            the text says why (the ``blocked`` stop rule).
        notes: observations to record (e.g. a malformed edit and why).
        done: for instruction and review tasks: the generator declares the work
            complete; the text summarises what was done (the ``done`` stop rule).
        answer: for a review comment that asks a question rather than requests a
            change: the reply to post; no patch is expected (the ``answered`` stop rule).
    """

    candidates: list[Patch] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    blocked: str = ""
    notes: list[str] = field(default_factory=list)
    done: str = ""
    answer: str = ""


@runtime_checkable
class Generator(Protocol):
    """Anything that turns a :class:`Context` into a :class:`Proposal`."""

    name: str

    def generate(self, context: Context) -> Proposal:
        """Propose patches for ``context``; never applies or evaluates them."""
        ...

"""The two protocols the loop is built on, in one place.

- :class:`Generator`: turns a :class:`~harness.core.context.Context` into a
  :class:`Proposal` (patches, or DONE / ANSWER / blocked). It never applies or
  evaluates a patch.
  A model call that fails beyond retrying raises :class:`GeneratorError` (or
  :class:`BudgetExceeded`); the loop stops with its ``reason``.
- :class:`Evaluator`: judges a worktree and returns a :class:`~harness.evaluators.verdict.Verdict`.
  The validator (:mod:`harness.core.validate`) runs the test evaluator
  (:class:`harness.evaluators.pytest_runner.PytestEvaluator`, which also selects and orders
  tests) and then a pipeline of :class:`Evaluator` gates (lint, types, a
  ``--check`` command) without knowing which is which.

A class that states the protocol as its base (``class TemplateGenerator(Generator)``)
inherits the default ``estimate``/``reset``/``current``; a structural match must
define them itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from harness.evaluators.verdict import Verdict
from harness.core.context import Context
from harness.core.records import StopReason
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


class GeneratorError(RuntimeError):
    """A model call failed in a way retrying will not fix; the run should stop.

    The message says what failed and what to do (fix the key, the model name, the
    base URL, or try again later). ``stop`` is True: the loop records the message as
    the stop reason. ``reason`` names the stop rule (``generator_error``); ``usage``
    is what the failed call had already cost (tokens read before it was cut), or None.
    """

    stop: bool = True
    reason: str = StopReason.GENERATOR_ERROR
    usage: Usage | None = None


class BudgetExceeded(GeneratorError):
    """A budget ran out during a model call: ``reason`` is ``max_wall_seconds`` (the stop
    rule), ``usage`` what the call cost until it was cut (or None)."""

    def __init__(self, reason: str, message: str, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.usage = usage


@runtime_checkable
class Generator(Protocol):
    """Anything that turns a :class:`Context` into a :class:`Proposal`.

    Attributes:
        name: ``templates``, ``provider:model`` or a chain ``a,b``.
        builds_on_leads: True for a generator that searches on from partial fixes (patches
            that fix some failing tests): the loop then keeps such patches as leads for it
            instead of applying them. Default False: a partial fix is accepted as progress.
        reads_angelic: True for a generator that reads ``Context.angelic``: the loop runs the
            angelic probe (:mod:`harness.core.angelic`, test processes) only for it.
    """

    name: str
    builds_on_leads: bool = False
    reads_angelic: bool = False

    def generate(self, context: Context) -> Proposal:
        """Propose patches for ``context``; never applies or evaluates them."""
        ...

    def estimate(self, context: Context | None = None) -> Usage:
        """An upper bound on the next :meth:`generate` call's usage (tokens, USD), without
        calling; the loop refuses to start a call the budget cannot pay. Offline: zero."""
        return Usage()

    def reset(self) -> None:
        """Forget the conversation: a new task starts (no-op for stateless generators)."""

    @property
    def current(self) -> Generator:
        """The generator actually answering (the active member of a chain; else itself)."""
        return self


@runtime_checkable
class Evaluator(Protocol):
    """A judge of a worktree that returns a :class:`Verdict`; one gate of the validator.

    Attributes:
        id: the evaluator id of the loop declaration (``lint``, ``types``, ``check``).
        MISSING: what to install when :meth:`available` is False (one line).
    """

    id: str
    MISSING: str

    def available(self) -> bool:
        """Whether the tool can run at all (installed, found on PATH)."""
        ...

    def configured(self, root: Path) -> bool:
        """Whether the repository at ``root`` asks for this evaluator (its config files)."""
        ...

    def run(self, root: Path, paths: list[str] | None = None) -> Verdict:
        """Judge the worktree ``root`` (all of it, or the repo-relative ``paths``).

        Never raises for a tool that cannot run: the verdict's ``error`` says why."""
        ...

    def close(self) -> None:
        """Stop whatever the evaluator keeps running (processes, servers)."""
        ...

"""The run records: what ``state.json`` holds per iteration and per accepted patch, what a
run spent, and the names of the reasons a run stops.

These are the typed rows of :class:`harness.core.state.RunState`. Their JSON form is the
shape ``state.json`` has had since loopwright 0.1 (:data:`STATE_VERSION` 1): a key that is
optional there (the protection figures of a patch validated without coverage) is left out
when unknown rather than written as ``null``, so old and new files read alike.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

#: The version of ``state.json``'s shape (written as ``"version"``; a file without it is 1).
STATE_VERSION = 1


class StopReason(enum.StrEnum):
    """Why a run (or one task of a ``do``/``review`` run) stopped: the ``stop_reason`` of
    ``state.json``, ``--json`` and the trajectory's ``stop`` step.

    The names of the LSS 1.0 failure types are kept where one exists (``max_iterations``,
    ``evaluator_error``, ``human_rejected``); ``max_wall_seconds`` is LSS's ``timeout`` and
    ``max_cost_usd``/``max_tokens`` its ``cost_exceeded``, ``no_progress`` its ``stall``
    (the LSS 1.0 JSON Schema's ``$defs.FailureType``; :class:`loops.lss.FailureCondition`). A str enum: the
    JSON is the plain name. How each maps to a LES 1.0 termination reason is
    :data:`harness.core.stop.TERMINATION`.
    """

    ALL_TESTS_PASS = "all_tests_pass"  # the goal: every failing test passes
    DONE = "done"  # the generator says the instruction or comment is carried out
    ANSWERED = "answered"  # the generator answered a question: nothing to change
    MAX_ITERATIONS = "max_iterations"
    MAX_WALL_SECONDS = "max_wall_seconds"
    MAX_COST_USD = "max_cost_usd"
    MAX_TOKENS = "max_tokens"
    NO_PROGRESS = "no_progress"
    NO_CANDIDATES_LEFT = "no_candidates_left"
    REPEATED_PATCH = "repeated_patch"
    BLOCKED = "blocked"  # the generator cannot go on (it says why)
    EVALUATOR_ERROR = "evaluator_error"  # an evaluator could not run
    EVALUATOR_FAULT = "evaluator_fault"  # an evaluator's verdicts proved wrong after validation
    VERDICT_FORGED = "verdict_forged"  # the confirmation run's canaries were wrong: the patch lied
    GENERATOR_ERROR = "generator_error"  # a model call failed in a way retrying will not fix
    HUMAN_STOPPED = "human_stopped"  # the developer stopped the run (or rejected too often)
    HUMAN_REJECTED = "human_rejected"  # the detail's prefix when the rejections rule fired
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM (the run is saved: resumable)
    BAD_INPUT = "bad_input"  # a UsageError ended the run after it started
    ERROR = "error"  # an exception ended the run, or it could not start (``--json`` of a bad input)


class Termination(enum.StrEnum):
    """LES 1.0 §4 termination reasons (the Loop Evaluation Standard's "Termination reason" diagnostic)."""

    GOAL_MET = "goal_met"
    BUDGET_EXHAUSTED = "budget_exhausted"
    HUMAN_STOP = "human_stop"
    ERROR = "error"


#: One line of ``trajectory.jsonl`` as read back: ``{"step", "time", "action", ...}`` with the
#: action's own keys (``generate``, ``evaluate``, ``accept``, ``review``, ``repeat``, ``stop``,
#: ``baseline``, ``confirm``, ``task``, ``finish``). Free-form JSON on purpose: the trajectory is
#: an append-only log that readers (resume, evals) take field by field, tolerating unknown keys.
TrajectoryStep = dict[str, Any]


@dataclass
class Spent:
    """What a run has spent: tokens, USD (None = unknown price), wall seconds, model calls,
    and ``test_seconds``: wall seconds during which at least one test process ran."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    wall_seconds: float = 0.0
    test_seconds: float = 0.0
    model_calls: int = 0

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


@dataclass
class IterationRecord:
    """One iteration of the loop (``state.json``'s ``history``).

    Attributes:
        iteration: its number, from 1. generator: the generator that answered (a chain's
            current member; empty in states older than chains).
        failing: failing tests after it. accepted: a patch was accepted in it.
        lead: a new partial fix was kept as a lead (progress for ``no_progress``).
    """

    iteration: int
    failing: int
    accepted: bool
    generator: str = ""
    lead: bool = False

    def to_json(self) -> dict[str, Any]:
        """The JSON object, keys in the order ``state.json`` has them."""
        return {"iteration": self.iteration, "generator": self.generator, "failing": self.failing,
                "accepted": self.accepted, "lead": self.lead}


@dataclass
class ChangedLine:
    """A line an accepted patch changes and how many baseline-passing tests execute it."""

    path: str
    line: int
    passing_tests: int


@dataclass
class AcceptedPatch:
    """An accepted patch (``state.json``'s ``accepted``), in the order they were applied.

    Attributes:
        description: one line. diff: the unified diff (against the tree it was applied to).
        fixed: failing test ids it made pass. files: repo-relative paths it changes.
        meta: what the generator says of it (``generator``, ``operator``, ``path``, ``line``,
            ``score``, ``sites``...; free-form, from :attr:`sandbox.patch.Patch.meta`).
        plausible_patches: how many plausible patches it was chosen among (0: not compared).
        alternatives: the descriptions of the others.
        protected_by_tests, unprotected, changed_lines: what the baseline's passing tests
            say of the changed lines (:class:`harness.core.evidence.Protection`); None when
            not measured (a task without coverage), and then absent from the JSON.
        suspect: why the patch may only fool the tests (:mod:`harness.core.overfit`); '' when
            no check found a reason, and then absent from the JSON.
    """

    description: str
    diff: str
    fixed: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    plausible_patches: int = 0
    alternatives: list[str] = field(default_factory=list)
    protected_by_tests: int | None = None
    unprotected: bool | None = None
    changed_lines: list[ChangedLine] | None = None
    suspect: str = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON object; the protection keys only when measured, ``suspect`` only when set."""
        out = asdict(self)
        for key in ("protected_by_tests", "unprotected", "changed_lines"):
            if out[key] is None:
                del out[key]
        if not out["suspect"]:
            del out["suspect"]
        return out

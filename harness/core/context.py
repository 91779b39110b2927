"""What a generator is shown: the task, ranked suspicious locations, snippets, lessons."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.core.task import Task


@dataclass(frozen=True)
class SuspiciousLocation:
    """A ranked fault-localization result: a line and its suspiciousness in [0, 1]."""

    path: str
    line: int
    score: float


@dataclass(frozen=True)
class Attempt:
    """A previously evaluated patch and why it was rejected (or accepted)."""

    digest: str
    description: str
    accepted: bool
    reason: str
    diff: str = ""
    viable: bool = False  # fixed some failing tests without regressions (maybe not chosen)
    fixed: tuple[str, ...] = ()  # the failing test ids it fixed
    # verified progress (stage ``progress``: fixes none, breaks none, moves a failure forward):
    # harness.core.progress.rank, (failing tests moved, lines gained); (0, 0) for none
    progress: tuple[int, int] = (0, 0)
    reached: tuple[tuple[str, int], ...] = ()  # (path, line) its moved tests newly run
    changed: bool | None = None  # did it change what a failing test sees (None: no failing test ran)


@dataclass(frozen=True)
class AngelicFact:
    """A condition the angelic probe found (:mod:`harness.core.angelic`): forcing the statement at
    ``path``:``line`` made ``fixed`` failing tests pass, and each of ``exprs`` (best first, Python
    expressions over names in scope there) takes the values that forcing needed.

    ``kind``: ``"and"`` (the ``if``'s test ``C`` should be ``C and Q``), ``"or"`` (``C or Q``),
    ``"guard"`` (the simple statement ``S`` should be ``if Q: S``), ``"exit"`` (a new
    ``if Q: EXIT`` before the statement, ``exit`` its text: ``continue``, ``return out``)."""

    path: str
    line: int
    kind: str
    exprs: tuple[str, ...]
    fixed: int
    exit: str = ""
    test: str = ""  # the condition C of "and"/"or", as written (empty: the if statement's test at line)
    support: int = 0  # evaluations of passing runs that constrained the expressions (0: unsupported)


@dataclass
class Context:
    """Everything a generator may use to propose a patch.

    Attributes:
        root: the worktree the patch will apply to (read-only for generators).
        task: the work.
        locations: suspicious lines, most suspicious first.
        protected: glob patterns of paths a patch must not touch (tests, configs).
        lessons: relevant lessons from ``.loopwright/lessons.md`` (text).
        conventions: the repository's AGENTS.md, if any.
        attempts: prior attempts in this run, oldest first.
        iteration: 1-based iteration number.
        deadline: ``time.monotonic()`` by which a model call must have ended (the run's
            ``--max-seconds``), or None. tokens_left: model tokens (input + output) the
            run's ``--max-tokens`` leaves for the call, or None. Generators cap each
            request's timeout, retry waits and ``max_tokens`` by them.
        remembered: candidates earlier runs rejected for these failing tests on this code
            (:class:`harness.core.memory.Remembered`, newest first); a model is told them.
        angelic: conditions the angelic probe synthesized for these failing tests
            (:class:`AngelicFact`; only for a generator that reads them).
    """

    root: Path
    task: Task
    locations: list[SuspiciousLocation] = field(default_factory=list)
    protected: tuple[str, ...] = ()
    lessons: list[str] = field(default_factory=list)
    conventions: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    iteration: int = 1
    operator_priors: dict[str, float] = field(default_factory=dict)
    deadline: float | None = None
    tokens_left: int | None = None
    remembered: list = field(default_factory=list)  # memory.Remembered: earlier runs' rejections
    angelic: list[AngelicFact] = field(default_factory=list)

"""Stop rules: when a loop ends, and why; every rule of a run is here.

A rule is a small function ``rule(state, limits) -> Stop | None`` over an
:class:`Observation` (the run state plus what the loop counts as it goes) and the run's
:class:`~loops.spec.Limits`. :func:`check` asks the rules of one moment in order and
returns the first that fires: :data:`BEFORE_ITERATION` (before an iteration starts) and
:data:`BEFORE_CALL` (before a model call, on its estimated cost). The rules that fire on
an event rather than on numbers are here too, and the places that see the event ask
them: :func:`proposal_ends` (the generator's answer), :func:`developer` (the ``do``
prompt's verdict), :func:`human_rejected` (the prompt's count of rejections),
:func:`out_of_time` (the model call's deadline), :func:`evaluator_fault` (a confirmation
run that disagrees) and :func:`ended_by` (an exception).

The reasons are :class:`~harness.core.records.StopReason` (LSS 1.0 names where they
exist); :data:`TERMINATION` maps them to LES 1.0 termination reasons. The numbers come
from the loop declaration's termination conditions (:meth:`loops.spec.LoopSpec.limits`).
A patch too large for ``max_diff_lines`` is not a stop rule: the validator refuses that
candidate (policy stage) and the run goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.core.errors import UsageError
from harness.core.records import StopReason, Termination
from harness.core.state import RunState
from loops.spec import Limits


def usd(amount: float | None) -> str:
    """A USD amount with the digits it needs: ``$0.005``, ``$0.0123``, ``$1.50``, ``$12.00``
    (two decimals at least, up to six significant digits; never rounded to ``$0.01``)."""
    if amount is None:
        return "unknown"
    text = f"{amount:.6g}" if amount and abs(amount) < 1 else f"{amount:.2f}"
    if "e" in text:
        text = f"{amount:.10f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def seconds(value: float) -> str:
    """Seconds with the digits they need: ``30 s``, ``0.5 s``, ``2.25 s``."""
    return f"{value:.6g} s"


@dataclass(frozen=True)
class Stop:
    """A fired stop rule: ``reason`` is the rule's name (a :class:`StopReason`; an
    exception's type name when an exception ended the run), ``detail`` says it in words."""

    reason: str
    detail: str


@dataclass
class Observation:
    """What the stop rules read besides the limits.

    Attributes:
        run: the run so far (``remaining``, ``iteration``, ``history``, ``spent``).
        started: ``time.monotonic()`` at the start of the run (earlier sessions included).
        now: ``time.monotonic()`` now.
        fixing: a fix loop (``all_tests_pass`` applies); False for instruction and review
            tasks, which end with the generator's ``done``.
        evaluator_errors: evaluations in a row where an evaluator could not run;
            ``last_error``: the latest reason (shown in the detail).
        cannot_run: set when an evaluator cannot run at all (the rule fires at once with it).
        repeats: proposals in a row that held only already-tried patches.
        next_usd, next_tokens: the estimated cost of the next model call (USD, None:
            unknown price; tokens in + out), for :data:`BEFORE_CALL`.
    """

    run: RunState
    started: float
    now: float
    fixing: bool = True
    evaluator_errors: int = 0
    last_error: str = ""
    cannot_run: str = ""
    repeats: int = 0
    next_usd: float | None = None
    next_tokens: int = 0


Rule = Callable[[Observation, Limits], "Stop | None"]


def all_tests_pass(state: Observation, limits: Limits) -> Stop | None:
    """The goal of a fix loop: no failing test remains."""
    if state.fixing and not state.run.remaining:
        return Stop(StopReason.ALL_TESTS_PASS, "every test that failed at the start passes now")
    return None


def max_iterations(state: Observation, limits: Limits) -> Stop | None:
    """``limits.max_iterations`` iterations done."""
    if limits.max_iterations is not None and state.run.iteration >= limits.max_iterations:
        return Stop(StopReason.MAX_ITERATIONS, f"reached the limit of {limits.max_iterations} iterations")
    return None


def max_wall_seconds(state: Observation, limits: Limits) -> Stop | None:
    """``limits.max_wall_seconds`` seconds since the run started."""
    if limits.max_wall_seconds is not None and state.now - state.started >= limits.max_wall_seconds:
        return Stop(StopReason.MAX_WALL_SECONDS, f"ran out of time ({seconds(limits.max_wall_seconds)})")
    return None


def max_cost_usd(state: Observation, limits: Limits) -> Stop | None:
    """``limits.max_cost_usd`` USD spent (an unknown price counts as nothing spent)."""
    spent = state.run.spent
    if limits.max_cost_usd is not None and (spent.cost_usd or 0.0) >= limits.max_cost_usd:
        return Stop(StopReason.MAX_COST_USD, f"spent {usd(spent.cost_usd)} of {usd(limits.max_cost_usd)}")
    return None


def max_tokens(state: Observation, limits: Limits) -> Stop | None:
    """``limits.max_tokens`` model tokens (in + out) used."""
    spent = state.run.spent
    if limits.max_tokens is not None and spent.tokens >= limits.max_tokens:
        return Stop(StopReason.MAX_TOKENS, f"used {spent.tokens} of {limits.max_tokens} tokens")
    return None


def evaluator_cannot_run(state: Observation, limits: Limits) -> Stop | None:
    """An evaluator cannot run at all (a worktree slot cannot run the baseline's tests)."""
    return Stop(StopReason.EVALUATOR_ERROR, state.cannot_run) if state.cannot_run else None


def evaluator_errors(state: Observation, limits: Limits) -> Stop | None:
    """``limits.evaluator_error`` evaluations in a row where an evaluator could not run."""
    n = state.evaluator_errors
    if limits.evaluator_error is not None and n >= limits.evaluator_error:
        return Stop(StopReason.EVALUATOR_ERROR, f"an evaluator failed to run {n} times in a row"
                    + (f"; the last time: {state.last_error}" if state.last_error else ""))
    return None


def repeated_patch(state: Observation, limits: Limits) -> Stop | None:
    """``limits.repeated_patch`` proposals in a row held only patches already tried (thrashing)."""
    if limits.repeated_patch is not None and state.repeats >= limits.repeated_patch:
        return Stop(StopReason.REPEATED_PATCH, f"the generator proposed only patches already tried, "
                    f"{state.repeats} times in a row (thrashing)")
    return None


def no_progress(state: Observation, limits: Limits) -> Stop | None:
    """LSS 1.0's ``stall`` with ``min_improvement`` 1: ``limits.no_progress`` iterations in a
    row without one more test fixed (a new partial fix kept as a lead counts as progress).
    Only the trailing iterations of the generator now answering count: a chain that
    escalated to the next generator gives it a fresh window."""
    k, history = limits.no_progress, state.run.history
    gen = history[-1].generator if history else None
    tail = []
    for h in reversed(history):
        if h.generator != gen:
            break
        tail.append(h)
    if k is not None and len(tail) >= k and not any(h.accepted or h.lead for h in tail[:k]):
        return Stop(StopReason.NO_PROGRESS, f"{k} iterations in a row without fixing another test")
    return None


def next_call_cost(state: Observation, limits: Limits) -> Stop | None:
    """The next model call's estimated USD would cross ``limits.max_cost_usd``."""
    spent = state.run.spent.cost_usd or 0.0
    if limits.max_cost_usd is not None and state.next_usd is not None and \
            spent + state.next_usd > limits.max_cost_usd:
        return Stop(StopReason.MAX_COST_USD, f"the next call (≈{usd(state.next_usd)}) would exceed the "
                    f"{usd(limits.max_cost_usd)} budget (spent {usd(spent)})")
    return None


def next_call_tokens(state: Observation, limits: Limits) -> Stop | None:
    """The next model call's estimated tokens would cross ``limits.max_tokens``."""
    used = state.run.spent.tokens
    if limits.max_tokens is not None and used + state.next_tokens > limits.max_tokens:
        return Stop(StopReason.MAX_TOKENS, f"the next call (≈{state.next_tokens} tokens) would exceed the "
                    f"{limits.max_tokens}-token budget (used {used})")
    return None


#: The rules asked before an iteration starts, in order (the first that fires wins).
BEFORE_ITERATION: tuple[Rule, ...] = (all_tests_pass, max_iterations, max_wall_seconds, max_cost_usd,
                                      max_tokens, evaluator_cannot_run, evaluator_errors, repeated_patch,
                                      no_progress)
#: The rules asked before a model call is started, on its estimated cost.
BEFORE_CALL: tuple[Rule, ...] = (next_call_cost, next_call_tokens)


def check(state: Observation, limits: Limits, rules: Sequence[Rule] = BEFORE_ITERATION) -> Stop | None:
    """The first of ``rules`` that fires for ``state`` under ``limits``, or None to go on."""
    for rule in rules:
        stop = rule(state, limits)
        if stop is not None:
            return stop
    return None


def proposal_ends(blocked: str, answer: str, done: str, has_candidates: bool) -> Stop | None:
    """What a generator's answer (:class:`~harness.core.protocols.Proposal`) ends: ``blocked``
    (it cannot go on), ``answered`` (a question answered), ``done`` (the task carried out),
    ``no_candidates_left`` (nothing untried and no notes); None: evaluate its candidates."""
    if blocked:
        return Stop(StopReason.BLOCKED, blocked)
    if answer:
        return Stop(StopReason.ANSWERED, answer)
    if done:
        return Stop(StopReason.DONE, done)
    if not has_candidates:
        return Stop(StopReason.NO_CANDIDATES_LEFT, "the generator has no untried candidate left")
    return None


def developer(verdict: str, why: str) -> Stop | None:
    """The ``do`` prompt's verdict on a patch (``approve``, ``reject`` or ``stop``): ``stop``
    ends the run (``human_stopped``); None otherwise."""
    if verdict == "stop":
        return Stop(StopReason.HUMAN_STOPPED, why or "the developer stopped the run")
    return None


def human_rejected(rejections: int, max_rejections: int | None, last: str) -> Stop | None:
    """The loop declaration's ``human_rejected`` failure rule: ``max_rejections`` patches in a
    row rejected by the developer (None or 0: no limit). It stops the run as the developer
    stopping it (``human_stopped``), the detail naming the rule."""
    if max_rejections and rejections >= max_rejections:
        return Stop(StopReason.HUMAN_STOPPED, f"{StopReason.HUMAN_REJECTED}: {rejections} patches in a row "
                    f"rejected; last: {last}")
    return None


def out_of_time(deadline: float | None, detail: str, now: float | None = None) -> Stop | None:
    """The run's wall-clock budget seen from inside a model call: past ``deadline``
    (``time.monotonic()`` seconds; None: no deadline) it is ``max_wall_seconds``, with ``detail``."""
    now = time.monotonic() if now is None else now
    return time_is_up(detail) if deadline is not None and now >= deadline else None


def time_is_up(detail: str) -> Stop:
    """The run's wall-clock budget ran out (``max_wall_seconds``), as seen by whoever holds the
    deadline (a model call's retry policy that gave up for it), with ``detail``."""
    return Stop(StopReason.MAX_WALL_SECONDS, detail)


def evaluator_fault(problem: str) -> Stop:
    """After validation the evaluators' verdicts proved wrong (a fresh confirmation run
    disagrees, or the repository's ``.git`` changed): the run ends in ``error``, nothing
    is committed or applied."""
    return Stop(StopReason.EVALUATOR_FAULT, problem)


def ended_by(exc: BaseException) -> tuple[str, Stop]:
    """``(status, stop)`` of a run that ``exc`` ended: Ctrl-C (or a SIGTERM raised as a
    ``KeyboardInterrupt`` subclass whose text says so) is ``interrupted``, a
    :class:`~harness.core.errors.UsageError` is ``bad_input`` (status ``error``), anything else
    an ``error`` named by its type; the detail is at most 500 characters."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", Stop(StopReason.INTERRUPTED, (str(exc) or "interrupted (Ctrl-C)")[:500])
    if isinstance(exc, UsageError):
        return "error", Stop(StopReason.BAD_INPUT, f"bad input: {exc}"[:500])
    return "error", Stop(StopReason.ERROR, f"{type(exc).__name__}: {exc}"[:500])


#: stop reasons whose name is not yet a phrase (older states, or an error's type)
_WORDS = {"KeyboardInterrupt": "interrupted (Ctrl-C)", "UsageError": "bad input",
          StopReason.ALL_TESTS_PASS: "all tests pass", StopReason.NO_PROGRESS: "no progress"}


def reason_words(reason: str, detail: str = "") -> str:
    """A stop reason as words, for the summary and ``status``: ``interrupted (Ctrl-C)``,
    ``bad input: <message>``, ``max iterations`` (the recorded name with spaces), ``""`` for
    none. ``KeyboardInterrupt``/``UsageError`` are how states before 0.1 recorded them."""
    if reason in (StopReason.INTERRUPTED, "KeyboardInterrupt"):
        first = detail.split("; resume with")[0].strip()
        return first if first.startswith(("interrupted", "terminated")) else "interrupted (Ctrl-C)"
    if reason in (StopReason.BAD_INPUT, "UsageError"):
        return detail if detail.startswith("bad input") else f"bad input: {detail}".rstrip(": ")
    return _WORDS.get(reason, reason.replace("_", " "))


def is_fault(reason: str) -> bool:
    """The run ended in an evaluator fault: its verdicts are not to be trusted (nothing
    is committed, applied or approved)."""
    return reason in (StopReason.EVALUATOR_FAULT, StopReason.VERDICT_FORGED)


def task_status(reason: str) -> str:
    """How a task (instruction or review comment) ended: ``done``, ``answered`` or ``not_done``."""
    ended: dict[str, str] = {StopReason.DONE: "done", StopReason.ANSWERED: "answered"}
    return ended.get(reason, "not_done")


#: stop reason -> LES 1.0 §4 termination reason (a reason not listed is ``error``).
TERMINATION: dict[str, Termination] = {
    StopReason.ALL_TESTS_PASS: Termination.GOAL_MET, StopReason.DONE: Termination.GOAL_MET,
    StopReason.ANSWERED: Termination.GOAL_MET,
    StopReason.MAX_ITERATIONS: Termination.BUDGET_EXHAUSTED,
    StopReason.MAX_WALL_SECONDS: Termination.BUDGET_EXHAUSTED,
    StopReason.MAX_COST_USD: Termination.BUDGET_EXHAUSTED, StopReason.MAX_TOKENS: Termination.BUDGET_EXHAUSTED,
    StopReason.NO_PROGRESS: Termination.BUDGET_EXHAUSTED,
    StopReason.NO_CANDIDATES_LEFT: Termination.BUDGET_EXHAUSTED,
    StopReason.REPEATED_PATCH: Termination.BUDGET_EXHAUSTED, StopReason.HUMAN_STOPPED: Termination.HUMAN_STOP,
}


def termination(reason: str) -> str:
    """The LES 1.0 termination reason of stop reason ``reason`` ("" when there is none)."""
    return TERMINATION.get(reason, Termination.ERROR if reason else "")

"""Stop rules: when a loop ends, and why.

Each rule is checked before an iteration starts (``decide``); the first that
fires ends the run and its name is recorded as ``stop_reason``. Names follow
DESIGN.md; the LSS 1.0 termination conditions of the loop declaration set the
numbers (see :meth:`loops.spec.LoopSpec.limits`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness.core.state import RunState


@dataclass(frozen=True)
class StopLimits:
    """Numbers for the stop rules; ``None`` disables a rule.

    Attributes:
        max_iterations: generator calls (iterations).
        max_wall_seconds: seconds since the run started.
        no_progress: iterations in a row without fewer failing tests.
        max_cost_usd: USD spent on model calls.
        max_tokens: model tokens (input + output).
        evaluator_error: evaluations in a row where an evaluator could not run.
        repeated_patch: times in a row the generator proposed only patches already tried.
    """

    max_iterations: int | None = 30
    max_wall_seconds: float | None = 600.0
    no_progress: int | None = 8
    max_cost_usd: float | None = None
    max_tokens: int | None = None
    evaluator_error: int | None = 3
    repeated_patch: int | None = 2


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
    """A fired stop rule: ``reason`` is the rule's name, ``detail`` says it in words."""

    reason: str
    detail: str


def check(state: RunState, limits: StopLimits, started: float, now: float | None = None,
          evaluator_errors: int = 0, repeats: int = 0, fixing: bool = True,
          evaluator_fault: str = "", last_error: str = "") -> Stop | None:
    """The first stop rule that fires for ``state``, or None to go on.

    ``no_progress`` is LSS 1.0's ``stall`` condition with ``min_improvement`` 1:
    ``window_iterations`` iterations in a row without one more test fixed (a new
    partial fix kept as a lead counts as progress).

    Args:
        state: the run so far (``remaining``, ``iteration``, ``history``, ``spent``).
        limits: the numbers.
        started: ``time.monotonic()`` at the start of the run.
        evaluator_errors: evaluations in a row where an evaluator could not run;
            ``last_error`` is the latest reason (shown in the detail).
        evaluator_fault: an evaluator cannot run at all (fires at once, with this text).
        repeats: proposals in a row that held only already-tried patches.
        fixing: a fix loop (``all_tests_pass`` applies); False for instruction and
            review tasks, which end with the generator's ``done``.
    """
    now = time.monotonic() if now is None else now
    if fixing and not state.remaining:
        return Stop("all_tests_pass", "every test that failed at the start passes now")
    if limits.max_iterations is not None and state.iteration >= limits.max_iterations:
        return Stop("max_iterations", f"reached the limit of {limits.max_iterations} iterations")
    if limits.max_wall_seconds is not None and now - started >= limits.max_wall_seconds:
        return Stop("max_wall_seconds", f"ran out of time ({seconds(limits.max_wall_seconds)})")
    spent = state.spent
    if limits.max_cost_usd is not None and (spent.cost_usd or 0.0) >= limits.max_cost_usd:
        return Stop("max_cost_usd", f"spent {usd(spent.cost_usd)} of {usd(limits.max_cost_usd)}")
    if limits.max_tokens is not None and spent.tokens >= limits.max_tokens:
        return Stop("max_tokens", f"used {spent.tokens} of {limits.max_tokens} tokens")
    if evaluator_fault:
        return Stop("evaluator_error", evaluator_fault)
    if limits.evaluator_error is not None and evaluator_errors >= limits.evaluator_error:
        return Stop("evaluator_error", f"an evaluator failed to run {evaluator_errors} times in a row"
                    + (f"; the last time: {last_error}" if last_error else ""))
    if limits.repeated_patch is not None and repeats >= limits.repeated_patch:
        return Stop("repeated_patch", f"the generator proposed only patches already tried, "
                    f"{repeats} times in a row (thrashing)")
    k = limits.no_progress
    # only the trailing iterations of the generator now answering count: a chain that
    # escalated to the next generator gives it a fresh window
    gen = state.history[-1].get("generator") if state.history else None
    tail = []
    for h in reversed(state.history):
        if h.get("generator") != gen:
            break
        tail.append(h)
    if k is not None and len(tail) >= k and not any(h["accepted"] or h.get("lead") for h in tail[:k]):
        return Stop("no_progress", f"{k} iterations in a row without fixing another test")
    return None


def would_exceed(spent_usd: float | None, spent_tokens: int, next_usd: float | None,
                 next_tokens: int, limits: StopLimits) -> Stop | None:
    """Refuse a model call whose estimated cost would cross a budget (checked before the call)."""
    if limits.max_cost_usd is not None and next_usd is not None and \
            (spent_usd or 0.0) + next_usd > limits.max_cost_usd:
        return Stop("max_cost_usd", f"the next call (≈{usd(next_usd)}) would exceed the "
                    f"{usd(limits.max_cost_usd)} budget (spent {usd(spent_usd or 0.0)})")
    if limits.max_tokens is not None and spent_tokens + next_tokens > limits.max_tokens:
        return Stop("max_tokens", f"the next call (≈{next_tokens} tokens) would exceed the "
                    f"{limits.max_tokens}-token budget (used {spent_tokens})")
    return None

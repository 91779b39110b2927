"""Retry policy for model calls: which failures are transient and how long to wait.

:class:`~harness.generators.llm.LLMGenerator` retries a :class:`TransientError` (429,
5xx, timeouts, connection errors) with tenacity's stock strategies, built by
:func:`retrying`: ``wait_random_exponential`` backoff (or the server's ``Retry-After``,
:func:`parse_retry_after`, up to a cap), and ``stop_after_attempt`` |
``stop_before_delay`` stops. ``stop_before_delay`` is given the smaller of the
policy's wait budget and the time the run has left, so a retry whose wait would
end after the run's ``--max-seconds`` deadline is not made.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import tenacity


class TransientError(Exception):
    """A failure worth retrying (429, 5xx, timeout, connection); ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried.

    Attributes:
        attempts: total attempts per model call, the first included.
        max_wait: seconds of waiting allowed across all retries of one call; a retry
            whose wait would exceed it is not made (time spent in requests does not count:
            the run's deadline bounds that).
        initial: seconds of the backoff multiplier (the n-th wait is drawn uniformly
            from ``[0, min(max_backoff, initial * 2**n)]``: tenacity's
            ``wait_random_exponential``, "full jitter" from the AWS Architecture Blog,
            *Exponential Backoff And Jitter*, 2015).
        max_backoff: cap in seconds on one backoff wait.
        retry_after_cap: cap in seconds on a server's ``Retry-After``/``retry-after-ms``.
    """

    attempts: int = 4
    max_wait: float = 60.0
    initial: float = 1.0
    max_backoff: float = 20.0
    retry_after_cap: float = 30.0


class wait_retry_after(tenacity.wait.wait_base):  # noqa: N801 - named like tenacity's strategies
    """Wait what the server asked for (``TransientError.retry_after``, capped at ``cap``
    seconds), else what ``fallback`` says."""

    def __init__(self, cap: float, fallback: tenacity.wait.wait_base) -> None:
        self.cap = cap
        self.fallback = fallback

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        hint = getattr(exc, "retry_after", None)
        return min(hint, self.cap) if hint is not None else self.fallback(retry_state)


class stop_when_waits_exceed(tenacity.stop.stop_base):  # noqa: N801 - named like tenacity's strategies
    """Stop when the waits so far plus the next one would exceed ``max_wait`` seconds
    (``idle_for + upcoming_sleep``; time spent in attempts does not count)."""

    def __init__(self, max_wait: float) -> None:
        self.max_wait = max_wait

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return retry_state.idle_for + (retry_state.upcoming_sleep or 0.0) > self.max_wait


class stop_at_deadline(tenacity.stop.stop_before_delay):  # noqa: N801 - named like tenacity's strategies
    """tenacity's ``stop_before_delay`` (no retry whose wait would end past ``max_delay``
    seconds after the first attempt) that remembers whether it fired: ``fired`` tells a
    call ended by the run's deadline from one that exhausted its retry policy."""

    def __init__(self, max_delay: float) -> None:
        super().__init__(max_delay)
        self.fired = False

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        hit = super().__call__(retry_state)
        self.fired = self.fired or hit
        return hit


def deadline_fired(retrying_: tenacity.Retrying) -> bool:
    """Whether the run's deadline (not attempts or the wait budget) stopped ``retrying_``."""
    return any(isinstance(s, stop_at_deadline) and s.fired for s in getattr(retrying_.stop, "stops", ()))


def retrying(policy: RetryPolicy, time_left: float | None, sleep: Callable[[float], None],
             before_sleep: Callable[[tenacity.RetryCallState], None]) -> tenacity.Retrying:
    """A tenacity ``Retrying`` for one model call under ``policy``.

    Args:
        policy: attempts, wait budget, backoff and Retry-After cap.
        time_left: seconds the run has left (``--max-seconds``), or None for no deadline;
            waits never run past it.
        sleep: how to wait (``time.sleep``; tests pass a recorder).
        before_sleep: called before each wait (``retry_state.upcoming_sleep`` is the wait).
    """
    backoff = tenacity.wait_random_exponential(multiplier=policy.initial, max=policy.max_backoff)
    stop = tenacity.stop_after_attempt(policy.attempts) | stop_when_waits_exceed(policy.max_wait)
    if time_left is not None:  # the run's deadline: real time, attempts included
        stop = stop | stop_at_deadline(max(time_left, 0.0))
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientError),
        wait=wait_retry_after(policy.retry_after_cap, backoff),
        stop=stop,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a server asked to wait: ``retry-after-ms``, else ``retry-after`` (seconds or
    an HTTP date); None if absent or unreadable."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return _finite(float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return _finite(float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        return max(when.timestamp() - time.time(), 0.0)


def _finite(seconds: float) -> float | None:
    """``seconds`` clamped at 0; None for NaN (an unreadable hint); inf stays inf (the cap applies)."""
    return None if seconds != seconds else max(seconds, 0.0)

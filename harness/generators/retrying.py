"""Retry policy for model calls: which failures are transient and how long to wait.

:class:`~harness.generators.llm.LLMGenerator` retries a :class:`TransientError` (429,
5xx, timeouts, connection errors) under a :class:`RetryPolicy`, honouring a server's
``Retry-After`` (:func:`parse_retry_after`) up to a cap.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass


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
            whose wait would exceed it is not made.
        initial: seconds of the first backoff step (doubles each retry, with jitter).
        max_backoff: cap in seconds on one backoff wait.
        retry_after_cap: cap in seconds on a server's ``Retry-After``/``retry-after-ms``.
    """

    attempts: int = 4
    max_wait: float = 60.0
    initial: float = 1.0
    max_backoff: float = 20.0
    retry_after_cap: float = 30.0


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a server asked to wait: ``retry-after-ms``, else ``retry-after`` (seconds or
    an HTTP date); None if absent or unreadable."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(when.timestamp() - time.time(), 0.0)

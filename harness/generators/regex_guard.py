"""A time limit on regular-expression work in the generator (issue 21).

The data-driven regex repair (:mod:`.regex_ops`, :mod:`.regex_more`) matches edited patterns
against the tests' strings. An edit can make a pattern backtrack exponentially on one of
them (``(?:a?)*b`` on ``"aaaa...c"``, the "ReDoS" shape), and Python's ``re`` has no
timeout: the run hung there for the eval's whole 600 s on a real release pair
(docstring-parser 0.14.1). CPython's matcher checks for signals as it backtracks, so an
interval timer (``setitimer(ITIMER_REAL)``) whose ``SIGALRM`` handler raises
:class:`RegexTimeout` stops it. Limits nest: the earliest deadline of the open ones is the
one armed, and a block that outlives an outer deadline is stopped right after the inner one
closes.

Only in the main thread (signals are delivered there); elsewhere a limit is not enforced.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: the deadlines (``time.monotonic()`` seconds) of the open limits, outermost first.
_OPEN: list[float] = []
#: the ``SIGALRM`` handler before the outermost limit opened.
_BEFORE: list[object] = []


class RegexTimeout(Exception):
    """A regular-expression step ran past its time limit (its result is dropped)."""


def _fire(signum: int, frame: object) -> None:
    raise RegexTimeout("regular-expression step over its time limit")


def _arm() -> None:
    signal.setitimer(signal.ITIMER_REAL, max(0.001, min(_OPEN) - time.monotonic()))


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`RegexTimeout` in the block once it has run ``seconds`` (wall seconds).

    Raises:
        RegexTimeout: the block ran past this limit or an enclosing one.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if not _OPEN:
        _BEFORE.append(signal.signal(signal.SIGALRM, _fire))
    _OPEN.append(time.monotonic() + seconds)
    _arm()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)  # disarmed first: no alarm between here and the re-arm
        _OPEN.pop()
        if _OPEN:
            _arm()
        else:
            signal.signal(signal.SIGALRM, _BEFORE.pop())  # type: ignore[arg-type]  # what signal.signal gave

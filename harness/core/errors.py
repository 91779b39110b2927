"""Exit codes, the one error every command turns into exit code 2, and how an exception that
ended a run is recorded."""

EXIT_OK, EXIT_NOT_FIXED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130  # stopped with Ctrl-C or SIGTERM (the run is saved: resumable)


class UsageError(Exception):
    """Bad usage or input (exit code 2); the message says what to do."""


def ended_by(exc: BaseException) -> tuple[str, str, str]:
    """``(status, stop reason, detail in words)`` of a run that ``exc`` ended: Ctrl-C (or a
    SIGTERM raised as a ``KeyboardInterrupt`` subclass whose text says so) is ``interrupted``,
    a :class:`UsageError` is ``bad_input``, anything else an ``error`` named by its type."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", "interrupted", str(exc) or "interrupted (Ctrl-C)"
    if isinstance(exc, UsageError):
        return "error", "bad_input", f"bad input: {exc}"
    return "error", "error", f"{type(exc).__name__}: {exc}"

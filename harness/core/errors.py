"""Exit codes and the one error every command turns into exit code 2 (how an exception that
ended a run is recorded is :func:`harness.core.stop.ended_by`)."""

EXIT_OK, EXIT_NOT_FIXED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130  # stopped with Ctrl-C or SIGTERM (the run is saved: resumable)


class UsageError(Exception):
    """Bad usage or input (exit code 2); the message says what to do."""


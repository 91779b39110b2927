"""Exit codes and the one error every command turns into exit code 2."""

EXIT_OK, EXIT_NOT_FIXED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130  # ``do`` stopped with Ctrl-C (resumable)


class UsageError(Exception):
    """Bad usage or input (exit code 2); the message says what to do."""

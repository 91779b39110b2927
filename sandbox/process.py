"""The process runner: every evaluator and test process starts here.

Each process gets its own process group (so a timeout kills the children it
spawned too), a wall-clock timeout, optional CPU/memory rlimits, and an
environment with secrets removed.
"""

from __future__ import annotations

import fnmatch
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Environment variable name patterns never passed to a sandboxed process.
SECRET_PATTERNS: tuple[str, ...] = ("*_API_KEY", "*_TOKEN", "*SECRET*", "*PASSWORD*", "*_CREDENTIALS")


@dataclass(frozen=True)
class SandboxPolicy:
    """How sandboxed processes are run.

    Attributes:
        secret_patterns: ``fnmatch`` patterns (case-insensitive) of variable names removed.
        cpu_seconds: RLIMIT_CPU per process (seconds), or None.
        memory_bytes: RLIMIT_AS per process (bytes), or None.
        extra_env: variables set in every sandboxed process.
    """

    secret_patterns: tuple[str, ...] = SECRET_PATTERNS
    cpu_seconds: int | None = None
    memory_bytes: int | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default ``os.environ``) without secrets, plus ``extra_env``."""
        env = dict(os.environ if base is None else base)
        for name in list(env):
            upper = name.upper()
            if any(fnmatch.fnmatchcase(upper, p.upper()) for p in self.secret_patterns):
                del env[name]
        env.update(self.extra_env)
        return env


@dataclass
class ProcessResult:
    """A finished process.

    Attributes:
        returncode: exit status (negative: killed by that signal; None if timed out).
        stdout, stderr: decoded output (UTF-8, errors replaced), possibly truncated.
        duration: wall seconds from start to exit.
        timed_out: the wall-clock timeout fired and the process group was killed.
    """

    returncode: int | None
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False


def run(
    cmd: list[str],
    cwd: Path,
    timeout: float,
    policy: SandboxPolicy | None = None,
    env: dict[str, str] | None = None,
    max_output: int = 1_000_000,
) -> ProcessResult:
    """Run ``cmd`` in ``cwd`` in a new process group; kill the whole group after ``timeout`` seconds.

    Args:
        cmd: argv list.
        cwd: working directory.
        timeout: wall-clock limit in seconds.
        policy: environment scrubbing and rlimits (default :class:`SandboxPolicy()`).
        env: extra variables on top of the scrubbed environment.
        max_output: characters kept from each of stdout/stderr (the tail is kept).

    Raises:
        FileNotFoundError: ``cmd[0]`` does not exist.
    """
    policy = policy or SandboxPolicy()
    full_env = policy.environment()
    if env:
        full_env.update(env)
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=str(cwd),
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_limits(policy) if (policy.cpu_seconds or policy.memory_bytes) else None,
    )
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(proc.pid)
        out, err = proc.communicate()
    else:
        # Children that outlived the main process (daemons, forks) die with the group.
        kill_group(proc.pid)
    return ProcessResult(
        None if timed_out else proc.returncode,
        out.decode("utf-8", "replace")[-max_output:],
        err.decode("utf-8", "replace")[-max_output:],
        time.monotonic() - start,
        timed_out,
    )


def kill_group(pgid: int) -> None:
    """SIGKILL every process in process group ``pgid``; a gone group is not an error."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _limits(policy: SandboxPolicy):
    def apply() -> None:  # runs in the child between fork and exec
        import resource

        if policy.cpu_seconds:
            resource.setrlimit(resource.RLIMIT_CPU, (policy.cpu_seconds, policy.cpu_seconds + 5))
        if policy.memory_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (policy.memory_bytes, policy.memory_bytes))

    return apply

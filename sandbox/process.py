"""The process runner: every evaluator and test process starts here.

Each process gets its own process group (so a timeout kills the children it
spawned too), a wall-clock timeout, optional CPU/memory rlimits, and an
environment with secrets removed.
"""

from __future__ import annotations

import atexit
import fnmatch
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
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
        network: allow network access. When False, processes run in a new network
            namespace (``unshare --net``; with a user namespace when not root) where
            the kernel allows it; :func:`network_isolation` says whether it does.
        private_home: point ``HOME`` at a fresh temporary directory.
        extra_env: variables set in every sandboxed process.
    """

    secret_patterns: tuple[str, ...] = SECRET_PATTERNS
    cpu_seconds: int | None = None
    memory_bytes: int | None = None
    network: bool = True
    private_home: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default ``os.environ``) without secrets, plus ``extra_env``."""
        env = dict(os.environ if base is None else base)
        for name in list(env):
            upper = name.upper()
            if any(fnmatch.fnmatchcase(upper, p.upper()) for p in self.secret_patterns):
                del env[name]
        if self.private_home:
            # Keep `pip install --user` packages importable although HOME moves.
            env.setdefault("PYTHONUSERBASE", os.path.join(env.get("HOME", os.path.expanduser("~")), ".local"))
            env["HOME"] = _private_home()
        env.update(self.extra_env)
        return env

    def wrap(self, cmd: list[str]) -> list[str]:
        """``cmd`` prefixed with the network-namespace launcher when isolation is asked and possible.

        Inside the namespace the loopback interface is brought up first, so tests that
        talk to servers they start on 127.0.0.1 still work; nothing else is reachable.
        """
        prefix = network_isolation() if not self.network else None
        if not prefix:
            return list(cmd)
        return [*prefix, sys.executable, "-S", "-c", _LOOPBACK_UP, *cmd]

    def describe(self) -> dict:
        """The policy as shown by ``loopwright doctor``."""
        iso = network_isolation()
        return {
            "secrets removed": ", ".join(self.secret_patterns),
            "process group": "own group per process, whole group killed at timeout",
            "cpu limit": f"{self.cpu_seconds} s" if self.cpu_seconds else "none",
            "memory limit": f"{self.memory_bytes // 2**20} MiB" if self.memory_bytes else "none",
            "network": "allowed" if self.network else (
                f"blocked ({' '.join(iso)})" if iso else
                "NOT blocked: this kernel does not allow an unprivileged network namespace"),
            "HOME": "a fresh temporary directory" if self.private_home else "inherited",
        }


# Runs inside the new network namespace: IFF_UP on "lo" (SIOCGIFFLAGS/SIOCSIFFLAGS
# ioctls, netdevice(7)), then exec the real command.
_LOOPBACK_UP = """
import fcntl, os, socket, struct, sys
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
    fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))
except OSError:
    pass
os.execvp(sys.argv[1], sys.argv[1:])
"""


@functools.lru_cache(maxsize=1)
def network_isolation() -> tuple[str, ...] | None:
    """The command prefix that starts a process without network, or None if unavailable.

    Tries ``unshare --net`` (root) and ``unshare --map-root-user --net`` (unprivileged
    user namespaces), each probed once per process.
    """
    exe = shutil.which("unshare")
    if not exe:
        return None
    for prefix in ((exe, "--net", "--"), (exe, "--map-root-user", "--net", "--")):
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0:
                return prefix
        except (OSError, subprocess.TimeoutExpired):
            continue
    return None


@functools.lru_cache(maxsize=1)
def _private_home() -> str:
    home = tempfile.mkdtemp(prefix="loopwright-home-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)  # nothing of a run may remain
    return home


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
        policy.wrap(cmd),
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

"""The process runner: every evaluator and test process starts here.

Two isolation levels (:meth:`SandboxPolicy.mode`):

``strong``  the process runs under bubblewrap (:mod:`sandbox.bwrap`): read-only root,
            only the worktree and the given scratch directories writable, the
            repository's ``.git`` read-only without credentials, private ``/tmp``,
            new PID/network/IPC namespaces, dies with its parent. At the end the
            kernel kills everything left in the PID namespace.
``weak``    bwrap cannot run here (no user namespaces): the process gets its own
            process group (killed at the end), a network namespace when ``unshare``
            allows one, and a shim parent so ``getppid()`` is not loopwright; files
            outside the worktree are NOT protected. ``doctor``, the run summary and
            ``--json`` say so, and ``loopwright ci`` refuses it unless told otherwise.

Both levels pass an environment built from an allow-list (never secrets by name
pattern), apply CPU/memory rlimits with a wrapper (``prlimit`` or a tiny exec shim,
never ``preexec_fn``, which is unsafe in threads), and read the child's output with a
deadline (a ``setsid`` grandchild holding a pipe cannot hang the harness).
"""

from __future__ import annotations

import atexit
import fnmatch
import functools
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sandbox import bwrap
from sandbox.limits import EXEC_SHIM, FILE_BYTES, WEAK_SHIM, interpreter_dirs, limit_note

#: Variables passed to sandboxed processes (``fnmatch`` patterns); everything else is dropped.
ENV_ALLOW: tuple[str, ...] = (
    "PATH", "LANG", "LANGUAGE", "LC_*", "TZ", "TERM", "NO_COLOR", "USER", "LOGNAME",
    "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "PYTHONPATH", "PYTHONHASHSEED",
    "PYTHONIOENCODING", "PYTHONUTF8", "PYTHONDONTWRITEBYTECODE", "PYTHONWARNINGS",
    "PYTHONNOUSERSITE", "PYTHONUSERBASE",
)

#: The variable naming the results pipe (see :func:`run`'s ``channel``).
CHANNEL_ENV = "LOOPWRIGHT_CHANNEL_FD"

#: Seconds allowed to drain output after the main process has exited.
DRAIN_SECONDS = 2.0


@dataclass(frozen=True)
class SandboxPolicy:
    """How sandboxed processes are run.

    Attributes:
        isolation: ``auto`` (bwrap when it works, else weak; ``$LOOPWRIGHT_SANDBOX``
            may say ``strong`` or ``weak`` instead), ``strong`` (bwrap or fail) or
            ``weak`` (never bwrap).
        env_allow: ``fnmatch`` patterns of variable names passed through.
        pass_env: more names passed through (what the loop file declares).
        cpu_seconds: RLIMIT_CPU per process (seconds), or None.
        memory_bytes: RLIMIT_AS per process (bytes), or None.
        file_bytes: RLIMIT_FSIZE per process (bytes): the largest file it may write, or None.
        network: allow network access (default: loopback only, where possible).
        private_home: point ``HOME`` at an empty private directory.
        extra_env: variables set in every sandboxed process.
        git_dir: the repository's ``.git`` (bound read-only, credentials removed);
            None: found from the working directory's ``.git`` file.
    """

    isolation: str = "auto"
    env_allow: tuple[str, ...] = ENV_ALLOW
    pass_env: tuple[str, ...] = ()
    cpu_seconds: int | None = None
    memory_bytes: int | None = None
    file_bytes: int | None = FILE_BYTES
    network: bool = True
    private_home: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    git_dir: Path | None = None

    def mode(self) -> str:
        """``strong`` (bubblewrap) or ``weak`` (process group only).

        Raises:
            RuntimeError: ``isolation="strong"`` but bwrap cannot run here.
        """
        isolation = self.isolation if self.isolation != "auto" else \
            os.environ.get("LOOPWRIGHT_SANDBOX", "auto")
        if isolation == "weak":
            return "weak"
        if bwrap.available():
            return "strong"
        if isolation == "strong":
            raise RuntimeError("bwrap (bubblewrap) cannot run here: install it "
                               "(apt-get install bubblewrap) or allow user namespaces")
        return "weak"

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The allow-listed part of ``base`` (default ``os.environ``), plus ``extra_env``."""
        src = dict(os.environ if base is None else base)
        env = {k: v for k, v in src.items()
               if k in self.pass_env or any(fnmatch.fnmatchcase(k, p) for p in self.env_allow)}
        if self.private_home:
            # Keep `pip install --user` packages importable although HOME moves.
            env.setdefault("PYTHONUSERBASE", os.path.join(src.get("HOME", os.path.expanduser("~")), ".local"))
            env["HOME"] = bwrap.HOME_INSIDE if self.mode() == "strong" else _private_home()
        elif "HOME" in src:
            env["HOME"] = src["HOME"]
        if self.mode() == "strong":
            env["TMPDIR"] = "/tmp"
        env.update(self.extra_env)
        return env

    def wrap(self, cmd: list[str], cwd: Path | None = None, writable: list[Path] = (),
             readable: list[Path] = (), env: dict[str, str] | None = None,
             read_only: bool = False) -> list[str]:
        """``cmd`` as started under this policy: inside bwrap (strong) or the weak shim.

        ``env`` (the process's environment) tells which ``/tmp`` paths it needs to read
        (``PYTHONPATH`` entries, ``VIRTUAL_ENV``); ``read_only``: ``cwd`` is not writable.
        """
        limits = self._limits()
        if self.mode() == "strong":
            env = env or {}
            needs = [*readable, *(env.get("PYTHONPATH", "").split(os.pathsep)), env.get("VIRTUAL_ENV", "")]
            if cmd and os.path.isabs(cmd[0]):
                needs += interpreter_dirs(cmd[0])  # its (venv) prefix, linked or real, and base
            # loopwright's own interpreter (the last fallback target; what runs ruff and mypy, also
            # behind a wrapper script) is readable wherever it lives, even under a hidden $HOME
            needs += [Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent.parent]
            if "PYTHONNOUSERSITE" not in env:
                needs.append(Path(env.get("PYTHONUSERBASE") or Path.home() / ".local") / "lib")  # user site
            hide = bwrap.hidden_roots()
            return bwrap.command(cmd, Path(cwd or os.getcwd()), writable=list(writable),
                                 readable=bwrap.tmp_paths(needs, hide), network=self.network,
                                 git_dir=self.git_dir, home=Path.home(), limits=limits,
                                 read_only=read_only, hide=hide)
        prefix = (network_isolation() or ()) if not self.network else ()
        return [*prefix, sys.executable, "-S", "-c", WEAK_SHIM, repr(self._rlimits()), *cmd]

    def _rlimits(self) -> dict[str, int]:
        out = {}
        if self.cpu_seconds:
            out["cpu"] = self.cpu_seconds
        if self.memory_bytes:
            out["as"] = self.memory_bytes
        if self.file_bytes:
            out["fsize"] = self.file_bytes
        return out

    def _limits(self) -> list[str]:
        rl = self._rlimits()
        if not rl:
            return []
        exe = shutil.which("prlimit")
        if exe:
            return [exe, *(f"--cpu={v}:{v + 5}" if k == "cpu" else f"--{k}={v}" for k, v in rl.items()), "--"]
        return [sys.executable, "-S", "-c", EXEC_SHIM, repr(rl)]

    def describe(self) -> dict:
        """The policy as shown by ``loopwright doctor``."""
        strong = self.mode() == "strong"
        iso = network_isolation()
        return {
            "sandbox": ("strong: bubblewrap (read-only root, only the worktree writable, "
                        ".git read-only, private /tmp, PID/net/IPC namespaces)") if strong else
                       ("WEAK: bubblewrap is not in use (apt-get install bubblewrap, allow user "
                        "namespaces, or unset LOOPWRIGHT_SANDBOX=weak): tests can write outside "
                        "the worktree"),
            "environment": "allow-list: " + ", ".join(self.env_allow + self.pass_env),
            "processes": ("PID namespace: every process killed at the end" if strong else
                          "own process group, killed at the end (setsid children escape)"),
            "cpu limit": f"{self.cpu_seconds} s" if self.cpu_seconds else "none",
            "memory limit": f"{self.memory_bytes // 2**20} MiB" if self.memory_bytes else "none",
            "file size limit": f"{self.file_bytes // 2**20} MiB per file" if self.file_bytes else "none",
            "tmp size": f"{bwrap.TMPFS_BYTES // 2**20} MiB (/tmp, /var/tmp, hidden $HOME)" if strong
                        else "not limited (weak sandbox)",
            "network": "allowed" if self.network else (
                "loopback only (network namespace)" if strong or iso else
                "NOT blocked: this kernel does not allow an unprivileged network namespace"),
            "HOME": "an empty private directory" if self.private_home else "inherited",
        }


@functools.lru_cache(maxsize=1)
def network_isolation() -> tuple[str, ...] | None:
    """Weak mode's command prefix that starts a process without network, or None.

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
        timed_out: the wall-clock timeout fired and the process (tree) was killed.
        channel: bytes written to the results pipe (``run(channel=True)``).
        sandbox: ``strong`` or ``weak`` (see :class:`SandboxPolicy`).
    """

    returncode: int | None
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    channel: bytes = b""
    sandbox: str = ""


def run(
    cmd: list[str],
    cwd: Path,
    timeout: float,
    policy: SandboxPolicy | None = None,
    env: dict[str, str] | None = None,
    max_output: int = 1_000_000,
    writable: list[Path] = (),
    readable: list[Path] = (),
    channel: bool = False,
    read_only: bool = False,
    stdin_data: bytes = b"",
) -> ProcessResult:
    """Run ``cmd`` in ``cwd`` under ``policy``; kill it and everything it started after
    ``timeout`` seconds, and in any case when it exits.

    Args:
        cmd: argv list. cwd: working directory (the only writable place besides ``writable``).
        timeout: wall-clock limit in seconds (reading its output included).
        policy: isolation, environment and rlimits (default :class:`SandboxPolicy()`).
        env: extra variables on top of the allow-listed environment.
        max_output: characters kept from each of stdout/stderr (the tail is kept).
        writable, readable: more directories the process may write / must read.
        read_only: ``cwd`` is read-only too (a probe run in the user's repository).
        channel: give the process a pipe (its fd number in ``$LOOPWRIGHT_CHANNEL_FD``);
            what it writes there comes back in :attr:`ProcessResult.channel`.
        stdin_data: the process's stdin instead of /dev/null (at most 64 KiB, a pipe's buffer,
            written before it starts): a secret that must not be in its environment.

    Raises:
        FileNotFoundError: ``cmd[0]`` (or bwrap) does not exist.
    """
    policy = policy or SandboxPolicy()
    full_env = policy.environment()
    if env:
        full_env.update(env)
    fds: list[int] = []
    stdin = subprocess.DEVNULL
    if stdin_data:
        stdin, w_in = os.pipe()
        os.write(w_in, stdin_data[:65536])
        os.close(w_in)
    if channel:
        r, w = os.pipe()
        fds = [w]
        full_env[CHANNEL_ENV] = str(w)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            policy.wrap(cmd, cwd, writable, readable, full_env, read_only), cwd=str(cwd), env=full_env,
            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, pass_fds=fds,
        )
    finally:
        for fd in fds + ([stdin] if stdin_data else []):
            os.close(fd)
    streams = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    if channel:
        streams[r] = bytearray()
    timed_out = _pump(proc, streams, start + timeout, max_output,
                      {proc.stdout.fileno(), proc.stderr.fileno()})
    kill_group(proc.pid)  # weak mode's leftovers; strong: the namespace is already gone
    if proc.poll() is None:
        proc.wait()
    proc.stdout.close(), proc.stderr.close()
    if channel:
        os.close(r)
    bufs = list(streams.values())
    return ProcessResult(
        None if timed_out else proc.returncode,
        bufs[0].decode("utf-8", "replace")[-max_output:],
        _with_note(bufs[1].decode("utf-8", "replace")[-max_output:], proc.returncode, policy),
        time.monotonic() - start, timed_out,
        bytes(bufs[2]) if channel else b"", policy.mode(),
    )


def _with_note(stderr: str, returncode: int | None, policy: SandboxPolicy) -> str:
    return stderr + limit_note(returncode, policy, stderr)


def _pump(proc: subprocess.Popen, streams: dict[int, bytearray], deadline: float, keep: int,
          capped: set[int]) -> bool:
    """Read ``streams`` until EOF or ``deadline``; after the process exits, at most
    :data:`DRAIN_SECONDS` more. ``capped`` streams keep their last ``keep`` bytes (about).
    Returns True when the deadline fired (the process was killed)."""
    open_fds = set(streams)
    exited_at: float | None = None
    pidfd = _pidfd(proc.pid)
    try:
        while open_fds:
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
                kill_group(proc.pid)
            limit = deadline if exited_at is None else min(deadline, exited_at + DRAIN_SECONDS)
            if now >= limit:
                if exited_at is None:
                    kill_group(proc.pid)
                    return True
                return False
            watch = list(open_fds) + ([pidfd] if pidfd is not None and exited_at is None else [])
            ready, _, _ = select.select(watch, [], [], min(limit - now, 0.5 if pidfd is None else 3600))
            for fd in ready:
                if fd == pidfd:
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    open_fds.discard(fd)
                    continue
                buf = streams[fd]
                buf += chunk
                if fd in capped and len(buf) > 2 * keep:
                    del buf[:-keep]
        if exited_at is None:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                kill_group(proc.pid)
                return True
        return False
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def kill_group(pgid: int) -> None:
    """SIGKILL every process in process group ``pgid``; a gone group is not an error."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass

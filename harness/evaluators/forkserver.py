"""Client of the pytest fork server (:mod:`harness.evaluators.plugin.loopwright_forkserver`).

One server per worktree slot pays interpreter start-up and ``import pytest``
once; each test run is then a ``fork()`` of it. The server runs inside the sandbox
(:class:`~sandbox.process.SandboxPolicy`: under bubblewrap, in its own PID namespace),
so every child does too. The server enforces each child's timeout and kills what it
left behind (its process group; in the PID namespace, every process but the server);
this client never signals child pids (they are the namespace's own) and gives up on
a server that does not answer within the timeout plus a grace period (the caller
then runs the test in a plain sandboxed process).
"""

from __future__ import annotations

import json
import os
import secrets
import select
import subprocess
import threading
import time
from pathlib import Path

from sandbox.limits import limit_note
from sandbox.process import ProcessResult, SandboxPolicy, kill_group

GRACE_SECONDS = 30.0
#: the server's start (``loopwright_forkserver.BOOT``): the module as ``__main__`` without the
#: worktree (its working directory) on ``sys.path``, on any Python version (``-P`` is 3.11+).
BOOT = ("import sys, runpy; sys.path[:1] == [''] and sys.path.pop(0); "
        "runpy.run_module('loopwright_forkserver', run_name='__main__', alter_sys=True)")


class ForkServerError(RuntimeError):
    """The server could not start or stopped answering; callers fall back to plain processes."""


class ForkServer:
    """A running fork server for one worktree.

    Args:
        python: target interpreter. cwd: the worktree.
        env: variables on top of the policy's scrubbed environment (must put the
            plugin directory on ``PYTHONPATH``).
        policy: sandbox policy: the server starts inside it (bubblewrap or the weak
            launcher), so every child inherits it, rlimits included.
        scratch: the evaluator's scratch directory (read-only inside); the children's
            stdout/stderr files go to a writable ``io-<worktree>`` directory in it.

    Raises:
        ForkServerError: the server did not report ready within 60 s.
    """

    def __init__(self, python: str, cwd: Path, env: dict[str, str], policy: SandboxPolicy,
                 scratch: Path):
        full_env = policy.environment()
        full_env.update(env)
        self.mode, self.policy = policy.mode(), policy
        if self.mode == "strong":
            full_env["LOOPWRIGHT_PIDNS"] = "1"
        self.scratch = scratch
        self.io = scratch / f"io-{Path(cwd).name}"  # the children's stdout/stderr files
        self.io.mkdir(parents=True, exist_ok=True)
        self._buf = b""
        #: held by the thread whose run the server is serving: requests and replies share one
        #: pipe, so a second thread's run would read (and drop) the first one's reply
        self.busy = threading.Lock()
        self.proc = subprocess.Popen(
            policy.wrap([python, "-c", BOOT], cwd, [self.io], [scratch], full_env),
            cwd=str(cwd), env=full_env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            hello = self._json(self._read(60.0))
        except BaseException:  # Ctrl-C (or a broken pipe) while waiting: no server outlives us
            self.close()
            raise
        if not hello or not hello.get("ready"):
            self.close()
            raise ForkServerError("the pytest fork server did not start")
        self.modules: set[str] = set(hello.get("modules", []))
        # the warm-up session before serving: {"seconds": float, "error": str} ({} when off)
        self.warm: dict = hello.get("warm") or {}
        self.served = 0  # runs completed

    def run(self, args: list[str], cwd: Path, env: dict[str, str], timeout: float,
            secret: dict | None = None) -> ProcessResult:
        """Run ``pytest.main(args)`` in a forked child, killed after ``timeout`` seconds;
        the plugin's records come back in :attr:`ProcessResult.channel`. ``secret``
        (``{"nonce": str, ...}``) reaches the child's plugin in memory, not its environment.

        Raises:
            ForkServerError: the server died, broke protocol, or did not answer within
                ``timeout`` + :data:`GRACE_SECONDS` (it is closed then).
        """
        tag = f"fs{os.getpid()}-{time.monotonic_ns()}-{secrets.token_hex(4)}"
        out, err = self.io / f"{tag}.out", self.io / f"{tag}.err"
        # opened here and read back from these descriptors: the child can replace the names
        # (a link to a file of loopwright's user), never the files loopwright holds open
        fds = [os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
               for p in (out, err)]
        try:
            return self._run(args, cwd, env, timeout, out, err, fds, dict(secret or {}))
        finally:
            for fd, p in zip(fds, (out, err)):
                os.close(fd)
                try:
                    os.unlink(p)  # the name only (unlink never follows a link)
                except OSError:
                    pass

    def _run(self, args: list[str], cwd: Path, env: dict[str, str], timeout: float,
             out: Path, err: Path, fds: list[int], secret: dict) -> ProcessResult:
        nonce = secret.setdefault("nonce", secrets.token_hex(16))
        req = {"cwd": str(cwd), "args": args, "env": dict(env), "out": str(out), "err": str(err),
               "timeout": timeout, "nonce": nonce, "secret": secret}
        start = time.monotonic()
        try:
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise ForkServerError(f"the fork server is gone: {exc}") from exc
        deadline = start + timeout + GRACE_SECONDS
        channel: list[bytes] = []
        done = None
        while done is None:
            line = self._read(deadline - time.monotonic())
            if line is None:
                self.close()
                raise ForkServerError("the fork server did not answer in time")
            msg = self._json(line) if line.startswith(b'{"pid"') else None
            if msg is not None and msg.get("nonce") == nonce and "status" in msg:
                done = msg
            elif msg is None:
                channel.append(line)
        self.served += 1
        status = None if done.get("timed_out") else done["status"]
        return ProcessResult(status, _slurp(fds[0]), _slurp(fds[1]) + limit_note(status, self.policy), time.monotonic() - start, bool(done.get("timed_out")),
                             b"\n".join(channel) + b"\n", self.mode)

    def close(self) -> None:
        """Stop the server (and anything in its process group)."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        kill_group(self.proc.pid)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def _read(self, timeout: float) -> bytes | None:
        """Next line from the server, or None after ``timeout`` seconds.

        Raises:
            ForkServerError: the server exited.
        """
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise ForkServerError("the fork server exited")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    @staticmethod
    def _json(line: bytes | None) -> dict | None:
        if line is None:
            return None
        try:
            msg = json.loads(line)
        except ValueError:
            return None
        return msg if isinstance(msg, dict) else None


def _slurp(fd: int, limit: int = 200_000) -> str:
    """The last ``limit`` bytes of the file open as ``fd`` (loopwright's own descriptor), decoded."""
    size = os.fstat(fd).st_size
    return os.pread(fd, limit, max(0, size - limit)).decode("utf-8", errors="replace")


def start_server(python: str, root: Path, env: dict[str, str], policy: SandboxPolicy,
                 scratch: Path) -> ForkServer | None:
    """A :class:`ForkServer` for worktree ``root`` (the arguments are its own), or None when it
    cannot start or it imported a module the repository defines itself (the repository *is*
    pytest or pluggy): that worktree runs plain processes."""
    try:
        server = ForkServer(python, root, env, policy, scratch)
    except (ForkServerError, OSError):
        return None
    try:
        own = {p.stem if p.suffix == ".py" else p.name for base in (root, root / "src") if base.is_dir()
               for p in base.iterdir()}
    except OSError:  # a worktree it cannot list: plain processes there
        server.close()
        return None
    if own & server.modules:
        server.close()
        return None
    return server

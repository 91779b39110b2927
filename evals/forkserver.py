"""Client of the pytest fork server (:mod:`evals.plugin.loopwright_forkserver`).

One server per worktree slot pays interpreter start-up and ``import pytest``
once; each test run is then a ``fork()`` of it. Each child runs in its own process
group, which is killed at the timeout and again after the child exits (so
processes a test left behind die too), exactly like :func:`sandbox.process.run`.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path

from sandbox.process import ProcessResult, SandboxPolicy, kill_group


class ForkServerError(RuntimeError):
    """The server could not start or stopped answering; callers fall back to plain processes."""


class ForkServer:
    """A running fork server for one worktree.

    Args:
        python: target interpreter. cwd: the worktree.
        env: variables on top of the policy's scrubbed environment (must put the
            plugin directory on ``PYTHONPATH``).
        policy: sandbox policy (environment scrubbing).
        scratch: directory for the children's stdout/stderr files.

    The server starts under the policy's launcher (network namespace), so every
    child inherits it; rlimits are applied by the children themselves.

    Raises:
        ForkServerError: the server did not report ready within 60 s.
    """

    def __init__(self, python: str, cwd: Path, env: dict[str, str], policy: SandboxPolicy,
                 scratch: Path):
        full_env = policy.environment()
        full_env.update(env)
        self.scratch = scratch
        self.rlimits = {"cpu": policy.cpu_seconds, "memory": policy.memory_bytes}
        self._buf = b""
        self.proc = subprocess.Popen(
            policy.wrap([python, "-m", "loopwright_forkserver"]), cwd=str(cwd), env=full_env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            hello = self._read(60.0)
        except BaseException:  # Ctrl-C (or a broken pipe) while waiting: no server outlives us
            self.close()
            raise
        if not hello or not hello.get("ready"):
            self.close()
            raise ForkServerError("the pytest fork server did not start")
        self.modules: set[str] = set(hello.get("modules", []))

    def run(self, args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> ProcessResult:
        """Run ``pytest.main(args)`` in a forked child; kill its group after ``timeout`` seconds.

        Raises:
            ForkServerError: the server died or broke protocol.
        """
        tag = f"fs{os.getpid()}-{time.monotonic_ns()}"
        out, err = self.scratch / f"{tag}.out", self.scratch / f"{tag}.err"
        req = {"cwd": str(cwd), "args": args, "env": env, "out": str(out), "err": str(err),
               "rlimits": self.rlimits}
        start = time.monotonic()
        try:
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise ForkServerError(f"the fork server is gone: {exc}") from exc
        started = self._read(30.0)
        if not started or "pid" not in started:
            raise ForkServerError("the fork server did not start a child")
        pid = started["pid"]
        done = self._read(timeout)
        timed_out = done is None
        if timed_out:
            kill_group(pid)
            done = self._read(30.0)
            if done is None:
                raise ForkServerError("a killed child was not reaped")
        kill_group(pid)  # whatever the test left running
        result = ProcessResult(None if timed_out else done["status"], _slurp(out), _slurp(err),
                               time.monotonic() - start, timed_out)
        return result

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

    def _read(self, timeout: float) -> dict | None:
        """Next JSON line from the server, or None after ``timeout`` seconds."""
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
        return json.loads(line)


def _slurp(path: Path, limit: int = 200_000) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[-limit:]
        path.unlink()
        return text
    except FileNotFoundError:
        return ""

"""Resource limits of sandboxed processes: the rlimit shims, and the words for a limit that tripped.

Limits are set in the child by a wrapper (util-linux ``prlimit``, or the shims here), never
with ``preexec_fn`` (unsafe in a threaded parent). ``cpu`` is RLIMIT_CPU (seconds), ``as``
RLIMIT_AS (bytes), ``fsize`` RLIMIT_FSIZE (bytes): setrlimit(2).
"""

from __future__ import annotations

import functools
import os
import signal
from pathlib import Path

# Weak mode's parent shim: rlimits in the child, then exec; waits so the command's
# getppid() is the shim, not loopwright; brings loopback up in a new network namespace
# (SIOCGIFFLAGS/SIOCSIFFLAGS ioctls, netdevice(7)).
WEAK_SHIM = """
import ast, fcntl, os, resource, signal, socket, struct, sys
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
    fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))
    s.close()
except OSError:
    pass
lim = ast.literal_eval(sys.argv[1])
pid = os.fork()
if pid == 0:
    if lim.get("cpu"):
        resource.setrlimit(resource.RLIMIT_CPU, (lim["cpu"], lim["cpu"] + 5))
    if lim.get("as"):
        resource.setrlimit(resource.RLIMIT_AS, (lim["as"], lim["as"]))
    if lim.get("fsize"):
        resource.setrlimit(resource.RLIMIT_FSIZE, (lim["fsize"], lim["fsize"]))
    os.execvp(sys.argv[2], sys.argv[2:])
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, lambda n, f: os.kill(pid, n))
while True:
    try:
        _, status = os.waitpid(pid, 0)
        break
    except InterruptedError:
        continue
code = os.waitstatus_to_exitcode(status)
os._exit(code if code >= 0 else 128 - code)
"""

# Strong mode's rlimit shim when util-linux prlimit is missing: set, then exec.
EXEC_SHIM = """
import ast, os, resource, sys
lim = ast.literal_eval(sys.argv[1])
if lim.get("cpu"):
    resource.setrlimit(resource.RLIMIT_CPU, (lim["cpu"], lim["cpu"] + 5))
if lim.get("as"):
    resource.setrlimit(resource.RLIMIT_AS, (lim["as"], lim["as"]))
if lim.get("fsize"):
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim["fsize"], lim["fsize"]))
os.execvp(sys.argv[2], sys.argv[2:])
"""


@functools.lru_cache(maxsize=64)
def base_prefixes(exe: str) -> tuple[Path, ...]:
    """The base interpreter's prefix of a venv's ``exe`` (``home =`` in ``pyvenv.cfg``, the
    directory of the base ``python``: PEP 405), and its real path; () outside a venv."""
    cfg = Path(exe).parent.parent / "pyvenv.cfg"
    try:
        lines = cfg.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ()
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip().lower() == "home" and value.strip():
            home = Path(value.strip())
            return (home.parent, Path(os.path.realpath(home)).parent)
    return ()


def limit_note(returncode: int | None, policy) -> str:
    """A line naming the resource limit a process died of (``\n...``), or ``""``: SIGXFSZ is
    the file-size limit (:attr:`SandboxPolicy.file_bytes`), SIGXCPU the CPU limit, as a
    signal (negative) or as a shell-style status (128 + signal)."""
    if returncode is None:
        return ""
    sig = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if sig == signal.SIGXFSZ and policy.file_bytes:
        return (f"\nloopwright: file size limit exceeded (RLIMIT_FSIZE: {policy.file_bytes // 2**20} MiB "
                "per file)\n")
    if sig == signal.SIGXCPU and policy.cpu_seconds:
        return f"\nloopwright: CPU time limit exceeded (RLIMIT_CPU: {policy.cpu_seconds} s)\n"
    return ""

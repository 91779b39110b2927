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

from sandbox import bwrap

#: RLIMIT_FSIZE of every sandboxed process (bytes): the largest file it can write (beyond it
#: the kernel sends SIGXFSZ, or the write fails with EFBIG where the signal is ignored, as
#: Python does: setrlimit(2)); named when it trips (:func:`limit_note`, :func:`limit_words`).
FILE_BYTES = 256 * 2**20

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


def interpreter_dirs(exe: str) -> tuple[Path, ...]:
    """The directories the interpreter ``exe`` (an absolute path) reads to start: its prefix as
    named (``repo/.venv``), the same with its links resolved (a ``.venv`` that is a link to
    a venv kept elsewhere, e.g. under ``$HOME``: ``python`` itself links on to the base
    interpreter, so the real binary's prefix alone misses the venv's site-packages), the
    real binary's prefix, and a venv's base prefixes (:func:`base_prefixes`)."""
    named = Path(exe).parent.parent
    return (named, Path(os.path.realpath(named)), Path(os.path.realpath(Path(exe).parent)).parent,
            Path(os.path.realpath(exe)).parent.parent, *base_prefixes(exe))


def limit_words(text: str, file_bytes: int | None = FILE_BYTES) -> str:
    """Words naming the sandbox limit that ``text`` (a test's message, stderr) shows tripped,
    starting with a space, or ``""``: EFBIG is the file-size limit, ENOSPC the tmpfs size
    (``/tmp``, ``/var/tmp``, the hidden home) or a full disk."""
    if "[Errno 27] File too large" in text or "File size limit exceeded" in text:
        size = f"{file_bytes // 2**20} MiB" if file_bytes else "the process's"
        return f" (file size limit exceeded: RLIMIT_FSIZE, {size} per file)"
    if "[Errno 28] No space left on device" in text:
        return (f" (no space left: the sandbox's /tmp, /var/tmp and hidden home are tmpfs of "
                f"{bwrap.TMPFS_BYTES // 2**20} MiB each, or the disk is full)")
    return ""


def limit_note(returncode: int | None, policy, stderr: str = "") -> str:
    """A line naming the resource limit a process died of, or ``""``: SIGXFSZ (or EFBIG in
    its ``stderr``) is
    the file-size limit (:attr:`SandboxPolicy.file_bytes`), SIGXCPU the CPU limit, as a
    signal (negative) or as a shell-style status (128 + signal)."""
    if returncode is None:
        return ""
    words = limit_words(stderr, policy.file_bytes) if returncode else ""
    if words:
        return f"\nloopwright:{words}\n"
    sig = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if sig == signal.SIGXFSZ and policy.file_bytes:
        return f"\nloopwright:{limit_words('File size limit exceeded', policy.file_bytes)}\n"
    if sig == signal.SIGXCPU and policy.cpu_seconds:
        return f"\nloopwright: CPU time limit exceeded (RLIMIT_CPU: {policy.cpu_seconds} s)\n"
    return ""

"""bubblewrap command lines: the strong sandbox every test, lint and type process runs in.

`bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``, Debian package
``bubblewrap``) builds a mount/PID/network/IPC namespace sandbox without a daemon.
A process started through :func:`command` sees:

- the whole root file system **read-only** (``--ro-bind / /``), a fresh ``/dev`` and
  ``/proc``, a private empty ``/tmp`` and ``/var/tmp``;
- the worktree (its working directory) and the paths it is given as ``writable``
  **read-write**: nothing else can be written;
- the repository's ``.git`` read-only, with ``.git/config`` replaced by a copy without
  credentials (``http.*.extraheader``, ``[credential]`` sections, passwords in URLs);
- the user's credential files (``~/.ssh``, ``~/.git-credentials``, ``~/.netrc``, …) hidden;
- its own PID namespace under bwrap's init (``getppid()`` is 1, never loopwright; when the
  command exits every process left in the namespace is killed by the kernel, ``setsid``
  ones included), a new network namespace with only loopback, a new IPC namespace,
  a new session (no terminal to inject input into), and it dies with its parent.
"""

from __future__ import annotations

import atexit
import contextlib
import fnmatch
import functools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import git

from sandbox.gitcmd import config_entries

#: Files and directories under ``$HOME`` that hold credentials; hidden inside the sandbox.
HIDDEN_HOME = (".ssh", ".git-credentials", ".netrc", ".pypirc", ".aws", ".azure", ".docker",
               ".config/gh", ".config/hub", ".kube", ".gnupg", ".npmrc", ".config/gcloud")

HOME_INSIDE = "/tmp/home"

#: Size of each tmpfs the sandbox mounts (``/tmp``, ``/var/tmp``, the hidden home): bytes of
#: memory a test can fill there (bwrap ``--size``, since 0.8; the memory rlimit does not count it).
TMPFS_BYTES = 256 * 2**20

#: Directories never a system one: hiding them (``--tmpfs``) would break the sandbox.
_SYSTEM = {Path(p) for p in ("/", "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/opt", "/var",
                             "/proc", "/dev", "/sys", "/run", "/srv", "/mnt", "/media")}


def hidden_roots(env: dict[str, str] | None = None) -> list[Path]:
    """The real ``$HOME``, ``$RUNNER_TEMP`` and ``$XDG_CONFIG_HOME`` (of loopwright's
    environment ``env``, default ``os.environ``) that exist: each is an empty tmpfs inside the
    sandbox (credentials, ``~/.gitconfig``, the CI token file of ``actions/checkout``), with
    only what a run needs bound back (:func:`command`'s ``readable``). A system directory
    (``/``, ``/usr``, …) is never hidden."""
    src = os.environ if env is None else env
    out: list[Path] = []
    for raw in (src.get("HOME") or os.path.expanduser("~"), src.get("RUNNER_TEMP", ""),
                src.get("XDG_CONFIG_HOME", "")):
        if not raw or not os.path.isabs(raw):
            continue
        p = Path(os.path.realpath(raw))
        if p.is_dir() and p not in _SYSTEM and p not in out:
            out.append(p)
    return out


@functools.lru_cache(maxsize=1)
def available() -> str | None:
    """Path of a ``bwrap`` that can build the sandbox here, or None (probed once per process).

    ``bwrap`` needs user namespaces (or root); a container without them makes it fail.
    """
    exe = shutil.which("bwrap")
    if not exe:
        return None
    probe = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
             "--unshare-pid", "--unshare-net", "--unshare-ipc", "--die-with-parent",
             "--new-session", "true"]
    try:
        ok = subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return exe if ok else None


def git_common_dir(worktree: Path) -> Path | None:
    """The main repository's ``.git`` for a linked worktree (from its ``.git`` file), or
    ``worktree/.git`` for a plain checkout; None outside git."""
    dot = worktree / ".git"
    if dot.is_dir():
        return dot
    try:
        text = dot.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    m = re.match(r"gitdir:\s*(.+)", text.strip())
    if not m:
        return None
    admin = Path(m.group(1).strip())
    if not admin.is_absolute():
        admin = (worktree / admin).resolve()
    commondir = admin / "commondir"
    if commondir.is_file():
        return (admin / commondir.read_text().strip()).resolve()
    return admin.parent.parent if admin.parent.name == "worktrees" else admin


#: ``.git/config`` keys a sandboxed git may see (``fnmatch`` over ``section.[sub.]key``,
#: lower-case): what reading the repository needs. Everything else is dropped: ``include``/
#: ``includeIf`` (they name files such as ``$RUNNER_TEMP/git-credentials-*``), ``url.*``
#: rewrites (``insteadOf`` URLs with tokens), ``http.*`` (``extraheader``), ``credential.*``,
#: commands (``core.fsmonitor``, ``core.sshcommand``, filters, diff/merge drivers).
CONFIG_ALLOW: tuple[str, ...] = (
    "core.repositoryformatversion", "core.filemode", "core.bare", "core.logallrefupdates",
    "core.ignorecase", "core.precomposeunicode", "core.symlinks", "core.autocrlf", "core.eol",
    "core.safecrlf", "core.quotepath", "core.checkstat", "core.trustctime", "core.abbrev",
    "extensions.*", "remote.*.url", "remote.*.pushurl", "remote.*.fetch", "branch.*.remote",
    "branch.*.merge", "branch.*.rebase", "user.name", "user.email", "init.defaultbranch",
    "submodule.*.url", "submodule.*.path", "submodule.*.active", "index.version",
)
_URL_USERINFO = re.compile(r"://[^/@\s]*@")
_MINIMAL_CONFIG = "[core]\n\trepositoryformatversion = 0\n"


def sanitize_git_config(text: str) -> str:
    """``.git/config`` text rebuilt from what git parses out of it
    (:func:`sandbox.gitcmd.config_entries`), keeping only the keys of :data:`CONFIG_ALLOW`,
    with any ``user:password@`` taken out of URLs. An unparsable file gives a minimal config."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", prefix="loopwright-cfg-") as fh:
        fh.write(text)
        fh.flush()
        try:
            entries = config_entries(Path(fh.name))
        except git.GitCommandError:
            return _MINIMAL_CONFIG
    out: list[str] = []
    current = None
    for key, value in entries:
        if not any(fnmatch.fnmatchcase(_allow_form(key), pat) for pat in CONFIG_ALLOW):
            continue
        section, _, rest = key.partition(".")
        sub, _, name = rest.rpartition(".")
        header = f'[{section} "{_escape(sub)}"]' if sub else f"[{section}]"
        if header != current:
            out.append(header)
            current = header
        clean = None if value is None else _escape(_URL_USERINFO.sub("://", value))
        out.append(f"\t{name}" if clean is None else f'\t{name} = "{clean}"')
    return "\n".join(out) + "\n" if out else _MINIMAL_CONFIG


def _allow_form(key: str) -> str:
    """``section.sub.key`` with the subsection replaced by ``*`` when there is one (a remote
    or branch name may contain dots), lower-case."""
    section, _, rest = key.partition(".")
    sub, _, name = rest.rpartition(".")
    return f"{section}.*.{name}".lower() if sub else key.lower()


def _escape(value: str) -> str:
    """A value or subsection in git-config(1)'s quoted syntax."""
    return (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            .replace("\t", "\\t").replace("\b", "\\b"))


@functools.lru_cache(maxsize=64)
def _clean_config(config: str, mtime_ns: int, size: int) -> str:
    """A sanitized copy of ``config`` in a private temp file (cached by mtime and size)."""
    text = Path(config).read_text(encoding="utf-8", errors="replace")
    _sweep_orphans()
    fd, path = tempfile.mkstemp(prefix=f"{_PREFIX}{os.getpid()}-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(sanitize_git_config(text))
    atexit.register(_remove, path)  # a bind mount keeps its inode: removing the name is safe
    return path


_PREFIX = "loopwright-gitconfig-"


def _sweep_orphans(tmp: str | None = None) -> list[str]:
    """Remove the sanitized copies (``loopwright-gitconfig-PID-*`` in the temp directory
    ``tmp``, default :func:`tempfile.gettempdir`) of processes no longer alive: a killed
    process (SIGKILL, OOM) never runs its ``atexit``. Copies of live processes, of other users,
    and files without a pid in their name are left. Returns the paths removed."""
    tmp = tmp or tempfile.gettempdir()
    gone: list[str] = []
    try:
        names = [n for n in os.listdir(tmp) if n.startswith(_PREFIX)]
    except OSError:
        return gone
    for name in names:
        pid_text = name[len(_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
            continue  # alive (or another user's: PermissionError below)
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        path = os.path.join(tmp, name)
        with contextlib.suppress(OSError):
            if os.lstat(path).st_uid == os.getuid():
                os.unlink(path)
                gone.append(path)
    return gone


def _remove(path: str) -> None:
    """Remove a sanitized copy when this process ends (missing already: fine)."""
    with contextlib.suppress(OSError):
        os.unlink(path)


def _under(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def command(cmd: list[str], cwd: Path, *, writable: list[Path] = (), readable: list[Path] = (),
            network: bool = False, git_dir: Path | None = None, home: Path | None = None,
            limits: list[str] = (), read_only: bool = False, hide: list[Path] = ()) -> list[str]:
    """The ``bwrap`` argv that runs ``cmd`` in ``cwd`` inside the sandbox.

    Args:
        cmd: argv of the process. cwd: its working directory (writable).
        writable: more directories it may write (scratch, caches).
        readable: directories under ``/tmp`` or a ``hide`` root it must read (an interpreter,
            its venv, inputs): bound back read-only over the empty tmpfs.
        network: keep the host network (default: loopback only).
        git_dir: the repository's ``.git`` (default: found from ``cwd/.git``); bound
            read-only with a credential-free ``config``.
        home: the real home directory whose credential files are hidden.
        limits: a resource-limit wrapper (e.g. ``prlimit --as=N --``) run inside.
        read_only: bind ``cwd`` read-only (a probe run in the user's repository).
        hide: directories mounted as empty tmpfs (:func:`hidden_roots`); ``cwd``, ``writable``,
            ``readable`` and the git directory under them are bound back.

    Raises:
        RuntimeError: ``bwrap`` is not usable here (check :func:`available` first).
    """
    exe = available()
    if not exe:
        raise RuntimeError("bwrap is not available")
    tmp = Path(tempfile.gettempdir()).resolve()
    argv = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    size = ["--size", str(TMPFS_BYTES)]
    for hidden in sorted({Path("/tmp"), Path("/var/tmp"), tmp, *hide}, key=lambda p: len(p.parts)):
        argv += [*size, "--tmpfs", str(hidden)]  # parents first: a later one mounts inside
    argv += ["--dir", HOME_INSIDE]
    gd = git_dir or git_common_dir(cwd)
    for path in readable:
        if path.exists():
            argv += ["--ro-bind", str(path), str(path)]
    if gd is not None and gd.exists():
        argv += ["--ro-bind", str(gd), str(gd)]
        config = gd / "config"
        if config.is_file():
            st = config.stat()
            argv += ["--ro-bind", _clean_config(str(config), st.st_mtime_ns, st.st_size), str(config)]
    argv += ["--ro-bind" if read_only else "--bind", str(cwd), str(cwd)]
    for path in writable:
        argv += ["--bind", str(path), str(path)]
    if home is not None and not any(_under(Path(cwd), home / h) for h in HIDDEN_HOME):
        for name in HIDDEN_HOME:
            p = home / name
            if p.is_dir():
                argv += ["--tmpfs", str(p)]
            elif p.exists():
                argv += ["--ro-bind", "/dev/null", str(p)]
    argv += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent",
             "--new-session", "--chdir", str(cwd)]
    if not network:
        argv.append("--unshare-net")
    return [*argv, "--", *limits, *cmd]


def tmp_paths(paths: list[str | Path], hide: list[Path] = ()) -> list[Path]:
    """Those of ``paths`` that exist under the temp directory or a ``hide`` root (hidden
    inside the sandbox unless bound): what :func:`command`'s ``readable`` needs."""
    tmp = [Path("/tmp"), Path("/var/tmp"), Path(tempfile.gettempdir()).resolve(), *hide]
    out = []
    for p in paths:
        if not p:
            continue
        path = Path(p).absolute()
        if any(_under(path, t) for t in tmp) and path.exists() and path not in out:
            out.append(path)
    return out

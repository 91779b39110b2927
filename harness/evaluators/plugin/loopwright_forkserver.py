"""A pytest fork server, run in the target interpreter: ``python -c BOOT`` (:data:`BOOT`: the
module run as ``__main__`` without the working directory, the worktree, on ``sys.path``, so
``import pytest`` and the plugins are the interpreter's own; each child enters the worktree).

Interpreter start-up and ``import pytest`` (plus the plugins it auto-loads) cost
about half a second per test run, and the candidate loop runs pytest hundreds of
times. This server pays that once: it imports pytest and the installed pytest
plugins, runs one throw-away pytest session in a scratch directory (:func:`_warm`:
what plugins import lazily during a session is then imported once, here), then for
every request forks a child that runs ``pytest.main(args)`` in a fresh process
group. The target repository's own modules are never imported by the server, so
every child sees the current files of its worktree. Each child first moves what it inherited
into the collector's permanent generation (``gc.freeze()``, as the ``gc`` documentation
advises for forked workers): pytest collects twice per session, and each collection walked the
server's objects again (15-22 ms each with tabulate's tests imported; 0 after).

Protocol (one JSON object per line):
    stdin:  ``{"cwd": str, "args": [str], "env": {name: value}, "out": path, "err": path,
              "timeout": seconds, "nonce": str, "secret": {"nonce": str, "canaries": {...}}}``
            (``secret`` goes to the plugin's ``SECRET`` in the child, never its environment;
            ``env["LOOPWRIGHT_PATH"]``: the worktree's import roots, entered after pytest)
    stdout: ``{"ready": true, "modules": [top-level module names], "warm": {"seconds": s,
            "error": why}}`` once at start (``warm`` empty when ``LOOPWRIGHT_WARM=0``),
            then ``{"pid": int, "nonce": str}`` when a child starts, the plugin's result
            records (the child's results pipe is a duplicate of this stream), and
            ``{"pid": int, "status": int, "timed_out": bool, "nonce": str}`` when it ends
            (negative status: killed by that signal).

The server enforces each child's timeout and kills what the child left behind
itself: its process group, and inside a private PID namespace (``LOOPWRIGHT_PIDNS=1``,
the bubblewrap sandbox) every process but the server and the namespace's init, so
``setsid`` grandchildren do not survive into the next run. Child pids are the
namespace's own: the client never signals them. Resource limits are the server's
own (set by the sandbox's wrapper) and inherited by every child.
Standard library only (plus pytest, which the target interpreter has).
"""

import gc
import importlib
import json
import os
import sys


#: how the server is started (and restarts itself): this module as ``__main__``, with the
#: working directory (the worktree) taken off ``sys.path`` first on any Python version.
BOOT = ("import sys, runpy; sys.path[:1] == [''] and sys.path.pop(0); "
        "runpy.run_module('loopwright_forkserver', run_name='__main__', alter_sys=True)")
PRELOADED = []  # top-level names of the plugin modules the server imported itself


def _preload():
    import pytest  # noqa: F401

    try:
        from importlib.metadata import entry_points

        eps = entry_points(group="pytest11")
    except Exception:
        eps = []
    before = set(sys.modules)
    for ep in eps:
        name = ep.value.split(":")[0]
        try:
            importlib.import_module(name)
            PRELOADED.append(name.split(".")[0])
        except Exception:
            pass
    # what the plugins imported in turn (hypothesis's plugin imports ``_hypothesis_globals``,
    # a top-level module of the same distribution, which pytest also marks for rewriting)
    PRELOADED.extend({m.split(".")[0] for m in set(sys.modules) - before})
    importlib.import_module("loopwright_pytest")
    importlib.import_module("loopwright_rewrite")  # test modules' assertion rewriting, once per content
    PRELOADED.extend(["loopwright_pytest", "loopwright_rewrite"])


def _warm():
    """One throw-away pytest session in an empty scratch directory, before serving.

    Whatever the installed plugins import lazily during a session (hypothesis's plugin imports
    all of ``hypothesis`` at the end of each one; pytest itself imports ``pdb``, ``unittest``,
    ``faulthandler``...) is then in memory once, in the server, instead of being imported again
    in every forked child. Nothing of the target is involved: the session runs one trivial test
    in a temporary directory with its own ini file and ``--confcutdir`` (no conftest.py of the
    worktree or above it), plugins named as the client names them. Afterwards the process is put
    back as it was: file descriptors 0-2 and ``sys.std*``, working directory, ``sys.path``,
    ``sys.meta_path`` (pytest's assertion-rewriting hook), environment, warnings filters, and
    the scratch test module is dropped from ``sys.modules``; pytest's own state lives in its
    ``Config``, which the session unconfigures. Returns what the ready message reports:
    ``{"seconds": float, "error": str}`` (error empty when the session ran)."""
    import tempfile
    import time
    import warnings

    t0 = time.monotonic()
    saved_fds = [os.dup(fd) for fd in (0, 1, 2)]
    saved = (sys.stdin, sys.stdout, sys.stderr, os.getcwd(), list(sys.path), list(sys.meta_path),
             dict(os.environ), sys.dont_write_bytecode, list(warnings.filters))
    before = set(sys.modules)
    error = ""
    tmp = tempfile.mkdtemp(prefix="loopwright-warm-")
    try:
        error = _warm_session(tmp)
    except BaseException as exc:  # noqa: BLE001 (a plugin that breaks the warm-up costs only time)
        error = f"{type(exc).__name__}: {exc}"
    finally:
        for stream in (sys.stdout, sys.stderr):  # what pytest wrote goes to /dev/null, not later
            if stream not in saved[:3]:  # to the protocol stream when a buffer is collected
                try:
                    stream.flush()
                    stream.close()
                except (OSError, ValueError):
                    pass
        for fd, copy in zip((0, 1, 2), saved_fds):
            os.dup2(copy, fd)
            os.close(copy)
        sys.stdin, sys.stdout, sys.stderr = saved[:3]
        os.chdir(saved[3])
        sys.path[:], sys.meta_path[:] = saved[4], saved[5]
        os.environ.clear()
        os.environ.update(saved[6])
        sys.dont_write_bytecode = saved[7]
        warnings.filters[:] = saved[8]
        getattr(warnings, "_filters_mutated", lambda: None)()
        for name, mod in list(sys.modules.items()):
            if str(getattr(mod, "__file__", None) or "").startswith(tmp + os.sep):
                del sys.modules[name]
        for entry in [p for p in sys.path_importer_cache if str(p).startswith(tmp)]:
            del sys.path_importer_cache[entry]
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    # pytest may mark these for rewriting in a child (a plugin's distribution): see _rewrite_filters
    stdlib = set(getattr(sys, "stdlib_module_names", ()))
    PRELOADED.extend({m.split(".")[0] for m in set(sys.modules) - before} - stdlib)
    return {"seconds": round(time.monotonic() - t0, 3), "error": error}


def _own_names():
    """Top-level names the worktree (the server's working directory) defines, in it or ``src``."""
    own = set()
    for base in (".", "src"):
        if os.path.isdir(base):
            own |= {n[:-3] if n.endswith(".py") else n for n in os.listdir(base)}
    return own


def _warm_if_safe():
    """:func:`_warm`, unless it imported a module the worktree defines (a plugin's lazy import
    of a package that *is* the target, whose code must be imported fresh in each child) or left
    a thread running (a fork copies only the calling thread, with whatever locks the others held):
    then the server starts again in place (``exec``: same process, pipes and sandbox) without it."""
    before = set(sys.modules)
    warm = _warm()
    import threading

    shadowed = {m.split(".")[0] for m in set(sys.modules) - before} & _own_names()
    why = ("skipped: it imports the worktree's " + ", ".join(sorted(shadowed)) if shadowed else
           "skipped: it left a thread running (unsafe to fork)" if threading.active_count() > 1 else "")
    if why:
        os.environ["LOOPWRIGHT_WARM"] = why
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, "-c", BOOT])
    return warm


def _warm_session(tmp):
    """The warm-up session itself (see :func:`_warm`), output to /dev/null; '' or why it failed."""
    import signal

    with open(os.path.join(tmp, "pyproject.toml"), "w") as f:  # read as the usual config is
        f.write("[tool.pytest.ini_options]\n")
    with open(os.path.join(tmp, "test_loopwright_warm.py"), "w") as f:
        f.write("def test_warm():\n    assert [1] == [1]\n")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)
    os.chdir(tmp)
    sys.dont_write_bytecode = True

    def _late(signum, frame):
        raise TimeoutError("the warm-up session took over 20 s")

    old = signal.signal(signal.SIGALRM, _late)
    signal.alarm(20)
    try:
        import pytest

        args = ["-c", os.path.join(tmp, "pyproject.toml"), "--rootdir", tmp, "--confcutdir", tmp,
                "-p", "no:cacheprovider", "-q", "--import-mode=importlib", tmp]
        code = int(pytest.main(_rewrite_filters() + _plugin_args() + args))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return "" if code == 0 else f"pytest exit status {code}"


def _plugin_args():
    """``--disable-plugin-autoload -p NAME...`` for pytest >= 8.4, as the client's
    ``harness.evaluators.pytest_output.plugin_args`` names them; [] before (auto-loading)."""
    import re
    from importlib.metadata import entry_points

    import pytest

    m = re.match(r"(\d+)\.(\d+)", pytest.__version__)
    if not m or (int(m.group(1)), int(m.group(2))) < (8, 4):
        return []
    names = sorted({ep.name for ep in entry_points(group="pytest11")})
    return ["--disable-plugin-autoload", *(a for n in names for a in ("-p", n))]


def _rewrite_filters():
    """``-W`` options silencing pytest's "Module already imported so cannot be rewritten"
    warning for the plugin modules this server imported before pytest could install its
    assertion-rewriting hook. In a plain process pytest imports them itself, so the warning
    only exists because of the preload; a project whose configuration turns warnings into
    errors (``filterwarnings = error``) would otherwise fail to start in every child.
    Command-line filters win over the ini file's, and only these names are silenced."""
    out = []
    for name in sorted(set(PRELOADED)):
        out += ["-W", f"ignore:Module already imported so cannot be rewritten; {name}"
                      ":pytest.PytestAssertRewriteWarning"]
    return out


def _child(req):
    gc.freeze()
    os.setsid()
    channel = os.dup(1)  # the protocol stream: the plugin's results pipe
    fd_in = os.open(os.devnull, os.O_RDONLY)
    fd_out = os.open(req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    fd_err = os.open(req["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd_in, 0)
    os.dup2(fd_out, 1)
    os.dup2(fd_err, 2)
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)
    os.chdir(req["cwd"])
    env = req.get("env", {})
    path = env.pop("LOOPWRIGHT_PATH", None) or req["cwd"]
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    sys.dont_write_bytecode = True
    plugin = sys.modules["loopwright_pytest"]  # imported by _preload: the nonce stays in memory
    plugin.SECRET.update(req.pop("secret", {}), fd=channel)
    plugin.enter_worktree(path)
    plugin.as_pytest_main()
    sys.modules["loopwright_rewrite"].install()
    import pytest

    code = 3  # pytest's INTERNAL_ERROR
    try:
        code = int(pytest.main(_rewrite_filters() + req["args"]))
    except BaseException:  # an error pytest did not report itself: keep its text
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid, timeout):
    """Wait for child ``pid`` at most ``timeout`` seconds (then kill its group);
    returns (exit code, timed out)."""
    import select
    import signal

    timed_out = False
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    if timeout:
        if pidfd is not None:
            ready, _, _ = select.select([pidfd], [], [], timeout)
            os.close(pidfd)
            timed_out = not ready
        else:  # no pidfd (old kernel): poll
            import time

            end = time.monotonic() + timeout
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    return os.waitstatus_to_exitcode(status), False
                if time.monotonic() > end:
                    timed_out = True
                    break
                time.sleep(0.02)
        if timed_out:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
    elif pidfd is not None:
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), timed_out


def _sweep(pid):
    """Kill what child ``pid`` left: its group, and in a private PID namespace every
    other process except init (1) and this server."""
    import signal

    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    if os.environ.get("LOOPWRIGHT_PIDNS") != "1":
        return
    me = os.getpid()
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, me):
            try:
                os.kill(int(name), signal.SIGKILL)
            except OSError:
                pass


def main():
    _preload()
    flag = os.environ.pop("LOOPWRIGHT_WARM", "1")  # "0": off; else why it was skipped
    warm = _warm_if_safe() if flag == "1" else {"error": flag} if flag != "0" else {}
    out = sys.stdout
    out.write(json.dumps({"ready": True, "modules": sorted({m.split(".")[0] for m in sys.modules}),
                          "warm": warm}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        nonce = req.get("nonce", "")
        try:
            sys.modules["loopwright_rewrite"].prepare(req["cwd"], req["args"])
        except Exception:  # noqa: BLE001 (a rewrite it could not do is the child's to do)
            pass
        pid = os.fork()
        if pid == 0:
            _child(req)
        out.write(json.dumps({"pid": pid, "nonce": nonce}) + "\n")
        out.flush()
        code, timed_out = _wait(pid, req.get("timeout"))
        _sweep(pid)
        out.write(json.dumps({"pid": pid, "status": code, "timed_out": timed_out, "nonce": nonce}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()

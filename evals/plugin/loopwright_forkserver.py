"""A pytest fork server, run in the target interpreter: ``python -m loopwright_forkserver``.

Interpreter start-up and ``import pytest`` (plus the plugins it auto-loads) cost
about half a second per test run, and the candidate loop runs pytest hundreds of
times. This server pays that once: it imports pytest and the installed pytest
plugins, then for every request forks a child that runs ``pytest.main(args)``
in a fresh process group. The target repository's own modules are never
imported by the server, so every child sees the current files of its worktree.

Protocol (one JSON object per line):
    stdin:  ``{"cwd": str, "args": [str], "env": {name: value}, "out": path, "err": path,
              "timeout": seconds, "nonce": str}``
    stdout: ``{"ready": true, "modules": [top-level module names]}`` once at start,
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

import importlib
import json
import os
import sys


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
    PRELOADED.append("loopwright_pytest")


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
    os.environ["LOOPWRIGHT_CHANNEL_FD"] = str(channel)
    for name, value in req.get("env", {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    sys.dont_write_bytecode = True
    sys.path.insert(0, req["cwd"])
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
    out = sys.stdout
    out.write(json.dumps({"ready": True, "modules": sorted({m.split(".")[0] for m in sys.modules})}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        nonce = req.get("nonce", "")
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

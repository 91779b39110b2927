"""A pytest fork server, run in the target interpreter: ``python -m loopwright_forkserver``.

Interpreter start-up and ``import pytest`` (plus the plugins it auto-loads) cost
about half a second per test run, and the candidate loop runs pytest hundreds of
times. This server pays that once: it imports pytest and the installed pytest
plugins, then for every request forks a child that runs ``pytest.main(args)``
in a fresh process group. The target repository's own modules are never
imported by the server, so every child sees the current files of its worktree.

Protocol (one JSON object per line):
    stdin:  ``{"cwd": str, "args": [str], "env": {name: value}, "out": path, "err": path,
              "rlimits": {"cpu": seconds, "memory": bytes}}``
    stdout: ``{"ready": true, "modules": [top-level module names]}`` once at start,
            then ``{"pid": int}`` when a child starts and ``{"pid": int, "status": int}``
            when it ends (negative: killed by that signal).
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
    for ep in eps:
        name = ep.value.split(":")[0]
        try:
            importlib.import_module(name)
            PRELOADED.append(name.split(".")[0])
        except Exception:
            pass
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
    fd_in = os.open(os.devnull, os.O_RDONLY)
    fd_out = os.open(req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    fd_err = os.open(req["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd_in, 0)
    os.dup2(fd_out, 1)
    os.dup2(fd_err, 2)
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)
    limits = req.get("rlimits") or {}
    if limits:
        import resource

        if limits.get("cpu"):
            resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu"], limits["cpu"] + 5))
        if limits.get("memory"):
            resource.setrlimit(resource.RLIMIT_AS, (limits["memory"], limits["memory"]))
    os.chdir(req["cwd"])
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


def main():
    _preload()
    out = sys.stdout
    out.write(json.dumps({"ready": True, "modules": sorted({m.split(".")[0] for m in sys.modules})}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(req)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        out.write(json.dumps({"pid": pid, "status": code}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()

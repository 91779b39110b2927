"""loopwright's pytest plugin, loaded in the target interpreter with ``-p loopwright_pytest``.

Self-contained (standard library, plus coverage.py when the target has it): the
target interpreter need not have loopwright installed. Configured by environment:

``LOOPWRIGHT_CHANNEL_FD`` an inherited pipe (file descriptor number) for the results:
                         one JSON record per line, each carrying ``"nonce"`` (from
                         ``LOOPWRIGHT_NONCE``), flushed as it happens so a process that
                         dies mid-run leaves what it did:
                         ``{"event": "collected", "ids": [...]}``,
                         ``{"event": "start", "id": ...}``,
                         ``{"event": "result", "id", "outcome", "message", "frames", "duration"}``,
                         ``{"event": "finished"}`` last, when the session ends.
``LOOPWRIGHT_SELECT``    path of a JSON list of node ids: run only these.
``LOOPWRIGHT_FIRST``     path of a JSON list of node ids: run these first.
``LOOPWRIGHT_TIMEOUTS``  path of a JSON ``{"default": s, "tests": {id: s}}``: per-test
                         timeout in seconds, enforced with SIGALRM (like pytest-timeout's
                         signal method); a test that swallows the alarm is ended by
                         ``os._exit`` after a grace period, its record written first.
``LOOPWRIGHT_STOP_ON``   path of a JSON list of node ids expected to pass: stop the
                         session at the first of them that does not (a regression).
``LOOPWRIGHT_COVERAGE``  ``1``: send per-test line coverage at the end as
                         ``{"event": "coverage", "data": {test_id: {abs_path: [lines]}}}``,
                         files under ``LOOPWRIGHT_ROOT`` (installed packages excluded). Lines
                         run outside any test (module-level code and class attributes, run
                         when a module is imported: by a conftest, a plugin or a test module)
                         are recorded under the id ``<import>``: the measurement starts before
                         pytest loads plugins and conftests (:mod:`loopwright_coverage`).
                         Lines run only while pytest explains a failure (the assertion's
                         message, the failing phase's report) are left out (:mod:`loopwright_explain`).
``LOOPWRIGHT_CAPTURE``   path of a JSON spec: the calls of named functions while named tests
                         run, sent at the end as ``{"event": "capture", "data": {test_id:
                         [[name, args, result], ...]}}`` (:mod:`loopwright_capture`); with
                         ``"kind": "angelic"``, an angelic probe's records instead: what
                         conditions evaluate to and where execution goes (:mod:`loopwright_angelic`).
``LOOPWRIGHT_COVERAGE_TESTS`` path of a JSON list of node ids: the same coverage event, measured
                         only while those tests run (no import-time lines): a candidate's
                         full run records what the tests watching it execute at little cost.

The pipe is not a path test code can name: when this module is imported (before any
conftest or test module) the variable is removed from ``os.environ`` and, at configure
time, the descriptor is moved to a close-on-exec number, so subprocesses of tests never
inherit it. The nonce is never in the environment: :func:`boot` (how loopwright starts
pytest: ``python -c "...; loopwright_pytest.boot()" ARGS``) reads it, with the confirmation
run's canary names, from its stdin pipe, which is then closed (``LOOPWRIGHT_SECRET=stdin``);
the fork server hands it to a forked child in memory. ``/proc/self/environ`` of a test
shows neither. :func:`boot` also imports pytest and this plugin *before* the worktree
(``LOOPWRIGHT_PATH``) is put on ``sys.path``, so a worktree file cannot replace the runner's
own modules. (Code running *in* the test process can still find the nonce in this module's
memory: that is why acceptance is confirmed by a second, fresh run with canaries.)
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import time
import traceback

import pytest

import loopwright_angelic  # before the worktree is on sys.path, like pytest
import loopwright_capture
import loopwright_coverage
import loopwright_explain
import loopwright_shard
from loopwright_main import as_pytest_main, enter_worktree  # noqa: F401 (the fork server calls them here)

_ENV = os.environ.get
#: what loopwright hands over outside the environment: ``fd`` (the results pipe), ``nonce``,
#: ``canaries`` (``{"pass": name, "fail": name}``: confirmation runs only). The environment
#: variables are removed here, at import, before any conftest or test module runs.
SECRET = {"fd": os.environ.pop("LOOPWRIGHT_CHANNEL_FD", None), "nonce": os.environ.pop("LOOPWRIGHT_NONCE", "")}
#: a terminal colour or style code: `addopts = --color=yes` colours pytest's assertion diffs
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class TestTimeout(BaseException):
    """Raised in a test by the per-test alarm. BaseException so ``except Exception`` can't swallow it."""

    __test__ = False


def _load(name, default):
    path = _ENV(name)
    if not path:
        return default
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def boot():
    """Start pytest (``pytest.console_main``, arguments from ``sys.argv[1:]``) with the nonce and
    canaries read from stdin when ``LOOPWRIGHT_SECRET=stdin`` (one JSON object; stdin is then
    /dev/null) and the worktree entered (:func:`enter_worktree`) only now: pytest, pluggy and
    this plugin were imported from the interpreter's own paths first."""
    if os.environ.pop("LOOPWRIGHT_SECRET", "") == "stdin":
        data = b""
        while True:
            chunk = os.read(0, 65536)
            if not chunk:
                break
            data += chunk
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        SECRET.update(json.loads(data.decode() or "{}"))
    # coverage.py imported and started before the worktree is on sys.path and before pytest
    # loads plugins and conftests (which may import the package under test)
    loopwright_coverage.start_early(_ENV("LOOPWRIGHT_ROOT"))
    enter_worktree(os.environ.pop("LOOPWRIGHT_PATH", ""))
    as_pytest_main()
    raise SystemExit(pytest.console_main())


def _channel():
    """The results pipe, moved to a high close-on-exec descriptor, and the nonce."""
    fd, nonce = SECRET.get("fd"), SECRET.get("nonce", "")
    if not fd:
        return None, nonce
    try:
        import fcntl

        high = fcntl.fcntl(int(fd), fcntl.F_DUPFD_CLOEXEC, random.randrange(300, 900))
        os.close(int(fd))
    except (ImportError, OSError):
        high = int(fd)
    return os.fdopen(high, "w", encoding="utf-8"), nonce


class _Recorder:
    def __init__(self, config):
        self.config = config
        self.out, self.nonce = _channel()
        self.root = os.path.realpath(_ENV("LOOPWRIGHT_ROOT") or str(config.rootpath))
        self.select = _load("LOOPWRIGHT_SELECT", None)
        self.first = _load("LOOPWRIGHT_FIRST", [])
        t = _load("LOOPWRIGHT_TIMEOUTS", {})
        self.default_timeout = t.get("default")
        self.timeouts = t.get("tests", {})
        self.stop_on = set(_load("LOOPWRIGHT_STOP_ON", []))
        self.shard, self.files = _load("LOOPWRIGHT_SHARD", None), None  # [k, n]; the suite's files
        self.reports = {}
        self.collect_errors = {}
        self.current = None
        spec = _load("LOOPWRIGHT_CAPTURE", None)
        self.capture = (None if not spec else loopwright_angelic.Probe(spec, self.root)
                        if spec.get("kind") == "angelic" else loopwright_capture.Capture(spec, self.root))
        only = _load("LOOPWRIGHT_COVERAGE_TESTS", [])
        # the whole session's coverage was started before the conftests loaded (start_early)
        self.coverage = loopwright_coverage.taken() or (
            loopwright_coverage.LineCoverage(self.root, only).start() if _ENV("LOOPWRIGHT_COVERAGE") or only else None)
        # lines run only while pytest explains a failure are not the test's (loopwright_explain)
        self.explain = loopwright_explain.Explaining(self.coverage).install() if self.coverage is not None else None

    # -- output ---------------------------------------------------------------
    def emit(self, record):
        if self.out:
            self.out.write(json.dumps({**record, "nonce": self.nonce}) + "\n")
            self.out.flush()

    def frames(self, tb):
        out = []
        for fs in traceback.extract_tb(tb):
            path = os.path.realpath(fs.filename)
            if path.startswith(self.root + os.sep):
                path = os.path.relpath(path, self.root).replace(os.sep, "/")
            out.append([path, fs.lineno or 0, fs.name])
        return out[-30:]

    # -- coverage (loopwright_coverage: dynamic contexts, one per test id) -----------
    def switch(self, test_id):
        if self.explain is not None:
            self.explain.end()
            self.explain.install_unittest()  # a test module may import unittest after configure
        if self.capture is not None:
            return self.capture.switch(test_id)
        if self.coverage is not None:
            self.coverage.switch(test_id)

    def write_coverage(self):
        if self.explain is not None:
            self.explain.uninstall()
        if self.coverage is not None:
            self.emit({"event": "coverage", "data": self.coverage.stop()})


_rec = None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config):
    """The whole session's coverage starts before the initial conftests are imported (when
    ``boot`` did not start it already: a forked child)."""
    loopwright_coverage.start_early(_ENV("LOOPWRIGHT_ROOT") or str(early_config.rootpath))


def pytest_configure(config):
    global _rec
    _rec = _Recorder(config)


def pytest_collection_modifyitems(session, config, items):
    if _rec.select is not None:
        wanted = set(_rec.select)
        # a file id selects its tests (a collection error's name); an id no item has (from the clock) its new ids
        renamed = {t.split("[", 1)[0] for t in wanted - {it.nodeid for it in items} if "[" in t}
        keep = [it for it in items if it.nodeid in wanted or it.nodeid.split("::", 1)[0] in wanted
                or "[" in it.nodeid and it.nodeid.split("[", 1)[0] in renamed]
        kept = set(id(it) for it in keep)
        drop = [it for it in items if id(it) not in kept]
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep
    if _rec.first:
        rank = {tid: i for i, tid in enumerate(_rec.first)}
        items.sort(key=lambda it: rank.get(it.nodeid, len(rank)))  # stable: others keep order
    if _rec.shard:
        mine, _rec.files = loopwright_shard.keep(items, *_rec.shard, str(config.rootpath))
        if len(mine) < len(items):
            kept = set(id(it) for it in mine)
            config.hook.pytest_deselected(items=[it for it in items if id(it) not in kept])
        items[:] = mine
    _add_canaries(items)


def _add_canaries(items):
    """The confirmation run's canaries (``SECRET["canaries"]``): two test functions named as
    loopwright chose at random, one that must pass and one that must fail, compiled under the
    file name of the module of the first test function and added to that module at random
    places. They are real ``pytest.Function`` items: a stub of pytest's runner, a forged
    summary or exit status treats them like every other test, and loopwright knows what their
    honest results are. A place is only where a module-level function of that module could
    stand (:func:`_canary_places`): never inside a class's run of tests or another module's,
    whose teardown and setup again would reset state later tests rely on."""
    names = SECRET.get("canaries") or {}
    hosts = [it for it in items if isinstance(it, pytest.Function) and it.getparent(pytest.Module)]
    # a module marked skip/skipif/xfail (semantic-version's Django tests without Django) would
    # skip the canaries with it: the first module without such a mark hosts them
    host = next((it for it in hosts if not any(m.name in ("skip", "skipif", "xfail")
                                               for m in it.getparent(pytest.Module).iter_markers())),
                hosts[0] if hosts else None)
    if not names or host is None:
        return
    module = host.getparent(pytest.Module)
    ns = {"__name__": getattr(module.obj, "__name__", "canary")}
    src = f"def {names['pass']}():\n    assert [1, 2] == [1, 2]\n\n\ndef {names['fail']}():\n    assert [1, 2] == [2, 1]\n"
    exec(compile(src, str(module.path), "exec"), ns)
    for key in ("pass", "fail"):
        item = pytest.Function.from_parent(module, name=names[key], callobj=ns[names[key]])
        items.insert(random.choice(_canary_places(items, module)), item)


def _canary_places(items, module):
    """Indexes where a new function item of ``module`` may be inserted into ``items``: next to
    an item of ``module``, and not between two items under the same class (or other node
    below their module). Never empty: ``module`` hosts at least one item."""

    def top(it):  # the module's direct child that holds the item (a class, or the function itself)
        node = it
        while node.parent is not None and not isinstance(node.parent, pytest.Module):
            node = node.parent
        return node

    places = []
    for i in range(len(items) + 1):
        before, after = items[i - 1] if i else None, items[i] if i < len(items) else None
        if not any(it is not None and it.getparent(pytest.Module) is module for it in (before, after)):
            continue
        if before is not None and after is not None and top(before) is top(after):
            continue
        places.append(i)
    return places


def pytest_collection_finish(session):
    _rec.emit({"event": "collected", "ids": [it.nodeid for it in session.items],
               **({"files": _rec.files} if _rec.files is not None else {})})


def pytest_exception_interact(node, call, report):
    """Collection errors (syntax and import errors) are work too: record the real exception."""
    if getattr(report, "when", None) != "collect" or not report.failed:
        return  # a test phase: handled by pytest_runtest_makereport
    exc = call.excinfo.value
    while exc.__cause__ is not None or (exc.__context__ is not None and not exc.__suppress_context__):
        exc = exc.__cause__ or exc.__context__  # pytest wraps import errors in CollectError
    frames = _rec.frames(exc.__traceback__) if exc.__traceback__ else []
    if isinstance(exc, SyntaxError) and exc.filename:
        path = os.path.realpath(exc.filename)
        if path.startswith(_rec.root + os.sep):
            path = os.path.relpath(path, _rec.root).replace(os.sep, "/")
        frames.append([path, exc.lineno or 0, "<module>"])
    message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    _rec.collect_errors[report.nodeid or "."] = (message, frames)


def pytest_collectreport(report):
    if report.failed:
        message, frames = _rec.collect_errors.pop(report.nodeid or ".", ("", []))
        if not message:
            lines = [ln for ln in str(report.longrepr).splitlines() if ln.strip()]
            message = next((ln[2:].strip() for ln in lines if ln.startswith("E ")), lines[-1] if lines else "")
        _rec.emit({"event": "result", "id": report.nodeid or ".", "outcome": "error",
                   "when": "collect", "message": message[:2000], "frames": frames, "duration": 0.0})


def _alarm(signum, frame):
    _rec.fired += 1
    if _rec.fired > 1:  # the test swallowed the first alarm: record it and leave
        _rec.emit({"event": "result", "id": _rec.current, "outcome": "timeout",
                   "message": "Timeout: test did not stop after the timeout alarm",
                   "frames": [], "duration": time.monotonic() - _rec.started})
        os._exit(70)
    signal.setitimer(signal.ITIMER_REAL, 1.0)  # grace period for the exception to unwind
    raise TestTimeout(f"test exceeded its {_rec.limit:.1f} s timeout")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _rec.current = item.nodeid
    _rec.started = time.monotonic()
    _rec.fired = 0
    _rec.reports[item.nodeid] = []
    _rec.emit({"event": "start", "id": item.nodeid})
    limit = _rec.timeouts.get(item.nodeid, _rec.default_timeout)
    _rec.limit = limit or 0
    use_alarm = bool(limit) and hasattr(signal, "setitimer")
    if use_alarm:
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, float(limit))
    _rec.switch(item.nodeid)
    try:
        yield
    finally:
        _rec.switch("")
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    _finish(item)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # a phase that raised is explained here (repr_failure, exconly: the code's __repr__/__str__),
    # outside the test's coverage (loopwright_explain); the first wrapper, so around all others
    explain = _rec.explain if call.excinfo is not None else None
    if explain is not None:
        explain.begin()
    try:
        outcome = yield
        report = outcome.get_result()
        info = {"when": call.when, "outcome": report.outcome, "duration": call.duration}
        if call.excinfo is not None and not report.skipped:
            exc = call.excinfo
            info["timeout"] = exc.errisinstance(TestTimeout)
            info["message"] = _ANSI.sub("", exc.exconly())[:2000]
            info["frames"] = _rec.frames(exc.tb)
    finally:
        if explain is not None:
            explain.end()
    if hasattr(report, "wasxfail"):
        info["xfail"] = True
    _rec.reports.setdefault(item.nodeid, []).append(info)


def _finish(item):
    phases = _rec.reports.pop(item.nodeid, [])
    outcome, message, frames = "passed", "", []
    duration = sum(p["duration"] for p in phases)
    for p in phases:
        if p.get("xfail"):
            outcome = "xfailed" if p["outcome"] == "skipped" else "xpassed"
        elif p.get("timeout"):
            outcome = "timeout"
        elif p["outcome"] == "failed":
            outcome = "failed" if p["when"] == "call" else "error"
        elif p["outcome"] == "skipped" and outcome == "passed":
            outcome = "skipped"
        if p.get("message") and not message:
            message, frames = p["message"], p.get("frames", [])
        if outcome not in ("passed", "skipped"):
            break
    _rec.emit({"event": "result", "id": item.nodeid, "outcome": outcome, "message": message,
               "frames": frames, "duration": duration})
    if item.nodeid in _rec.stop_on and outcome not in ("passed", "skipped", "xfailed", "xpassed"):
        item.session.shouldstop = f"regression: {item.nodeid}"
        _rec.emit({"event": "stopped", "id": item.nodeid})


def pytest_sessionfinish(session):
    _rec.write_coverage()
    if _rec.capture is not None:
        _rec.emit({"event": "capture", "data": _rec.capture.stop()})
    _rec.emit({"event": "finished"})  # the session ended (a process that dies never says it)
    if _rec.out:
        _rec.out.close()

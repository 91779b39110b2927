"""The test evaluator: runs the target repository's pytest and returns structured results.

Results come from our plugin (:mod:`harness.evaluators.plugin.loopwright_pytest`, loaded with
``-p``) as JSON events over an inherited pipe (never a file test code could name), each carrying
a per-run nonce; never from terminal text. A test process that dies mid-run (a test calling
``os._exit``, a segfault, a hang in C code killed by the process timeout) loses only the test
that was running: it is recorded as an error or timeout, and the tests not yet run are run again.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import tempfile
import threading
import time
from pathlib import Path

from harness.evaluators.addopts import AddoptsOverride
from harness.evaluators.confirm import confirm
from harness.evaluators.forkserver import ForkServer, ForkServerError, start_server
from harness.evaluators.interpreter import EvaluatorError, check_pytest, resolve_python  # noqa: F401  (their old home)
from harness.evaluators.pytest_output import NAMES_PROBE, PLUGINS_PROBE, names_here, plugin_args, probe_here, spec_files
from harness.evaluators.pytest_output import records as _records, started as _started, startup_error as _startup_error
from harness.evaluators.shards import sharded_run
from harness.evaluators.testrun import TestRun, TimeoutPolicy, merge_coverage
from harness.evaluators.verdict import Frame, TestResult, Verdict
from sandbox.process import SandboxPolicy, run

PLUGIN_DIR = Path(__file__).parent / "plugin"
PLUGIN = "loopwright_pytest"
#: how a plain test process starts: the working directory (the worktree) off ``sys.path``,
#: then the plugin's ``boot`` imports pytest before entering the worktree (any Python 3).
BOOT = "import sys; sys.path[:1] == [''] and sys.path.pop(0); import loopwright_pytest; loopwright_pytest.boot()"
#: boot imported the plugin before pytest could mark it for assertion rewriting: not a warning
#: (a project with ``filterwarnings = error`` would not start), as the fork server does
PRELOADED_OK = f"ignore:Module already imported so cannot be rewritten; {PLUGIN}:pytest.PytestAssertRewriteWarning"


def _base_env() -> dict[str, str]:
    """The environment of every test process and fork server, on top of the sandbox's: no
    worktree on ``PYTHONPATH`` (boot, or the forked child, enters it after importing pytest); no
    .pyc files (a same-size edit within the same second would otherwise be missed by the
    mtime+size check, and the worktree stays clean)."""
    extra = [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []
    return {"PYTHONPATH": os.pathsep.join([str(PLUGIN_DIR), *extra]), "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0"}


def _roots(root: Path) -> list[str]:
    """The worktree's import roots: itself, and ``src`` when there is one."""
    return [str(root)] + ([str(root / "src")] if (root / "src").is_dir() else [])


class PytestEvaluator:
    """Runs pytest in a worktree with the target interpreter; one instance per run.

    Args:
        python: target interpreter path.
        policy: sandbox policy for the test processes.
        timeouts: per-test timeout policy.
        scratch: directory for result files (default: its own temp dir, removed by :meth:`close`).
        fork: run tests through a per-worktree fork server (:mod:`harness.evaluators.forkserver`)
            instead of a new interpreter each time; falls back to plain processes
            when the server cannot start, or when the repository defines a module
            the server had to import itself (e.g. the repo *is* pytest or pluggy).
    """

    id = "tests"

    def __init__(self, python: str, policy: SandboxPolicy | None = None,
                 timeouts: TimeoutPolicy | None = None, scratch: Path | None = None, fork: bool = True):
        self.python = python
        self.policy = policy or SandboxPolicy()
        self.timeouts = timeouts or TimeoutPolicy()
        self._own = None if scratch else tempfile.TemporaryDirectory(prefix="loopwright-pytest-")
        self.scratch = Path(scratch or self._own.name)
        self.scratch.mkdir(parents=True, exist_ok=True)
        self._n = itertools.count(1)  # process tags (shards and confirmations run in threads)
        self.intervals: list[tuple[float, float]] = []
        self.fork = fork and hasattr(os, "fork")
        self._servers: dict[Path, ForkServer | None] = {}
        self._starting: dict[Path, threading.Lock] = {}  # worktree -> held while its server starts
        self._trusted: set[Path] = set()  # worktrees where a forked run has started pytest
        self.fork_fallbacks: dict[Path, str] = {}  # worktree -> why its fork server was dropped for plain processes
        self._lock = threading.Lock()
        self._plugins: list[str] | None = None  # pytest arguments naming its plugins (plugin_args)
        self._names: frozenset[str] | None = None  # importable_names()
        self._addopts = AddoptsOverride()  # worktree -> -o addopts=... without pytest-cov's options

    def busy_seconds(self) -> float:
        """Wall seconds during which at least one test process of this evaluator was running
        (the union of their intervals, so parallel slots are not counted twice)."""
        total, end = 0.0, float("-inf")
        for a, b in sorted(self.intervals):
            if b > end:
                total += b - max(a, end)
                end = b
        return total

    def close(self) -> None:
        """Stop the fork servers; remove the scratch folder the evaluator made itself."""
        with self._lock:
            for server in filter(None, self._servers.values()):
                server.close()
            self._servers.clear()
        self._own = self._own and self._own.cleanup()

    def prestart(self, root: Path) -> None:
        """Start ``root``'s fork server now (when fork servers are on), so that the worktree's
        first run does not wait for it. Call it from a thread that lives as long as the server
        is used (a validation pool's worker): the sandboxed server dies with the thread that
        started it (bwrap ``--die-with-parent``)."""
        if self.fork:
            self._server(root, _base_env())

    def _server(self, root: Path, env: dict[str, str]) -> ForkServer | None:
        # one start at a time per worktree, the worktrees' starts at once (each 0.65 s: tabulate)
        with self._lock:
            if root in self._servers:
                return self._servers[root]
            starting = self._starting.setdefault(root, threading.Lock())
        with starting:
            with self._lock:
                if root in self._servers:  # started while this thread waited
                    return self._servers[root]
            server = start_server(self.python, root, env, self.policy, self.scratch)
            with self._lock:
                self._servers[root] = server
            return server

    def _exec(self, root: Path, args: list[str], env: dict[str, str], base_env: dict[str, str],
              timeout: float, plain: bool, secret: dict):
        server = None if plain or not self.fork else self._server(root, base_env)
        if server is None or not server.busy.acquire(blocking=False):  # serving another shard's run
            return self._plain(root, args, env, base_env, timeout, secret)
        try:
            res = server.run(args, root, env, timeout, secret)
            if root in self._trusted or _started(res, secret["nonce"]):
                self._trusted.add(root)
                return res
        except ForkServerError:
            res = None
        finally:
            server.busy.release()
        # The server failed, or its first run in this worktree did not start: check with a plain process. If
        # that starts, the server cannot run what a plain pytest can here (its preloaded modules): stop using it.
        plain_res = self._plain(root, args, env, base_env, timeout, secret)
        if res is None or _started(plain_res, secret["nonce"]):
            with self._lock:
                if res is None and server.served:
                    # a server that had worked may start again (it dies with the thread
                    # that started it: bwrap --die-with-parent)
                    self._servers.pop(root, None)
                else:  # one that never worked, or cannot start pytest here: not retried
                    self._servers[root] = None
                    if res is not None:
                        self.fork_fallbacks[root] = _startup_error(res, root)
            server.close()
        return plain_res

    def _plugin_args(self, root: Path, base_env: dict[str, str]) -> list[str]:
        """pytest's auto-loaded plugins by name (:func:`harness.evaluators.pytest_output.plugin_args`), asked once."""
        with self._lock:
            if self._plugins is None:
                if (out := probe_here(self.python, root)) is None:
                    res = run([self.python, "-c", PLUGINS_PROBE], root, 60, self.policy,
                              {**base_env, "PYTHONPATH": os.pathsep.join(_roots(root) + [base_env["PYTHONPATH"]])})
                    out = res.stdout if res.returncode == 0 else ""
                self._plugins = plugin_args(out)
            return self._plugins

    def _plain(self, root: Path, args: list[str], env: dict[str, str], base_env: dict[str, str],
               timeout: float, secret: dict, read_only: bool = False):
        """pytest started by the plugin's ``boot`` (:data:`BOOT`), the secret on its stdin."""
        return run([self.python, "-c", BOOT, "-W", PRELOADED_OK, *args], root, timeout, self.policy,
                   {**base_env, **env, "LOOPWRIGHT_SECRET": "stdin"}, readable=[self.scratch], channel=True,
                   read_only=read_only, stdin_data=json.dumps(secret).encode())

    def importable_names(self) -> frozenset[str]:
        """Top-level module names the target interpreter can import without the worktree: its
        standard library (``sys.stdlib_module_names``, 3.10+) and its installed distributions'
        top-level names (``importlib.metadata``: ``top_level.txt`` or the files listed); asked
        once, in this process when it is the same interpreter and environment. Empty when the
        probe fails (the fixed names of :mod:`harness.core.screen` still apply)."""
        with self._lock:
            if self._names is None:
                out = names_here(self.python)
                if out is None:
                    with tempfile.TemporaryDirectory(prefix="loopwright-probe-") as empty:
                        res = run([self.python, "-c", NAMES_PROBE], Path(empty), 60, self.policy,
                                  {"PYTHONPATH": os.environ.get("PYTHONPATH", "")})
                    out = res.stdout if res.returncode == 0 else "[]"
                try:
                    self._names = frozenset(n for n in json.loads(out.strip().splitlines()[-1]) if isinstance(n, str))
                except (ValueError, IndexError, TypeError):
                    self._names = frozenset()
            return self._names

    def run(self, root: Path, *, select: list[str] | None = None, first: list[str] = (),
            stop_on: list[str] = (), timeouts: dict[str, float] | None = None,
            default_timeout: float | None = None, coverage: bool = False,
            process_timeout: float = 600.0, paths: list[str] = (),
            coverage_tests: list[str] = (), capture: dict | None = None, deadline: float | None = None,
            shards: int = 1, shard: tuple[int, int] | None = None, durations: dict | None = None) -> TestRun:
        """Run the tests under ``root`` and collect structured results.

        Args:
            root: the worktree.
            select: run only these test ids (None: all collected).
            first: ids to run before the others.
            stop_on: ids expected to pass; the session stops at the first that fails.
            timeouts: per-test limits in seconds; ``default_timeout`` for the others.
            coverage: record per-test line coverage (baseline only: it is slow).
            process_timeout: wall seconds for each pytest process (its group is killed after it);
                ``deadline`` (``time.monotonic()``): none runs past it, re-runs and coverage recovery included.
            paths: pytest arguments restricting collection (files or directories).
            coverage_tests: line coverage only while these run (no import-time lines: forkable).
            capture: named functions' calls while named tests run, into ``TestRun.calls``
                (the spec of ``harness/evaluators/plugin/loopwright_capture.py``).
            shards: split by test file into this many processes at once (:mod:`~harness.evaluators.shards`,
                ``durations`` balance a ``select``); not with ``first``, ``stop_on``, ``capture``, ``coverage_tests``.
            shard: ``(k, n)``: this process keeps shard ``k`` of ``n`` of the collected files.
        """
        if shards > 1 and not (first or stop_on or capture or coverage_tests):
            return sharded_run(self, root, shards, select=select, durations=durations, timeouts=timeouts,
                               default_timeout=default_timeout, coverage=coverage, process_timeout=process_timeout,
                               paths=paths, deadline=deadline)
        out = TestRun()
        cover = [] if coverage else list(coverage_tests)
        remaining: list[str] | None = list(select) if select is not None else None
        crashes = 0
        while True:
            if deadline is not None:  # what is left of it
                process_timeout = max(1.0, min(process_timeout, deadline - time.monotonic()))
            started, res, finished = self._one(root, remaining, first, stop_on, timeouts, default_timeout,
                                               coverage, process_timeout, paths, out, cover=cover, capture=capture,
                                               shard=shard if remaining is None else None)
            out.processes += 1
            running = set(started) - set(out.results)
            if not out.collected and not out.results:
                out.error = _startup_error(res, root)
                return out
            for tid in running:  # the test that was running when the process died
                reason = (f"process killed after {process_timeout:.0f} s" if res.timed_out
                          else f"test process exited with code {res.returncode} during this test")
                out.results[tid] = TestResult(tid, "timeout" if res.timed_out else "error", reason)
            # A process that ended without finishing its session died, even when the test that
            # killed it wrote its result first (a test that swallowed its timeout alarm): the
            # tests after it are run again, and the coverage of those before it recovered.
            died = bool(running) or (not finished and not res.timed_out and bool(started))
            todo = [t for t in out.collected if t not in out.results]
            left = float("inf") if deadline is None else deadline - time.monotonic()  # seconds until the deadline
            if not died or not todo or out.stopped or left < 1.0:
                if todo and (res.timed_out or left < 1.0) and not out.stopped:
                    for tid in todo:
                        out.results[tid] = TestResult(tid, "error", "not run: process timed out")
                if coverage and (crashes or died) and left >= 1.0:
                    self._recover_coverage(root, out, timeouts, default_timeout, min(process_timeout, left))
                return out
            crashes += 1
            if crashes > 5:
                for tid in todo:
                    out.results[tid] = TestResult(tid, "error", "not run: the test process kept dying")
                return out
            remaining = todo
            paths = sorted({t.split("::", 1)[0] for t in todo})

    def _recover_coverage(self, root, out: TestRun, timeouts, default_timeout, process_timeout):
        """Coverage of tests that ran in a process that died was lost with it: run them
        again (without the tests that killed or hung their process) to get it back. The
        failing tests go first: fault localization needs their spectra; and if that process
        dies too (a slow passing test), they are taken once more in a process of their own."""
        culprits = {t for t, r in out.results.items() if r.outcome in ("timeout", "error")
                    and r.message.startswith(("test process exited", "process killed", KILLED_BY_ALARM))}
        missing = [t for t in out.collected if t not in out.coverage and t not in culprits
                   and t in out.results and out.results[t].outcome != "error"]
        failing = [t for t in missing if not out.results[t].ok]
        group, first = missing, failing
        while group:
            again = TestRun()
            _, _, finished = self._one(root, group, first, (), timeouts, default_timeout, True, process_timeout,
                                       sorted({t.split("::", 1)[0] for t in group}), again)
            out.duration += again.duration
            out.processes += 1
            merge_coverage(out.coverage, again.coverage)
            lost = [t for t in failing if t not in out.coverage]
            group, first = (lost, ()) if not finished and lost and group != lost else ([], ())

    def confirm(self, root: Path, must_pass: list[str], *, timeouts: dict[str, float] | None = None,
                process_timeout: float = 600.0, flaky: set[str] | None = None,
                durations: dict[str, float] | None = None, jobs: int = 1) -> str:
        """Re-run the tests ``must_pass`` in fresh plain sandboxed processes (no fork
        server) and check that the evidence agrees; returns '' when it does, else what
        disagrees. (Only those: a test failing at baseline may crash its process.)

        Agreement: every id in ``must_pass`` (what validation saw pass) passes (a file or
        collector id, from a collection error at baseline, must now collect without
        error); in each process the plugin's count of passed tests equals pytest's own
        terminal summary, and pytest's exit status is 0 exactly when no test failed.
        Forging a verdict then takes lying consistently to three witnesses (results pipe,
        terminal summary, exit status), not one. With a ``flaky`` set, a test that does
        not pass is re-run once, alone, first: one that passes then is added to ``flaky``,
        not counted against the evidence (a timing-sensitive test on a loaded machine); a
        test that timed out gets a looser limit alone (:data:`~harness.evaluators.confirm.ALONE_FACTOR`).
        The tests are split by file into up to ``jobs`` processes run at once, balanced by
        ``durations`` (test id -> baseline seconds); see :mod:`harness.evaluators.confirm`.
        """
        return confirm(self, root, must_pass, timeouts=timeouts, process_timeout=process_timeout,
                       flaky=flaky, durations=durations, jobs=jobs)

    def fresh_run(self, root: Path, select: list[str] | None, paths: list[str],
                  timeouts: dict[str, float] | None, process_timeout: float, read_only: bool = False,
                  canaries: dict | None = None):
        """One plain pytest process (no fork server, no coverage) over ``select`` (None:
        all collected under ``paths``): ``(TestRun, ProcessResult)``, the process's
        terminal output and exit status included. Nothing is re-run if it dies.
        ``read_only``: ``root`` is bound read-only (the user's checkout). ``canaries``
        (``{"pass": name, "fail": name}``): two test functions the plugin adds to the first
        test module (see :mod:`harness.evaluators.confirm`)."""
        out = TestRun()
        _, res, _ = self._one(root, select, (), (), timeouts, None, False, process_timeout, paths, out, plain=True,
                              read_only=read_only, canaries=canaries)
        return out, res

    def _one(self, root, select, first, stop_on, timeouts, default_timeout, coverage,
             process_timeout, paths, out: TestRun, plain: bool = False, read_only: bool = False,
             canaries: dict | None = None, cover: list[str] = (), capture: dict | None = None,
             shard: tuple[int, int] | None = None):
        tag = self.scratch / f"r{os.getpid()}-{next(self._n)}"
        base_env = _base_env()
        nonce = secrets.token_hex(16)
        secret = {"nonce": nonce, **({"canaries": canaries} if canaries else {})}
        env = {"LOOPWRIGHT_ROOT": str(root), "LOOPWRIGHT_PATH": os.pathsep.join(_roots(root))}
        env.update(spec_files(tag, {
            "LOOPWRIGHT_SELECT": select, "LOOPWRIGHT_FIRST": list(first) or None,
            "LOOPWRIGHT_STOP_ON": list(stop_on) or None, "LOOPWRIGHT_COVERAGE_TESTS": list(cover) or None,
            "LOOPWRIGHT_CAPTURE": capture or None, "LOOPWRIGHT_SHARD": list(shard) if shard else None,
            "LOOPWRIGHT_TIMEOUTS": {"default": default_timeout or self.timeouts.default, "tests": timeouts or {}}}))
        if coverage:
            env["LOOPWRIGHT_COVERAGE"] = "1"
        args = [*self._plugin_args(root, base_env), *self._addopts(root), "-p", PLUGIN, "-p", "no:cacheprovider", "-q", "--tb=no", "--no-header", "-rN",
                "-W", "ignore::pytest.PytestUnraisableExceptionWarning", *paths]
        t0 = time.monotonic()
        # Coverage must see the target's modules imported: it gets a fresh interpreter.
        res = (self._plain(root, args, env, base_env, process_timeout, secret, read_only=True) if read_only
               else self._exec(root, args, env, base_env, process_timeout, coverage or plain, secret))
        t1 = time.monotonic()
        out.duration += t1 - t0
        self.intervals.append((t0, t1))
        started: dict[str, None] = {}  # in the order they started
        finished = False
        for rec in _records(res.channel, nonce):
            ev = rec.get("event")
            if ev == "collected":
                out.collected, out.files = out.collected or rec["ids"], out.files or rec.get("files", [])
            elif ev == "stopped":
                out.stopped = True
            elif ev == "start":
                started[rec["id"]] = None
            elif ev == "finished":
                finished = True
            elif ev == "result":
                tid = rec["id"]
                if rec.get("when") == "collect" and tid not in out.collected:
                    out.collected.append(tid)
                out.results[tid] = TestResult(
                    tid, rec["outcome"], rec.get("message", ""),
                    tuple(Frame(p, int(ln), fn) for p, ln, fn in rec.get("frames", [])),
                    float(rec.get("duration", 0.0)),
                )
            elif ev == "coverage" and (coverage or cover):
                merge_coverage(out.coverage, rec["data"])  # earlier processes' spectra are kept
            elif ev == "capture" and capture:
                out.calls = {**rec["data"], **out.calls}  # earlier processes' calls are kept
        for f in self.scratch.glob(f"{tag.name}.*"):
            f.unlink(missing_ok=True)
        return started, res, finished

    def verdict(self, test_run: TestRun, baseline: dict[str, TestResult] | None = None) -> Verdict:
        """Turn a :class:`TestRun` into a :class:`Verdict`, comparing with ``baseline``.

        ``new_failures`` are tests that passed at baseline and do not pass now;
        ``fixed`` are tests that failed at baseline and pass now.
        """
        v = Verdict(self.id, passed=not test_run.error, results=dict(test_run.results),
                    duration=test_run.duration, error=test_run.error)
        if baseline is not None:
            v.new_failures = sorted(t for t, r in v.results.items()
                                    if not r.ok and t in baseline and baseline[t].ok)
            v.fixed = sorted(t for t, r in v.results.items()
                             if r.ok and t in baseline and not baseline[t].ok)
        v.passed = v.passed and not v.failures
        return v


#: the plugin's message for a test that did not stop after its timeout alarm (its process exits)
KILLED_BY_ALARM = "Timeout: test did not stop after the timeout alarm"

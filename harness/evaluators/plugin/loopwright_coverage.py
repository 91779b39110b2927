"""Per-test line coverage for loopwright's pytest plugin (:mod:`loopwright_pytest`).

Standard library only, plus coverage.py when the target interpreter has it (else a
``sys.settrace`` tracer of its own). Lines of files under the worktree (``root``) are
recorded per test id (coverage.py dynamic contexts); lines run outside any test
(module-level code and class attributes, run when a module is imported) under
:data:`IMPORT_CONTEXT`. Installed packages (``*-packages``) are never recorded.

When the whole session is measured (``LOOPWRIGHT_COVERAGE=1``) the measurement starts
*before* pytest loads the initial conftests (:func:`start_early`, called by the plugin's
``boot`` and its ``pytest_load_initial_conftests`` hook): a ``conftest.py`` that imports the
package under test (arrow's, pyjwt's) runs the package's module-level lines then, and a
measurement started at ``pytest_configure`` missed them all, so fault localization could
never rank a bug there. Only files under ``root`` are recorded, so pytest's and the
plugin's own start-up is not. With ``only`` (``LOOPWRIGHT_COVERAGE_TESTS``) lines are
measured only while those tests run: nothing at import, nothing before the first of them.
"""

import os
import sys

IMPORT_CONTEXT = "<import>"  # harness.core.evidence.IMPORT_CONTEXT
_EARLY: dict = {}  # pid -> the LineCoverage started early in that process (a forked child is not its parent)


class LineCoverage:
    """Line coverage of the files under ``root`` (a real path), per test id.

    ``only``: the test ids measured (empty: the whole session, import-time lines included).
    """

    def __init__(self, root, only=()):
        self.root = root
        self.only = set(only)
        self.cov = None  # coverage.Coverage, or None: the sys.settrace fallback (self.trace)
        self.on = False  # only: measuring now
        self.trace = None  # fallback: test id -> {path: set of lines}
        self.tracer = None  # fallback: the tracer function measuring now
        self.paused = False

    def start(self):
        """Set up coverage.py (or the fallback) and, for a whole session, start measuring now
        (under :data:`IMPORT_CONTEXT` until the first :meth:`switch`)."""
        try:
            import coverage

            self.cov = coverage.Coverage(
                data_file=None, include=[os.path.join(self.root, "*")], config_file=False,
                omit=["*/site-packages/*", "*/dist-packages/*"],
            )
            if not self.only:
                self.cov.start()
        except Exception:  # coverage missing or unusable here: fall back to sys.settrace
            self.cov = None
            self.trace = {}
            if not self.only:
                self.switch("")  # record what imports run, until the first test starts
        return self

    def switch(self, test_id):
        """Record the lines that run from now on under ``test_id`` ("" : outside any test)."""
        self.resume()
        if self.only:  # measured only while the listed tests run
            if test_id not in self.only:
                if self.cov is not None and self.on:
                    self.cov.stop()
                elif self.trace is not None:
                    sys.settrace(None)
                self.on = False
                return
            if self.cov is not None:
                self.cov.start()
            self.on = True
        if self.cov is not None:
            self.cov.switch_context(test_id)
        elif self.trace is not None:
            lines = self.trace.setdefault(test_id or IMPORT_CONTEXT, {})
            root = self.root + os.sep

            def tracer(frame, event, arg):
                fn = frame.f_code.co_filename
                if not fn.startswith(root) or "-packages" + os.sep in fn:
                    return None
                if event in ("line", "call"):
                    lines.setdefault(fn, set()).add(frame.f_lineno)
                return tracer

            self.tracer = tracer
            sys.settrace(tracer)

    def pause(self):
        """Stop recording lines until :meth:`resume` (:mod:`loopwright_explain`: while pytest
        explains a failure); the test id and the frames being measured stay as they are.
        coverage.py's collector is paused in place (``Collector.pause``, which keeps the tracer's
        stack, so the frames that were running are measured again after :meth:`resume`), or,
        where a coverage.py has none, stopped and started (``Coverage.stop``/``start``: then
        the lines of those frames are lost, only their callees measured; they are the test's)."""
        if self.paused or (self.only and not self.on):
            return
        self.paused = True
        if self.cov is not None:
            collector = self._pausable()
            if collector is not None:
                collector.pause()
            else:
                self.cov.stop()
        elif self.tracer is not None:
            sys.settrace(None)  # the frames keep their local tracer: resumed by settrace

    def _pausable(self):
        """coverage.py's collector when it can pause and resume (a private name), else None."""
        collector = getattr(self.cov, "_collector", None)
        if callable(getattr(collector, "pause", None)) and callable(getattr(collector, "resume", None)):
            return collector
        return None

    def resume(self):
        """Record lines again after :meth:`pause`."""
        if not self.paused:
            return
        self.paused = False
        if self.cov is not None:
            collector = self._pausable()
            if collector is not None:
                collector.resume()
            else:
                self.cov.start()
        elif self.tracer is not None:
            sys.settrace(self.tracer)

    def stop(self):
        """Stop measuring; what was recorded: ``{test id or IMPORT_CONTEXT: {abs path: [lines]}}``."""
        result = {}
        self.resume()
        if self.cov is not None:
            if self.on or not self.only:
                self.cov.stop()
            data = self.cov.get_data()
            for fn in data.measured_files():
                for line, contexts in (data.contexts_by_lineno(fn) or {}).items():
                    for ctx in contexts:
                        result.setdefault(ctx or IMPORT_CONTEXT, {}).setdefault(fn, []).append(line)
        elif self.trace is not None:
            sys.settrace(None)
            for tid, files in self.trace.items():
                result[tid] = {fn: sorted(lines) for fn, lines in files.items()}
        return result


def start_early(root):
    """Start the whole session's coverage of ``root`` now, when this process is asked for it
    (``LOOPWRIGHT_COVERAGE`` set, ``LOOPWRIGHT_COVERAGE_TESTS`` and ``LOOPWRIGHT_CAPTURE`` not);
    once per process: a later call in the same process gets the same one, until :func:`taken`."""
    env = os.environ.get
    if not root or not env("LOOPWRIGHT_COVERAGE") or env("LOOPWRIGHT_COVERAGE_TESTS") or env("LOOPWRIGHT_CAPTURE"):
        return None
    if os.getpid() not in _EARLY:
        _EARLY[os.getpid()] = LineCoverage(os.path.realpath(root)).start()
    return _EARLY[os.getpid()]


def taken():
    """The coverage :func:`start_early` started in this process (forgotten here: the caller
    owns it now), or None."""
    return _EARLY.pop(os.getpid(), None)

"""Lines run only to explain a failure are not a test's coverage (:mod:`loopwright_pytest`).

After ``assert a == b`` fails, pytest builds the message: its assertion rewriting calls
``repr`` on the operands and on every intermediate value (``where x = f(y)``), asks the
``pytest_assertrepr_compare`` hooks for a diff (which compares the items again and reprs them),
and the report (``repr_failure``: the long traceback, ``--showlocals``, ``exconly``) calls
``str``/``repr`` once more. The library's ``__repr__``, ``__str__`` and whatever they call then
run only in failing tests, so spectrum-based fault localization (Ochiai) ranks them above the
bug (furl 2.1.3: ``Query.__repr__`` and the ``encode`` branch it reaches first, the developer's
fix 11th; release-pair tune suite). Those lines are measured out: while pytest explains, the
line coverage is paused.

What is measured out, by what runs, never by a method's name:

- **Assertion rewriting.** The rewritten test module calls the helpers of
  ``_pytest.assertion.rewrite`` (looked up on the module at each call) only once the assertion
  has failed (or, with ``enable_assertion_pass_hook``, to report one that passed): ``_saferepr``,
  ``_should_repr_global_name``, ``_format_boolop``, ``_call_reprcompare`` (which calls the
  ``pytest_assertrepr_compare`` hooks), ``_format_assertmsg``, and last ``_format_explanation``,
  whose value becomes the ``AssertionError``'s message (pytest's ``AssertionRewriter.visit_Assert``).
  The pause starts at the first helper called and ends when ``_format_explanation`` returns, so
  the assertion's own message expression (``assert x, f"{obj}"``), evaluated between them, is
  measured out too. The comparison itself (``a == b``: the operands' ``__eq__``) runs before the
  first helper, in the test's frame, and stays: it is evidence.
- **The report.** A test phase that raised is reported by ``pytest_runtest_makereport``
  (``repr_failure``, ``exconly``): the plugin pauses the whole hook, only for a phase that raised,
  so a passing test pays nothing.
- ``pytest.raises(..., match=...)`` needs nothing: it matches ``str(exception)``, which is the
  comparison (evidence), and its message shows that string and the pattern, no object's repr.

Not exact, and why: a pause stops the measurement of every thread (coverage.py's collector is
one for the process), so another thread's lines during an explanation are lost; a pause that
the message never ends (its expression raised) lasts until the test phase's report ends it;
unittest's own ``assertEqual`` family formats with plain ``repr`` inside ``unittest.case`` and
is not measured out.

Standard library only, like the rest of the plugin. Safe with hostile code under test: the
code can already stop the tracer itself (``sys.settrace(None)``); pausing gives it no new power,
holds no secret, and the wrappers are put back when the session ends.
"""

#: helpers of ``_pytest.assertion.rewrite`` that the rewritten code calls only to explain an
#: assertion: each starts the pause (a no-op when it is on already)
STARTS = ("_saferepr", "_should_repr_global_name", "_format_boolop", "_call_reprcompare",
          "_format_assertmsg", "_call_assertion_pass")
#: the helper whose return ends the explanation: its value is the ``AssertionError``'s message
ENDS = "_format_explanation"
_MARK = "__loopwright_explain__"


class Explaining:
    """The pause of a line coverage while pytest explains a failure.

    ``coverage``: an object with ``pause()`` and ``resume()`` (``loopwright_coverage.LineCoverage``).
    """

    def __init__(self, coverage):
        self.coverage = coverage
        self.on = False  # paused by us now
        self.saved = {}  # helper name -> the original, while installed

    def begin(self):
        """Pause the measurement (nothing when paused already)."""
        if not self.on:
            self.on = True
            self.coverage.pause()

    def end(self):
        """Resume the measurement paused by :meth:`begin` (nothing when it is not)."""
        if self.on:
            self.on = False
            self.coverage.resume()

    def install(self):
        """Wrap the assertion-rewriting helpers on their module (the rewritten code looks them
        up there at each call, test modules rewritten before or after alike); returns self."""
        try:
            from _pytest.assertion import rewrite
        except ImportError:  # not a pytest this knows: nothing measured out
            return self
        for name in (*STARTS, ENDS):
            fn = getattr(rewrite, name, None)
            if getattr(fn, _MARK, False):  # a session that never ended (a fork server's warm-up)
                fn = fn.__wrapped__
            if fn is None or name in self.saved:
                continue
            self.saved[name] = fn
            setattr(rewrite, name, self._wrap(fn, name))
        return self

    def uninstall(self):
        """Put the original helpers back and resume the measurement if paused."""
        try:
            from _pytest.assertion import rewrite
        except ImportError:
            rewrite = None
        for name, fn in self.saved.items():
            if rewrite is not None:
                setattr(rewrite, name, fn)
        self.saved = {}
        self.end()

    def _wrap(self, fn, name):
        ends = name in (ENDS, "_call_assertion_pass")

        def helper(*args, **kwargs):
            self.begin()
            try:
                return fn(*args, **kwargs)
            finally:
                if ends:
                    self.end()

        setattr(helper, _MARK, True)
        helper.__name__ = getattr(fn, "__name__", name)
        helper.__doc__ = getattr(fn, "__doc__", None)
        helper.__wrapped__ = fn
        return helper

"""Lines run only to explain a failure are not a test's coverage (:mod:`loopwright_pytest`).

After ``assert a == b`` fails, pytest builds the message: its assertion rewriting calls
``repr`` on the operands and on every intermediate value (``where x = f(y)``), asks the
``pytest_assertrepr_compare`` hooks for a diff (which compares the items again and reprs them),
and the report (``repr_failure``: the long traceback, ``--showlocals``, ``exconly``) calls
``str``/``repr`` once more. The library's ``__repr__``, ``__str__`` and whatever they call then
run only in failing tests, so spectrum-based fault localization (Ochiai) ranks them above the
bug (furl 2.1.3 of the release-pair tune suite: ``Query.__repr__`` and ``furl.__repr__`` were
the two most suspicious lines, the developer's fix on the 12th). Those lines are measured out:
while pytest explains, the line coverage is paused.

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
- **unittest's assertion methods** (``self.assertEqual`` and the rest, in ``unittest.case``) format
  their message after the comparison failed with ``safe_repr``, ``_common_shorten_repr`` and
  ``pprint.pformat``, names ``unittest.case`` looks up in its own globals at each call: each call
  of those is paused (only those calls: the comparison and what the test does next stay).
- ``pytest.raises(..., match=...)`` needs nothing: it matches ``str(exception)``, which is the
  comparison (evidence), and its message shows that string and the pattern, no object's repr.

Not exact, and why: a pause stops the measurement of every thread (coverage.py's collector is
one for the process), so another thread's lines during an explanation are lost; a pause that
the message never ends (its expression raised) lasts until the test phase's report or the next
test ends it; with a coverage.py whose collector cannot pause in place (``Collector.pause``, a
private name kept since coverage 4) it is stopped and started, and the asserting frame's later
lines are lost (test code, never ranked);
``assertSetEqual``'s plain ``repr(item)`` and a message argument's own evaluation
(``safe_repr(seq1[i])``: the indexing) are measured as before.

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
#: names in ``unittest.case``'s globals that its assertion methods call only to format a failure
UNITTEST = ("safe_repr", "_common_shorten_repr")
_MARK = "__loopwright_explain__"


class Explaining:
    """The pause of a line coverage while pytest explains a failure.

    ``coverage``: an object with ``pause()`` and ``resume()`` (``loopwright_coverage.LineCoverage``).
    The measurement is paused while an explanation is open (:meth:`begin` to :meth:`end`) or a
    wrapped formatting call runs (nested calls counted).
    """

    def __init__(self, coverage):
        self.coverage = coverage
        self.open = False  # an explanation begun and not ended
        self.depth = 0  # wrapped formatting calls running now
        self.paused = False  # the coverage paused by us
        self.saved = []  # (namespace, name, original), while installed

    def _update(self):
        want = self.open or self.depth > 0
        if want and not self.paused:
            self.paused = True
            self.coverage.pause()
        elif self.paused and not want:
            self.paused = False
            self.coverage.resume()

    def begin(self):
        """Pause the measurement until :meth:`end` (nothing when an explanation is open already)."""
        self.open = True
        self._update()

    def end(self):
        """Close the explanation begun by :meth:`begin`: measure again (unless inside a wrapped call)."""
        self.open = False
        self._update()

    def install(self):
        """Wrap the assertion-rewriting helpers on their module (the rewritten code looks them
        up there at each call, test modules rewritten before or after alike) and, when
        ``unittest.case`` is imported, its formatting names (:meth:`install_unittest`); returns self."""
        try:
            from _pytest.assertion import rewrite
        except ImportError:  # not a pytest this knows: nothing measured out
            rewrite = None
        for name in (*STARTS, ENDS) if rewrite is not None else ():
            mode = "end" if name in (ENDS, "_call_assertion_pass") else "begin"
            self._patch(rewrite, name, mode)
        self.install_unittest()
        return self

    def install_unittest(self):
        """Wrap ``unittest.case``'s formatting names (:data:`UNITTEST`, and ``pprint`` as it sees
        it) once ``unittest.case`` is imported; cheap to call again (the plugin calls it as each
        test starts: a test module may import unittest after the session was configured)."""
        import sys

        case = sys.modules.get("unittest.case")
        if case is None or getattr(case, _MARK, False):
            return
        for name in UNITTEST:
            self._patch(case, name, "call")
        real = getattr(case, "pprint", None)
        if real is not None and callable(getattr(real, "pformat", None)) and not isinstance(real, _Pprint):
            self.saved.append((case, "pprint", real))
            case.pprint = _Pprint(real, self._wrap(real.pformat, "pformat", "call"))
        self.saved.append((case, _MARK, None))
        setattr(case, _MARK, True)

    def uninstall(self):
        """Put the originals back and measure again if paused."""
        for namespace, name, fn in reversed(self.saved):
            if fn is None:
                delattr(namespace, name)
            else:
                setattr(namespace, name, fn)
        self.saved = []
        self.open, self.depth = False, 0
        self._update()

    def _patch(self, namespace, name, mode):
        fn = getattr(namespace, name, None)
        if getattr(fn, _MARK, False):  # a session that never ended (a fork server's warm-up)
            fn = fn.__wrapped__
        if fn is None:
            return
        self.saved.append((namespace, name, fn))
        setattr(namespace, name, self._wrap(fn, name, mode))

    def _wrap(self, fn, name, mode):
        """``fn`` wrapped: ``begin`` opens the explanation, ``end`` opens and closes it (the
        last helper), ``call`` pauses during the call only."""

        def helper(*args, **kwargs):
            if mode == "call":
                self.depth += 1
            else:
                self.open = True
            self._update()
            try:
                return fn(*args, **kwargs)
            finally:
                if mode == "call":
                    self.depth -= 1
                elif mode == "end":
                    self.open = False
                self._update()

        setattr(helper, _MARK, True)
        helper.__name__ = getattr(fn, "__name__", name)
        helper.__doc__ = getattr(fn, "__doc__", None)
        helper.__wrapped__ = fn
        return helper


class _Pprint:
    """``pprint`` as ``unittest.case`` sees it: ``pformat`` paused, the rest the module's own."""

    def __init__(self, module, pformat):
        self._module = module
        self.pformat = pformat

    def __getattr__(self, name):
        return getattr(self._module, name)

"""Angelic probe for loopwright's pytest plugin: what a condition should have been.

Standard library only (it runs in the target interpreter, like :mod:`loopwright_capture`, and
is selected by the same ``LOOPWRIGHT_CAPTURE`` spec when it has ``"kind": "angelic"``)::

    {"kind": "angelic", "tests": [ids], "evals": max evaluations recorded per test and point,
     "points": [{"id": n, "predicates": [expression, ...]}],
     "force": null or {"point": n, "to": true | false, "only": null or {test id: k},
                       "when": null or [i, "1" | "0"]}}

The code under test is a probe patch of loopwright's (:mod:`harness.core.angelic`): each
probed condition ``C`` is written ``__lw_probe__(n, C)``, each probed statement ``S``
``if __lw_probe__(n, True): S``. This module installs ``__lw_probe__`` in ``builtins``. While
one of ``tests`` runs, each call evaluates every predicate of point ``n`` in the caller's frame
(``eval`` with its globals and locals) as one character: ``1`` true, ``0`` false, ``e`` it
raised. It returns the condition's value, except where ``force`` names the point and the value
is not ``to``: there it returns ``to`` (the branch is taken the other way, the statement
skipped), at every such evaluation, or with ``only`` at the ``k``-th of them in each test it
names (the others are not forced), or with ``when`` at those where predicate ``i``'s bit is
``"1"`` (or ``"0"``). A record is ``[point, value, forced, bits]``, ``value`` the
condition's own truth. At most ``evals`` records per test and point are kept (the first ones);
later evaluations are still forced. Outside the tests the probe returns the value untouched.

This is the "angelic value" search of condition synthesis (Long and Rinard, "Staged Program
Repair with Condition Synthesis", ESEC/FSE 2015; Xuan et al., "Nopol", IEEE TSE 2017): the
values a condition must take for the failing test to pass, and the values of the
expressions that could replace it, at the same evaluations.
"""

import builtins
import sys


class Probe:
    """The angelic probe of one test session (see the module docstring for ``spec``)."""

    def __init__(self, spec, root=None):
        self.tests = set(spec.get("tests", []))
        self.limit = int(spec.get("evals", 50))
        self.codes = {}  # point id -> compiled predicates (None: does not compile)
        for p in spec.get("points", []):
            codes = []
            for text in p.get("predicates", []):
                try:
                    codes.append(compile(text, "<angelic>", "eval"))
                except (SyntaxError, ValueError):
                    codes.append(None)
            self.codes[p["id"]] = codes
        force = spec.get("force") or {}
        self.force_id = force.get("point")
        self.force_to = force.get("to")
        self.force_only = force.get("only")
        self.force_when = force.get("when")  # [predicate index, bit] or None
        self.only_now = None  # the flippable evaluation to force in the current test (None: all)
        self.records = {}  # test id -> [[point, value, forced, bits], ...]
        self.current = None
        self.counts = {}  # point id -> evaluations recorded in the current test
        self.flips = 0  # flippable evaluations of the forced point in the current test
        self.busy = False  # evaluating predicates (a probe reached from one is not recorded)
        builtins.__lw_probe__ = self.hook

    def switch(self, test_id):
        """Start probing for ``test_id`` when it is one of the tests; stop otherwise."""
        if test_id in self.tests:
            self.current = self.records.setdefault(test_id, [])
            self.counts, self.flips = {}, 0
            self.only_now = self.force_only.get(test_id, -1) if isinstance(self.force_only, dict) else None
        else:
            self.current = None

    def hook(self, point, value):
        """The probed condition's value, or the forced one (see the module docstring)."""
        truth = bool(value)
        if self.current is None or self.busy:  # a predicate that reaches a probe again: left alone
            return value
        forced = False
        n = self.counts[point] = self.counts.get(point, 0) + 1
        need = n <= self.limit or (point == self.force_id and self.force_when is not None)
        self.busy = True
        try:
            bits = self._bits(self.codes.get(point, []), sys._getframe(1)) if need else ""
        finally:
            self.busy = False
        if point == self.force_id and isinstance(self.force_to, bool) and truth != self.force_to:
            self.flips += 1
            forced = self.only_now is None or self.only_now == self.flips
            when = self.force_when
            if when is not None and forced:
                forced = isinstance(when, list) and len(when) == 2 and when[0] < len(bits) and bits[when[0]] == when[1]
        if n <= self.limit:
            self.current.append([point, truth, forced, bits])
        return self.force_to if forced else value

    @staticmethod
    def _bits(codes, frame):
        out = []
        f_globals, f_locals = frame.f_globals, dict(frame.f_locals)
        for code in codes:
            if code is None:
                out.append("e")
                continue
            try:
                out.append("1" if eval(code, f_globals, f_locals) else "0")
            except Exception:  # noqa: BLE001 - any failure of a predicate is a fact about it
                out.append("e")
        return "".join(out)

    def stop(self):
        """Stop probing; the records, test id -> list of ``[point, value, forced, bits]``."""
        self.current = None
        return self.records

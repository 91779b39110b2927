"""Angelic fault localization and condition synthesis: which condition, forced the other way,
makes a failing test pass, and which expression in scope takes exactly those values.

Before the offline repairer searches, the most suspicious ``if``/``elif`` statements and simple
statements the failing tests run (*points*, at most :data:`MAX_CONDITIONS` and
:data:`MAX_STATEMENTS`) are probed (:mod:`harness.evaluators.plugin.loopwright_angelic`):

1. a *probe patch* (:func:`probe_patch`, in one worktree slot, reset after) writes each
   point's condition ``C`` as ``__lw_probe__(n, (C))`` and each statement ``S`` as
   ``if __lw_probe__(n, True): S``, on the same lines;
2. one *record* run of the failing tests and the passing tests that run a point (the
   :data:`MAX_PASSING` fastest): at each evaluation of a point, the condition's value and the
   value of every expression :func:`harness.core.angelic_grammar.predicates` lists there;
3. *forced* runs of the failing tests alone, one point and one direction each: an ``if``'s
   or ``while``'s true test forced false, a false one forced true, the statement skipped, or
   an early exit (``continue``, ``break``, ``return ...``, a new line before a statement)
   taken; at every such evaluation, then at each test's last one only, then where one of the
   expressions that no passing test's evaluation makes true is true.

A forced run after which a failing test passes says the fault is that condition (Chandra et
al., "Angelic Debugging", ICSE 2011). The values the replacement must take follow: where the
run forced it, the other way; where a passing test went through the point, the way it went.
An expression whose recorded values (or their negation) match every one of them is a
synthesized condition, as in SPR (Long and Rinard, ESEC/FSE 2015) and Nopol (Xuan et al., IEEE
TSE 2017): forced false gives ``if C and Q:``, forced true ``if C or Q:``, a skipped statement
``if Q: S``. These become :class:`harness.core.context.AngelicFact` entries of the context; the
generator writes the edits, and the validator judges them like any other candidate (the probe
never accepts anything: what ran in the target interpreter is only a hint).

The probe spends at most :data:`MAX_SECONDS` (and :data:`SHARE` of what the run has left), one
worktree slot, and :data:`MAX_RUNS` test processes.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from harness.core.angelic_grammar import negate
from harness.core.angelic_points import Point, find_points, probe_patch
from harness.core.context import AngelicFact, SuspiciousLocation
from harness.evaluators.testrun import TestRun
from sandbox import safefs
from sandbox.patch import PatchError

#: passing tests in the record run (the fastest that run a point); failing tests in every run
#: (the fastest: with 156 failing tests, tabulate's forced runs took 2.3 s each).
MAX_PASSING, MAX_FAILING = 20, 8
#: test processes per probe, wall seconds per probe, and share of the run's time left.
MAX_RUNS, MAX_SECONDS, SHARE = 40, 20.0, 0.2
#: expressions that guide a forced run per point and direction (the third round).
GUIDED = 2
#: evaluations recorded per test and point; expressions kept per fact.
MAX_EVALS, MAX_PER_FACT = 60, 4


def synthesize(point: Point, to: bool, forced: TestRun, record: TestRun, fixed: list[str],
               passing: list[str]) -> tuple[list[str], int]:
    """The expressions ``Q`` (best first, at most :data:`MAX_PER_FACT`) for the fix a forced run
    of ``point`` toward ``to`` suggests, given that it made ``fixed`` pass: ``C and Q`` (an
    ``if``'s true test forced false), ``C or Q`` (a false one forced true), ``if Q: S`` (a
    statement skipped). ``Q`` must take the forced value at the forced evaluations, and keep
    every other evaluation in ``fixed`` (the forced run) and ``passing`` (the record run) as it
    went: true where ``C`` was true for ``and``, false where ``C`` was false for ``or``.
    Also returns the *support*: how many of those other evaluations constrained ``Q`` (0: any
    expression with the forced values fits, as good as deleting the condition there)."""
    wants: list[tuple[str, bool]] = []  # (bits, the value Q must take)
    flipped = 0
    for runs, tests in ((forced, fixed), (record, passing)):
        for t in tests:
            for rec in runs.calls.get(t, []):
                if not (isinstance(rec, list) and len(rec) == 4 and rec[0] == point.id and isinstance(rec[3], str)
                        and len(rec[3]) == len(point.exprs)):
                    continue
                _, value, was_forced, bits = rec
                if runs is forced and was_forced:
                    wants.append((bits, bool(to)))
                    flipped += 1
                elif bool(value) != bool(to):  # went as C said, and must keep going so
                    wants.append((bits, bool(value)))
    if not flipped:
        return [], 0
    out: list[str] = []
    for i, text in enumerate(point.exprs):
        if all(b[i] == ("1" if want else "0") for b, want in wants):
            out.append(text)
        elif all(b[i] == ("0" if want else "1") for b, want in wants):
            try:
                out.append(negate(text))
            except SyntaxError:
                continue
        if len(out) >= MAX_PER_FACT:
            break
    return out, len(wants) - flipped


def _schedules(stage: str, p: Point, to: bool, record: TestRun, failing: list[str],
               passing: list[str]) -> list[dict]:
    """The ``force`` options of one stage for point ``p`` forced toward ``to`` (see
    :meth:`AngelicProbe._forced_runs`): ``{"only": None}``; ``{"only": {test: k}}`` for the tests
    with ``k > 1`` flippable evaluations; ``{"when": [i, "1" or "0"]}`` for the first
    :data:`GUIDED` expressions ``i`` (or negations) that hold at some flippable evaluation of a
    failing test and at none of a passing test."""
    def flippable(tests: list[str]) -> list[str]:
        return [r[3] for t in tests for r in record.calls.get(t, [])
                if isinstance(r, list) and len(r) == 4 and r[0] == p.id and bool(r[1]) != to
                and isinstance(r[3], str) and len(r[3]) == len(p.exprs)]
    if stage == "all":
        return [{"only": None}]
    if stage == "last":
        counts = {t: len(flippable([t])) for t in failing}
        many = {t: c for t, c in counts.items() if c > 1}
        return [{"only": many}] if many else []
    fail, keep = flippable(failing), flippable(passing)
    out: list[dict] = []
    for i in range(len(p.exprs)):
        for bit in "10":
            if any(b[i] == bit for b in fail) and not any(b[i] in (bit, "e") for b in keep) \
                    and not all(b[i] == bit for b in fail):
                out.append({"when": [i, bit]})
                break
        if len(out) >= GUIDED:
            break
    return out


def _read(root, rel: str) -> str | None:
    """A file of the worktree, no link followed (code under test ran there); None if unreadable."""
    try:
        data = safefs.read_bytes(root, rel)
        return None if data is None else data.decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return None


class AngelicProbe:
    """The angelic probe (a mixin of the validator: reads ``baseline``, ``index``, ``evaluator``,
    ``_free`` and ``_limits``; see the module docstring)."""

    def angelic_facts(self, locations: list[SuspiciousLocation], protected: tuple[str, ...],
                      deadline: float | None) -> tuple[list[AngelicFact], dict]:
        """Probe the points of ``locations``; returns the facts and what the probe did (points,
        runs, seconds: for the trajectory). Nothing when there are no failing tests, no point,
        or no time (``deadline``, ``time.monotonic()``, None: no limit). The failing tests probed
        are the :data:`MAX_FAILING` fastest of those that did not time out at baseline. Never
        raises for what a test process does."""
        t0 = time.monotonic()
        left = (deadline - t0) if deadline is not None else float("inf")
        until = t0 + min(MAX_SECONDS, SHARE * left)
        results = self.baseline.results  # type: ignore[attr-defined]
        # a failing test that hung at baseline would spend the probe's time in each run
        failing = sorted((t for t in self.baseline.failing if results[t].outcome != "timeout"),  # type: ignore[attr-defined]
                         key=lambda t: (results[t].duration, t))[:MAX_FAILING]
        root = self.baseline.root  # type: ignore[attr-defined]
        done = {"points": 0, "runs": 0, "facts": 0, "seconds": 0.0}
        if not failing or until <= t0 + 1:
            return [], done
        points = find_points(locations, lambda p: _read(root, p), protected)
        points = [p for p in points if p.exprs]
        done["points"] = len(points)
        if not points:
            return [], done
        index = self.index  # type: ignore[attr-defined]
        res = self.baseline.results  # type: ignore[attr-defined]
        ok = set(self.baseline.passing)  # type: ignore[attr-defined]
        passing = sorted({t for p in points for t in index.tests_at(p.path, p.line) if t in ok},
                         key=lambda t: (res[t].duration if t in res else 0.0, t))[:MAX_PASSING]
        facts: list[AngelicFact] = []
        patch = probe_patch(points, lambda p: _read(root, p))
        if patch is None:
            return [], done
        slots = self._probe_slots(patch)
        try:
            if slots:
                record = self._angelic_run(slots[0], points, failing + passing, None, until, done)
                if record is not None:
                    facts = self._forced_runs(slots, points, record, failing, passing, until, done)
        finally:
            for slot in slots:
                try:
                    slot.reset()
                except PatchError:
                    pass
                self._free.put(slot)  # type: ignore[attr-defined]
            done["seconds"] = round(time.monotonic() - t0, 3)
        done["facts"] = len(facts)
        return facts, done

    def _probe_slots(self, patch) -> list:
        """The worktree slots the probe runs in, each with ``patch`` applied: one (waited for),
        and every other slot that is idle now (the forced runs are independent: they share
        them). A slot ``patch`` does not apply to is given back, reset."""
        taken = [self._free.get()]  # type: ignore[attr-defined]
        while True:
            try:
                taken.append(self._free.get_nowait())  # type: ignore[attr-defined]
            except queue.Empty:
                break
        slots = []
        for slot in taken:
            try:
                slot.apply(patch)
                slots.append(slot)
            except PatchError:
                try:
                    slot.reset()
                except PatchError:
                    pass
                self._free.put(slot)  # type: ignore[attr-defined]
        return slots

    def _forced_runs(self, slots: list, points: list[Point], record: TestRun, failing: list[str],
                     passing: list[str], until: float, done: dict) -> list[AngelicFact]:
        """The forced runs after the ``record`` run, in three rounds over every (point,
        direction) a failing test can flip (an ``if``'s true test to false, a false one to true;
        a statement skipped; an exit taken): every such evaluation forced, then only each
        test's last one, then (guided) only where one of the :data:`GUIDED` first expressions
        that no passing test's flippable evaluation makes true is true (a guard that skips the
        blank line of three, neither the first nor the last). A direction is done at its first
        run that makes a failing test pass: a fact when an expression takes the needed values.
        The directions of a round run at once over ``slots`` (the probe patch applied in each);
        their facts are kept in the directions' order, whichever ends first."""
        tries: list[tuple[Point, bool]] = []
        for p in points:
            values = {bool(r[1]) for t in failing for r in record.calls.get(t, [])
                      if isinstance(r, list) and len(r) == 4 and r[0] == p.id}
            tries += [(p, to) for to in (False, True) if (not to) in values]  # a statement's value is True
        facts: list[AngelicFact] = []
        settled: set[tuple[int, bool]] = set()
        free: queue.Queue = queue.Queue()
        for slot in slots:
            free.put(slot)
        lock = threading.Lock()

        def direction(stage: str, p: Point, to: bool) -> AngelicFact | bool:
            """The fact of one direction in one round; True when settled without one."""
            for force in _schedules(stage, p, to, record, failing, passing):
                with lock:
                    if time.monotonic() >= until or done["runs"] >= MAX_RUNS:
                        return False
                    done["runs"] += 1
                slot = free.get()
                try:
                    forced = self._angelic_run(slot, [p], failing, {"point": p.id, "to": to, **force}, until, done,
                                               counted=True)
                finally:
                    free.put(slot)
                fixed = [t for t in failing if forced is not None and t in forced.results and forced.results[t].ok]
                if forced is None or not fixed:
                    continue
                exprs, support = synthesize(p, to, forced, record, fixed, passing)
                if not exprs:
                    return True
                kind = "guard" if p.kind == "stmt" else "exit" if p.kind == "exit" else "or" if to else "and"
                return AngelicFact(p.path, p.line, kind, tuple(exprs), len(fixed), p.exit, p.test, support)
            return False

        with ThreadPoolExecutor(max_workers=len(slots), thread_name_prefix="angelic") as pool:
            for stage in ("all", "last", "guided"):
                todo = [(p, to) for p, to in tries if (p.id, to) not in settled]
                got_all = list(pool.map(direction, [stage] * len(todo), [p for p, _ in todo], [to for _, to in todo]))
                for (p, to), got in zip(todo, got_all):
                    if got is not False:
                        settled.add((p.id, to))
                    if isinstance(got, AngelicFact):
                        facts.append(got)
                if time.monotonic() >= until or done["runs"] >= MAX_RUNS:
                    break
        return facts

    def _angelic_run(self, slot, points: list[Point], tests: list[str], force: dict | None, until: float,
                     done: dict, counted: bool = False) -> TestRun | None:
        """One probe run of ``tests`` in ``slot`` (left as it was: nothing is applied), ended by
        ``until`` (``time.monotonic()``) with its re-runs: a killed process's remaining tests are
        not run again past it. ``counted``: ``done["runs"]`` already counts it."""
        if time.monotonic() >= until:
            return None
        if not counted:
            done["runs"] += 1
        spec = {"kind": "angelic", "tests": tests, "evals": MAX_EVALS,
                "points": [p.spec() for p in points], "force": force}
        limits = self._limits(tests)  # type: ignore[attr-defined]
        run = self.evaluator.run(slot.path, select=tests, timeouts=limits, capture=spec,  # type: ignore[attr-defined]
                                 paths=sorted({t.split("::", 1)[0] for t in tests}),
                                 process_timeout=max(1.0, until - time.monotonic()), deadline=until)
        return None if run.error else run

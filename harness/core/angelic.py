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
   or ``while``'s true test forced false, a false one forced true, or the statement skipped;
   at every such evaluation, then (when that fails and a test has more than one) at the last
   one only.

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

import ast
import time
from dataclasses import dataclass

from harness.core.angelic_grammar import negate, predicates
from harness.core.context import AngelicFact, SuspiciousLocation
from harness.core.localize import is_protected
from harness.evaluators.testrun import TestRun
from sandbox import safefs
from sandbox.patch import Patch, PatchError

#: points probed at most: ``if`` statements, simple statements.
MAX_CONDITIONS, MAX_STATEMENTS = 4, 2
#: suspicious locations looked at for points (most suspicious first).
MAX_LOCATIONS = 30
#: passing tests in the record run (the fastest that run a point).
MAX_PASSING = 20
#: test processes per probe, wall seconds per probe, and share of the run's time left.
MAX_RUNS, MAX_SECONDS, SHARE = 10, 30.0, 0.2
#: evaluations recorded per test and point; expressions kept per fact.
MAX_EVALS, MAX_PER_FACT = 60, 4
_SIMPLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Delete)


@dataclass(frozen=True)
class Point:
    """One probed statement of ``path``: ``kind`` ``"if"`` (an ``if``/``elif``/``while`` whose
    test is ``source[start:end]``) or ``"stmt"`` (a simple statement starting at ``start``, the
    only one on its line); ``exprs`` what the probe evaluates there."""

    id: int
    path: str
    line: int
    kind: str
    start: int
    end: int
    exprs: tuple[str, ...]

    def spec(self) -> dict:
        """The point as the plugin's spec wants it."""
        return {"id": self.id, "predicates": list(self.exprs)}


def _offset(lines: list[str], line: int, col: int) -> int:
    """Character offset of ``col`` (UTF-8 bytes, as ``ast`` counts) on 1-based ``line``."""
    return sum(len(t) for t in lines[: line - 1]) + len(lines[line - 1].encode("utf-8")[:col].decode("utf-8", "replace"))


def find_points(locations: list[SuspiciousLocation], read, protected: tuple[str, ...]) -> list[Point]:
    """The points of the most suspicious ``locations`` (``read(path)`` gives a file's text or
    None): ``if``/``elif``/``while`` statements first met, then simple statements, in
    suspiciousness order."""
    conds: list[Point] = []
    stmts: list[Point] = []
    trees: dict[str, tuple[ast.Module, list[str]] | None] = {}
    for loc in locations[:MAX_LOCATIONS]:
        if len(conds) >= MAX_CONDITIONS and len(stmts) >= MAX_STATEMENTS:
            break
        if not loc.path.endswith(".py") or is_protected(loc.path, protected) or loc.score <= 0:
            continue
        if loc.path not in trees:
            text = read(loc.path) or ""
            try:
                trees[loc.path] = (ast.parse(text), text.splitlines(keepends=True))
            except (SyntaxError, ValueError):
                trees[loc.path] = None
        parsed = trees[loc.path]
        if parsed is None:
            continue
        tree, lines = parsed
        here = [st for st in ast.walk(tree) if isinstance(st, ast.stmt) and st.lineno == loc.line]
        tests = [st for st in here if isinstance(st, (ast.If, ast.While))]
        n = len(conds) + len(stmts)
        if tests and len(conds) < MAX_CONDITIONS:
            test = tests[0].test
            conds.append(Point(n, loc.path, loc.line, "if", _offset(lines, test.lineno, test.col_offset),
                               _offset(lines, test.end_lineno or test.lineno, test.end_col_offset or 0),
                               tuple(predicates(tree, loc.line, test))))
        elif len(here) == 1 and isinstance(here[0], _SIMPLE) and len(stmts) < MAX_STATEMENTS:
            st = here[0]
            start = _offset(lines, st.lineno, st.col_offset)
            if not lines[st.lineno - 1][: st.col_offset].strip():  # alone on its line
                stmts.append(Point(n, loc.path, loc.line, "stmt", start, start, tuple(predicates(tree, loc.line))))
    return conds + stmts


def probe_patch(points: list[Point], read) -> Patch | None:
    """The probe patch: each point's condition ``C`` written ``__lw_probe__(n, (C))``, each
    statement ``S`` ``if __lw_probe__(n, True): S`` on the same line (no line moves); None when
    a file cannot be read or the result does not parse."""
    changes: dict[str, tuple[str, str]] = {}
    for path in dict.fromkeys(p.path for p in points):
        old = read(path)
        if old is None:
            return None
        new = old
        for p in sorted((p for p in points if p.path == path), key=lambda p: -p.start):
            if p.kind == "if":
                new = f"{new[:p.start]}__lw_probe__({p.id}, ({new[p.start:p.end]})){new[p.end:]}"
            else:
                new = f"{new[:p.start]}if __lw_probe__({p.id}, True): {new[p.start:]}"
        try:
            ast.parse(new)
        except (SyntaxError, ValueError):
            return None
        changes[path] = (old, new)
    try:
        return Patch.from_texts(changes, "angelic probe", {"generator": "angelic"})
    except PatchError:
        return None


def synthesize(point: Point, to: bool, forced: TestRun, record: TestRun, fixed: list[str],
               passing: list[str]) -> list[str]:
    """The expressions ``Q`` (best first, at most :data:`MAX_PER_FACT`) for the fix a forced run
    of ``point`` toward ``to`` suggests, given that it made ``fixed`` pass: ``C and Q`` (an
    ``if``'s true test forced false), ``C or Q`` (a false one forced true), ``if Q: S`` (a
    statement skipped). ``Q`` must take the forced value at the forced evaluations, and keep
    every other evaluation in ``fixed`` (the forced run) and ``passing`` (the record run) as it
    went: true where ``C`` was true for ``and``, false where ``C`` was false for ``or``."""
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
        return []
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
        or no time (``deadline``, ``time.monotonic()``, None: no limit); never raises for what a
        test process does."""
        t0 = time.monotonic()
        left = (deadline - t0) if deadline is not None else float("inf")
        until = t0 + min(MAX_SECONDS, SHARE * left)
        failing = list(self.baseline.failing)  # type: ignore[attr-defined]
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
        slot = self._free.get()  # type: ignore[attr-defined]
        try:
            slot.apply(patch)
            record = self._angelic_run(slot, points, failing + passing, None, until, done)
            for p in points:
                if record is None:
                    break
                recs = [r for t in failing for r in record.calls.get(t, []) if isinstance(r, list) and r[:1] == [p.id]]
                values = {bool(r[1]) for r in recs if len(r) == 4}
                # an if's true test forced false (C and Q), a false one forced true (C or Q); a statement skipped
                for to in [v for v in (False, True) if (not v) in values]:  # a statement's value is True
                    counts = {t: sum(1 for r in record.calls.get(t, []) if r[:1] == [p.id] and bool(r[1]) != to)
                              for t in failing}
                    many = {t: c for t, c in counts.items() if c > 1}
                    for only in [None, many] if many else [None]:
                        if time.monotonic() >= until or done["runs"] >= MAX_RUNS:
                            break
                        forced = self._angelic_run(slot, [p], failing, {"point": p.id, "to": to, "only": only},
                                                   until, done)
                        fixed = [t for t in failing if forced is not None and t in forced.results
                                 and forced.results[t].ok]
                        if forced is not None and fixed:
                            exprs = synthesize(p, to, forced, record, fixed, passing)
                            if exprs:
                                kind = "guard" if p.kind == "stmt" else "or" if to else "and"
                                facts.append(AngelicFact(p.path, p.line, kind, tuple(exprs), len(fixed)))
                            break
        except PatchError:
            pass
        finally:
            try:
                slot.reset()
            except PatchError:
                pass
            self._free.put(slot)  # type: ignore[attr-defined]
            done["seconds"] = round(time.monotonic() - t0, 3)
        done["facts"] = len(facts)
        return facts, done

    def _angelic_run(self, slot, points: list[Point], tests: list[str], force: dict | None, until: float,
               done: dict) -> TestRun | None:
        """One probe run of ``tests`` in ``slot`` (left as it was: nothing is applied)."""
        if time.monotonic() >= until:
            return None
        done["runs"] += 1
        spec = {"kind": "angelic", "tests": tests, "evals": MAX_EVALS,
                "points": [p.spec() for p in points], "force": force}
        limits = self._limits(tests)  # type: ignore[attr-defined]
        run = self.evaluator.run(slot.path, select=tests, timeouts=limits, capture=spec,  # type: ignore[attr-defined]
                                 paths=sorted({t.split("::", 1)[0] for t in tests}),
                                 process_timeout=max(1.0, until - time.monotonic()))
        return None if run.error else run

"""Validation: does a candidate patch fix failing tests without breaking passing ones?

The hot path of the loop. For each candidate, in a worktree slot of its own:

1. refuse it without running anything if it touches a protected path, is too large, or adds
   a file that would shadow an importable module (:func:`harness.core.screen.shadowing`);
2. *screen*: run only the currently failing tests; a patch that fixes none is rejected;
3. *full suite*: run every other test (failing ones not screened included), those covering
   the changed lines first, stopping at the first test that passed at baseline and fails
   now (a regression);
4. reset the slot by git (``read-tree --reset -u`` + ``clean -ffdx``), never by writing
   files back: after code under test ran, the slot's files are untrusted data.

Slots run in parallel (one per core; a free slot takes the next candidate); results are
consumed in candidate order, so the accepted patch is always the best-ranked one that
passes, whatever finishes first. This module is the pipeline and the choice; the stages
of one candidate in its slot (2-4) are :mod:`harness.core.stages`.
The generator never sees this module: it only receives the rejection reasons.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from harness.evaluators.pytest_runner import PytestEvaluator, TimeoutPolicy
from harness.evaluators.verdict import TestResult
from harness.core.angelic import AngelicProbe
from harness.core.differential import BehaviourCheck
from harness.core.evidence import CoverageIndex, rank_key
from harness.core.localize import is_editable, is_protected
from harness.core.outcome import Baseline, Gate, Outcome
from harness.core.plausible import Window, choose
from harness.core.progress import TestStatements
from harness.core.screen import shadowing, top_names
from harness.core.stages import CandidateStages
from sandbox.patch import Patch, PatchError
from sandbox.worktree import GROWTH_BYTES, Worktree


class Validator(CandidateStages, BehaviourCheck, AngelicProbe):
    """Evaluates candidates against the baseline in parallel worktree slots.

    Args:
        evaluator: the pytest evaluator (target interpreter, sandbox policy).
        slots: worktrees at the same state as the run's worktree, one per worker.
        baseline: the test suite's state.
        protected: globs of paths a patch may not touch.
        max_diff_lines: largest accepted patch (added + removed lines).
        timeouts: per-test timeout policy.
        gates: the evaluator pipeline run on the patched files after the screen:
            those without ``after_tests`` before the full suite (lint, types), the
            others after it (a ``--check`` command). The first rejection decides.
        require_fix: a candidate must fix failing tests (the fix loop). False for
            instruction and review tasks: tests failing at baseline are left alone and
            a candidate only has to break nothing.
        editable: globs a patch's files must match (LSS ``editable_paths``); default all.
        window: the comparison window (:class:`harness.core.plausible.Window`); None: its
            candidate limits without a time limit.
        checkout: the user's checkout, where the failing tests' files are read to tell
            their statements apart (:class:`harness.core.progress.TestStatements`); None:
            a failure's line is compared line by line.

    Attributes:
        evaluator_errors: evaluations in a row where an evaluator could not run
            (the ``evaluator_error`` stop rule reads it); ``last_error`` says why.
        cannot_run: set when a worktree slot cannot run, without any patch, the tests the
            baseline ran: the evaluator cannot run there, whatever the candidate. No candidate
            is started after it (the ``evaluator_error`` stop rule fires with this text).
        partial_as_lead: viable partial fixes are kept in ``leads`` (best first) instead of
            being chosen; the loop sets it for generators that build on them.
        window: how many candidates (and for how long) are still validated after the
            first plausible patch of a batch, so that the most natural one is chosen
            (a run passes ``RunConfig.window``).
        flaky: test ids that failed with a candidate and passed when re-run alone, or that
            fail alone without any patch too (after failing with two candidates); they are
            excluded from regression checks from then on.
        regressed: test id -> candidates it failed with, re-run alone too.
        regressions: test ids that failed with a candidate and again when re-run alone
            (not re-run for a later candidate that cannot be complete).
    """

    #: candidates validated ahead of the oldest undecided one, per slot: a slot whose
    #: candidate was rejected early takes the next while a fix runs the whole suite.
    LOOKAHEAD = 4

    def __init__(self, evaluator: PytestEvaluator, slots: list[Worktree], baseline: Baseline,
                 protected: tuple[str, ...], max_diff_lines: int = 40,
                 timeouts: TimeoutPolicy | None = None, gates: list[Gate] = (),
                 require_fix: bool = True, editable: tuple[str, ...] = ("**",),
                 window: Window | None = None, checkout: Path | None = None):
        self.evaluator = evaluator
        self.slots = slots
        self.baseline = baseline
        self.protected = protected
        self.max_diff_lines = max_diff_lines
        self.timeouts = timeouts or evaluator.timeouts
        self.gates = list(gates)
        self.require_fix = require_fix
        self.editable = tuple(editable)
        self.evaluator_errors = 0
        self.partial_as_lead = False
        self.leads: list[Outcome] = []
        self.progressed: list[tuple[int, int]] = []  # progress leads verified (progress.rank)
        self.window = window or Window(fraction=None)
        self.statements = TestStatements(checkout) if checkout is not None else None
        self.last_error = ""
        self.cannot_run = ""
        self._sound: set[Path] = set()  # slots seen running the failing tests without a patch
        self.flaky: set[str] = set()
        self._peers: dict[str, float] | None = None  # file -> its slowest passing test (s), for limits
        self.regressions: set[str] = set()
        self.regressed: dict[str, int] = {}  # test id -> candidates it failed with, alone too
        self._index: CoverageIndex | None = None
        self._shadow_names: tuple[frozenset[str], set[str]] | None = None
        self._free: queue.Queue[Worktree] = queue.Queue()
        for s in slots:
            self._free.put(s)
        self._pool = ThreadPoolExecutor(max_workers=len(slots), thread_name_prefix="validate")
        self._lock = threading.Lock()
        # the slots' fork servers start now, at once, in the workers that will use them (a
        # server dies with the thread that started it), while the loop localizes and generates
        prestart = getattr(evaluator, "prestart", None)
        for s in slots if prestart is not None else ():
            self._pool.submit(prestart, Path(s.path))

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=True)

    def first_accepted(self, patches: list[Patch], deadline: float,
                       on_outcome: Callable[[Outcome], None]) -> Outcome | None:
        """Validate ``patches`` in order and choose the one to accept, or None.

        A *plausible* (complete) candidate fixes every failing test and breaks none.
        Every free slot takes the next candidate, up to ``LOOKAHEAD`` per slot ahead of
        the oldest undecided one (a fix running the whole suite does not leave the other
        slots idle), and outcomes are decided in candidate order. After the first
        plausible patch, the candidates already started and a few more (:attr:`window`:
        by count, those already started after it included, and by seconds against the
        time it took to find it; more when it is
        *unprotected*: no passing test executes its changed lines, see
        :mod:`harness.core.evidence`) are validated too, and
        :func:`harness.core.plausible.choose` picks: protected first, then the most natural
        (edit sites, kind of edit, size), then fewest baseline behaviours touched, then
        the earliest; ``plausible``, ``alternatives`` and ``window`` on the chosen outcome
        say what it was compared with and what comparing cost. One that fixes only some
        (a *partial* fix) is, with ``partial_as_lead``, kept in ``leads`` and never chosen;
        otherwise, when no plausible patch turns up, the partial with the best
        :func:`harness.core.evidence.rank_key` wins (most tests fixed, protected, fewest
        behaviours touched, earliest): taking the first partial greedily can lock in a
        patch that fixes one test by accident. ``on_outcome`` is called for every
        candidate decided (the plausible ones once the choice is made). Candidates not
        started before ``deadline`` (``time.monotonic()``) are not evaluated.
        """
        # One function (about 70 lines, a third of them the docstring): the batch's pipeline,
        # its comparison window and the choice read top to bottom.
        pending: list[Future] = []  # started, in candidate order, not decided yet
        kept: list[tuple[tuple, Outcome]] = []
        plausible: list[Outcome] = []
        it = iter(patches)
        order, after, ahead, more = 0, 0, 0, True
        t_start, t_first = time.monotonic(), 0.0  # t_first: when the first plausible patch was decided
        budget: int | None = None  # candidates still to start once a plausible patch is found
        while True:
            while more and self._may_start(pending, deadline, budget) and not (
                    t_first and self.window.closed(t_first - t_start, time.monotonic() - t_first,
                                                   suspect=bool(plausible and plausible[0].suspect))):
                nxt = next(it, None)
                if nxt is None:
                    more = False
                    break
                pending.append(self._pool.submit(self._evaluate, nxt, deadline))
                if budget is not None:
                    budget, after = budget - 1, after + 1
            if not pending:
                break
            if not pending[0].done():  # wake when the oldest is decided or a slot frees up
                wait([f for f in pending if not f.done()], return_when=FIRST_COMPLETED)
            while pending and pending[0].done():
                outcome = pending.pop(0).result()
                order += 1
                if outcome is not None and outcome.plausible:
                    outcome.order = order
                    plausible.append(outcome)
                    if budget is None:  # the candidates already started after it count too
                        t_first, ahead = time.monotonic(), len(pending)
                        budget = max(0, self.window.budget(outcome.unprotected or bool(outcome.suspect),
                                                                len(self.slots)) - ahead)
                elif outcome is not None:
                    on_outcome(outcome)
                    if outcome.viable and self.partial_as_lead:
                        self.leads = sorted([*self.leads, outcome], key=lambda o: -len(o.fixed))
                    elif outcome.viable:
                        kept.append((rank_key(len(outcome.fixed), outcome.protection, order), outcome))
        if plausible:  # the differential check (harness/core/differential.py), then the choice
            self.compare_behaviour(plausible, deadline)
            return self._choose(plausible, on_outcome, {"candidates": after, "ahead": ahead,
                                "seconds": round(time.monotonic() - t_first, 3),
                                "first_seconds": round(t_first - t_start, 3)})
        if not kept:
            return None
        best = min(kept, key=lambda kv: kv[0])[1]
        best.accepted = True
        return best

    def _may_start(self, pending: list[Future], deadline: float, budget: int | None) -> bool:
        """A slot is free, the lookahead and the comparison budget allow another, the evaluator can run."""
        running = sum(not f.done() for f in pending)
        return (running < len(self.slots) and len(pending) < self.LOOKAHEAD * len(self.slots)
                and (budget is None or budget > 0) and time.monotonic() < deadline and not self.cannot_run)

    @staticmethod
    def _choose(plausible: list[Outcome], on_outcome: Callable[[Outcome], None], window: dict) -> Outcome:
        """The chosen plausible patch (:func:`choose`), marked with what it was compared with;
        every plausible outcome is reported to ``on_outcome``."""
        chosen = choose(plausible)
        for o in plausible:
            o.accepted = o is chosen
        chosen.plausible_patches = len(plausible)
        chosen.alternatives = [o.patch.description for o in plausible if o is not chosen]
        chosen.window = window
        for o in plausible:
            on_outcome(o)
        return chosen

    def accept(self, outcome: Outcome, main: Worktree) -> bool:
        """Make an accepted patch the validated state of the run's worktree and every slot
        (:meth:`Worktree.accept`: a tree of the patch's texts computed from git's blobs, the
        files reset to it by git); update the baseline. Returns False, with every worktree
        back at its previous validated state and ``outcome`` rejected (stage ``apply``), when
        the patch cannot be accepted (:class:`PatchError`, e.g. a corrupted resumed state):
        a clean outcome for that candidate, never a traceback."""
        done: list[tuple[Worktree, str | None, dict]] = []
        try:
            for wt in [main, *self.slots]:
                done.append((wt, wt.tree, dict(wt.validated)))
                wt.accept(outcome.patch)
        except PatchError as exc:
            for wt, tree, validated in done:
                wt.tree, wt.validated = tree, validated
                try:
                    wt.reset()
                except PatchError:
                    pass
            outcome.accepted, outcome.viable, outcome.plausible, outcome.stage = False, False, False, "apply"
            outcome.reason = f"could not be accepted: {exc}"
            return False
        self.leads, self.progressed = [], []  # built on the code before this patch
        for tid in outcome.fixed:
            old = self.baseline.results[tid]
            self.baseline.results[tid] = TestResult(tid, "passed", "", (), old.duration)
        return True

    def _evaluate(self, patch: Patch, deadline: float) -> Outcome | None:
        if time.monotonic() >= deadline or self.cannot_run:
            return None
        bad = [f for f in patch.files if is_protected(f, self.protected)]
        if bad:
            return Outcome(patch, False, f"touches protected path {bad[0]} (tests and test "
                           "configuration may not be edited)", "policy")
        outside = [f for f in patch.files if not is_editable(f, self.editable)]
        if outside:
            return Outcome(patch, False, f"touches {outside[0]}, outside the editable paths "
                           f"({', '.join(self.editable)})", "policy")
        if patch.size > self.max_diff_lines:
            return Outcome(patch, False, f"diff_too_large: {patch.size} changed lines "
                           f"(limit {self.max_diff_lines})", "policy")
        shadow = shadowing(patch, *self._names())
        if shadow:
            return Outcome(patch, False, shadow, "policy")
        slot = self._free.get()
        try:
            out = self._in_slot(slot, patch)
        finally:
            self._free.put(slot)
        with self._lock:
            self.evaluator_errors = self.evaluator_errors + 1 if out.stage == "error" else 0
            if out.stage == "error":
                self.last_error = out.reason
        return out

    def _in_slot(self, slot: Worktree, patch: Patch) -> Outcome:
        t0 = time.monotonic()
        try:
            slot.apply(patch)
        except PatchError as exc:
            try:
                slot.reset()  # a patch of several files may have written some
            except PatchError:
                pass
            return Outcome(patch, False, f"does not apply: {exc}", "apply")
        out = Outcome(patch, False, "", "screen", seconds={"apply": time.monotonic() - t0})
        try:
            self._screen_and_full(slot, patch, out)
            grown = slot.growth(GROWTH_BYTES)
            if grown > GROWTH_BYTES:
                out.viable = out.plausible = False
                out.stage = "limit"
                out.reason = (f"worktree growth limit exceeded: its runs wrote more than "
                              f"{GROWTH_BYTES // 2**20} MiB into the worktree (limit per candidate)")
        finally:
            t1 = time.monotonic()
            try:
                slot.reset()  # by git: the files code under test left are not written back
            except PatchError as exc:
                out.viable, out.plausible, out.stage = False, False, "error"
                out.reason = f"the slot could not be reset: {exc}"
            out.seconds["reset"] = time.monotonic() - t1
        if out.stage == "error" and out.seconds.keys() & {"probe", "screen", "full"}:
            self._check_slot(slot)
            if Path(slot.path) in self._sound:  # the slot runs without the patch: the patch broke the run
                out.stage = "run_broken"  # (a conftest it makes fail to import): rejected, not an evaluator error
                out.reason = f"with the patch the tests cannot start (they do without it): {out.reason}"
        return out

    def _check_slot(self, slot: Worktree) -> None:
        """After a test run that failed to start: can this slot, without the patch, run the
        failing tests the baseline ran? If not, the evaluator cannot run there (set ``cannot_run``)."""
        path = Path(slot.path)
        if path in self._sound or self.cannot_run:
            return
        ids = self.baseline.failing or self.baseline.collected[:1]
        run = self.evaluator.run(path, select=ids, paths=sorted({t.split("::", 1)[0] for t in ids}),
                                 timeouts=self._limits(ids), process_timeout=60 + self.baseline.duration)
        if not run.error:
            self._sound.add(path)
        else:
            with self._lock:
                self.cannot_run = ("a worktree slot cannot run, without any patch, the tests the "
                              f"baseline ran: {run.error}")

    def _names(self) -> tuple[frozenset[str], set[str]]:
        """(the target interpreter's importable top-level names, the project's own), once."""
        with self._lock:
            if self._shadow_names is None:
                self._shadow_names = (self.evaluator.importable_names(), top_names(Path(self.baseline.root)))
            return self._shadow_names

    @property
    def index(self) -> CoverageIndex:
        """The baseline coverage, inverted (built on first use)."""
        with self._lock:
            if self._index is None:
                self._index = CoverageIndex(self.baseline.coverage, self.baseline.root)
            return self._index

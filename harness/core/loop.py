"""The loop: observe → decide → gather context → generate → apply → evaluate → update.

This module is the whole control flow of a run, meant to be read in one sitting.
Setting a run up (repository, worktrees, baseline) and finishing it (commit,
patch, lessons) live in :mod:`harness.work.fix`; candidate validation in
:mod:`harness.core.validate`; the stop rules in :mod:`harness.core.stop`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.core.context import Attempt, Context, SuspiciousLocation
from harness.core.protocols import Generator, GeneratorError
from harness.core.localize import localize
from harness.core.memory import CandidateMemory
from harness.core.records import AcceptedPatch, ChangedLine, IterationRecord
from harness.core.state import RunFiles, RunState
from harness.core import stop as rules
from harness.core.stop import BEFORE_CALL, Observation, Stop, check
from harness.core.task import Task
from harness.core.outcome import Outcome
from harness.core.progress import rank
from harness.core.validate import Validator
from loops.spec import Limits
from sandbox.worktree import Worktree

#: batches generated before the angelic probe runs: the probe's test runs (1-20 s) are spent
#: only on a run its first batches did not fix.
ANGELIC_AFTER = 2


@dataclass
class LoopEvent:
    """What the loop tells its observer (the CLI's live view): ``kind`` and data."""

    kind: str  # "iteration", "candidate", "accepted", "stop"
    state: RunState
    outcome: Outcome | None = None
    stop: Stop | None = None


@dataclass
class Loop:
    """One run of a loop over a prepared worktree.

    Attributes:
        generator: proposes patches. validator: judges them (never the generator).
        worktree: the run's worktree (branch ``loopwright/<run-id>``).
        state, files: run state and its files. limits: the stop rules' numbers.
        protected: globs a patch may not touch. conventions, lessons: context extras.
        on_event: observer callback (live progress).
    """

    generator: Generator
    validator: Validator
    worktree: Worktree
    state: RunState
    files: RunFiles
    limits: Limits
    protected: tuple[str, ...] = ()
    conventions: str = ""
    lessons: list[str] = field(default_factory=list)
    operator_priors: dict[str, float] = field(default_factory=dict)
    on_event: Callable[[LoopEvent], None] = lambda event: None
    attempts: list[Attempt] = field(default_factory=list)
    repeats: int = 0
    test_seconds_before: float = 0.0  # test-process seconds of earlier sessions of this run
    task: Task | None = None  # None: the failing tests; else an instruction or review comment
    approve: Callable[[Outcome], tuple[str, str]] | None = None  # human evaluator
    on_accept: Callable[[Outcome], None] = lambda outcome: None  # e.g. commit a checkpoint
    memory: CandidateMemory | None = None  # candidates earlier runs evaluated (None: none kept)
    _started: float = field(default=0.0, init=False, repr=False)  # monotonic start, earlier sessions included
    _angelic_key: tuple | None = field(default=None, init=False, repr=False)  # what the probe's facts are for
    _angelic_facts: list = field(default_factory=list, init=False, repr=False)

    # Over 60 lines on purpose: one iteration's six stages (observe, decide, context, generate,
    # evaluate, update) read top to bottom in one place; this is the file to read first.
    def run(self) -> RunState:
        """Iterate until a stop rule fires; returns the final state (also saved to disk).

        For an instruction or review task the loop ends when the generator declares
        the work ``done`` (or ``answered`` a question), or a limit fires; there are no
        failing tests to make pass, only regressions to avoid.
        """
        # One function on purpose (~80 lines): the whole control flow of an iteration,
        # observe → decide → context → generate → evaluate → update, reads top to bottom.
        started = self._started = time.monotonic() - self.state.spent.wall_seconds
        self.test_seconds_before = self.state.spent.test_seconds - self.validator.evaluator.busy_seconds()
        baseline = self.validator.baseline
        while True:
            # observe: the failing tests now (the baseline, updated by accepted patches)
            self.state.remaining = baseline.failing
            self._tick(started)
            # decide
            stop = check(self._observe(started), self.limits)
            if stop:
                return self._stop(stop)
            # gather context
            context = self._context()
            cost = self.generator.estimate(context)  # never start a call the budget can't pay
            seen = self._observe(started, next_usd=cost.cost_usd, next_tokens=cost.input_tokens + cost.output_tokens)
            stop = check(seen, self.limits, BEFORE_CALL)
            if stop:
                return self._stop(stop)
            self.state.iteration += 1
            context.iteration = self.state.iteration
            self.on_event(LoopEvent("iteration", self.state))
            # generate
            t0 = time.monotonic()
            try:
                proposal = self._generate(context)
            except GeneratorError as exc:  # refused request, retries exhausted, cassette mismatch,
                if exc.usage is not None:  # or a budget that ran out during the call
                    self._spend(exc.usage)
                return self._stop(Stop(exc.reason, str(exc)))
            self._spend(proposal.usage)
            self.files.step("generate", iteration=self.state.iteration,
                            generator=self.generator.name, candidates=len(proposal.candidates),
                            notes=proposal.notes, seconds=round(time.monotonic() - t0, 3))
            stop = rules.proposal_ends(proposal.blocked, proposal.answer, proposal.done,
                                       bool(proposal.candidates or proposal.notes))
            if stop:
                return self._stop(stop)
            # apply + evaluate (in the validator's worktree slots); never the same patch twice
            fresh = self._fresh(proposal.candidates)
            deadline = started + (self.limits.max_wall_seconds or float("inf"))
            # partial fixes are leads (not applied) for a generator that builds on them
            self.validator.partial_as_lead = self.task is None and self.generator.current.builds_on_leads
            leads = len(self.validator.leads)
            accepted = self.validator.first_accepted(fresh, deadline, self._record)
            if accepted and self.approve:  # the human evaluator sees only verified patches
                verdict, why = self.approve(accepted)
                self.files.step("review", iteration=self.state.iteration, digest=accepted.patch.digest,
                                verdict=verdict, reason=why)
                stop = rules.developer(verdict, why)
                if stop:
                    return self._stop(stop)
                if verdict != "approve":
                    self._forget(accepted.patch.digest)
                    self.attempts.append(Attempt(accepted.patch.digest, accepted.patch.description, False,
                                                 f"rejected by the developer: {why or 'no reason given'}",
                                                 accepted.patch.diff))
                    accepted = None
            # update state; viable partial fixes that were not chosen get another chance later
            if accepted and not self._accept(accepted):
                accepted = None
            self.state.history.append(IterationRecord(self.state.iteration, len(baseline.failing), bool(accepted),
                                                      self.generator.current.name, len(self.validator.leads) > leads))
            self.state.remaining = baseline.failing
            self._tick(started)
            self.files.save(self.state)

    def _accept(self, accepted: Outcome) -> bool:
        """Apply a chosen patch (worktree, slots, baseline), record it, tell the observers.
        False (recorded as a rejected attempt) when it cannot be made the validated state."""
        if not self.validator.accept(accepted, self.worktree):
            self._forget(accepted.patch.digest)
            self.attempts.append(Attempt(accepted.patch.digest, accepted.patch.description, False,
                                         accepted.reason, accepted.patch.diff))
            return False
        self.attempts = [a for a in self.attempts if a.accepted or not a.viable]
        # progress was measured on the code before this patch: no longer a lead
        self.attempts = [replace(a, progress=(0, 0), reached=()) if a.progress != (0, 0) else a
                         for a in self.attempts]
        if self.memory is not None:
            self.memory.forget_hashes()
        self.files.step("accept", iteration=self.state.iteration, digest=accepted.patch.digest,
                        fixed=accepted.fixed, description=accepted.patch.description,
                        plausible_patches=accepted.plausible_patches, alternatives=accepted.alternatives)
        record = AcceptedPatch(accepted.patch.description, accepted.patch.diff, accepted.fixed,
                               list(accepted.patch.files), accepted.patch.meta, accepted.plausible_patches,
                               accepted.alternatives)
        if accepted.protection:  # what the baseline's passing tests say of the changed lines
            watch = accepted.protection.summary()
            record.protected_by_tests, record.unprotected = watch["protected_by_tests"], watch["unprotected"]
            record.changed_lines = [ChangedLine(**c) for c in watch["changed_lines"]]
            record.suspect = watch.get("suspect", "")
        self.state.accepted.append(record)
        self._forget(accepted.patch.digest)
        self.attempts.append(Attempt(accepted.patch.digest, accepted.patch.description, True,
                                     f"accepted and applied: {accepted.reason}", accepted.patch.diff))
        self.on_accept(accepted)
        self.on_event(LoopEvent("accepted", self.state, accepted))
        return True

    def _context(self) -> Context:
        """Observe → context: failing tests, suspicious lines, lessons, prior attempts."""
        baseline = self.validator.baseline
        results = {t: baseline.results[t] for t in baseline.collected if t in baseline.results}
        if self.task is not None:  # an instruction or review comment: its own location first
            task = self.task
            locations = [SuspiciousLocation(task.path, task.line, 1.0)] if task.path and task.line else []
        else:
            locations = localize(baseline.root, results, baseline.coverage, self.protected)
            task = Task("failing_tests", failing={t: results[t] for t in baseline.failing})
        lim = self.limits
        deadline = None if lim.max_wall_seconds is None else self._started + lim.max_wall_seconds
        tokens_left = None if lim.max_tokens is None else max(0, lim.max_tokens - self.state.spent.tokens)
        remembered = [] if self.memory is None or self.task is not None else \
            self.memory.remembered(baseline.failing, Path(self.worktree.path))
        return Context(Path(self.worktree.path), task, locations, self.protected, self.lessons,
                       self.conventions, list(self.attempts), self.state.iteration,
                       self.operator_priors, deadline, tokens_left, remembered,
                       self._angelic(locations, deadline) if self.task is None else [])

    def _angelic(self, locations: list[SuspiciousLocation], deadline: float | None) -> list:
        """The angelic probe's facts for these failing tests and locations, probed once
        (:mod:`harness.core.angelic`) for a generator that reads them, after
        :data:`ANGELIC_AFTER` batches: a fix they find does not pay for the probe's test runs.
        Recorded as a step."""
        key = (tuple(self.validator.baseline.failing), tuple(locations[:10]))
        if not getattr(self.generator.current, "reads_angelic", False) or self.state.iteration < ANGELIC_AFTER:
            return []  # the first batches (the failing tests' own evidence, the best mutants) go first
        if self._angelic_key != key:
            self._angelic_facts, done = self.validator.angelic_facts(locations, self.protected, deadline)
            self._angelic_key = key
            self.files.step("angelic", iteration=self.state.iteration + 1, **done,
                            found=[[f.path, f.line, f.kind, list(f.exprs)] for f in self._angelic_facts])
        return self._angelic_facts

    def _generate(self, context: Context):
        """The generator's proposal without the candidates an earlier run rejected for these
        failing tests on this code (:mod:`harness.core.memory`), skipped before they cost a
        worktree. A proposal of only those that cost no model call is followed by the next
        one (the offline search continues where the earlier run stopped); a model's is kept,
        its skipped patches fed back as attempts saying why."""
        while True:
            proposal = self.generator.generate(context)
            if self.memory is None or self.task is not None or not proposal.candidates:
                return proposal
            fresh, old = self.memory.rejected(proposal.candidates, self.validator.baseline.failing,
                                              Path(self.worktree.path))
            if self.generator.current.builds_on_leads:  # partial fixes come back as leads, unevaluated
                fresh, leads = self.memory.partials(fresh, self.validator.baseline.failing, Path(self.worktree.path))
                self._remembered_leads(leads)
                old += [p for p, _, _ in leads]
            proposal.candidates = fresh
            if old:
                self.files.step("remembered", iteration=self.state.iteration, skipped=len(old))
            fixed = self.memory.fixed_by
            if proposal.usage.calls and old:
                self.attempts += [Attempt(p.digest, p.description, False,
                                          "an earlier run already tried this exact patch and rejected it", p.diff,
                                          fixed=fixed.get(p.digest, ())) for p in old]
                proposal.notes = [*proposal.notes, f"{len(old)} candidate(s) an earlier run rejected were skipped"]
            elif old:  # the offline search sees what it saw then: rejected edits that fixed some tests
                self.attempts += [Attempt(p.digest, p.description, False, "rejected by an earlier run", p.diff,
                                          fixed=fixed[p.digest]) for p in old if p.digest in fixed]
            if old:  # the next proposal of this iteration builds on them (leads, hot names), as a 3B run's would
                context.attempts = list(self.attempts)
            if fresh or proposal.notes or proposal.usage.calls or proposal.blocked or proposal.done:
                return proposal

    def _fresh(self, candidates: list) -> list:
        """Candidates not tried before; a proposal of only repeats counts toward ``repeated_patch``
        and each repeat is fed back as an attempt saying so."""
        tried = {a.digest: a for a in self.attempts}
        fresh = [p for p in candidates if p.digest not in tried]
        for p in candidates:
            if p.digest in tried:
                self.files.step("repeat", iteration=self.state.iteration, digest=p.digest)
                self.attempts.append(Attempt(p.digest, p.description, False,
                                             "this exact patch was already tried: " + tried[p.digest].reason,
                                             p.diff))
        self.repeats = self.repeats + 1 if candidates and not fresh else 0
        return fresh

    def _forget(self, digest: str) -> None:
        self.attempts = [a for a in self.attempts if a.digest != digest]

    def _remembered_leads(self, leads: list) -> None:
        """Partial fixes an earlier run verified, as ``(patch, fixed ids, reason)``: kept as the
        validator's leads and fed back as viable attempts, as if evaluated now."""
        for patch, fixed, reason in leads:
            out = Outcome(patch, False, f"{reason} (verified by an earlier run)", "full", viable=True, fixed=fixed)
            self.validator.leads = sorted([*self.validator.leads, out], key=lambda o: -len(o.fixed))
            self.attempts.append(Attempt(patch.digest, patch.description, False, out.reason, patch.diff,
                                         True, tuple(fixed)))

    def _record(self, outcome: Outcome) -> None:
        self.state.candidates_tried += 1
        if self.memory is not None and self.task is None:
            self.memory.record(outcome, self.validator.baseline.failing, Path(self.worktree.path))
        self.attempts.append(Attempt(outcome.patch.digest, outcome.patch.description,
                                     outcome.accepted, outcome.reason, outcome.patch.diff,
                                     outcome.viable, tuple(outcome.fixed),
                                     rank(outcome.progress) if outcome.stage == "progress" else (0, 0),
                                     outcome.reached, outcome.changed))
        self.files.step("evaluate", iteration=self.state.iteration,
                        patch={"description": outcome.patch.description,
                               "files": list(outcome.patch.files), "digest": outcome.patch.digest,
                               "meta": outcome.patch.meta, "diff": outcome.patch.diff},
                        verdict=outcome.summary())
        self.files.save(self.state)  # atomically, after every candidate: a resume loses at most one
        self.on_event(LoopEvent("candidate", self.state, outcome))

    def _spend(self, usage) -> None:
        spent = self.state.spent
        spent.input_tokens += usage.input_tokens
        spent.output_tokens += usage.output_tokens
        spent.model_calls += usage.calls
        spent.cost_usd = None if spent.cost_usd is None or usage.cost_usd is None \
            else spent.cost_usd + usage.cost_usd

    def _observe(self, started: float, **next_call) -> Observation:
        """What the stop rules read now (``next_call``: ``next_usd``, ``next_tokens``)."""
        v = self.validator
        return Observation(self.state, started, time.monotonic(), fixing=self.task is None,
                           evaluator_errors=v.evaluator_errors, last_error=v.last_error,
                           cannot_run=v.cannot_run, repeats=self.repeats, **next_call)

    def _tick(self, started: float) -> None:
        self.state.spent.wall_seconds = round(time.monotonic() - started, 3)
        self.state.spent.test_seconds = round(
            self.test_seconds_before + self.validator.evaluator.busy_seconds(), 3)

    def _stop(self, stop: Stop) -> RunState:
        s = self.state
        if self.task is None and self.validator.leads and self.validator.baseline.failing:
            # no complete fix: the best partial one (verified, no regressions) is the result
            lead = self.validator.leads[0]
            lead.accepted, lead.reason = True, f"{lead.reason} (the best partial fix found)"
            if self._accept(lead):
                s.remaining = self.validator.baseline.failing
        s.stop_reason, s.stop_detail = stop.reason, stop.detail
        if self.task is not None:
            s.status = rules.task_status(stop.reason)
        else:
            s.status = ("fixed" if not s.remaining else "partial" if s.accepted else "not_fixed")
        self.files.step("stop", reason=stop.reason, detail=stop.detail, status=s.status)
        self.files.save(s)
        self.on_event(LoopEvent("stop", s, stop=stop))
        return s

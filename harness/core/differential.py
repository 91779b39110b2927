"""The differential check of plausible patches: do they keep what the passing tests' inputs did?

A weak test calls a function and checks little of what it returns (``assert price(20) > 0``);
a patch can then change the function's behaviour on that input and still pass. Before the
choice among plausible patches (:func:`harness.core.plausible.choose`), the passing tests
that execute a changed function at baseline (at most :data:`MAX_TESTS`, the fastest) run
once without any patch and once with each plausible patch, their calls of the changed
functions captured (arguments, and the returned value's ``repr`` or the exception type:
:mod:`harness.evaluators.plugin.loopwright_capture`). A call the baseline made (same test,
function and arguments, one result in that run) that a patch answers differently, where
every other plausible patch answers as the baseline did (one of them with its own change run
by that test: a change no test runs keeps every answer and says nothing), makes that patch
*suspect*: the passing tests ran that input and do not check the answer, and only this
patch changes it.
The reason goes on the patch's :class:`harness.core.evidence.Protection` (``suspect``), so the
choice prefers the patches that keep the baseline's behaviour. With a single plausible patch
there is no other to agree, and the check does not run: measured on the injected bench, both
fixes whose only plausible patch changed such an answer were the developer's own (the bug,
``not`` dropped from ``Version.__ge__``, gave wrong answers the passing tests never checked),
and the two capture runs cost 2-6 s per fix. Differential testing of patches this way follows the
test-generation-free variant of Xiong et al., "Identifying Patch Correctness in
Test-Based Program Repair" (ICSE 2018: patches that change passing tests' behaviour are
more likely incorrect).
"""

from __future__ import annotations

import ast
import queue
import time
from collections.abc import Callable
from pathlib import Path

from harness.core.evidence import CoverageIndex
from harness.core.outcome import Baseline, Outcome
from harness.core.stages import _changed_lines as changed_lines
from harness.evaluators.pytest_runner import PytestEvaluator
from harness.evaluators.testrun import TestRun
from sandbox.patch import Patch, PatchError
from sandbox.worktree import Worktree

#: passing tests run per capture (the fastest at baseline that execute a changed function).
MAX_TESTS = 20
#: captured calls kept per test, and characters per ``repr``.
MAX_CALLS, MAX_CHARS = 200, 200


def changed_functions(root: Path, changed: dict[str, set[int]]) -> list[tuple[str, str, range]]:
    """The innermost functions enclosing ``changed`` lines (repo-relative path -> baseline
    line numbers) in the files under ``root``: ``(path, qualified name, lines of its body)``,
    each once, in file order. Lines outside any function give nothing."""
    out: list[tuple[str, str, range]] = []
    for rel, lines in sorted(changed.items()):
        try:
            tree = ast.parse((Path(root) / rel).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
        found: dict[str, range] = {}
        _innermost(tree, "", lines, found)
        out.extend((rel, name, span) for name, span in found.items())
    return out


def _innermost(node: ast.AST, prefix: str, lines: set[int], found: dict[str, range]) -> None:
    """Add to ``found`` (qualified name -> body lines) the innermost functions under ``node``
    whose span holds one of ``lines``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = prefix + child.name
            inner = len(found)
            _innermost(child, name + ".<locals>.", lines, found)
            end = child.end_lineno or child.lineno
            if len(found) == inner and any(child.lineno <= ln <= end for ln in lines):
                found[name] = range(child.body[0].lineno, end + 1)
        elif isinstance(child, ast.ClassDef):
            _innermost(child, prefix + child.name + ".", lines, found)


def _answers(calls: dict[str, list[list[str]]]) -> tuple[dict[tuple[str, str, str], str], set]:
    """(test, function, arguments) -> result of a run's captured calls, and the keys that got
    more than one result in that run (a value of the moment: not compared)."""
    seen: dict[tuple[str, str, str], str] = {}
    unstable: set[tuple[str, str, str]] = set()
    for tid, records in calls.items():
        for name, args, result in records:
            key = (tid, name, args)
            if seen.setdefault(key, result) != result:
                unstable.add(key)
    return seen, unstable


def behaviour_changes(base: dict[str, list[list[str]]], runs: list[dict[str, list[list[str]]]],
                      exercised: list[set[str]] | None = None) -> list[str]:
    """Per patch (``runs``, each a capture as ``TestRun.calls``), why its answers on the
    baseline's inputs look unchecked ('' when none do): the first call the baseline answered
    (once, one way) that this patch answers differently while every other patch answers it
    as the baseline did, one of them with its own change run by that call's test
    (``exercised``: per patch, the tests that run its changed lines at baseline; None: all).
    A patch whose change the test never runs keeps its answers without saying anything of
    them (semantic-version: an unprotected alternative kept the bug's ``NotImplemented``)."""
    before, unstable = _answers(base)
    after = [_answers(r)[0] for r in runs]
    out = []
    for i, mine in enumerate(after):
        why = ""
        for key, was in before.items():
            now = mine.get(key)
            if key in unstable or now is None or now == was:
                continue
            tid = key[0]
            if all(other.get(key) == was for j, other in enumerate(after) if j != i) and any(
                    exercised is None or tid in exercised[j] for j in range(len(after)) if j != i):
                _, name, args = key
                why = (f"changes what `{name}` gives on an input of a passing test that does not check it "
                       f"({tid}: `{name}({args})` was {_said(was)}, now {_said(now)})"
                       + (", where the other plausible patches keep it" if len(after) > 1 else ""))
                break
        out.append(why)
    return out


def _said(result: str) -> str:
    """A captured result in words: ``= V`` -> `V`, ``! E`` -> raises E."""
    return f"`{result[2:]}`" if result.startswith("= ") else f"raises {result[2:]}"


class BehaviourCheck:
    """The differential check (a mixin of the validator: reads ``baseline``, ``index``, ``flaky``,
    ``evaluator``, ``_free`` and ``_limits``)."""

    baseline: Baseline
    index: CoverageIndex
    flaky: set[str]
    evaluator: PytestEvaluator
    _free: queue.Queue[Worktree]
    _limits: Callable[[list[str]], dict[str, float]]

    def compare_behaviour(self, plausible: list[Outcome], deadline: float) -> None:
        """Run the check on ``plausible`` outcomes and set the ``suspect`` reason of
        each patch whose answers change where the others' do not (an earlier reason is kept).
        Nothing is judged with fewer than two outcomes, when no passing test runs a changed
        function, when ``deadline``
        (``time.monotonic()``) has passed, or when a run cannot start; wall seconds go to each
        outcome's ``seconds["differential"]``."""
        if len(plausible) < 2:
            return
        root = Path(self.baseline.root)
        targets = {}
        for o in plausible:
            for rel, name, span in changed_functions(root, changed_lines(o.patch)):
                targets[(rel, name)] = span
        passing = set(self.baseline.passing) - self.flaky
        res = self.baseline.results
        tests = sorted({t for (rel, _), span in targets.items() for ln in span
                        for t in self.index.tests_at(rel, ln) if t in passing},
                       key=lambda t: (res[t].duration if t in res else 0.0, t))[:MAX_TESTS]
        if not tests or time.monotonic() >= deadline:
            return
        spec = {"targets": [{"path": rel, "name": name} for rel, name in targets], "tests": tests,
                "calls": MAX_CALLS, "chars": MAX_CHARS}
        t0 = time.monotonic()
        slot = self._free.get()
        try:
            runs = [self._capture(slot, None, tests, spec)]
            for o in plausible:
                runs.append(self._capture(slot, o.patch, tests, spec))
        finally:
            self._free.put(slot)
        spent = time.monotonic() - t0
        for o in plausible:
            o.seconds["differential"] = spent / len(plausible)
        done = [r for r in runs if r is not None]
        if len(done) != len(runs):
            return
        exercised = [set(o.protection.tests) if o.protection is not None else set() for o in plausible]
        for o, why in zip(plausible, behaviour_changes(done[0].calls, [r.calls for r in done[1:]], exercised)):
            if why and o.protection is not None and not o.protection.suspect:
                o.protection.suspect = why

    def _capture(self, slot: Worktree, patch: Patch | None, tests: list[str], spec: dict) -> TestRun | None:
        """One capture run of ``tests`` in ``slot``, with ``patch`` applied (None: the baseline);
        the slot is reset by git after it. None when the patch does not apply or the run fails."""
        try:
            if patch is not None:
                slot.apply(patch)
            limits = self._limits(tests)
            run = self.evaluator.run(slot.path, select=tests, timeouts=limits, capture=spec,
                                     paths=sorted({t.split("::", 1)[0] for t in tests}),
                                     process_timeout=60 + 2 * sum(limits.values()))
        except PatchError:
            run = None
        finally:
            try:
                slot.reset()
            except PatchError:
                pass
        return None if run is None or run.error else run

"""Overfit checks on a plausible patch: is "fixed" only fooling weak tests? (issue 21)

A plausible patch makes the failing tests pass and breaks no passing test; some do it by
making code dead, dropping a recursion, or special-casing the failing test's input. Before
a plausible patch is accepted, the tests that watch it (the passing tests that execute its
changed lines) have their line coverage recorded in the candidate's full run, joined there by
a few of the failing tests it fixes (:meth:`OverfitChecks._watching`; a coverage run of its own
only when the full run could not record it), then they run :data:`RERUNS` more times:

- a test that passes in some re-runs and fails in others makes the patch *flaky*: it is
  rejected (a passing test that fails 2 runs in 8 after a patch is a regression the single
  full run missed); the re-runs stop at the first such disagreement; a test that fails in
  every re-run makes the patch suspect, unless it fails in the same tests run without the
  patch too (the subset's order or shared state: sqlparse's formatting tests);
- a line the watching passing tests executed at baseline that none of them executes now
  (lines renumbered through the diff; the changed lines themselves aside) makes the patch
  *suspect*: it changed what the passing tests do, which they do not check;
- a function the fixed tests ran at baseline that no re-run test enters any more is
  suspect: the failing tests reached it only through the edited call;
- a recursive call removed from its function (the recursion replaced by a trivial
  expression of its argument), or a comparison with a literal of a failing test's source
  added (``if n == 13: return 1``, the "hard-coded test case" of Zhong et al.'s EvilGenie
  benchmark of reward hacking), or error handling deleted (a ``raise`` removed without one
  added, an ``except`` handler edited down to ``pass``: the functionality deletion behind most plausible but wrong patches of GenProg-style
  repair, Qi, Long, Achour and Rinard, "An analysis of patch plausibility and correctness for
  generate-and-validate patch generation systems", ISSTA 2015), or an ``except`` added whose body only
  passes or gives a constant no comparison of the failing tests expects (:func:`swallowing_handler`),
  is suspect, read from the diff alone;
- a fixed test that expects an exception and no longer reaches the ``raise`` it reached in a
  function the patch edits, with no ``raise`` of that function reached and none written by the
  patch (:func:`harness.core.dead_code.bypassed_raise`: the exception now comes from a callee);
- a public name of a changed module renamed or deleted (:mod:`harness.core.public_api`: the
  test's missing name given by renaming the nearest one breaks the old name's callers).

A suspect patch stays plausible: :func:`harness.core.plausible.choose` prefers any other,
and when it is the only one it is reported as ``fixed (suspect: REASON)``. The reason is
kept on the patch's :class:`harness.core.evidence.Protection`. The differential run of
plausible patches against each other on the passing tests' inputs is
:mod:`harness.core.differential`.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable
from pathlib import Path

import git

from harness.evaluators.pytest_runner import TestRun
from harness.evaluators.verdict import passed_in
from harness.core.dead_code import RAISE, added_lines, bypassed_raise, dead_code, line_map, reporting_calls
from harness.core.evidence import protection
from harness.core.outcome import Outcome
from harness.core.public_api import removed_public_names
from sandbox.patch import Patch, PatchError, patched_texts
from sandbox.worktree import Worktree

#: re-runs of the watching tests that judge flakiness, after the one with coverage.
RERUNS = 3
#: the fixed tests joining the coverage run (the fastest at baseline): their coverage shows a
#: function they no longer reach; all of them would cost as much as the full stage (tabulate:
#: 50 fixed tests, 21 s of re-runs against 21 s for the full suite).
FIXED_SAMPLE = 3
#: a literal compared with in an added line: a number or a short string.
_COMPARED = re.compile(r"(?:==|!=|\bin\b|\bis\b)\s*(-?\d+(?:\.\d+)?\b|'[^'\n]{1,40}'|\"[^\"\n]{1,40}\")"
                       r"|(-?\d+(?:\.\d+)?|'[^'\n]{1,40}'|\"[^\"\n]{1,40}\")\s*(?:==|!=)")


#: an operator method declining an operand (Python then raises ``TypeError`` itself)
_DECLINE = re.compile(r"\s*return\s+NotImplemented\b")


class OverfitChecks:
    """The re-runs and overfit checks of a plausible patch (a mixin of the validator: reads
    ``evaluator``, ``index``, ``baseline``, ``flaky`` and the stages' ``_run``/``_limits``)."""

    def _watching(self, out: Outcome, changed: dict[str, set[int]]) -> tuple[list[str], list[str]]:
        """(the passing tests that execute ``changed`` lines at baseline, flaky ones aside;
        :data:`FIXED_SAMPLE` of the tests ``out`` fixes so far, fastest at baseline first):
        the tests whose coverage the overfit checks read."""
        passing = set(self.baseline.passing) - self.flaky
        watching = protection(self.index, passing, changed).tests
        res = self.baseline.results
        fixed = sorted((t for t in out.fixed if t not in self.flaky and t not in passing),
                       key=lambda t: (res[t].duration if t in res else 0.0, t))[:FIXED_SAMPLE]
        return watching, fixed

    def _steady(self, slot: Worktree, patch: Patch, out: Outcome,
                seen: dict[str, dict[str, list[int]]] | None = None) -> bool:
        """Re-run the passing tests watching ``patch`` :data:`RERUNS` times and record on
        ``out.protection.suspect`` why the patch may only fool the tests (empty: no reason).

        ``seen``: the full run's coverage of the watching tests and of :data:`FIXED_SAMPLE`
        tests it fixes (test id -> absolute path -> lines, see :meth:`_watching`); when a test
        of those has none (the full run was cut by a flaky test, or none was given) they run
        once more with coverage first. Returns False, with ``out`` rejected (stage ``flaky``),
        when a test passes in some re-runs and fails in others (the re-runs stop as soon as
        one has both); or when a re-run cannot start (stage ``error``). A test failing in
        every re-run is a suspect reason, not a rejection."""
        passing = [t for t in out.protection.tests if t not in self.flaky]
        _, fixed = self._watching(out, {})
        coverage = dict(seen or {})
        if seen is None or any(t not in coverage for t in passing + fixed):
            coverage = {}
        failed_in: dict[str, int] = {}  # watching test -> re-runs it failed in
        done = 0  # re-runs made
        for k in range(0 if not coverage else 1, RERUNS + 1):  # a coverage run if needed, then re-runs
            watching = passing + fixed if k == 0 else passing
            if not watching:
                continue
            limits = self._limits(watching)
            run = self._run(slot, out, "rerun", select=watching, timeouts=limits, coverage=k == 0,
                            paths=sorted({t.split("::", 1)[0] for t in watching}),
                            process_timeout=60 + 2 * sum(limits.values()))
            if run.error:
                out.viable = out.plausible = out.accepted = False
                out.stage, out.reason = "error", f"the re-run of the tests watching the patch failed to start: {run.error}"
                return False
            if k == 0:  # under coverage a test may fail for its timing alone (a performance
                coverage = run.coverage  # test of sqlparse did): read for its lines, not judged
                continue
            done += 1
            for t in watching:
                if not passed_in(run.results, t):
                    failed_in[t] = failed_in.get(t, 0) + 1
            if any(n < k for n in failed_in.values()):
                break  # a test failed in one re-run and passed in another: flaky already
        # flaky: passes in some re-runs and fails in others. Failing in every re-run (after passing
        # in the full run) is a subset's order or shared state as often as the patch (a sqlparse
        # test under the correct fix did): suspect, not rejected.
        mixed = [t for t, n in failed_in.items() if n < done]
        if mixed:
            out.viable = out.plausible = out.accepted = False
            out.stage = "flaky"
            out.reason = (f"makes {mixed[0]} flaky: it passed in the full run and in some re-runs of the "
                          f"{len(passing)} tests watching the patch, and failed in {failed_in[mixed[0]]} of {done}")
            return False
        always = sorted(failed_in)
        source = _validated_source(slot)
        texts, sources = _texts(patch, source), _failing_sources(source, out.fixed)
        slot_root = str(Path(slot.path).resolve()) + os.sep
        if always:  # the slot is reset here: what the checks below read was read above
            always = self._fail_only_with_patch(slot, out, passing, always)
        out.protection.suspect = (
            (f"{always[0]} passed in the full run but failed in every re-run of the tests watching "
             "the patch" if always else "")
            or static_suspicion(patch, texts, sources)
            or removed_public_names({rel: source(rel) for rel in texts}, texts)
            or (dead_code(self.index.by_line, self.index.root, slot_root,
                          coverage, out.protection.tests, self._bug_path(out.fixed), fixed, patch, texts,
                          failing=out.fixed, source=source,
                          reporters=reporting_calls(self._chains(out.fixed), source)) if coverage else "")
            or (bypassed_raise(self.index.by_line, self.index.root, slot_root, coverage, fixed, patch, texts,
                               source, sources) if coverage else ""))
        return True


    def _chains(self, fixed: list[str]) -> list[list[tuple[str, int]]]:
        """Per ``fixed`` test, its baseline failure's in-repository traceback frames
        ``(repo-relative path, line)``, outermost first."""
        chains = []
        for t in fixed:
            res = self.baseline.results.get(t)
            chains.append([(f.path.replace(os.sep, "/"), f.line) for f in (res.frames if res else ())
                           if not os.path.isabs(f.path)])
        return chains

    def _bug_path(self, fixed: list[str]) -> dict[str, set[int]]:
        """The traceback frames of the ``fixed`` tests' baseline failures: repo-relative path ->
        lines (frames outside the repository left out)."""
        path: dict[str, set[int]] = {}
        for t in fixed:
            res = self.baseline.results.get(t)
            for frame in res.frames if res else ():
                if not os.path.isabs(frame.path):
                    path.setdefault(frame.path.replace(os.sep, "/"), set()).add(frame.line)
        return path

    def _fail_only_with_patch(self, slot: Worktree, out: Outcome, watching: list[str],
                              always: list[str]) -> list[str]:
        """Those of ``always`` (tests that failed in every re-run of ``watching``) that pass
        when the same tests run without the patch: a test failing there too fails for the
        subset's order or shared state (it needs a test the subset leaves out), not for the
        patch. Resets ``slot`` by git (the patch is gone after it); ``always`` unchanged
        when the slot cannot be reset or the run cannot start."""
        run = self._run_without_patch(slot, out, "rerun", watching)
        return always if run is None else [t for t in always if passed_in(run.results, t)]

    def _run_without_patch(self, slot: Worktree, out: Outcome, stage: str, tests: list[str]) -> TestRun | None:
        """``tests`` run in ``slot`` reset by git (the candidate's patch is gone after it), timed
        as stage ``stage`` of ``out``; None when the slot cannot be reset or the run cannot start."""
        try:
            slot.reset()
        except PatchError:
            return None
        limits = self._limits(tests)
        run = self._run(slot, out, stage, select=tests, timeouts=limits,
                        paths=sorted({t.split("::", 1)[0] for t in tests}),
                        process_timeout=60 + 2 * sum(limits.values()))
        return None if run.error else run


def _validated_source(slot: Worktree) -> Callable[[str], str | None]:
    """Repo-relative path -> its text in the slot's validated tree (None: not there), read from
    git's objects and remembered: the worktree's files are untrusted once code under test ran
    there (a test may have replaced one by a link)."""
    seen: dict[str, str | None] = {}

    def read(rel: str) -> str | None:
        if rel not in seen:
            try:
                seen[rel] = slot.git().show(f"{slot.tree or 'HEAD'}:{rel}", strip_newline_in_stdout=False)
            except (git.GitCommandError, ValueError):
                seen[rel] = None
        return seen[rel]
    return read


def _texts(patch: Patch, source: Callable[[str], str | None]) -> dict[str, str]:
    """The patched text of each file ``patch`` changes (repo-relative path -> text; "" for a
    file removed or a patch that no longer applies), made in memory from ``source``."""
    try:
        _old, new = patched_texts(patch, source)
    except PatchError:
        return {rel: "" for rel in patch.files}
    return {rel: text or "" for rel, text in new.items()}


def _failing_sources(source: Callable[[str], str | None], fixed: list[str]) -> str:
    """The text of the test files of the fixed tests (where their literals are)."""
    return "\n".join(filter(None, (source(rel) for rel in sorted({t.split("::", 1)[0] for t in fixed}))))


def _does_nothing(st: ast.stmt) -> bool:
    """``pass``, ``...`` or a bare constant (a docstring): a statement with no effect."""
    return isinstance(st, ast.Pass) or (isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant))


def static_suspicion(patch: Patch, texts: dict[str, str], test_source: str) -> str:
    """Why the diff alone looks like an overfit (empty when it does not): a recursive call
    removed from its function, an ``except`` handler the patch leaves doing nothing or more
    ``raise`` statements removed than added (error handling deleted), an ``if``/``for``/
    ``while``/``with`` body edited down to ``pass`` or an assignment of a name to itself (a
    deletion in disguise), or a comparison with a literal of the failing tests added."""
    added = [ln[1:] for ln in patch.diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    removed = [ln[1:] for ln in patch.diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    for rel, text in texts.items():
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        mapping = line_map(patch).get(rel, {})
        touched = {n for n in mapping.values() if n is not None}
        new_lines = added_lines(patch).get(rel, set())
        for handler in ast.walk(tree):
            if (isinstance(handler, ast.ExceptHandler) and all(_does_nothing(st) for st in handler.body)
                    # its body edited (a header widened to another type deletes nothing)
                    and any(handler.body[0].lineno <= n <= (handler.end_lineno or handler.lineno) for n in new_lines)):
                return "leaves an `except` handler that does nothing: the error is swallowed"
        for block in ast.walk(tree):
            if (isinstance(block, (ast.If, ast.For, ast.While, ast.With)) and all(_does_nothing(st) for st in block.body)
                    and any(block.body[0].lineno <= n <= (block.body[-1].end_lineno or block.lineno) for n in new_lines)):
                kind = type(block).__name__.lower()
                return f"leaves a `{kind}` block that does nothing: the statement it ran is deleted"
            if (isinstance(block, ast.Assign) and block.lineno in new_lines and len(block.targets) == 1
                    and isinstance(block.targets[0], ast.Name) and isinstance(block.value, ast.Name)
                    and block.targets[0].id == block.value.id):
                return f"writes `{block.value.id} = {block.value.id}`, which does nothing: the assignment it replaced is deleted"
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or not any(
                    fn.lineno <= n <= fn.end_lineno for n in touched):
                continue
            call = re.compile(rf"(?<![\w.])(?:self\.|cls\.)?{re.escape(fn.name)}\(")
            calls_now = sum(1 for n in ast.walk(fn) if isinstance(n, ast.Call) and (
                getattr(n.func, "id", None) == fn.name or getattr(n.func, "attr", None) == fn.name))
            if calls_now == 0 and any(call.search(r) for r in removed) and not any(call.search(a) for a in added):
                return f"removes the recursive call of `{fn.name}`"
    # `return NotImplemented` in an operator method is its way to raise TypeError (the data model)
    if sum(bool(RAISE.match(r)) for r in removed) > sum(bool(RAISE.match(a) or _DECLINE.match(a)) for a in added):
        return "removes a `raise`: an error the code signalled is now let through"
    if swallowed := swallowing_handler(patch, texts, test_source):
        return swallowed
    if nudged := nudged_unit(removed, added):
        return nudged
    old_text = "\n".join(removed)
    for a in added:
        for m in _COMPARED.finditer(a):
            lit = m.group(1) or m.group(2)
            if lit in ("0", "1", "-1", "''", '""') or lit in old_text:
                continue
            if re.search(rf"(?<![\w.]){re.escape(lit)}(?![\w.])", test_source):
                return f"special-cases {lit}, a literal of the failing test"
    return ""


#: constants that are units when they scale a value (``x * 1000000``: microseconds per
#: second): 100 and above powers of ten, and the clock's and the byte's.
UNITS = frozenset({60, 24, 3600, 86400, 256, 1024, 65536} | {10 ** k for k in range(2, 13)})
_NUMBER = re.compile(r"(?<![\w.])\d+(?![\w.])")
_SCALES = re.compile(r"(?:[*/%]\s*$)|(?:^\s*(?:\*|/|//|%))")


def nudged_unit(removed: list[str], added: list[str]) -> str:
    """Why a one-line edit looks like a constant tuned to the failing test (empty when it does
    not): a unit that scales a value (:data:`UNITS`, next to ``*``, ``/``, ``//`` or ``%``) moved
    by one (``float("." + u) * 1000000`` -> ``* 1000001``, which rounds the test's value the
    way it asks). A unit off by one is a conversion broken for every other input.

    Args:
        removed, added: the patch's removed and added lines, without their ``-``/``+``.
    """
    if len(removed) != 1 or len(added) != 1:
        return ""
    old, new = removed[0], added[0]
    olds, news = list(_NUMBER.finditer(old)), list(_NUMBER.finditer(new))
    if len(olds) != len(news):
        return ""
    diff = [(a, b) for a, b in zip(olds, news) if a.group() != b.group()]
    if len(diff) != 1:
        return ""
    a, b = diff[0]
    if old[:a.start()] + old[a.end():] != new[:b.start()] + new[b.end():]:
        return ""
    n, m = int(a.group()), int(b.group())
    if n in UNITS and abs(n - m) == 1 and (_SCALES.search(old[:a.start()]) or _SCALES.search(old[a.end():])):
        return f"moves the unit {n} to {m}: a conversion tuned to the failing test's value"
    return ""


def swallowing_handler(patch: Patch, texts: dict[str, str], test_source: str) -> str:
    """Why an ``except`` handler the patch adds looks like it hides the failure (empty when
    none does): its body only passes, or only returns or assigns a constant (``None``, ``-1``,
    ``[]``) that no comparison in the failing tests' source (``test_source``) expects
    (``== []``, ``is None``). A wrapper that turns the failing test's crash into a default
    value passes that test for the wrong reason unless the test asks for that value (issue 21;
    the functionality deletion of Qi et al., ISSTA 2015, in its added form).

    Args:
        patch: the plausible patch; texts: its changed files' new text (repo-relative path -> text).
        test_source: the failing tests' files' text.
    """
    # an `except` header the patch rewrote at the same indentation is a handler re-typed (widened to
    # the exception that escaped it), not one added: its body was there before
    retyped = {ln[1:len(ln) - len(ln[1:].lstrip())] for ln in patch.diff.splitlines()
               if ln.startswith("-") and not ln.startswith("---") and ln[1:].lstrip().startswith("except")}
    for rel, text in texts.items():
        new_lines = added_lines(patch).get(rel, set())
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        lines = text.splitlines()
        for handler in ast.walk(tree):
            if not (isinstance(handler, ast.ExceptHandler) and handler.lineno in new_lines and len(handler.body) == 1):
                continue
            header = lines[handler.lineno - 1]
            if header[:len(header) - len(header.lstrip())] in retyped and handler.body[0].lineno not in new_lines:
                continue
            body = handler.body[0]
            value = body.value if isinstance(body, (ast.Return, ast.Assign)) else None
            if isinstance(body, ast.Return) and value is None:
                literal = "None"
            elif value is not None and (isinstance(value, ast.Constant) or (
                    isinstance(value, (ast.List, ast.Tuple, ast.Set, ast.Dict)) and not ast.unparse(value)[1:-1].strip())):
                literal = ast.unparse(value)
            elif isinstance(body, ast.Pass):
                return "adds an `except` that only passes: the failure is swallowed"
            else:
                continue
            expected = rf"(?:==|\bis)\s*{re.escape(literal)}(?![\w.])|(?<![\w.]){re.escape(literal)}\s*=="
            if not re.search(expected, test_source.replace('"', "'")):
                return f"adds an `except` that only gives {literal}, which no failing test expects: the failure is swallowed"
    return ""

"""Progress: a candidate that fixes no failing test but moves a failure measurably forward.

Most real regressions have one failing test, so a fix that needs two coordinated edits,
where the first edit alone changes the failure but fixes nothing, never yields a partial
fix (a lead) to search from. This module reads, from the per-test results the test
evaluator already produces, whether a failing test got further with a candidate than at
baseline, by the test function's *own* frame (the line of the test that was executing
when it failed):

- ``later``: the test now fails in a later statement of its own function (the statements
  before it ran through);
- ``assertion``: the same statement, but an exception raised inside the code under test (a
  crash: ``TypeError``, ``KeyError``...) became the test's own ``AssertionError`` raised
  at it (the code now returns a value; the value is wrong);
- ``sibling``: the same statement and the same exception, now raised in the code under test
  at another statement written like the one it was raised at (:func:`shape`: the first of
  three ``assert x.val == resolved`` checks got through, the second fails alike): the edit
  worked where it was made and a systematic edit would repeat it (Hercules, Saha et al.,
  ICSE 2019).

Lines are compared by statement when the test file's source is known
(:class:`TestStatements`): inside one statement written over several lines, the line a
frame reports is not the order things ran in (``self.assertEqual(`` on line 9 fails *after*
its argument on line 10 was computed), so a failure that went from the assertion's line to a
crash in an argument's line went backward, not forward.

A failure that moved because the test now stops early is not progress: a skip, an xfail
or a timeout is not a failure here, and ``SystemExit``/``KeyboardInterrupt``/pytest's
``Exit``/``Skipped``/``XFailed``/``Failed`` (outcome exceptions) do not count. The signal
is cheap (no test is run for it) and hard to fake: the tests are protected, so a patch
can only move a test's own frame by letting the test run further.

The idea is checkpoint (test-case granularity) fitness from search-based program repair:
Fast, Le Goues, Forrest and Weimer, "Designing better fitness functions for automated
program repair" (GECCO 2010), and de Souza, Le Goues and Camilo-Junior, "A novel fitness
function for automated program repair based on source code checkpoints" (GECCO 2018) /
"Search-based program repair with test-case granularity": a candidate that passes more
of a failing test's checkpoints is closer to a fix, even when the test still fails.
"""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from harness.evaluators.verdict import Frame, TestResult

#: progress leads kept at once, the most progressed first (as the offline repairer's
#: ``LEADS`` partial fixes): a candidate is verified against the full suite as one only when
#: it moves further than the second best so far, so few full runs are spent on them.
LEADS = 2
#: newly reached lines kept per progress lead (the second edit is searched at them first).
REACHED = 64
#: exception names that end a test early: a failure moved by one of these is not progress.
STOPS = frozenset({"SystemExit", "KeyboardInterrupt", "GeneratorExit", "Exit", "Skipped", "XFailed",
                   "Failed", "OutcomeException"})


@dataclass(frozen=True)
class Step:
    """One failing test's failure moved forward by a candidate.

    Attributes:
        test: the test id. before, after: 1-based lines of the test function's own frame
            at baseline and with the candidate. kind: ``later`` (a later line) or
            ``assertion`` (same line, a crash in the code under test became the test's
            own ``AssertionError``).
    """

    test: str
    before: int
    after: int
    kind: str

    def words(self) -> str:
        """The step in words, e.g. ``tests/t.py::test_a fails at line 12, was 9``."""
        if self.kind == "later":
            return f"{self.test} fails at line {self.after}, was {self.before}"
        if self.kind == "sibling":
            return f"{self.test} fails alike at a statement like the one it failed at (line {self.after}, was {self.before})"
        return f"{self.test} fails by its own assertion at line {self.after}, was a crash in the code it calls"


def own_frame(result: TestResult) -> Frame | None:
    """The innermost frame of ``result``'s traceback in the test's own function (its file
    from the test id, its name without a parameter suffix), or None when it is not there
    (a setup error, a collection error, a traceback cut before it)."""
    path, _, rest = result.test_id.partition("::")
    if not rest:
        return None
    name = rest.rsplit("::", 1)[-1].split("[", 1)[0]
    return next((f for f in reversed(result.frames) if f.path == path and f.function == name), None)


def exception_name(message: str) -> str:
    """The exception's class name in a result's message (``pkg.mod.Error: text`` ->
    ``Error``; ``AssertionError`` for ``AssertionError: assert 1 == 2``); '' for none."""
    head = message.split("\n", 1)[0].split(":", 1)[0].strip()
    return head.rsplit(".", 1)[-1] if head and " " not in head else ""


#: ``(path, line) -> (first line, last line)`` of the statement a test file's line belongs to.
Statements = Callable[[str, int], tuple[int, int]]


def step(before: TestResult, after: TestResult, statement: Statements | None = None,
         code_line: Callable[[str, int], str] | None = None) -> Step | None:
    """How ``after`` (the test's result with a candidate) moved forward from ``before``
    (its failing result at baseline); None when it did not (or when either is not a
    plain failure of the test's call: an error, a timeout, a skip, an early stop).
    ``statement``: the span of a test file's statement (:class:`TestStatements`); without
    it each line is its own statement. ``code_line``: ``(path, line) -> text`` of the code
    under test as the candidate has it (None: no ``sibling`` step is read)."""
    if before.outcome != "failed" or after.outcome != "failed" or exception_name(after.message) in STOPS:
        return None
    was, now = own_frame(before), own_frame(after)
    if was is None or now is None:
        return None
    span = statement(was.path, was.line) if statement is not None else (was.line, was.line)
    if now.line > span[1]:
        return Step(after.test_id, was.line, now.line, "later")
    crashed_inside = _below(before, was) and exception_name(before.message) not in ("AssertionError", "")
    # the test's own assertion: raised at its line, or in an assertion helper outside the
    # repository (unittest's ``assertEqual``, mock's ``assert_called_with``: absolute paths)
    asserts_now = exception_name(after.message) == "AssertionError" and not any(
        not f.path.startswith("/") for f in _below_frames(after, now))
    if span[0] <= now.line <= span[1] and crashed_inside and asserts_now:
        return Step(after.test_id, was.line, now.line, "assertion")
    if span[0] <= now.line <= span[1] and code_line is not None and \
            exception_name(after.message) == exception_name(before.message) != "":
        old = [f for f in _below_frames(before, was) if not f.path.startswith("/")]
        new = [f for f in _below_frames(after, now) if not f.path.startswith("/")]
        if old and new and old[-1].path == new[-1].path and old[-1].line != new[-1].line:
            a, b = shape(code_line(old[-1].path, old[-1].line)), shape(code_line(new[-1].path, new[-1].line))
            if a and a == b:
                return Step(after.test_id, old[-1].line, new[-1].line, "sibling")
    return None


_KEYWORDS = frozenset({"assert", "return", "if", "elif", "while", "for", "in", "not", "is", "and", "or",
                       "lambda", "yield", "raise", "del", "await", "with", "as", "None", "True", "False"})


@lru_cache(maxsize=4096)
def shape(line: str) -> tuple[tuple[int, str], ...]:
    """The tokens of one source line with every name blanked, keywords kept (``assert
    base.val == resolved`` and ``assert head.val == resolved`` have one shape); () when it
    does not tokenize alone or holds fewer than 4 tokens (``x = 1`` is no statement to repeat
    an edit on)."""
    try:
        toks = [(t.type, "" if t.type == tokenize.NAME and t.string not in _KEYWORDS else t.string)
                for t in tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline)
                if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.COMMENT,
                                  tokenize.INDENT, tokenize.DEDENT)]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return ()
    return tuple(toks) if len(toks) >= 4 else ()


class TestStatements:
    """The statements of test files read in ``checkout`` (the user's checkout, never a
    worktree where code under test ran; the tests are protected, so they are the same there),
    each file parsed once: called as ``(path, line)`` (repo-relative path, 1-based line), the
    ``(first, last)`` lines of the innermost statement holding the line (a compound
    statement's header only: ``for x in f(\\n y):``); ``(line, line)`` when the file cannot be
    read or parsed or no statement holds the line."""

    __test__ = False  # not a pytest class

    def __init__(self, checkout: Path) -> None:
        self.checkout = checkout
        self._spans: dict[str, dict[int, tuple[int, int]]] = {}
        self._texts: dict[str, list[str]] = {}

    def line(self, path: str, line: int) -> str:
        """Line ``line`` (1-based) of the checkout's ``path`` ('' when unreadable or past the
        end), each file read once; no link followed out of the checkout."""
        if path not in self._texts:
            try:
                target = (self.checkout / path)
                ok = not target.is_symlink() and target.resolve().is_relative_to(self.checkout.resolve())
                self._texts[path] = target.read_text(encoding="utf-8").splitlines() if ok else []
            except (OSError, UnicodeDecodeError, ValueError):
                self._texts[path] = []
        lines = self._texts[path]
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def __call__(self, path: str, line: int) -> tuple[int, int]:
        if path not in self._spans:
            self._spans[path] = self._read(path)
        return self._spans[path].get(line, (line, line))

    def _read(self, path: str) -> dict[int, tuple[int, int]]:
        try:
            tree = ast.parse((self.checkout / path).read_bytes())
        except (OSError, SyntaxError, ValueError):
            return {}
        spans: dict[int, tuple[int, int]] = {}
        for node in ast.walk(tree):  # outer statements first: an inner one overwrites its lines
            if isinstance(node, ast.stmt):
                body = getattr(node, "body", None)
                last = body[0].lineno - 1 if isinstance(body, list) and body else (node.end_lineno or node.lineno)
                for line in range(node.lineno, max(last, node.lineno) + 1):
                    spans[line] = (node.lineno, max(last, node.lineno))
        return spans


def _below_frames(result: TestResult, frame: Frame) -> tuple[Frame, ...]:
    """The frames of ``result`` inside ``frame`` (called from it), innermost last."""
    frames = result.frames
    at = len(frames) - 1 - frames[::-1].index(frame)
    return frames[at + 1:]


def _below(result: TestResult, frame: Frame) -> bool:
    """The exception of ``result`` was raised in a repository frame called from ``frame``
    (the code under test, or a helper of the tests), not in ``frame`` itself."""
    return any(not f.path.startswith("/") for f in _below_frames(result, frame))


def advance(baseline: dict[str, TestResult], results: dict[str, TestResult], ids: list[str],
            statement: Statements | None = None, code_line: Callable[[str, int], str] | None = None) -> list[Step]:
    """The steps forward of the failing tests ``ids``: ``baseline`` and ``results`` map
    test id -> result (at baseline, with the candidate); a test missing from either is
    left out. ``statement``, ``code_line``: as for :func:`step`."""
    out = []
    for t in ids:
        if t in baseline and t in results:
            moved = step(baseline[t], results[t], statement, code_line)
            if moved is not None:
                out.append(moved)
    return out


_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


def changed(before: TestResult | None, after: TestResult | None) -> bool:
    """Did a candidate change a failing test's result at all (``after``, against its baseline
    ``before``): its outcome, its message (object addresses aside) or the line of the test's
    own frame? False when either is missing. The signal of mutation-based fault localization
    (Metallaxis-FL: Papadakis and Le Traon, STVR 2015; MUSE: Moon et al., ICST 2014): edits of
    a line that never change what a failing test sees say the fault is not there."""
    if before is None or after is None:
        return False
    if before.outcome != after.outcome or _ADDRESS.sub("0x", before.message) != _ADDRESS.sub("0x", after.message):
        return True
    was, now = own_frame(before), own_frame(after)
    return (was.line if was else None) != (now.line if now else None)


def rank(steps: list[Step] | tuple[Step, ...]) -> tuple[int, int]:
    """How far ``steps`` go, to order progress leads: ``(tests moved, lines gained)``;
    ``(0, 0)`` for none. Compares as a tuple: more tests first, then more lines."""
    return (len(steps), sum(s.after - s.before for s in steps)) if steps else (0, 0)


def _relative(cov: dict[str, list[int]], root: str) -> set[tuple[str, int]]:
    """``(repo-relative path, line)`` of one test's coverage (absolute path -> lines) taken
    in ``root``; paths outside it are left out."""
    out: set[tuple[str, int]] = set()
    for path, lines in cov.items():
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        if not rel.startswith("../"):
            out.update((rel, ln) for ln in lines)
    return out


def bypassed(before: TestResult, now: dict[str, list[int]], root: str) -> bool:
    """Whether a test whose failure moved no longer runs the line of the code it calls
    that its baseline failure was raised at (the innermost repository frame below its own):
    it got further by skipping the code that failed, not by getting through it (an
    ``after_log`` that returns the logger instead of the function that crashed). ``now``:
    the test's coverage with the candidate (absolute path -> lines, taken in ``root``).
    False when the baseline failure was raised in the test's own frame."""
    own = own_frame(before)
    inner = [f for f in _below_frames(before, own) if not f.path.startswith("/")] if own else []
    return bool(inner) and (inner[-1].path, inner[-1].line) not in _relative(now, root)


def reached(now: dict[str, dict[str, list[int]]], before: dict[str, dict[str, list[int]]], tests: list[str],
            now_root: str, before_root: str) -> tuple[tuple[str, int], ...]:
    """The lines the moved failing ``tests`` run with the candidate and did not run at
    baseline: where the test got to, so where its new failure comes from (the fault
    localization of the baseline never saw them). ``now`` and ``before`` map test id ->
    absolute path -> lines (the candidate's coverage in ``now_root``, the baseline's in
    ``before_root``). Returns ``(repo-relative path, line)`` pairs, in file and line order,
    at most :data:`REACHED`; paths outside the roots are left out."""
    new: set[tuple[str, int]] = set()
    for t in tests:
        new |= _relative(now.get(t, {}), now_root) - _relative(before.get(t, {}), before_root)
    return tuple(sorted(new)[:REACHED])

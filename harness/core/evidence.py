"""Evidence behind a verdict: what a "fixed" does and does not prove.

A candidate that makes the failing tests pass and breaks no passing test is only
as trustworthy as the tests that watch the lines it changes. This module answers,
from the per-test coverage taken at baseline (no extra test run):

- *protection*: for each changed line, how many tests that passed at baseline
  execute it. A patch whose changed lines no passing test executes is
  ``unprotected``: nothing but the failing tests checks what it did to the code
  (``elif arg is None`` → ``elif arg is not None`` can make the new test pass and
  silently break every other caller).
- *behaviours changed*: how many passing tests run through the changed lines;
  among candidates that fix as much, the one touching fewer baseline behaviours
  is preferred (the smallest-blast-radius heuristic of regression test selection,
  Rothermel and Harrold, "Analyzing Regression Test Selection Techniques", IEEE TSE
  1996).

Lines a module runs when it is imported (module-level code, class attributes) are
recorded by the pytest plugin under the pseudo test id :data:`IMPORT_CONTEXT`: they
make those lines visible to fault localization (every test imported them), but
they do not count as protection, since no test exercises them while it runs.

It also words failures the way a user looks for them: a test that timed out is
"timed out after 60 s", a syntax error in the source is named with file:line.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.evaluators.verdict import TestResult
from sandbox.limits import limit_words

#: the coverage key of lines run outside any test (at import, during collection);
#: the pytest plugin writes it (``harness/evaluators/plugin/loopwright_pytest.py`` spells it too).
IMPORT_CONTEXT = "<import>"


class CoverageIndex:
    """Inverted baseline coverage: absolute path -> line -> test ids that ran it.

    Built once per run from ``{test id: {absolute path: [lines]}}``; lookups cost
    O(changed lines) instead of a scan over every test's coverage per candidate.
    """

    def __init__(self, coverage: dict[str, dict[str, list[int]]], root: Path):
        self.root = str(Path(root).resolve()) + os.sep
        self.by_line: dict[str, dict[int, list[str]]] = {}
        for tid, files in coverage.items():
            for path, lines in files.items():
                per = self.by_line.setdefault(path, {})
                for ln in lines:
                    per.setdefault(ln, []).append(tid)

    def tests_at(self, rel: str, line: int) -> list[str]:
        """Test ids (and :data:`IMPORT_CONTEXT`) that ran ``rel`` (repo-relative) line ``line``."""
        return self.by_line.get(self.root + rel.replace("/", os.sep), {}).get(line, [])

    def covering(self, changed: dict[str, set[int]]) -> list[str]:
        """Test ids that ran any of ``changed`` ({rel path: {line}}) while running, sorted."""
        out = {t for rel, lines in changed.items() for ln in lines for t in self.tests_at(rel, ln)}
        out.discard(IMPORT_CONTEXT)
        return sorted(out)


@dataclass
class Protection:
    """How well the baseline's passing tests watch a patch's changed lines.

    Attributes:
        lines: repo-relative path -> changed line (baseline numbering) -> number of
            tests that passed at baseline and execute that line.
        tests: the passing tests that execute at least one changed line (sorted); its
            length is the number of baseline behaviours the patch may change.
        import_time: changed lines that run only when their module is imported.
        suspect: why the patch may only fool the tests (:mod:`harness.core.overfit`: lines
            the passing tests ran made dead, a recursion removed, a literal of the failing
            test special-cased); empty when no check found a reason or none ran.
    """

    lines: dict[str, dict[int, int]] = field(default_factory=dict)
    tests: list[str] = field(default_factory=list)
    import_time: list[tuple[str, int]] = field(default_factory=list)
    suspect: str = ""

    @property
    def unprotected(self) -> bool:
        """No passing test executes any changed line."""
        return not self.tests

    def summary(self) -> dict:
        """JSON form: ``protected_by_tests``, ``unprotected``, ``changed_lines``, and
        ``suspect`` when there is a reason."""
        return {"protected_by_tests": len(self.tests), "unprotected": self.unprotected,
                "changed_lines": [{"path": p, "line": ln, "passing_tests": n}
                                  for p, per in sorted(self.lines.items()) for ln, n in sorted(per.items())],
                **({"suspect": self.suspect} if self.suspect else {})}


def protection(index: CoverageIndex, passing: set[str], changed: dict[str, set[int]]) -> Protection:
    """Count, for each changed line, the baseline-passing tests that execute it.

    Args:
        index: the baseline coverage. passing: ids that passed at baseline.
        changed: repo-relative path -> changed line numbers (baseline numbering;
            see :func:`harness.core.stages._changed_lines`).
    """
    out = Protection()
    tests: set[str] = set()
    for rel, lines in changed.items():
        per = out.lines.setdefault(rel, {})
        for ln in sorted(lines):
            ran = index.tests_at(rel, ln)
            hit = [t for t in ran if t in passing]
            per[ln] = len(hit)
            tests.update(hit)
            if IMPORT_CONTEXT in ran and not hit:
                out.import_time.append((rel, ln))
    out.tests = sorted(tests)
    return out


def rank_key(fixed: int, prot: Protection | None, order: int) -> tuple:
    """Sort key among viable candidates (smallest first): more failing tests fixed,
    then protected before unprotected, then fewer baseline behaviours touched, then
    the generator's order."""
    if prot is None:
        return (-fixed, 0, 0, order)
    return (-fixed, int(prot.unprotected), len(prot.tests), order)


def unprotected_warning(count: int = 1) -> str:
    """The summary's warning for ``count`` accepted patches no passing test covers."""
    which = "the fix changes" if count == 1 else f"{count} accepted patches change"
    return (f"fixed (unprotected): {which} lines that no test passing at the start executes; "
            "only the failing tests check them, so other behaviour may have changed. "
            "Review the patch, or add a test for the code it touches")


_SECONDS = re.compile(r"(?:exceeded its|killed after|timeout after|timed out after)\s+([\d.]+)\s*s")


def describe(result: TestResult) -> str:
    """One line saying why ``result`` failed; a timeout says ``timed out after N s``."""
    if result.outcome == "timeout":
        m = _SECONDS.search(result.message or "")
        return f"timed out after {float(m.group(1)):.0f} s" if m else "timed out"
    first = result.message.splitlines()[0] if result.message else result.outcome
    return first + limit_words(result.message or "")  # a sandbox limit that tripped, named


def not_collected(results: dict[str, TestResult], tid: str) -> str:
    """Why test ``tid`` has no result in ``results`` (its file, or a class of it, failed to
    collect: that collector's error in words), or that it was not collected at all."""
    parts = tid.split("::")
    for n in range(len(parts) - 1, 0, -1):
        owner = results.get("::".join(parts[:n]))
        if owner is not None and not owner.ok:
            return f"not collected any more ({'::'.join(parts[:n])}: {describe(owner)})"
    broken = next((t for t, r in results.items() if "::" not in t and not r.ok), None)
    if broken is not None:  # pytest stops the session at a collection error: nothing ran
        return f"not run: collecting {broken} failed ({describe(results[broken])})"
    return "no result: it was not collected any more"


def syntax_errors(root: Path, results: dict[str, TestResult]) -> list[tuple[str, int, str]]:
    """Syntax errors in the repository's own source among failing ``results``.

    Returns ``[(repo-relative path, line, pytest's message)]``, one per location,
    from the frame the plugin appends to a collection error raised by a
    ``SyntaxError`` (or ``IndentationError``).
    """
    seen: dict[tuple[str, int], str] = {}
    for r in results.values():
        if r.ok or not r.message or not r.message.lstrip().startswith(
                ("SyntaxError", "IndentationError", "TabError")) and "SyntaxError:" not in r.message:
            continue
        for f in reversed(r.frames):
            if f.path.endswith(".py") and not os.path.isabs(f.path) and (root / f.path).is_file():
                seen.setdefault((f.path, f.line), r.message.strip().splitlines()[-1])
                break
    return [(p, ln, msg) for (p, ln), msg in seen.items()]


def missing_module(root: Path, result: TestResult) -> str | None:
    """The top-level module a failing test could not import because it is not installed,
    or None when the failure is not that, or may be the repository's own bug.

    A ``No module named X`` is a missing dependency only when ``X`` is not a module
    of the repository (``X/`` or ``X.py`` at the root or under ``src/``) and the
    statement that imported it is an unconditional module-level ``import`` in the
    repository (or outside it). An import reached through the repository's own
    logic (inside a function, an ``if`` or a ``try``, as with a wrong version check
    that imports a module of another Python) may be the bug to fix. Whether the
    target interpreter can import ``X`` is checked by the caller.
    """
    m = re.search(r"No module named '([\w.]+)'", result.message or "")
    if not m:
        return None
    top = m.group(1).split(".")[0]
    for base in (root, root / "src"):
        if (base / top).is_dir() or (base / f"{top}.py").exists():
            return None
    inner = [f for f in result.frames if not os.path.isabs(f.path) and f.path.endswith(".py")
             and (root / f.path).is_file()]
    if inner and not _top_level_import(root / inner[-1].path, inner[-1].line):
        return None
    return top


def _top_level_import(path: Path, line: int) -> bool:
    """Is line ``line`` of ``path`` an ``import``/``from`` statement at module level?"""
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return True
    return any(isinstance(st, (ast.Import, ast.ImportFrom)) and st.lineno <= line <= st.end_lineno
               for st in tree.body)

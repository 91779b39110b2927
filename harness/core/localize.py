"""Fault localization: which lines are most likely to hold the bug.

Spectrum-based fault localization (SBFL) with the Ochiai coefficient over
per-test line coverage, blended with the traceback frames of the failing tests.

Ochiai (Abreu, Zoeteweij and van Gemund, "On the Accuracy of Spectrum-based
Fault Localization", TAICPART-MUTATION 2007)::

    susp(s) = ef(s) / sqrt(F * (ef(s) + ep(s)))

where ``ef(s)``/``ep(s)`` are the failing/passing tests that execute line ``s``
and ``F`` is the number of failing tests.

Two refinements for code no test runs while it runs: a line run at import by a function
that builds a closure (a decorator applied at module level) counts as run by the tests
that ran the closure, not by every test; and a line storing an attribute that the failing
assertion reads (``wrapper.retry = ...`` for ``f.retry.statistics``) gets a bonus.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import math
import os
from collections import defaultdict
from pathlib import Path

from harness.evaluators.verdict import TestResult
from harness.core.context import SuspiciousLocation
from harness.core.data_flow import data_scores
from harness.core.evidence import IMPORT_CONTEXT

#: weight of the traceback evidence next to the Ochiai score (which is in [0, 1]).
FRAME_WEIGHT = 0.3
#: weight of a line that stores an attribute the failing assertion reads (``f.retry = ...``
#: when the test checks ``f.retry.statistics``), next to the Ochiai score.
STORE_WEIGHT = 0.1


def is_editable(path: str, editable: tuple[str, ...] | list[str]) -> bool:
    """True when repo-relative ``path`` may be edited: it matches one of the ``editable``
    globs (LSS ``editable_paths``; same matching as :func:`is_protected`)."""
    return is_protected(path, editable)


def is_protected(path: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """True when repo-relative ``path`` matches one of the ``fnmatch`` glob ``patterns``.

    A pattern without ``/`` matches the file name in any directory; ``dir/**``
    matches everything below ``dir`` at any depth.
    """
    name = path.rsplit("/", 1)[-1]
    for pat in patterns:
        if "/" not in pat and fnmatch.fnmatchcase(name, pat):
            return True
        if fnmatch.fnmatchcase(path, pat) or fnmatch.fnmatchcase(path, pat.replace("**/", "")):
            return True
        if pat.endswith("/**") and (path + "/").startswith(pat[:-2]):
            return True
        if pat.startswith("**/") and fnmatch.fnmatchcase(name, pat[3:]):
            return True
    return False


def ochiai(ef: int, ep: int, total_failed: int) -> float:
    """Ochiai suspiciousness in [0, 1]; 0 when the line is run by no failing test."""
    if ef == 0 or total_failed == 0:
        return 0.0
    return ef / math.sqrt(total_failed * (ef + ep))


def localize(
    root: Path,
    results: dict[str, TestResult],
    coverage: dict[str, dict[str, list[int]]],
    protected: tuple[str, ...] = (),
    limit: int = 200,
) -> list[SuspiciousLocation]:
    """Rank source lines by suspiciousness.

    Args:
        root: the worktree the coverage paths (absolute) were recorded in.
        results: test results at baseline (test id -> result).
        coverage: test id -> {absolute path: [line numbers]} (coverage.py contexts).
        protected: globs of paths never proposed (tests, configuration).
        limit: how many locations to return at most.

    Returns:
        Locations sorted by score, highest first; ties keep traceback-nearest
        lines first, then file and line order. Only ``.py`` files under ``root``
        that are not protected. Scores are ``ochiai + FRAME_WEIGHT * frame``,
        where ``frame`` is 1 for the innermost in-repo frame of a failing test and
        decays by half per frame outwards. Lines run at import (coverage id
        ``<import>``: module-level code, class attributes) count as run by every
        test, so a bug there is suspicious too, below lines only failing tests run;
        except the lines of a function that builds a closure (a decorator's wrapper):
        they count as run by the tests that ran the closure (:func:`_closure_spectra`).
        A line a failing test ran that stores an attribute its failing statement reads
        gets ``STORE_WEIGHT`` more (:func:`_asserted_attributes`). A module-level assignment
        one of the most suspicious lines reads (a pattern, a table) scores at least half
        of that line (:func:`harness.core.data_flow.data_scores`).
    """
    root_s = str(root.resolve()) + os.sep
    failing = [t for t, r in results.items() if not r.ok]
    total_failed = len(failing)
    runs, imported = _spectra(root_s, results, coverage, protected)
    _closure_spectra(root, runs, imported)
    ef: dict[tuple[str, int], int] = defaultdict(int)
    ep: dict[tuple[str, int], int] = defaultdict(int)
    total_passed = len(results) - total_failed
    for key, tids in runs.items():
        ef[key] = sum(1 for t in tids if not results[t].ok)
        ep[key] = len(tids) - ef[key]
    for key in imported:  # every test imported these lines: ef = F, ep = P
        ef[key], ep[key] = total_failed, total_passed

    frame_score: dict[tuple[str, int], float] = defaultdict(float)
    for tid in failing:
        inner = [f for f in results[tid].frames
                 if f.path.endswith(".py") and not os.path.isabs(f.path)
                 and not is_protected(f.path, protected) and (root / f.path).exists()]
        for depth, f in enumerate(reversed(inner)):
            key = (f.path, f.line)
            frame_score[key] = max(frame_score[key], 0.5 ** depth)

    read = _asserted_attributes(root, results, failing)
    scores: dict[tuple[str, int], float] = {}
    for key in set(ef) | set(frame_score):
        stores = read and ef.get(key, 0) and _attribute_stores(root / key[0]).get(key[1], set()) & read
        scores[key] = (ochiai(ef.get(key, 0), ep.get(key, 0), total_failed)
                       + FRAME_WEIGHT * frame_score.get(key, 0.0) + (STORE_WEIGHT if stores else 0.0))
    for key, score in data_scores(root, scores, _parse_path, _statement_at).items():
        if score > scores.get(key, 0.0) and not is_protected(key[0], protected):
            scores[key] = score
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], -frame_score.get(kv[0], 0.0), kv[0]))
    return [SuspiciousLocation(p, ln, round(s, 6)) for (p, ln), s in ranked[:limit] if s > 0]



def _spectra(root_s: str, results: dict[str, TestResult], coverage: dict[str, dict[str, list[int]]],
             protected: tuple[str, ...] | list[str]) -> tuple[dict[tuple[str, int], set[str]], set[tuple[str, int]]]:
    """Per-line spectra: ``({(rel path, line): {test ids that ran it}}, {lines run at import})``,
    over ``.py`` files under ``root_s`` that are not protected; tests without a result dropped."""
    runs: dict[tuple[str, int], set[str]] = defaultdict(set)
    imported: set[tuple[str, int]] = set()
    for tid, files in coverage.items():
        if tid != IMPORT_CONTEXT and tid not in results:
            continue
        for abs_path, lines in files.items():
            if not abs_path.startswith(root_s):
                continue
            rel = abs_path[len(root_s):].replace(os.sep, "/")
            if not rel.endswith(".py") or is_protected(rel, protected):
                continue
            if tid == IMPORT_CONTEXT:
                imported.update((rel, ln) for ln in lines)
            else:
                for ln in lines:
                    runs[(rel, ln)].add(tid)
    return runs, imported


def _closure_spectra(root: Path, runs: dict[tuple[str, int], set[str]], imported: set[tuple[str, int]]) -> None:
    """Lines of a function that builds a closure count as run by the tests that ran the closure.

    A decorator's body runs once, when it decorates (often at import, under
    :data:`IMPORT_CONTEXT`, so "run by every test"), while the wrapper it returns runs
    in the tests: a wrong line there (``wrapper.retry = wrapper`` for ``= self``) is
    seen only by the tests calling the wrapper, and no test's coverage has it. So each line
    run at import whose innermost enclosing function ``g`` defines functions gets, instead
    of "every test", the tests that ran it themselves plus the tests that ran a line of the
    body of a function nested in ``g``. Lines not run at import keep their spectrum.
    Changes ``runs``/``imported`` in place.
    """
    by_file: dict[str, set[int]] = defaultdict(set)
    for rel, ln in imported:
        by_file[rel].add(ln)
    for rel, executed in by_file.items():
        for own, bodies in _closure_builders(root / rel):
            tests: set[str] = set()
            for lo, hi in bodies:
                for ln in range(lo, hi + 1):
                    tests |= runs.get((rel, ln), set())
            if not tests:
                continue
            for ln in own & executed:
                if (rel, ln) in imported:  # a line some test ran itself keeps its own spectrum
                    runs[(rel, ln)] |= tests
                    imported.discard((rel, ln))


def _closure_builders(path: Path) -> list[tuple[set[int], list[tuple[int, int]]]]:
    """For each function of ``path`` that defines functions: ``(its own lines, [(first, last)
    body line of each function defined directly in it])``; own lines exclude nested bodies
    (a nested ``def`` line and its decorators are the builder's). [] when it does not parse."""
    try:
        st = path.stat()
    except OSError:
        return []
    return _builders_cached(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=256)
def _builders_cached(path: str, mtime: int, size: int) -> list[tuple[set[int], list[tuple[int, int]]]]:
    tree = _parse_cached(path, mtime, size)
    if tree is None:
        return []
    out = []
    funcs = (ast.FunctionDef, ast.AsyncFunctionDef)
    for g in ast.walk(tree):
        if not isinstance(g, funcs):
            continue
        nested, stack = [], list(g.body)
        while stack:  # functions defined in g, not inside another function of g
            node = stack.pop()
            if isinstance(node, funcs):
                nested.append((node.body[0].lineno, node.end_lineno or node.lineno))
            else:  # a local class's methods are closures too
                stack.extend(ast.iter_child_nodes(node))
        if nested:
            own = set(range(g.body[0].lineno, (g.end_lineno or g.lineno) + 1))
            for lo, hi in nested:
                own -= set(range(lo, hi + 1))
            out.append((own, nested))
    return out


def _asserted_attributes(root: Path, results: dict[str, TestResult], failing: list[str]) -> set[str]:
    """Attribute names the failing statement of each failing test reads, methods it calls
    left out: ``assertEqual(f.retry.statistics, {})`` -> ``{"retry", "statistics"}``.

    The statement is the innermost one at the test's own frame (in its test file) that is
    deepest in the traceback: where the wrong value was looked at. A wrong attribute value
    was stored somewhere, often by a line no test runs while it runs (a decorator's
    ``wrapper.retry = wrapper``): a cheap stand-in for a dynamic slice of the assertion.
    """
    names: set[str] = set()
    for tid in failing:
        here = [f for f in results[tid].frames if f.path == tid.split("::", 1)[0]]
        if not here:
            continue
        stmt = _statement_at(root / here[-1].path, here[-1].line)
        if stmt is None:
            continue
        called = {n.func.attr for n in ast.walk(stmt) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
        names |= {n.attr for n in ast.walk(stmt) if isinstance(n, ast.Attribute)} - called
    return names


def _statement_at(path: Path, line: int) -> ast.stmt | None:
    """The smallest simple statement of ``path`` spanning ``line`` (None: none, or no parse)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return next((node for lo, hi, node in _simple_statements(str(path), st.st_mtime_ns, st.st_size)
                 if lo <= line <= hi), None)


@functools.lru_cache(maxsize=64)
def _simple_statements(path: str, mtime: int, size: int) -> list[tuple[int, int, ast.stmt]]:
    return simple_statements(_parse_cached(path, mtime, size))


def simple_statements(tree: ast.AST | None) -> list[tuple[int, int, ast.stmt]]:
    """``(first line, last line, statement)`` of ``tree``'s statements without a body, shortest
    first (the first spanning a line is the statement at it); [] for None (no parse)."""
    found = [(n.lineno, n.end_lineno or n.lineno, n) for n in (ast.walk(tree) if tree is not None else ())
             if isinstance(n, ast.stmt) and not hasattr(n, "body")]
    return sorted(found, key=lambda t: t[1] - t[0])


def _attribute_stores(path: Path) -> dict[int, set[str]]:
    """{first line of an assignment: attribute names it stores} of ``path`` ({} if no parse)."""
    try:
        st = path.stat()
    except OSError:
        return {}
    return _stores_cached(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=256)
def _stores_cached(path: str, mtime: int, size: int) -> dict[int, set[str]]:
    tree, out = _parse_cached(path, mtime, size), defaultdict(set)
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                out[node.lineno] |= {n.attr for n in ast.walk(t)
                                     if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)}
    return out


def _parse_path(path: Path) -> ast.Module | None:
    """``path``'s syntax tree, parsed once per (mtime, size); None when unreadable or no parse."""
    try:
        st = path.stat()
    except OSError:
        return None
    return _parse_cached(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=256)
def _parse_cached(path: str, _mtime: int, _size: int) -> ast.Module | None:
    try:
        return ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None

def tests_covering(coverage: dict[str, dict[str, list[int]]], root: Path,
                   lines: dict[str, set[int]]) -> list[str]:
    """Test ids whose baseline coverage includes any of ``lines`` ({rel path: {line}})."""
    root_s = str(root.resolve()) + os.sep
    wanted = {root_s + p.replace("/", os.sep): ls for p, ls in lines.items()}
    return sorted(t for t, files in coverage.items()
                  if any(set(files.get(ap, ())) & ls for ap, ls in wanted.items()))

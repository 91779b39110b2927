"""Fault localization: which lines are most likely to hold the bug.

Spectrum-based fault localization (SBFL) with the Ochiai coefficient over
per-test line coverage, blended with the traceback frames of the failing tests.

Ochiai (Abreu, Zoeteweij and van Gemund, "On the Accuracy of Spectrum-based
Fault Localization", TAICPART-MUTATION 2007)::

    susp(s) = ef(s) / sqrt(F * (ef(s) + ep(s)))

where ``ef(s)``/``ep(s)`` are the failing/passing tests that execute line ``s``
and ``F`` is the number of failing tests.
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections import defaultdict
from pathlib import Path

from evals.verdict import TestResult
from harness.core.context import SuspiciousLocation
from harness.core.evidence import IMPORT_CONTEXT

#: weight of the traceback evidence next to the Ochiai score (which is in [0, 1]).
FRAME_WEIGHT = 0.3


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
        test, so a bug there is suspicious too, below lines only failing tests run.
    """
    root_s = str(root.resolve()) + os.sep
    failing = [t for t, r in results.items() if not r.ok]
    total_failed = len(failing)
    ef: dict[tuple[str, int], int] = defaultdict(int)
    ep: dict[tuple[str, int], int] = defaultdict(int)
    total_passed = len(results) - total_failed
    for tid, files in sorted(coverage.items(), key=lambda kv: kv[0] == IMPORT_CONTEXT):  # import last
        r = results.get(tid)
        if tid == IMPORT_CONTEXT:  # every test imported these lines: ef = F, ep = P
            bucket = None
        elif r is None:
            continue
        else:
            bucket = ep if r.ok else ef
        for abs_path, lines in files.items():
            if not abs_path.startswith(root_s):
                continue
            rel = abs_path[len(root_s):].replace(os.sep, "/")
            if not rel.endswith(".py") or is_protected(rel, protected):
                continue
            for ln in lines:
                if bucket is None:
                    ef[(rel, ln)], ep[(rel, ln)] = total_failed, total_passed
                else:
                    bucket[(rel, ln)] += 1

    frame_score: dict[tuple[str, int], float] = defaultdict(float)
    for tid in failing:
        inner = [f for f in results[tid].frames
                 if f.path.endswith(".py") and not os.path.isabs(f.path)
                 and not is_protected(f.path, protected) and (root / f.path).exists()]
        for depth, f in enumerate(reversed(inner)):
            key = (f.path, f.line)
            frame_score[key] = max(frame_score[key], 0.5 ** depth)

    scores: dict[tuple[str, int], float] = {}
    for key in set(ef) | set(frame_score):
        scores[key] = ochiai(ef.get(key, 0), ep.get(key, 0), total_failed) + FRAME_WEIGHT * frame_score.get(key, 0.0)
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], -frame_score.get(kv[0], 0.0), kv[0]))
    return [SuspiciousLocation(p, ln, round(s, 6)) for (p, ln), s in ranked[:limit] if s > 0]


def tests_covering(coverage: dict[str, dict[str, list[int]]], root: Path,
                   lines: dict[str, set[int]]) -> list[str]:
    """Test ids whose baseline coverage includes any of ``lines`` ({rel path: {line}})."""
    root_s = str(root.resolve()) + os.sep
    wanted = {root_s + p.replace("/", os.sep): ls for p, ls in lines.items()}
    return sorted(t for t, files in coverage.items()
                  if any(set(files.get(ap, ())) & ls for ap, ls in wanted.items()))

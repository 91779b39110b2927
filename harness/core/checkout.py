"""Tests that fail only in loopwright's worktree: an environment difference, not a bug.

A worktree is the commit plus the ignored files the packages need
(:mod:`sandbox.carry`). When the user's checkout has something more that imports need (an
untracked generated module, a build output outside the package directories, uncommitted
changes), tests fail in the worktree with an import or collection error and pass in the
checkout; "fixing" that with mutations wastes the run. So, cheaply: only when the baseline
has failures whose message is an ``ImportError``/``ModuleNotFoundError`` or a collection
error, those tests are run once more in the user's checkout, bound read-only in the
sandbox; if some pass (or collect) there, the run stops and says what differs.
"""

from __future__ import annotations

import re
from pathlib import Path

import git

from harness.core.outcome import Baseline
from harness.evaluators.pytest_runner import PytestEvaluator
from sandbox.carry import ignored_package_files

_IMPORT = re.compile(r"\b(ImportError|ModuleNotFoundError)\b")
_NOT_SHOWN = ("__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox",
              ".nox", ".hypothesis", ".coverage", "node_modules")
MAX_TESTS = 50


def import_failures(baseline: Baseline) -> list[str]:
    """Failing test ids whose failure is an import error or a collection error (file ids)."""
    out = []
    for tid in baseline.failing:
        r = baseline.results[tid]
        if _IMPORT.search(r.message or "") or (r.outcome == "error" and "::" not in tid):
            out.append(tid)
    return out[:MAX_TESTS]


def worktree_only_failures(evaluator: PytestEvaluator, repo: git.Repo, baseline: Baseline,
                           strong_sandbox: bool) -> str:
    """Why the baseline's import/collection failures are the worktree's, or ``''``.

    Args:
        evaluator: the run's test evaluator (its interpreter and sandbox policy).
        repo: the user's repository; its checkout is run read-only, never written.
        baseline: the worktree's baseline.
        strong_sandbox: bubblewrap is in use. Without it the checkout cannot be bound
            read-only, so nothing runs there and ``''`` is returned.

    Returns:
        One paragraph for the user: which tests fail only in the worktree, the first one's
        error, and what differs between HEAD and the checkout; ``''`` when nothing (or no
        import failure) points to the environment.
    """
    ids = import_failures(baseline)
    if not ids or not strong_sandbox:
        return ""
    root = Path(repo.working_tree_dir)
    files = sorted({t.split("::", 1)[0] for t in ids})
    there, _ = evaluator.fresh_run(root, ids, files, None, 120.0 + 10 * len(ids), read_only=True)
    if there.error:
        return ""
    works = []
    for tid in ids:
        if "::" in tid:  # a test: it passes in the checkout
            ok = tid in there.results and there.results[tid].ok
        else:  # a file that did not collect: it collects in the checkout
            ok = tid not in there.results and any(t.startswith(tid + "::") for t in there.collected)
        if ok:
            works.append(tid)
    if not works:
        return ""
    first = baseline.results[works[0]]
    return (f"{len(works)} test(s) fail in loopwright's worktree (HEAD {repo.head.commit.hexsha[:8]} plus the "
            f"ignored files of the package directories) but pass in your checkout: {works[0]}: "
            f"{(first.message or first.outcome).strip().splitlines()[0][:300]}"
            + (f" (and {len(works) - 1} more)" if len(works) > 1 else "")
            + f". What differs: {differences(repo)}. loopwright stops here instead of changing code to "
            "work around a missing file: commit what the tests need, or generate it from conftest.py, "
            "and run again")


def differences(repo: git.Repo) -> str:
    """What the user's checkout has that HEAD lacks, in words: uncommitted changes, untracked
    and ignored files (up to five each; caches and virtual environments not named)."""
    parts = []
    changed = [d.a_path for d in repo.index.diff(None)] + [d.a_path for d in repo.index.diff("HEAD")]
    if changed:
        parts.append("uncommitted changes to " + _some(sorted(set(changed))))
    untracked = [p for p in repo.untracked_files if not _cache(p)]
    if untracked:
        parts.append("untracked files " + _some(untracked))
    carried = set(ignored_package_files(repo))
    ignored = [p.rstrip("/") for p in repo.git.ls_files("--others", "--ignored", "--exclude-standard",
                                                         "--directory", "-z").split("\0")
               if p and not _cache(p) and p not in carried]
    if ignored:
        parts.append("ignored files not carried into worktrees " + _some(ignored))
    return "; ".join(parts) or "nothing git shows (the environment: PYTHONPATH, an editable install's paths)"


def _cache(path: str) -> bool:
    return any(part in _NOT_SHOWN or part.endswith(".egg-info") for part in path.rstrip("/").split("/"))


def _some(paths: list[str]) -> str:
    return ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")

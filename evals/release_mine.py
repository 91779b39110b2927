"""Mining a release pair (:func:`mine_pair`): which of N+1's small module changes make a task.

A pair whose N+1 changed no test module is not run (none of N+1's tests can notice its fix).
Build the *hybrid* tree (N's source, N+1's tests; :mod:`evals.release_trees`) and run
N+1's new or changed test modules with pytest in a venv holding pytest, coverage and N+1's
declared runtime and test requirements plus the undeclared ones its tests use
(:mod:`evals.release_env`); when some fail, for each small module apply its change alone
and run the whole suite. A test file whose failures that change does not fix is kept at N's
version (or dropped when N lacks it), so the task fails only on what the gold patch
fixes; the task is kept when the final hybrid fails some tests and hybrid + gold
passes every test.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from evals.release_env import run_pytest, test_requirements
from evals.release_trees import (MAX_CHANGED_LINES, Change, build_tree, changed_tests, is_test_file, pair_python, pair_trees,
                                 short_name, source_changes)
from evals.sources import text_or_none

__all__ = ["MINE_STAGES", "mine_pair"]

#: where a mined pair stops (``why["stage"]`` of :func:`mine_pair`): no small change; no test
#: module new or changed in N+1; the hybrid's pytest run of the changed test modules timed out; it ended with no failing test but not with exit 0 (a usage error,
#: nothing collected); N+1's tests all pass on N's source; no small change alone makes them pass;
#: a task. (``env_failed``, a venv that cannot be built, is raised as PrepareError.)
MINE_STAGES = ("no_small_change", "no_test_changed", "timeout", "pytest_error", "tests_pass_before", "gold_not_passing", "task")


def mine_pair(package: str, old: str, new: str, *, cache: Path | None = None,
              timeout: float = 180.0, log=None, why: dict | None = None) -> list[dict]:
    """Tasks (suite entries, see the module doc) for the release pair ``old`` -> ``new``.

    Args:
        package: PyPI name (or a local sdist path for ``old``/``new`` trees: see
            :func:`source_tree`; then ``old``/``new`` are archive paths too).
        old, new: consecutive versions, N and N+1.
        cache: cache root (default :func:`evals.sources.cache_root`).
        timeout: wall seconds per pytest run; a suite that hits it ends the pair.
        log: optional ``callable(str)`` for progress lines.
        why: optional dict that gets ``stage`` (one of :data:`MINE_STAGES`) and ``detail`` (words).

    Returns:
        Zero or more task dicts, one per small module change that alone makes every
        failing test pass.

    Raises:
        PrepareError: a download, unpack or venv install failed.
    """
    say = log or (lambda _m: None)
    why = why if why is not None else {}
    old_root, new_root = pair_trees(package, old, new, cache)
    changes = [c for c in source_changes(old_root, new_root) if c.changed_lines <= MAX_CHANGED_LINES]
    if not changes:
        say(f"{package} {old} -> {new}: no module changed by 1..{MAX_CHANGED_LINES} lines")
        why.update(stage="no_small_change", detail="")
        return []
    touched = changed_tests(old_root, new_root)
    if not touched:  # no new or changed test: nothing of N+1's tests can notice N+1's fix
        say(f"{package} {old} -> {new}: no test module changed")
        why.update(stage="no_test_changed", detail="")
        return []
    extra = test_requirements(new_root)  # N+1's tests may need packages no metadata declares
    python = pair_python(old_root, new_root, cache, extra)
    tasks = []
    with tempfile.TemporaryDirectory(prefix="lw-pair-") as tmp:
        build_tree(old_root, new_root, Path(tmp) / "hybrid")
        said: list[str] = []
        # the changed test modules first (a fast filter); the rounds below run the whole suite
        rc, failing = run_pytest(python, Path(tmp) / "hybrid", touched, timeout=timeout, output=said)
        say(f"{package} {old} -> {new}: N+1's changed tests on N's source: exit {rc}, {len(failing)} failing; "
            f"small changes: {', '.join(f'{c.path} ({c.changed_lines})' for c in changes)}")
        if rc is None or not failing:
            text = [ln.strip() for ln in "".join(said).splitlines() if ln.strip()]
            tail = " | ".join([ln for ln in text if "error" in ln.lower()][:2] or text[-3:])[-240:]
            why.update(stage="timeout" if rc is None else "tests_pass_before" if rc == 0 else "pytest_error",
                       detail=f"pytest exit {rc}" + (f" after {timeout:g} s" if rc is None else f": {tail}"))
            return []
        for i, change in enumerate(changes):
            found = _try_change(old_root, new_root, change, python, Path(tmp) / str(i), timeout,
                                first=(touched, failing))
            if found is None:
                say(f"  {change.path}: does not make the suite pass alone")
                continue
            old_tests, deselect, tests = found
            say(f"  {change.path}: task, {len(tests)} failing tests" +
                (f", {len(old_tests)} test files kept at {old}" if old_tests else "") +
                (f", {len(deselect)} tests deselected" if deselect else ""))
            tasks.append({
                "id": f"{short_name(package)}-{new}-{len(tasks) + 1}",
                "repo": {"release_pair": {"package": package, "old": old, "new": new,
                                          "file": change.path, "old_tests": sorted(old_tests),
                                          "deselect": sorted(deselect),
                                          **({"test_requirements": extra} if extra else {})}},
                "command": "fix", "python": None, "gold_patch": change.patch,
                "tests": sorted(tests), "timeout": 600})
    why.update(stage="task" if tasks else "gold_not_passing",
               detail=f"{len(failing)} failing on N's source; {len(changes)} small changes tried")
    return tasks


def _try_change(old_root: Path, new_root: Path, change: Change, python: Path, work: Path,
                timeout: float, first: tuple[list[str], set[str]] | None = None
                ) -> tuple[set[str], set[str], set[str]] | None:
    """(test files kept at N, tests deselected, failing test ids) when ``change`` alone fixes
    what it should, else None.

    ``first``: (the changed test modules, those of their tests failing on N's source). When
    given, the changed test modules run first with the change, and a change that makes none
    of those tests pass ends here, before any whole-suite run (most changes tried are that).

    Tests still failing with the change are deselected; a test file that fails to collect
    goes back to N's version, and is left out when that fails too (at most 3 rounds); then the task tree without
    the change must fail some test, and with it pass every test. A root conftest that
    already has a collection hook gets no deselection (files go back to N's version).
    """
    old_tests: set[str] = set()
    deselect: set[str] = set()
    root_conftest = text_or_none(new_root / "conftest.py") or ""
    can_deselect = "pytest_collection_modifyitems" not in root_conftest
    for attempt in range(3):
        fixed = work / f"gold{attempt}"
        build_tree(old_root, new_root, fixed, old_tests=old_tests, deselect=deselect, change=change)
        if attempt == 0 and first is not None and first[1]:
            rc, still = run_pytest(python, fixed, first[0], timeout=timeout)
            if rc is None or first[1] <= still:
                return None  # it fixes none of the changed tests that fail on N's source
        rc, still = run_pytest(python, fixed, timeout=timeout)
        if rc == 0:
            break
        tests = {t for t in still if "::" in t} - deselect if can_deselect else set()
        files = {t.split("::")[0] for t in still if t not in tests}
        if can_deselect:  # a file that fails to collect even at N's version is left out
            tests |= files & old_tests
            files -= old_tests
        if rc is None or not (tests or files - old_tests) or not all(is_test_file(f) for f in files):
            return None
        deselect |= tests
        old_tests |= files
    else:
        return None
    build_tree(old_root, new_root, work / "task", old_tests=old_tests, deselect=deselect)
    rc, failing = run_pytest(python, work / "task", timeout=timeout)
    return (old_tests, deselect, failing) if rc is not None and failing else None

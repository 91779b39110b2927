"""Baseline reuse: a later run re-runs only the tests whose inputs changed.

The fix loop's baseline (every test under per-test coverage) is the slowest step of a
run, and most of it is the same from one run to the next (a CI bot on each push of a
pull request, a second ``loopwright fix`` with a larger budget). After a baseline,
:meth:`BaselineCache.save` keeps, in ``<git-common-dir>/loopwright/baseline-cache.json``,
each test's result, duration and coverage with the content hashes (SHA-256) of the files
it executed and of its test file, under two keys for the whole suite:

- *environment*: the target interpreter (version, path), every installed distribution
  and its version (``importlib.metadata`` in that interpreter: a ``pip freeze``; for
  loopwright's own interpreter, the distributions' folder names listed in this process), the
  pytest plugin loopwright runs, the sandbox mode and the baseline's per-test limit;
- *configuration*: ``pytest.ini``, ``pyproject.toml``, ``setup.cfg``, ``tox.ini`` and every
  ``conftest.py`` of the tree (their hashes, file by file).

:meth:`BaselineCache.run` then runs only: the tests that executed a file whose content
changed, or a file that imports (directly or through others) a module whose module-level
code changed (an import-time constant is read without executing a line of the module it
lives in; a change inside a function body matters only to the tests that execute it), the
tests without coverage (skipped ones excepted: their test file and its imports decide
them), and the test files that are new or changed (whole files, so new tests in them are
collected). Any doubt runs everything: no earlier baseline, ``--fresh``,
another environment or configuration, a new Python file while ``python_files`` is
configured (it may be a test file under another name). The reused results keep their
duration, coverage and message; the summary line says how many were reused and why the
others ran. Coverage-based test selection of this kind is what pytest-testmon does
(https://testmon.org/): it shares the blind spot for data files read at run time, which is
why a change to a tracked non-Python file a test opened would not be seen; configuration
and dependency changes are.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from harness.core.state import state_dir, write_json_atomic
from harness.evaluators import pytest_runner
from harness.evaluators.pytest_runner import PytestEvaluator, TestRun
from harness.evaluators.verdict import Frame, TestResult
from sandbox.process import SandboxPolicy
from sandbox.process import run as run_process

CACHE = "baseline-cache.json"
#: how the run's summary line about the baseline starts (:func:`summary_in` finds it)
SUMMARY = "baseline: "
CONFIG_FILES = ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini")
_SKIP_DIRS = {".git", "__pycache__", ".venv", "venv", ".tox", "node_modules", ".mypy_cache", ".pytest_cache"}
_TEST_FILE = re.compile(r"(^test_.*|.*_test)\.py$")
_FREEZE = ("import sys, importlib.metadata as m\n"
           "print(sys.version); print(sys.executable)\n"
           "print('\\n'.join(sorted(f\"{d.metadata.get('Name')}=={d.version}\" for d in m.distributions())))\n")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _freeze_here(python: str) -> str | None:
    """The installed distributions of ``python``, read in this process when it is this very
    interpreter in this very environment (the same test as
    :func:`harness.evaluators.pytest_output.probe_here`; no process to start): the version,
    the executable, and in each folder of ``sys.path`` the names of the ``*.dist-info`` /
    ``*.egg-info`` / ``*.egg-link`` entries (name and version, as ``pip freeze`` sees them)
    and of the ``*.pth`` files with their content's hash. A directory listing, not metadata
    parsing (which took ~0.3 s for 100 distributions). None for another interpreter or
    virtual environment (its key comes from :data:`_FREEZE` run there)."""
    import sys

    here, there = Path(sys.executable), Path(python)
    if there.resolve() != here.resolve() or os.path.abspath(there.parent) != os.path.abspath(here.parent):
        return None
    lines = [sys.version, sys.executable]
    # the installed packages only: not this process's working directory (the probe's differs)
    for folder in dict.fromkeys(p for p in sys.path if p and os.path.abspath(p) != os.getcwd()):
        try:
            names = sorted(os.listdir(folder))
        except OSError:  # a zip file on the path, or a folder that does not exist
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info", ".egg-link")):
                lines.append(f"{folder}/{name}")
            elif name.endswith(".pth"):
                try:
                    lines.append(f"{folder}/{name} {_sha(Path(folder, name).read_bytes())}")
                except OSError:
                    lines.append(f"{folder}/{name} unreadable")
    return "\n".join(lines) + "\n"


def _walk(root: Path):
    """Repository-relative paths of the files under ``root`` (not .git, caches, venvs)."""
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in _SKIP_DIRS and not x.endswith(".egg-info"))
        for f in sorted(files):
            yield os.path.relpath(os.path.join(d, f), root)


class BaselineCache:
    """The repository's stored baseline and the reuse of it for one run.

    Args:
        repo_root: the repository (its git directory holds the cache).
        python: the target interpreter. policy: the sandbox the tests run under.
        settings: anything else an outcome depends on (e.g. the per-test limit), as text.
        use: reuse the stored baseline (False: ``--fresh``; the new one is still stored).
        note: where the summary line goes (the run's messages).

    Attributes:
        reused: test results reused by the last :meth:`run`. summary: its line for people.
        wall: seconds from the start of :meth:`run` to the end of :meth:`save` (the whole
            baseline step: the environment key, hashing, the tests run, storing).
    """

    def __init__(self, repo_root: Path, python: str, policy: SandboxPolicy, settings: str, *,
                 use: bool = True, note: Callable[[str], None] = lambda m: None):
        self.path = state_dir(repo_root) / CACHE
        self.python, self.policy, self.settings, self.use, self.note = python, policy, settings, use, note
        self.reused, self.summary, self.wall = 0, "", 0.0
        self._t0 = 0.0
        self._shapes: dict[str, str | None] = {}  # path -> stored shape, for files whose hash is the same
        self._hashes: dict[str, str] = {}
        self._root: Path | None = None

    # -- keys ------------------------------------------------------------------------------

    def _hash(self, rel: str) -> str:
        if rel not in self._hashes:
            try:
                self._hashes[rel] = _sha((self._root / rel).read_bytes())
            except OSError:
                self._hashes[rel] = "missing"
        return self._hashes[rel]

    def environment(self, root: Path) -> str:
        """SHA-256 of the interpreter and its installed distributions (:func:`_freeze_here`: in
        this process when the target is this very interpreter and environment, else a probe run by
        the target interpreter under the sandbox), loopwright's pytest plugin, the sandbox mode
        and ``settings``; a probe that fails gives a key no later run matches."""
        frozen = _freeze_here(self.python)
        if frozen is None:
            res = run_process([self.python, "-c", _FREEZE], root, 120, self.policy, read_only=True)
            frozen = res.stdout if res.returncode == 0 else f"probe failed: {os.urandom(8).hex()}"
        plugin = Path(pytest_runner.__file__).parent / "plugin"
        parts = [frozen, *(_sha(p.read_bytes()) for p in sorted(plugin.glob("*.py"))),
                 self.policy.mode(), str(self.policy.network), self.settings]
        return _sha("\n".join(parts).encode())

    def configuration(self, files: list[str]) -> dict[str, str]:
        """Path -> hash of the test configuration among ``files`` (config files at the top,
        every ``conftest.py``)."""
        return {f: self._hash(f) for f in files if f in CONFIG_FILES or f.rsplit("/", 1)[-1] == "conftest.py"}

    # -- reuse -----------------------------------------------------------------------------

    def run(self, evaluator: PytestEvaluator, root: Path, **kw) -> TestRun:
        """The baseline in worktree ``root``: :meth:`PytestEvaluator.run` (``kw``: its
        arguments, ``coverage=True``) over only the tests whose inputs changed, merged
        with the reused results; the whole suite when in doubt (see the module)."""
        # Over 60 lines on purpose: the decision of which tests to run again (each reason to
        # distrust the stored baseline, then the per-test check) reads top to bottom in one place.
        self._t0, self._root, self._hashes = time.monotonic(), Path(root), {}
        files = list(_walk(self._root))
        self._files, self._env = files, self.environment(self._root)
        cached, why = self._load(), ""
        if not self.use:
            why = "--fresh"
        elif cached is None:
            why = "no earlier baseline is stored"
        elif cached["environment"] != self._env:
            why = "the interpreter, its installed packages or loopwright's test plugin changed"
        elif cached["configuration"] != self.configuration(files):
            changed = sorted(set(cached["configuration"].items()) ^ set(self.configuration(files).items()))
            why = f"the test configuration changed ({', '.join(sorted({p for p, _ in changed}))})"
        new_tests = sorted(f for f in files if _TEST_FILE.match(f.rsplit("/", 1)[-1])
                           and f not in (cached or {}).get("test_files", []))
        if not why and cached.get("python_files") and any(
                f.endswith(".py") and f not in cached["known"] for f in files):
            why = "a new Python file appeared and python_files is configured (it may hold tests)"
        if why:
            self.summary = f"{SUMMARY}ran every test ({why})"
            self.note(self.summary)
            return evaluator.run(root, **kw)
        tests = cached["tests"]
        changed = {f for f, h in cached["known"].items() if self._hash(f) != h}
        shapes = cached.get("shapes", {})
        self._shapes = {f: shapes[f] for f, h in cached["known"].items() if f in shapes and f not in changed}
        changed |= self._importers({f for f in changed if shapes.get(f) is None or self._shape(f) != shapes[f]}, files)
        rerun: dict[str, str] = {}
        for tid, t in tests.items():
            test_file = tid.split("::", 1)[0]
            if self._hash(test_file) == "missing":
                continue  # its file is gone: so is the test
            hit = sorted(set(t["deps"]) & changed)
            if not t["coverage"] and t["result"]["outcome"] != "skipped":  # a skip runs no line: its
                rerun[tid] = "no coverage was recorded for it"  # test file (and its imports) decide it
            elif hit:
                rerun[tid] = f"it executed {hit[0]}, which changed" if hit[0] != test_file else "its test file changed"
        select = sorted(set(rerun) | {t.split("::", 1)[0] for t in rerun if t.split("::", 1)[0] in changed}
                        | set(new_tests))
        if select:
            kw = {**kw, "select": select, "paths": sorted({s.split("::", 1)[0] for s in select}), "durations": {
                t: float(r["result"].get("duration", 0.0)) for t, r in tests.items()}}
            part = evaluator.run(root, **kw)
            if part.error:
                return part
        else:
            part = TestRun()
        merged = self._merge(cached, part, set(rerun) | {t for t in tests
                                                           if self._hash(t.split("::", 1)[0]) == "missing"})
        self.reused = len(merged.results) - len(part.results)
        reasons: dict[str, int] = {}
        for r in rerun.values():
            reasons[r] = reasons.get(r, 0) + 1
        if new_tests:
            reasons[f"{len(new_tests)} new test file(s)"] = 0
        said = "; ".join(f"{n} because {r}" if n else r for r, n in sorted(reasons.items(), key=lambda x: -x[1])[:4])
        self.summary = (f"{SUMMARY}reused {self.reused} of {len(merged.results)} test results from an earlier run; "
                        f"ran {len(part.results)}" + (f" ({said})" if said else ""))
        self.note(self.summary)
        return merged

    def _shape(self, rel: str) -> str | None:
        """SHA-256 of a Python file's module-level code: its AST with every function body
        emptied (a change inside a body only matters to a test that executes it, which its
        coverage shows); None when it does not parse."""
        try:
            tree = ast.parse((self._root / rel).read_bytes())
        except (OSError, SyntaxError, ValueError):
            return None
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                node.body = []
        return _sha(ast.dump(tree).encode())

    def _importers(self, changed: set[str], files: list[str]) -> set[str]:
        """Python files that import a module whose module-level code changed (``changed``),
        directly or through each other (a constant read at import time executes no line of
        the module it lives in)."""
        py = [f for f in files if f.endswith(".py")]
        out, todo = set(), {f for f in changed if f.endswith(".py")}
        text: dict[str, str] = {}
        while todo:
            names = {Path(f).stem if Path(f).stem != "__init__" else Path(f).parent.name for f in todo}
            pattern = re.compile(r"^\s*(?:from|import)\s[^\n]*\b(?:" + "|".join(map(re.escape, names)) + r")\b", re.M)
            todo = set()
            for f in py:
                if f in out or f in changed:
                    continue
                if f not in text:
                    try:
                        text[f] = (self._root / f).read_text(encoding="utf-8", errors="replace")
                    except OSError:
                        text[f] = ""
                if pattern.search(text[f]):
                    out.add(f)
                    todo.add(f)
        return out

    def _merge(self, cached: dict, part: TestRun, dropped: set[str]) -> TestRun:
        out = TestRun(duration=part.duration, processes=part.processes)
        root = str(self._root)
        for tid in cached["collected"]:
            if tid in dropped or tid not in cached["tests"]:
                continue
            t = cached["tests"][tid]
            r = t["result"]
            out.results[tid] = TestResult(r["test_id"], r["outcome"], r["message"],
                                          tuple(Frame(**f) for f in r["frames"]), r["duration"])
            out.coverage[tid] = {os.path.join(root, p): ls for p, ls in t["coverage"].items()}
            out.collected.append(tid)
        ran = [t for t in part.collected if t in part.results]
        order = {t: i for i, t in enumerate(cached["collected"])}
        for tid in ran:
            out.results[tid] = part.results[tid]
            if tid in part.coverage:
                out.coverage[tid] = part.coverage[tid]
        out.collected = sorted([*out.collected, *ran], key=lambda t: order.get(t, len(order)))
        return out

    # -- storing ---------------------------------------------------------------------------

    def save(self, run: TestRun) -> None:
        """Store baseline ``run`` (taken by :meth:`run` in the same worktree) for later runs;
        a run with an error is not stored."""
        self.wall = time.monotonic() - self._t0 if self._t0 else 0.0
        if run.error or self._root is None:
            return
        prefix = str(self._root) + os.sep
        tests, known = {}, {}
        for tid in run.collected:
            if tid not in run.results:
                continue
            cov = {p.removeprefix(prefix): ls for p, ls in run.coverage.get(tid, {}).items() if p.startswith(prefix)}
            deps = sorted({*cov, tid.split("::", 1)[0]})
            for d in deps:
                known[d] = self._hash(d)
            tests[tid] = {"result": asdict(run.results[tid]), "coverage": cov, "deps": deps}
        for f in self._files:
            if f.endswith(".py"):
                known.setdefault(f, self._hash(f))
        config = self.configuration(self._files)
        custom = any("python_files" in (self._root / f).read_text(errors="replace") for f in config
                     if f.rsplit("/", 1)[-1] in CONFIG_FILES)
        write_json_atomic(self.path, {
            "version": 1, "environment": self._env, "configuration": config, "known": known,
            "shapes": {f: self._shapes[f] if f in self._shapes else self._shape(f) for f in known if f.endswith(".py")},
            "python_files": custom, "collected": [t for t in run.collected if t in tests], "tests": tests,
            "test_files": sorted(f for f in self._files if _TEST_FILE.match(f.rsplit("/", 1)[-1]))}, indent=None)
        self.wall = time.monotonic() - self._t0

    def fields(self) -> dict:
        """The baseline trajectory step's fields from the cache: ``wall`` (seconds, see the
        class) and ``reused`` (test results)."""
        return {"wall": round(self.wall, 3), "reused": self.reused}

    def _load(self) -> dict | None:
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("version") == 1 else None


def summary_in(messages: list[str]) -> str:
    """The baseline cache's line among a run's ``messages``, without its prefix: ``"reused 190 of
    200 test results from an earlier run; ran 10 (...)"`` or ``"ran every test (why)"``; '' if none."""
    for m in messages:
        if m.startswith(SUMMARY) and m[len(SUMMARY):].startswith(("reused ", "ran every test")):
            return m[len(SUMMARY):]
    return ""


def cache_usage(repo_root: Path) -> tuple[int, int]:
    """(test results stored, bytes) of a repository's baseline cache; (0, 0) without one."""
    path = state_dir(repo_root) / CACHE
    try:
        return len(json.loads(path.read_bytes()).get("tests", {})), path.stat().st_size
    except (OSError, ValueError, AttributeError):
        return 0, 0

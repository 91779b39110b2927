"""The lint evaluator (ruff), and what every static evaluator shares: stable diagnostic ids
and the baseline comparison.

A static evaluator (lint, types) reports diagnostics, not tests. Each diagnostic becomes
a :class:`~harness.evaluators.verdict.TestResult` with outcome ``failed`` whose ``test_id`` does not
depend on line numbers, so a diagnostic that only moved (lines inserted above it) keeps
its id::

    PATH::CODE::NORMALIZED MESSAGE#N

``PATH`` is repo-relative POSIX, ``N`` (from 1) numbers identical keys in source order.
Only diagnostics whose id is not in the baseline count (:func:`regressions`).
"""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from harness.evaluators.verdict import Frame, TestResult, Verdict
from sandbox.process import ProcessResult, SandboxPolicy, run


@dataclass(frozen=True)
class Diagnostic:
    """One finding of a static tool.

    Attributes:
        path: repo-relative POSIX path (absolute if outside the root).
        line: 1-based line. col: 1-based column (0 when the tool gives none).
        code: the tool's rule code (``F841``, ``assignment``); never empty.
        message: the tool's message as written.
    """

    path: str
    line: int
    col: int
    code: str
    message: str


def relative(path: str, root: Path) -> str:
    """``path`` (absolute, or relative to ``root``) as a repo-relative POSIX path, if inside."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix().removeprefix("./")
    for base in (root, root.resolve()):
        try:
            return p.relative_to(base).as_posix()
        except ValueError:
            pass
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def normalize_message(message: str, root: Path | None = None) -> str:
    """``message`` without what shifts between runs: the root's path, ``line N`` numbers, runs of
    whitespace (``"Redefinition of unused `f` from line 3"`` -> ``"... from line N"``)."""
    if root is not None:
        for base in {str(root), str(root.resolve())}:
            message = message.replace(base.rstrip("/") + "/", "")
    message = re.sub(r"\b(line|lines) \d+(-\d+)?", r"\1 N", message)
    return " ".join(message.split())


def to_results(diagnostics: list[Diagnostic], root: Path | None = None) -> dict[str, TestResult]:
    """Diagnostics keyed by stable id (see the module doc), in source order.

    Each result: outcome ``failed``, message ``"path:line:col: CODE message"``,
    frames ``(Frame(path, line),)``.
    """
    out: dict[str, TestResult] = {}
    seen: dict[str, int] = {}
    for d in sorted(diagnostics, key=lambda d: (d.path, d.line, d.col, d.code, d.message)):
        key = f"{d.path}::{d.code}::{normalize_message(d.message, root)}"
        seen[key] = seen.get(key, 0) + 1
        tid = f"{key}#{seen[key]}"
        out[tid] = TestResult(tid, "failed", f"{d.path}:{d.line}:{d.col}: {d.code} {d.message}",
                              (Frame(d.path, d.line),))
    return out


def regressions(baseline: Verdict, now: Verdict) -> list[TestResult]:
    """Diagnostics of ``now`` whose stable id is not in ``baseline``, in ``now``'s order.

    Pre-existing diagnostics do not count, nor do ones that only moved. When a key gains
    occurrences (``#2`` appears where the baseline had ``#1``) the highest-numbered ones are
    reported. Evaluator errors are not diagnostics: check ``now.error`` (see :func:`compare`).
    """
    return [r for tid, r in now.results.items() if tid not in baseline.results and not r.ok]


def compare(baseline: Verdict, now: Verdict) -> Verdict:
    """``now`` judged against ``baseline``: a copy with ``new_failures`` (regression ids),
    ``fixed`` (baseline ids now gone) and ``passed`` = no regressions and no error in either.
    A baseline that could not run makes the comparison fail with that reason in ``error``."""
    new = [r.test_id for r in regressions(baseline, now)]
    error = now.error or (f"no baseline to compare with: {baseline.error}" if baseline.error else "")
    return Verdict(now.evaluator, passed=not new and not error, results=dict(now.results),
                   duration=now.duration, error=error, new_failures=new,
                   fixed=[t for t in baseline.results if t not in now.results])


def process_error(tool: str, res: ProcessResult, timeout: float) -> str:
    """A one-line reason why ``tool``'s process gave no usable output (timeout or exit code)."""
    if res.timed_out:
        return f"{tool} timed out after {timeout:.0f} s (raise the timeout or check fewer paths)"
    tail = (res.stderr.strip() or res.stdout.strip()).splitlines()[-3:]
    return f"{tool} failed with exit code {res.returncode}: {' | '.join(tail) or 'no output'}"


def tool_table(root: Path, *keys: str) -> dict | None:
    """The ``[tool.<keys...>]`` table of ``root/pyproject.toml`` (read with :mod:`tomllib`),
    or ``None`` when the file, or the table, is missing or the TOML is invalid."""
    try:
        data = tomllib.loads(read_text(Path(root) / "pyproject.toml"))
    except tomllib.TOMLDecodeError:
        return None
    node = data.get("tool")
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def ini_section(path: Path, name: str) -> dict[str, str] | None:
    """Section ``[name]`` of the INI file ``path`` (:mod:`configparser`, no interpolation),
    or ``None`` when the file or section is missing or the file does not parse."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(read_text(path))
    except configparser.Error:
        return None
    return dict(parser[name]) if parser.has_section(name) else None


def read_text(path: Path) -> str:
    """``path``'s text, or ``""`` if it is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def tool_version(cmd: list[str], policy: SandboxPolicy) -> str | None:
    """``"ruff 0.6.9"``/``"mypy 1.11.2"``: the first two words ``cmd --version`` prints, run
    sandboxed by ``policy`` in an empty temp folder (60 s at most); None when it does not run."""
    with tempfile.TemporaryDirectory(prefix="loopwright-probe-") as empty:
        try:
            res = run([*cmd, "--version"], Path(empty), 60, policy)
        except OSError:
            return None
    words = res.stdout.split() if res.returncode == 0 else []
    return " ".join(words[:2]) if len(words) >= 2 else None


class RuffEvaluator:
    """Lint with ruff in a worktree; one separate, time-limited process per run.

    Args:
        policy: sandbox policy for the ruff process (default :class:`SandboxPolicy()`).
        timeout: wall seconds before the process group is killed.
        executable: ruff to run (path or name); default: see ``python``.
        python: the target interpreter. Its environment's ruff (``ruff`` beside it, the
            version the project pins) runs when there is one; else loopwright's own
            (ruff is a runtime dependency: ``sys.executable -m ruff``); else ``ruff``
            on PATH.
    """

    id = "lint"
    MISSING = "ruff is not installed; pip install ruff, or drop --lint"

    def __init__(self, policy: SandboxPolicy | None = None, timeout: float = 120.0,
                 executable: str | None = None, python: str | None = None):
        self.policy = policy or SandboxPolicy()
        self.timeout = timeout
        self.executable = executable
        self.python = python

    def command(self) -> list[str] | None:
        """The argv prefix that runs ruff, or ``None`` if ruff cannot be found."""
        if self.executable:
            found = shutil.which(self.executable)
            return [found] if found else None
        if self.python:  # the target environment's own ruff (not resolved: a venv's python is a symlink)
            beside = Path(self.python).parent / "ruff"
            if beside.is_file() and os.access(beside, os.X_OK):
                return [str(beside)]
        if importlib.util.find_spec("ruff") is not None:
            return [sys.executable, "-m", "ruff"]
        if found := shutil.which("ruff"):
            return [found]
        return None

    def available(self, root: Path | None = None) -> bool:
        """Whether ruff can be run (``root``: unused, the same for every repository)."""
        return self.command() is not None

    def probe(self, root: Path | None = None) -> tuple[bool, str]:
        """``(can run, what)``: ``what`` is ruff's version (``"ruff 0.5.7"``) from
        ``ruff --version``, or why it cannot run."""
        cmd = self.command()
        if cmd is None:
            return False, "ruff is not installed (pip install ruff)"
        version = tool_version(cmd, self.policy)
        if version is None:
            return False, f"ruff does not run ({' '.join(cmd)} --version failed)"
        return True, version

    @staticmethod
    def configured(root: Path) -> bool:
        """Whether the repo at ``root`` configures ruff: ``ruff.toml``, ``.ruff.toml``, or a
        ``[tool.ruff]`` (or ``[tool.ruff.*]``) table in ``pyproject.toml``."""
        root = Path(root)
        return ((root / "ruff.toml").is_file() or (root / ".ruff.toml").is_file()
                or tool_table(root, "ruff") is not None)

    def run(self, root: Path, paths: list[str] | None = None) -> Verdict:
        """``ruff check`` in ``root`` (all of it, or ``paths`` relative to it).

        Returns a Verdict (evaluator ``lint``): one failed result per diagnostic keyed by
        stable id, ``passed`` when there are none, ``duration`` in wall seconds. A missing
        ruff, a timeout or unreadable output set ``error`` (``passed`` False); never raises
        for those.
        """
        start, root = time.monotonic(), Path(root)
        cmd = self.command()
        if cmd is None:
            return Verdict(self.id, passed=False, error=self._missing())
        argv = [*cmd, "check", "--output-format", "json", "--no-cache", "--exit-zero", *(paths or [])]
        try:
            res = run(argv, root, self.timeout, self.policy)
        except OSError:
            return Verdict(self.id, passed=False, error=self._missing(),
                           duration=time.monotonic() - start)
        try:
            items = json.loads(res.stdout) if res.returncode == 0 else None
        except ValueError:
            items = None
        if not isinstance(items, list):
            return Verdict(self.id, passed=False, error=process_error("ruff", res, self.timeout),
                           duration=time.monotonic() - start)
        diags = [Diagnostic(relative(d.get("filename") or "?", root),
                            int((d.get("location") or {}).get("row") or 0),
                            int((d.get("location") or {}).get("column") or 0),
                            d.get("code") or "syntax-error", d.get("message") or "")
                 for d in items]
        results = to_results(diags, root)
        return Verdict(self.id, passed=not results, results=results,
                       duration=time.monotonic() - start)

    def close(self) -> None:
        """Nothing to stop: each run is one process that has ended."""

    def _missing(self) -> str:
        if self.executable:
            return f"ruff is not installed (no {self.executable}); pip install ruff, or drop --lint"
        return self.MISSING

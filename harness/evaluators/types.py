"""The type-check evaluator: mypy (preferred) or pyright, in a separate time-limited process.

Diagnostics get the same stable ids as lint (``PATH::CODE::MESSAGE#N``, see
:mod:`harness.evaluators.lint`), and are compared with the baseline by :func:`harness.evaluators.lint.regressions`.
mypy's cache lives outside the worktree (under ``cache_dir``, one per worktree), so the
worktree stays clean and repeated runs in the same worktree are incremental.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from harness.evaluators.lint import (
    tool_version,
    Diagnostic,
    compare,
    process_error,
    ini_section,
    regressions,
    relative,
    to_results,
    tool_table,
)
from harness.evaluators.interpreter import is_own_environment
from harness.evaluators.verdict import Verdict
from sandbox.limits import base_prefixes
from sandbox.process import SandboxPolicy, run

__all__ = ["TypeCheckEvaluator", "compare", "regressions"]

#: mypy's standard line format (``file:line[:col]: error: message  [code]``).
_MYPY_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?:(?P<col>\d+):)?(?:\d+:\d+:)? "
                        r"(?P<sev>error|warning|note): (?P<msg>.*?)(?:  \[(?P<code>[\w-]+)\])?$")
_MYPY_FLAGS = ["--show-error-codes", "--no-error-summary", "--no-pretty", "--no-color-output",
               "--show-column-numbers", "--show-absolute-path"]


class TypeCheckEvaluator:
    """Type-check a worktree with mypy, or pyright when only pyright is there (or configured).

    Args:
        cache_dir: mypy's cache directory, outside any worktree (default: a temp dir made
            at the first check and removed by :meth:`close`); reuse one instance (or
            directory) across runs for incremental checks.
        policy: sandbox policy for the checker process (default :class:`SandboxPolicy()`).
        timeout: wall seconds before the process group is killed.
        executable: a mypy or pyright executable to use instead of looking for one (the
            tool is pyright if its name contains ``pyright``).
        python: the target interpreter whose packages are checked (default: this one).
    """

    id = "types"
    MISSING = "no type checker is installed; pip install mypy (or pyright), or drop --types"

    def __init__(self, cache_dir: Path | None = None, policy: SandboxPolicy | None = None,
                 timeout: float = 120.0, executable: str | None = None, python: str | None = None):
        self.python = python or sys.executable
        self._cache_dir = Path(cache_dir) if cache_dir else None
        self._own_cache: Path | None = None  # the temp dir this instance made, removed by close()
        self.policy = policy or SandboxPolicy()
        self.timeout = timeout
        self.executable = executable
        self._has_mypy: dict[str, bool] = {}
        self._json: dict[tuple[str, ...], bool | str | None] = {}  # --help and --version answers

    @staticmethod
    def configured_tool(root: Path) -> str | None:
        """``"mypy"`` or ``"pyright"`` if the repo at ``root`` configures one, else ``None``.

        mypy: ``mypy.ini``, ``.mypy.ini``, ``[mypy]`` in ``setup.cfg``, ``[tool.mypy]`` in
        ``pyproject.toml``; pyright: ``pyrightconfig.json``, ``[tool.pyright]``. mypy wins.
        """
        root = Path(root)
        if ((root / "mypy.ini").is_file() or (root / ".mypy.ini").is_file()
                or ini_section(root / "setup.cfg", "mypy") is not None
                or tool_table(root, "mypy") is not None):
            return "mypy"
        if (root / "pyrightconfig.json").is_file() or tool_table(root, "pyright") is not None:
            return "pyright"
        return None

    @classmethod
    def configured(cls, root: Path) -> bool:
        """Whether the repo at ``root`` configures mypy or pyright (see :meth:`configured_tool`)."""
        return cls.configured_tool(root) is not None

    def available(self, root: Path | None = None) -> bool:
        """Whether a checker can run for the repository at ``root`` (see :meth:`probe`)."""
        return self.probe(root)[0]

    def probe(self, root: Path | None = None) -> tuple[bool, str]:
        """``(can run, what)`` for the repository at ``root`` (None: any repository).

        ``what`` is the checker and its version (``"mypy 1.11.2"``, ``"pyright 1.1.390"``)
        when it can run, else why not (``"pyright is configured but node is not installed"``).
        A repository that configures pyright (and not mypy) is checked by pyright only: it
        needs ``pyright`` on PATH and ``node``. Otherwise mypy runs: the target's own when it
        has one, else loopwright's (a dependency) with ``--python-executable TARGET``.
        """
        chosen = self._choose(root, self.python)
        if chosen is None:
            return False, self._why_not(root)
        tool, cmd = chosen
        version = self._version(cmd, root)
        if version is None:
            return False, f"{tool} does not run ({' '.join(cmd[:3])} --version failed)"
        return True, version

    @property
    def cache_dir(self) -> Path:
        """The cache directory: the one given, else a temp dir made on first use."""
        if self._cache_dir is None:
            self._own_cache = self._cache_dir = Path(tempfile.mkdtemp(prefix="loopwright-types-"))
        return self._cache_dir

    def close(self) -> None:
        """Remove the temp cache this instance made, if any; a given ``cache_dir`` stays for
        reuse. No process to stop: each check is one process that has ended."""
        if self._own_cache is not None:
            shutil.rmtree(self._own_cache, ignore_errors=True)
            self._own_cache = self._cache_dir = None

    def run(self, root: Path, paths: list[str] | None = None) -> Verdict:
        """Type-check ``root`` (or ``paths`` relative to it) for the target interpreter.

        mypy runs as ``python -m mypy`` when the target has mypy, else as our
        ``sys.executable -m mypy --python-executable python``. Without ``paths`` mypy checks
        its configured ``files``, or ``.``. Returns a Verdict (evaluator ``types``): one failed
        result per error keyed by stable id, ``passed`` when there are none, ``duration`` in
        wall seconds; a missing checker, a timeout, a crash or a config error set ``error``
        (``passed`` False). Never raises for those.
        """
        start, root, python = time.monotonic(), Path(root), self.python
        chosen = self._choose(root, python)
        if chosen is None:
            return Verdict(self.id, passed=False, error=f"{self._why_not(root)}; pip install mypy (or pyright), or drop --types")
        tool, cmd = chosen
        try:
            if tool == "pyright":
                diags, error = self._pyright(root, cmd, python, paths)
            else:
                diags, error = self._mypy(root, cmd, paths)
        except OSError:
            diags, error = [], self._missing()
        results = {} if error else to_results(diags, root)
        return Verdict(self.id, passed=not error and not results, results=results, error=error,
                       duration=time.monotonic() - start)

    def _mypy(self, root: Path, cmd: list[str], paths: list[str] | None):
        if paths is None:
            paths = [] if _mypy_files_configured(root) else ["."]
        as_json = self._supports_json(cmd, root)
        cache = self.cache_for(root)
        argv = [*cmd, "--cache-dir", str(cache), *_MYPY_FLAGS,
                *(["--output", "json"] if as_json else []), *paths]
        # the target interpreter (--python-executable) must be visible inside the sandbox too
        res = run(argv, root, self.timeout, self.policy, writable=[cache], readable=_interpreter_dirs(self.python))
        diags: list[Diagnostic] = []
        read = 0  # lines of mypy's output understood (notes and warnings too)
        for line in res.stdout.splitlines():
            if as_json and line.startswith("{"):
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                read += 1
                if d.get("severity") == "error":
                    diags.append(Diagnostic(relative(d.get("file") or "?", root), int(d.get("line") or 0),
                                            int(d.get("column") or 0) + 1, d.get("code") or "misc",
                                            d.get("message") or ""))
            elif (m := _MYPY_LINE.match(line)) and (read := read + 1) and m["sev"] == "error":
                diags.append(Diagnostic(relative(m["path"], root), int(m["line"]), int(m["col"] or 0),
                                        m["code"] or "misc", m["msg"]))
        # mypy's documented exit status: 0 clean, 1 errors found, 2 crash or bad usage -- but
        # blocking errors (a syntax error) exit 2 with diagnostics, and output with only notes
        # (mypy >= 1.11 with --output json) exits 1 with no error: neither is a crash.
        if res.timed_out or res.returncode not in (0, 1, 2) or (res.returncode == 2 and not diags):
            return [], process_error("mypy", res, self.timeout)
        if res.returncode == 1 and not diags and not read:
            return [], process_error("mypy", res, self.timeout)  # errors it could not read
        return diags, ""

    def cache_for(self, root: Path) -> Path:
        """mypy's cache directory for the worktree ``root``: one per worktree under
        ``cache_dir`` (parallel worktrees with different contents must not share one)."""
        digest = hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:12]
        path = self.cache_dir / f"{Path(root).name}-{digest}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _pyright(self, root: Path, cmd: list[str], python: str, paths: list[str] | None):
        res = run([*cmd, "--outputjson", "--pythonpath", python, *(paths or [])], root,
                  self.timeout, self.policy, readable=_interpreter_dirs(python))
        try:
            report = json.loads(res.stdout) if res.returncode in (0, 1) else None
        except ValueError:
            report = None
        if not isinstance(report, dict):
            return [], process_error("pyright", res, self.timeout)
        return pyright_diagnostics(report, root), ""

    def _choose(self, root: Path | None, python: str) -> tuple[str, list[str]] | None:
        """(tool, argv prefix) to run, or None: pyright when the repository configures only
        pyright (and it can run), else mypy (the target's, else ours), else pyright."""
        if self.executable:
            found = shutil.which(self.executable)
            if not found:
                return None
            if "pyright" in Path(found).name:
                return ("pyright", [found]) if shutil.which("node") else None
            return "mypy", [found, "--python-executable", python]
        pyright = shutil.which("pyright") if shutil.which("node") else None
        if root is not None and self.configured_tool(root) == "pyright":
            return ("pyright", [pyright]) if pyright else None
        if self._target_has_mypy(python):
            return "mypy", [python, "-m", "mypy"]
        if importlib.util.find_spec("mypy") is not None:
            return "mypy", [sys.executable, "-m", "mypy", "--python-executable", python]
        return ("pyright", [pyright]) if pyright else None

    def _why_not(self, root: Path | None) -> str:
        if self.executable:
            if shutil.which(self.executable):
                return f"{self.executable} needs node, which is not installed"
            return f"no type checker at {self.executable}"
        if root is not None and self.configured_tool(root) == "pyright":
            if not shutil.which("node"):
                return "pyright is configured but node is not installed"
            return "pyright is configured but not installed (npm install -g pyright)"
        return "no type checker is installed (pip install mypy)"

    def _version(self, cmd: list[str], root: Path | None) -> str | None:
        """``"mypy 1.11.2"`` from ``cmd --version`` (the first two words), or None."""
        key = ("version", *cmd)
        if key not in self._json:
            self._json[key] = tool_version(cmd, self.policy)
        return self._json[key]

    def _target_has_mypy(self, python: str) -> bool:
        if python not in self._has_mypy:
            if is_own_environment(python):  # sys.prefix, not the binary: venvs share it
                self._has_mypy[python] = importlib.util.find_spec("mypy") is not None
            else:
                probe = "import importlib.util as u, sys; sys.exit(u.find_spec('mypy') is None)"
                try:
                    with tempfile.TemporaryDirectory(prefix="loopwright-probe-") as empty:
                        res = run([python, "-c", probe], Path(empty), 30, self.policy)
                    self._has_mypy[python] = res.returncode == 0
                except OSError:
                    self._has_mypy[python] = False
        return self._has_mypy[python]

    def _supports_json(self, cmd: list[str], root: Path) -> bool:
        """Whether this mypy takes ``--output json`` (mypy >= 1.11), from its ``--help``."""
        key = tuple(cmd)
        if key not in self._json:
            res = run([*cmd, "--help"], root, 60, self.policy)
            self._json[key] = res.returncode == 0 and "--output" in res.stdout
        return self._json[key]

    def _missing(self) -> str:
        if self.executable:
            return (f"no type checker at {self.executable}; pip install mypy (or pyright), "
                    "or drop --types")
        return self.MISSING


def pyright_diagnostics(report: dict, root: Path) -> list[Diagnostic]:
    """Errors from pyright's ``--outputjson`` report (``generalDiagnostics``; 0-based ranges)."""
    out = []
    for d in report.get("generalDiagnostics") or []:
        if d.get("severity") != "error":
            continue
        start = (d.get("range") or {}).get("start") or {}
        out.append(Diagnostic(relative(d.get("file") or "?", root), int(start.get("line", -1)) + 1,
                              int(start.get("character", -1)) + 1, d.get("rule") or "error",
                              d.get("message") or ""))
    return out


def _mypy_files_configured(root: Path) -> bool:
    """Whether the repo's mypy config sets ``files`` (then mypy needs no path arguments)."""
    for name in ("mypy.ini", ".mypy.ini"):
        body = ini_section(root / name, "mypy")
        if body is not None:
            return "files" in body
    table = tool_table(root, "mypy")
    if table is not None:
        return "files" in table
    body = ini_section(root / "setup.cfg", "mypy")
    return body is not None and "files" in body


def _interpreter_dirs(python: str) -> list[Path]:
    """What the sandbox must let a checker read to run the target interpreter ``python``
    (``--python-executable``): its prefix, its real binary's, and a venv's base interpreter."""
    return [Path(python).parent.parent, Path(os.path.realpath(python)).parent.parent, *base_prefixes(python)]

"""Failing tests that fail for the environment, not the code: a program that is not installed.

A test that runs the project's console script when the project is not installed
(``sh.CommandNotFound: dotenv``, ``FileNotFoundError: [Errno 2] No such file or directory:
'mytool'`` from ``subprocess``), fails before and after any patch to the code: a repair loop
that counts it as work spends its whole budget on it and, since no candidate can fix it,
rejects every candidate that fixes the real failures (python-dotenv 1.1.1's CLI tests,
found on the release-pair suite). The fix is an install step, so such a
test is left out of the task and the run says so, loudly, with what to install.

The rules (:func:`environment_failures`), each checked against the repository so that a
bug *in the code* that yields the same message stays a task:

- **a missing command**: the exception is ``FileNotFoundError`` raised inside the standard
  library's ``subprocess``/``os`` (the ``exec`` of a program), or a ``CommandNotFound`` (the
  ``sh`` package), naming a bare program; and either it is a console script the project
  itself declares (``[project.scripts]``, ``console_scripts``), or no non-test module of the
  repository spells it as a string literal (``"gti"`` for ``"git"`` is a code bug, not a
  missing tool).

A module that is not installed is :func:`harness.core.evidence.missing_module`'s question (a run
whose every failure is one stops with exit 2 and says what to install).

Naming the tests with ``--tests`` keeps them in the task: the caller skips this check then.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from harness.core.errors import UsageError
from harness.core.outcome import Baseline
from harness.core.public_api import is_test_module
from harness.evaluators.lint import ini_section, read_text
from harness.evaluators.verdict import TestResult
from sandbox.gitcmd import listed_files

__all__ = ["environment_failures", "leave_out", "summary"]

_NOT_FOUND = re.compile(r"^FileNotFoundError: \[Errno 2\] No such file or directory: '([^'/\\]+)'")
_COMMAND_NOT_FOUND = re.compile(r"^(?:[\w.]+\.)?CommandNotFound: (\S+)")
#: where a program is started: a FileNotFoundError raised here is a program that is not there
_EXEC_FILES = ("subprocess.py", "os.py", "asyncio/base_subprocess.py", "asyncio/subprocess.py")
#: a ``console_scripts`` entry written in ``setup.py`` (``"name = pkg.cli:main"``)
_SETUP_ENTRY = re.compile(r"""["']\s*([\w.-]+)\s*=\s*[\w.]+:[\w.]+\s*["']""")


def environment_failures(root: Path, results: Mapping[str, TestResult]) -> dict[str, str]:
    """The failing tests of ``results`` that fail for a missing program: test id -> which
    and what to do (one sentence's clause, e.g. ``"the command `dotenv` is not on PATH: it is
    this project's console script, install the project (pip install -e .)"``).

    Args:
        root: the user's checkout (its tracked and untracked, not ignored, files are read; it
            is never written).
        results: the baseline's results (test id -> result); only failed/errored ones are read.
            Whether a program is there is the test process's word: the sandbox's ``PATH`` view
            differs from this process's (a pyenv shim here is no program there).

    Returns:
        The tests to leave out of the task (empty when the repository cannot be listed: then
        nothing is left out).
    """
    failing = {t: r for t, r in results.items() if r.outcome in ("failed", "error")}
    if not failing:
        return {}
    files = listed_files(root)
    if files is None:
        return {}
    scripts = _console_scripts(root)
    spelled: dict[str, bool] = {}
    out: dict[str, str] = {}
    for tid, res in failing.items():
        line = res.message.strip().splitlines()[0] if res.message.strip() else ""
        command = _missing_command(line, res)
        if command is None:
            continue
        if command in scripts:
            out[tid] = f"the command `{command}` is not on PATH: it is this project's console script, " \
                       f"install the project (pip install -e .)"
            continue
        if command not in spelled:
            spelled[command] = _spelled(root, files, command)
        if not spelled[command]:
            out[tid] = f"the command `{command}` is not on PATH: install it"
    return out


def leave_out(root: Path, baseline: Baseline) -> dict[str, str]:
    """Remove :func:`environment_failures` from ``baseline``'s results (they count neither as
    work nor as regressions: no patch to the code changes them) and return them.

    Raises:
        UsageError: every failing test fails for the environment (the message says what to
            install, and that ``--tests`` keeps them).
    """
    found = environment_failures(root, baseline.results)
    if found and len(found) == len(baseline.failing):
        raise UsageError(f"every failing test fails for the environment, not the code: {_reasons(found)}; "
                         f"install what is missing, or name the tests with --tests to work on them anyway")
    for tid in found:
        del baseline.results[tid]
    return found


def summary(found: Mapping[str, str]) -> str:
    """One loud line for the run's messages: how many tests were left out, and why (grouped)."""
    return (f"warning: {len(found)} failing test(s) fail for the environment, not the code, and are left out "
            f"of the task (name them with --tests to work on them anyway): {_reasons(found)}")


def _reasons(found: Mapping[str, str]) -> str:
    """Each reason of ``found`` (test id -> reason) once, with how many tests and which."""
    why: dict[str, list[str]] = {}
    for tid, reason in found.items():
        why.setdefault(reason, []).append(tid)
    return "; ".join(f"{reason} ({len(ids)} test{'s' if len(ids) > 1 else ''}: {', '.join(ids[:3])}"
                     f"{', …' if len(ids) > 3 else ''})" for reason, ids in why.items())


def _missing_command(line: str, res: TestResult) -> str | None:
    """The program a failure says could not be started, or None."""
    m = _COMMAND_NOT_FOUND.match(line)
    if m:
        return m.group(1).rsplit("/", 1)[-1]
    m = _NOT_FOUND.match(line)
    if m and res.frames and res.frames[-1].path.replace("\\", "/").endswith(_EXEC_FILES):
        return m.group(1)
    return None


def _console_scripts(root: Path) -> set[str]:
    """Names of the console scripts the project declares: pyproject's ``[project.scripts]``
    (:mod:`tomllib`), setup.cfg's ``[options.entry_points] console_scripts``
    (:mod:`configparser`) and ``setup.py``'s entries (a pattern: it is code); empty when
    none can be read."""
    try:
        project = tomllib.loads(read_text(root / "pyproject.toml")).get("project")
    except tomllib.TOMLDecodeError:
        project = None
    scripts = project.get("scripts") if isinstance(project, dict) else None
    names = set(scripts) if isinstance(scripts, dict) else set()
    entries = (ini_section(root / "setup.cfg", "options.entry_points") or {}).get("console_scripts", "")
    names.update(line.split("=", 1)[0].strip() for line in entries.splitlines() if "=" in line)
    names.update(_SETUP_ENTRY.findall(read_text(root / "setup.py")))
    return names


def _spelled(root: Path, files: list[str], command: str) -> bool:
    """Does a non-test ``.py`` module of the repository spell ``command`` as a string literal?"""
    quoted = re.compile(r"""["']""" + re.escape(command) + r"""["'\s]""")
    for rel in files:
        if not rel.endswith(".py") or is_test_module(rel):
            continue
        try:
            text = (root / rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if quoted.search(text):
            return True
    return False

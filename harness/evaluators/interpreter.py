"""Which Python the target repository's tests run with, and what that interpreter has.

The target interpreter is, in order (:func:`choose_python`):

1. ``--python`` (or ``LOOPWRIGHT_PYTHON`` / ``[tool.loopwright] python``);
2. the active virtual environment (``$VIRTUAL_ENV``), unless it is loopwright's own;
3. the repository's ``.venv`` (or ``venv``);
4. loopwright's own interpreter.

Two interpreters are "the same environment" when their ``sys.prefix`` is the same: every
venv made from one base Python resolves (``Path.resolve``) to the same binary, so the
binary's path says nothing about which packages an interpreter sees.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from sandbox.process import run

__all__ = ["EvaluatorError", "check_pytest", "choose_python", "is_own_environment", "resolve_python",
           "target_prefix"]


class EvaluatorError(RuntimeError):
    """The evaluator cannot run at all (pytest missing, interpreter broken); says what to do."""


def choose_python(repo: Path, python: str | None = None,
                  env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The target interpreter for the repository at ``repo`` and why it was chosen.

    Args:
        repo: the repository's work tree root.
        python: ``--python`` (a path or a name on PATH), or None.
        env: the environment to read ``VIRTUAL_ENV`` from (default ``os.environ``).

    Returns:
        ``(path, why)``: e.g. ``("/r/.venv/bin/python", "the repository's .venv")``.

    Raises:
        EvaluatorError: ``python`` was given but is not an executable.
    """
    env = os.environ if env is None else env
    if python:
        found = shutil.which(python) or (python if Path(python).is_file() else None)
        if not found:
            raise EvaluatorError(f"--python {python}: no such interpreter; give a path to python")
        return found, "--python"
    active = env.get("VIRTUAL_ENV", "")
    if active and Path(active).resolve() != Path(sys.prefix).resolve():
        cand = Path(active) / "bin" / "python"
        if cand.exists():
            return str(cand), "the active virtual environment ($VIRTUAL_ENV)"
    for name in (".venv", "venv"):
        cand = Path(repo) / name / "bin" / "python"
        if cand.exists():
            return str(cand), f"the repository's {name}"
    return sys.executable, ("loopwright's own interpreter: no --python, no active virtual "
                            "environment, no .venv in the repository")


def resolve_python(repo: Path, python: str | None = None) -> str:
    """The target interpreter's path (see :func:`choose_python`, which also says why).

    Raises:
        EvaluatorError: ``python`` was given but is not an executable.
    """
    return choose_python(repo, python)[0]


@functools.lru_cache(maxsize=64)
def target_prefix(python: str) -> str | None:
    """``sys.prefix`` of the interpreter ``python`` (asked in a sandboxed process), or None
    when it cannot be run."""
    if Path(python) == Path(sys.executable):
        return sys.prefix
    try:
        with tempfile.TemporaryDirectory(prefix="loopwright-probe-") as empty:
            res = run([python, "-c", "import sys; print(sys.prefix)"], Path(empty), timeout=60)
    except OSError:
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def is_own_environment(python: str) -> bool:
    """Whether ``python`` sees loopwright's own packages: its ``sys.prefix`` is ours."""
    prefix = target_prefix(python)
    return prefix is not None and Path(prefix).resolve() == Path(sys.prefix).resolve()


def check_pytest(python: str, cwd: Path) -> str:
    """Return pytest's version in ``python`` (``cwd``: unused, the probe runs in an empty directory).

    Raises:
        EvaluatorError: pytest is not importable there (message gives the install command).
    """
    # an empty directory as cwd: a probe's working directory is writable in the sandbox
    with tempfile.TemporaryDirectory(prefix="loopwright-probe-") as empty:
        res = run([python, "-c", "import pytest; print(pytest.__version__)"], Path(empty), timeout=60)
    if res.returncode != 0:
        raise EvaluatorError(
            f"pytest is not installed in {python}; install it with `{python} -m pip install "
            "pytest`, or choose another interpreter with --python"
        )
    return res.stdout.strip()

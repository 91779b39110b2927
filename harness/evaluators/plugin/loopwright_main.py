"""How a loopwright test process enters the worktree and looks like ``python -m pytest``.

Part of loopwright's pytest plugin (:mod:`loopwright_pytest`, which imports it before the
worktree is on ``sys.path``): standard library and pytest only.
"""

from __future__ import annotations

import os
import sys

import pytest


def enter_worktree(path):
    """Put the worktree's import roots (``path``: ``os.pathsep``-separated, from
    ``LOOPWRIGHT_PATH``) first on ``sys.path``, and on ``PYTHONPATH`` for the tests'
    subprocesses; called once the runner's own modules are imported."""
    roots = [p for p in (path or "").split(os.pathsep) if p]
    sys.path[0:0] = roots
    os.environ["PYTHONPATH"] = os.pathsep.join(roots + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))


def as_pytest_main():
    """``sys.argv[0]`` and ``__main__`` as ``python -m pytest`` has them, for code that looks:
    rsa's CLI parses all of ``sys.argv`` (``-c`` was an unknown option); python-dotenv's
    ``_is_interactive`` asks ``not hasattr(__main__, "__file__")`` (it was true here)."""
    import importlib.util

    sys.argv[0] = os.path.join(os.path.dirname(pytest.__file__), "__main__.py")
    main = sys.modules.get("__main__")
    if main is not None:
        main.__file__, main.__package__ = sys.argv[0], "pytest"
        main.__spec__ = importlib.util.find_spec("pytest.__main__")

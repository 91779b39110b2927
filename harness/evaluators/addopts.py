"""A repository's pytest ``addopts`` without pytest-cov's options.

``--cov`` in ``addopts`` breaks a test run that measures coverage itself: without
pytest-cov installed pytest refuses the unknown option, and with it a second
coverage tracer fights the first. The options are read the way pytest finds its
configuration (pytest.ini, pyproject.toml, tox.ini, setup.cfg) and passed back with
``-o addopts=...``.
"""

from __future__ import annotations

import configparser
import shlex
import tomllib
from pathlib import Path

_COV_VALUE_OPTS = ("--cov", "--cov-report", "--cov-config", "--cov-fail-under", "--cov-context")


def addopts_without_cov(repo: Path) -> str | None:
    """The repository's pytest ``addopts`` without pytest-cov options, or None when it has none.

    ``--cov`` in ``addopts`` breaks the runs here: without pytest-cov installed pytest
    refuses the unknown option, and with it a second coverage tracer fights the one
    :func:`executed_lines` starts. Reads pytest.ini, pyproject.toml
    (``[tool.pytest.ini_options]``), tox.ini and setup.cfg, in pytest's order.
    """
    raw = None
    for name, section in (("pytest.ini", "pytest"), ("pyproject.toml", None), ("tox.ini", "pytest"),
                          ("setup.cfg", "tool:pytest")):
        path = repo / name
        if not path.is_file():
            continue
        try:
            if section is None:
                opts = tomllib.loads(path.read_text("utf-8")).get("tool", {}).get("pytest", {})
                if "ini_options" not in opts:
                    continue
                raw = opts["ini_options"].get("addopts")
            else:
                cp = configparser.ConfigParser(interpolation=None)
                cp.read(path, encoding="utf-8")
                if not cp.has_section(section):
                    continue
                raw = cp.get(section, "addopts", fallback=None)
        except (OSError, ValueError, configparser.Error):
            continue
        break
    if raw is None:
        return None
    tokens = list(raw) if isinstance(raw, list) else shlex.split(raw)
    kept, skip = [], False
    for i, tok in enumerate(tokens):
        if skip:
            skip = False
            continue
        if tok.startswith(("--cov", "--no-cov")):
            nxt = tokens[i + 1] if i + 1 < len(tokens) else "-"
            skip = tok in _COV_VALUE_OPTS and not nxt.startswith("-")
            continue
        kept.append(tok)
    return None if kept == tokens else shlex.join(kept)

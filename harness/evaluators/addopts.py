"""A repository's pytest ``addopts`` without pytest-cov's, pytest-xdist's and verbosity options.

``--cov`` in ``addopts`` breaks a test run that measures coverage itself: without
pytest-cov installed pytest refuses the unknown option (exit 4, "unrecognized
arguments"), and with it every test process writes coverage reports and runs a second
coverage tracer that fights loopwright's (arrow's ``--cov-fail-under=100`` ... made one
test's run take 6-9 s instead of 1.5 s). ``-n auto`` (pytest-xdist) runs the tests in worker
processes loopwright's plugin does not reach: the run stopped before any test. The options are read the way pytest finds its
configuration in a directory and passed back with ``-o addopts=...``
(:func:`override_args`). ``-q``/``-v`` are dropped too: loopwright reads pytest's output at
the verbosity it sets (``-q`` twice hides the summary line its confirmation checks). The other
options (``--doctest-modules``, ``-ra`` ...) are kept as they are.

Files are read through :mod:`sandbox.safefs` (no link followed): a worktree where code
ran is untrusted data.
"""

from __future__ import annotations

import re
import shlex
import threading
import tomllib
from pathlib import Path

import iniconfig

from sandbox import safefs

#: pytest-cov's options that take a value (``--cov`` takes one optionally: argparse ``nargs="?"``)
_COV_VALUE_OPTS = ("--cov", "--cov-report", "--cov-config", "--cov-fail-under", "--cov-context",
                   "--cov-precision")
#: the files pytest reads its configuration from, in its order of precedence
#: (``_pytest.config.findpaths.CONFIG_LOADERS_BY_NAME``, pytest 9; before 9 the same without the TOML files)
CONFIG_FILES = ("pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini",
                "setup.cfg")


def _addopts_in(name: str, text: str) -> tuple[bool, str | list | None]:
    """``(is pytest's configuration, its addopts or None)`` for config file ``name``'s ``text``,
    as pytest decides: ``pytest.ini``/``pytest.toml`` (and their dot names) always are; a
    ``pyproject.toml`` with ``[tool.pytest]`` or ``[tool.pytest.ini_options]``; a ``tox.ini``
    with ``[pytest]``; a ``setup.cfg`` with ``[tool:pytest]``.

    Raises:
        ValueError: the text does not parse (``tomllib.TOMLDecodeError``, ``iniconfig.ParseError``).
    """
    if name.endswith(".toml"):
        doc = tomllib.loads(text)
        if name != "pyproject.toml":
            table = doc.get("pytest")
            return True, table.get("addopts") if isinstance(table, dict) else None
        tool = doc.get("tool")
        tool = tool.get("pytest") if isinstance(tool, dict) else None
        if not isinstance(tool, dict):
            return False, None
        native = {k: v for k, v in tool.items() if k != "ini_options"}
        table = native or tool.get("ini_options")
        return isinstance(table, dict), table.get("addopts") if isinstance(table, dict) else None
    try:
        ini = iniconfig.IniConfig(name, data=text)
    except iniconfig.ParseError as exc:
        raise ValueError(str(exc)) from exc
    section = "tool:pytest" if name == "setup.cfg" else "pytest"
    if section not in ini:
        return name.endswith("pytest.ini"), None
    return True, ini[section].get("addopts")


#: pytest-xdist's options that take a value; ``-n`` also as ``-n4``/``-nauto``. Workers would run
#: the tests in other processes, out of reach of loopwright's plugin (its results pipe, its
#: per-test timeouts, its coverage contexts): ``addopts = -n auto`` stopped every run.
_XDIST_VALUE_OPTS = ("-n", "--numprocesses", "--maxprocesses", "--max-worker-restart", "--dist", "--tx",
                     "--rsyncdir", "--rsyncignore", "--maxschedchunk")
_XDIST_FLAGS = ("-f", "--looponfail", "-d", "--distload")
#: pytest's verbosity options: loopwright sets the verbosity it reads the output at. ``addopts = -q``
#: with loopwright's own ``-q`` is ``-qq``, at which pytest prints no summary line: the
#: confirmation run then saw "0 passed" against the results pipe's count and ended lark's run
#: with an evaluator fault.
_VERBOSITY = re.compile(r"-[qv]+|--quiet|--verbose|--verbosity(=.*)?")


def _dropped(tok: str) -> tuple[bool, bool]:
    """(drop ``tok``, drop the word after it too) for one addopts word."""
    if tok.startswith(("--cov", "--no-cov")):
        return True, tok in _COV_VALUE_OPTS
    name = tok.split("=", 1)[0]
    if name in _XDIST_VALUE_OPTS:
        return True, "=" not in tok
    if tok in _XDIST_FLAGS or (tok.startswith("-n") and not tok.startswith("--") and len(tok) > 2):
        return True, False  # -n4, -nauto, -nlogical
    if _VERBOSITY.fullmatch(tok):
        return True, tok == "--verbosity"
    return False, False


def plain_addopts(repo: Path) -> str | None:
    """The addopts of the pytest configuration file of directory ``repo`` without the options
    of the plugins that take a run over - pytest-cov's (a second coverage tracer, reports
    written into the worktree) and pytest-xdist's (workers out of reach of loopwright's
    plugin) - as a shell-quoted string (maybe empty), or None when they carry none (nothing
    to override) or no configuration file could be read.

    The file is the first of :data:`CONFIG_FILES` that is pytest's configuration, as pytest
    picks one when it runs in ``repo`` (its parents and subdirectories are not searched).
    Read without following a link (:func:`sandbox.safefs.read_text`): a link, a FIFO or a
    file that does not parse ends the search with None. Dropped: every option starting with
    ``--cov`` or ``--no-cov``, and the value after one of :data:`_COV_VALUE_OPTS` written
    as a separate word; xdist's :data:`_XDIST_VALUE_OPTS` with their value (``-n auto``,
    ``-n4``, ``--dist=loadfile``) and :data:`_XDIST_FLAGS`; the verbosity options
    (:data:`_VERBOSITY`: ``-q``, ``-vv``, ``--verbosity=2`` ...).
    """
    raw = None
    for name in CONFIG_FILES:
        try:
            text = safefs.read_text(repo, name)
            if text is None:
                continue
            found, raw = _addopts_in(name, text)
        except (OSError, ValueError):  # safefs.UnsafePath is an OSError; UnicodeDecodeError a ValueError
            return None
        if found:
            break
    if raw is None:
        return None
    tokens = [str(t) for t in raw] if isinstance(raw, list) else shlex.split(str(raw))
    kept, skip = [], False
    for i, tok in enumerate(tokens):
        if skip:
            skip = False
            continue
        drop, value = _dropped(tok)
        if drop:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else "-"
            skip = value and not nxt.startswith("-")
            continue
        kept.append(tok)
    return None if kept == tokens else shlex.join(kept)


def override_args(repo: Path) -> list[str]:
    """pytest arguments that replace ``repo``'s addopts by :func:`plain_addopts`:
    ``["-o", "addopts=..."]``, or ``[]`` when they carry no pytest-cov, xdist or verbosity option."""
    opts = plain_addopts(repo)
    return [] if opts is None else ["-o", f"addopts={opts}"]


class AddoptsOverride:
    """:func:`override_args` per worktree (call it with the worktree's path), read once, at
    the worktree's first test run: before code ran there, never again from a worktree where
    tests ran (its files are untrusted then). Thread-safe (parallel validation slots)."""

    def __init__(self) -> None:
        self._args: dict[Path, list[str]] = {}
        self._lock = threading.Lock()

    def __call__(self, root: Path) -> list[str]:
        with self._lock:
            if root not in self._args:
                self._args[root] = override_args(root)
            return self._args[root]
